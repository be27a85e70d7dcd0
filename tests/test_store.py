"""Storage: versions, aliases, raw bodies, NFC."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest

from archive.config import Config
from archive.schema import ArticleItem
from archive.store import Archive

VN = "Kế hoạch tuyên truyền cải cách hành chính"


def item(**kw) -> ArticleItem:
    base = dict(
        portal="p",
        url="http://p.gov.vn/a-1.html",
        canonical_url="http://p.gov.vn/a-1.html",
        title=VN,
        body="Nội dung bài viết về cải cách hành chính.",
        fetched_at=datetime.now(UTC),
        topics=["cchc"],
        doc_refs=[{"number": "139/KH-UBND", "kind": "Kế hoạch"}],
    )
    base.update(kw)
    return ArticleItem.model_validate(base)


@pytest.fixture
def archive(tmp_path):
    a = Archive(Config.resolve(tmp_path))
    a.portal_id = a.upsert_portal(
        "p", name="P", unit="Quận P", base_url="http://p.gov.vn/", family="generic"
    )
    yield a
    a.close()


def test_new_unchanged_updated(archive):
    assert archive.store_articles([item()], archive.portal_id)["new"] == 1
    assert archive.store_articles([item(views=5)], archive.portal_id)["unchanged"] == 1
    changed = item(body="Nội dung đã sửa: thêm một đoạn mới.")
    assert archive.store_articles([changed], archive.portal_id)["updated"] == 1
    versions = archive.versions(item().id)
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["body"].startswith("Nội dung bài viết")  # the old text is kept
    assert [v["is_current"] for v in versions] == [False, True]
    records = list(archive.iter_articles())
    assert len(records) == 1 and records[0].version == 2


def test_alias_url_reaches_same_article(archive):
    archive.store_articles([item()], archive.portal_id)
    alias = item(url="http://p.gov.vn/a-1.html?print=1")
    assert archive.store_articles([alias], archive.portal_id)["unchanged"] == 1
    assert len(list(archive.iter_articles())) == 1


def test_text_is_stored_nfc(archive):
    nfd = unicodedata.normalize("NFD", VN)
    archive.store_articles([item(title=nfd)], archive.portal_id)
    (record,) = archive.iter_articles()
    assert record.title == VN and unicodedata.is_normalized("NFC", record.title)


def test_a_nul_in_scraped_text_does_not_lose_the_row(archive):
    """PostgreSQL's text cannot hold NUL (SQLite's can): it is dropped on the way there."""
    archive.store_articles([item(title="Kế hoạch\x00 số 1")], archive.portal_id)
    archive.record_download(
        "http://p.gov.vn/f.pdf", sha256="a" * 64, status="downloaded", filename="f\x00.pdf"
    )
    (record,) = archive.iter_articles()
    assert record.title.replace("\x00", "") == "Kế hoạch số 1"
    assert archive.documents()[0]["filename"].replace("\x00", "") == "f.pdf"


def test_a_run_stopped_by_a_scrapy_limit_keeps_its_reason(archive):
    """Scrapy's longest close reason fits (PostgreSQL enforces lengths; SQLite does not)."""
    from collections import Counter

    run = archive.start_run(archive.portal_id)
    status = "stopped: closespider_timeout_no_item"
    archive.finish_run(run, status=status, counts=Counter(), stats={})
    assert archive.runs(limit=1)[0]["status"] == status


def test_the_longest_url_scrapy_fetches_fits(archive):
    long = "http://p.gov.vn/a.html?q=" + "x" * (2083 - 25)
    archive.store_articles([item(url=long)], archive.portal_id)
    archive.record_download(long, sha256=None, status="failed", error="timeout")
    assert archive.failed_downloads()[0]["url"] == long


def test_raw_store_roundtrip(archive):
    body = "<html>Cổng thông tin</html>".encode()
    sha = archive.raw.put(body)
    assert archive.raw.get(sha) == body
    assert archive.raw.path(sha).read_bytes() != body  # compressed


def test_naive_datetime_rejected():
    with pytest.raises(ValueError):
        item(published=datetime(2024, 3, 29, 16, 32))


def test_bad_database_url_is_a_clear_error(tmp_path):
    from archive.store import ArchiveError

    with pytest.raises(ArchiveError, match="database URL"):
        Archive(Config.resolve(tmp_path, "nosuchdb://x"))
