"""End to end: crawl every sample portal over real HTTP on 127.0.0.1 through the CLI and
compare the archive with each portal's hand-annotated ground truth."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from urllib.parse import urlsplit

import pytest

from archive.config import Config
from archive.store import Archive
from scraper.sample_portals import PORTALS
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def archived(crawled):
    archive = Archive(Config.resolve(crawled["data"]))
    records = list(archive.iter_articles())
    runs = archive.runs()
    archive.close()
    return records, runs


def _by_url(records, slug):
    return {r.canonical_url: r for r in records if r.portal == slug}


@pytest.mark.parametrize("slug", PORTALS)
def test_exactly_the_expected_articles(archived, sample_world, slug):
    records, _ = archived
    expected = {e["canonical_url"] for e in sample_world.expected(slug)}
    got = [r.canonical_url for r in records if r.portal == slug]
    assert len(got) == len(set(got)), "duplicates"
    assert set(got) - expected == set(), "extra articles (listings, print views, soft 404s?)"
    assert expected - set(got) == set(), "missing articles"


FIELDS = (
    "title",
    "published",
    "author",
    "lead",
    "body_start",
    "body_end",
    "attachments",
    "doc_refs",
    "topics",
    "views",
)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("slug", PORTALS)
def test_fields_match_ground_truth(archived, sample_world, slug, field):
    records, _ = archived
    got = _by_url(records, slug)
    wrong = []
    for exp in sample_world.expected(slug):
        rec = got.get(exp["canonical_url"])
        if rec is None:
            continue
        if field == "body_start":
            ok = " ".join(rec.body.split()).startswith(exp["body_start"])
            value = rec.body[:60]
        elif field == "body_end":
            ok = " ".join(rec.body.split()).endswith(exp["body_end"])
            value = rec.body[-60:]
        elif field == "topics":
            value = sorted(rec.topics)
            ok = value == sorted(exp["topics"])
        else:
            value = getattr(rec, field)
            ok = value == exp[field]
        if not ok:
            wrong.append((exp["canonical_url"], value, exp.get(field)))
    assert not wrong, "\n".join(f"{u}\n   got      {g!r}\n   expected {e!r}" for u, g, e in wrong)


def test_runs_recorded(archived):
    _, runs = archived
    assert sorted(r["portal"] for r in runs) == sorted(PORTALS)
    for r in runs:
        assert r["status"] == "finished"
        assert r["new"] == 10 and r["invalid"] == 0 and r["errors"] == 0


def test_stays_on_portal_and_obeys_robots(crawled, sample_world):
    requests = crawled["requests"]
    assert requests, "the crawl made no request to the sample portals"
    assert not [r for r in requests if r[2].startswith("/admin")]
    archive = Archive(Config.resolve(crawled["data"]))
    with archive.session() as s:
        from sqlalchemy import select

        from archive.models import RawResponse

        urls = s.scalars(select(RawResponse.url)).all()
    archive.close()
    hosts = {urlsplit(sample_world.base_url(p)).netloc for p in PORTALS}
    assert urls and {urlsplit(u).netloc for u in urls} <= hosts


def test_no_page_fetched_twice(crawled):
    counts = Counter((r[0], r[2]) for r in crawled["requests"] if r[1] == "GET")
    assert [k for k, n in counts.items() if n > 1] == []


def test_search_after_crawl(crawled):
    data = str(crawled["data"])
    proc = run_cli("--data-dir", data, "search", "cai cach hanh chinh", "--json", check=True)
    result = json.loads(proc.stdout)
    assert result["total"] >= 5
    assert all("cchc" in h["topics"] for h in result["hits"][:3])
    proc = run_cli("--data-dir", data, "search", "139/kh-ubnd", "--json", check=True)
    hits = json.loads(proc.stdout)["hits"]
    assert hits and hits[0]["portal"] == "quan-thanh-xuan"


def test_export_after_crawl(crawled, tmp_path):
    data = str(crawled["data"])
    out = tmp_path / "all.csv"
    run_cli("--data-dir", data, "export", "--format", "csv", "-o", str(out), check=True)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 30
    assert {"portal", "fetched_at", "content_hash", "doc_refs", "body"} <= set(rows[0])
    out = tmp_path / "dvhc.jsonl"
    run_cli(
        "--data-dir",
        data,
        "export",
        "--topic",
        "dvhc",
        "--format",
        "jsonl",
        "-o",
        str(out),
        check=True,
    )
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert lines and all("dvhc" in x["topics"] for x in lines)


def test_recrawl_finds_everything_unchanged(crawled):
    proc = run_cli(
        "--data-dir",
        str(crawled["data"]),
        "crawl",
        "all",
        "--portals",
        str(crawled["registry"]),
        "--allow-private",
        # A full re-crawl fetches every article again (an incremental one skips them:
        # tests/test_incremental.py).
        "-s",
        "PORTAL_ARCHIVE_FULL_CRAWL=True",
        check=True,
    )
    archive = Archive(Config.resolve(crawled["data"]))
    runs = archive.runs(limit=3)
    summary = archive.summary()
    archive.close()
    assert all(r["unchanged"] == 10 and r["new"] == 0 and r["updated"] == 0 for r in runs), (
        proc.stdout
    )
    assert summary["versions"] == summary["articles"] == 30


def test_scrapy_crawl_works_as_scrapy_users_expect(sample_world, tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    registry = tmp_path / "portals"
    registry.mkdir()
    sample_world.write_registry(registry)
    env = {
        **os.environ,
        "PORTAL_ARCHIVE_PORTALS": str(registry),
        "PORTAL_ARCHIVE_DATA": str(tmp_path / "data"),
        "PORTAL_ARCHIVE_ALLOW_PRIVATE": "1",
        "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "portal", "-a", "portal=huyen-ham-tan"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    archive = Archive(Config.resolve(tmp_path / "data"))
    urls = {r.canonical_url for r in archive.iter_articles()}
    archive.close()
    assert urls == {e["canonical_url"] for e in sample_world.expected("huyen-ham-tan")}
    # The crawl updated the search index when it ended.
    proc = run_cli(
        "--data-dir", str(tmp_path / "data"), "search", "tuyen truyen", "--json", check=True
    )
    assert json.loads(proc.stdout)["total"] > 0


@pytest.mark.parametrize("slug", PORTALS)
def test_crawl_by_url_detects_the_family(sample_world, tmp_path, slug):
    proc = run_cli(
        "--data-dir",
        str(tmp_path),
        "crawl",
        sample_world.base_url(slug) + "/",
        "--allow-private",
        "--no-index",
        check=True,
    )
    assert "finished" in proc.stdout
    archive = Archive(Config.resolve(tmp_path))
    urls = {r.canonical_url for r in archive.iter_articles()}
    archive.close()
    # From the home page alone, by links: every article the home page and its links reach.
    expected = {e["canonical_url"] for e in sample_world.expected(slug)}
    assert urls and urls <= expected


def test_unknown_family_uses_generic_extraction(sample_world, tmp_path):
    """With every family selector switched off, generic extraction still finds exactly the
    articles and their main fields (author and attachment panels need a family)."""
    registry = tmp_path / "portals"
    for path in sample_world.write_registry(registry):
        text = path.read_text(encoding="utf-8")
        for family in ("liferay", "tandan", "nukeviet"):
            text = text.replace(f'family = "{family}"', 'family = "generic"')
        path.write_text(text, encoding="utf-8")
    run_cli(
        "--data-dir",
        str(tmp_path / "data"),
        "crawl",
        "all",
        "--portals",
        str(registry),
        "--allow-private",
        "--no-index",
        check=True,
    )
    archive = Archive(Config.resolve(tmp_path / "data"))
    got = {r.canonical_url: r for r in archive.iter_articles()}
    archive.close()
    expected = {e["canonical_url"]: e for slug in PORTALS for e in sample_world.expected(slug)}
    assert set(got) == set(expected)
    for url, exp in expected.items():
        rec = got[url]
        assert (rec.title, rec.published, rec.lead) == (
            exp["title"],
            exp["published"],
            exp["lead"],
        ), url
        assert rec.doc_refs == exp["doc_refs"] and sorted(rec.topics) == sorted(exp["topics"])
        assert " ".join(rec.body.split()).startswith(exp["body_start"]), url


def test_export_of_a_search(crawled, tmp_path):
    out = tmp_path / "plan.jsonl"
    run_cli(
        "--data-dir",
        str(crawled["data"]),
        "export",
        "--query",
        "139/KH-UBND",
        "--format",
        "jsonl",
        "-o",
        str(out),
        check=True,
    )
    (record,) = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert record["portal"] == "quan-thanh-xuan"
    assert record["doc_refs"][0]["number"] == "139/KH-UBND"


def test_unreachable_portal_fails_clearly(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    registry = tmp_path / "portals"
    registry.mkdir()
    (registry / "gone.toml").write_text(
        'slug = "gone"\nname = "Gone"\nunit = "Huyện X"\nunit_code = "009"\nfamily = "nukeviet"\n'
        f'base_url = "http://127.0.0.1:{port}/"\n',
        encoding="utf-8",
    )
    proc = run_cli(
        "--data-dir",
        str(tmp_path / "data"),
        "crawl",
        "gone",
        "--portals",
        str(registry),
        "--allow-private",
        "-s",
        "RETRY_TIMES=0",
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "failed" in proc.stdout


def test_attachments_downloaded_once_into_the_content_store(crawled, sample_world):
    import hashlib

    from sqlalchemy import select

    from archive.models import Document, Download

    links = [
        a["url"] for slug in PORTALS for e in sample_world.expected(slug) for a in e["attachments"]
    ]
    expected = set(links)
    assert len(links) > len(expected)  # one file is linked by two articles
    archive = Archive(Config.resolve(crawled["data"]))
    with archive.session() as s:
        downloads = {d.url: d for d in s.scalars(select(Download))}
        documents = {d.sha256: d for d in s.scalars(select(Document))}
    archive.close()
    assert set(downloads) == expected
    # One link is broken: the portal answers with its soft 404 page (200, HTML) where a PDF
    # was linked. That is recorded as a failure, and the page is not kept as a document.
    failed = {u: d for u, d in downloads.items() if d.status != "downloaded"}
    assert [u.rsplit("/", 1)[1] for u in failed] == ["ke-hoach-131-kh-ubnd.pdf"]
    (broken,) = failed.values()
    assert broken.status == "failed" and broken.sha256 is None
    assert "an HTML page instead of the linked file" in broken.error
    downloads = {u: d for u, d in downloads.items() if u not in failed}
    assert len(documents) == len({d.sha256 for d in downloads.values()})
    store = crawled["data"] / "attachments"
    for d in downloads.values():
        data = (store / d.sha256[:2] / d.sha256).read_bytes()
        assert hashlib.sha256(data).hexdigest() == d.sha256
        assert d.filename and not d.filename.startswith("%")
        assert any(k.lower() == "content-type" for k in d.headers)
    # the .doc is a Word "web page" (windows-1258 HTML): sniffed by its bytes, not its name
    assert {doc.file_type for doc in documents.values()} == {"pdf", "docx", "html"}
    # Each attachment URL was requested once, although one file is linked twice.
    wanted = {"/" + u.split("/", 3)[3] for u in expected}
    paths = Counter(r[2] for r in crawled["requests"] if r[2] in wanted)
    assert paths and set(paths.values()) == {1}


def test_documents_processed_after_the_crawl(crawled):
    proc = run_cli("--data-dir", str(crawled["data"]), "documents", "--json", check=True)
    docs = {d["filename"]: d for d in json.loads(proc.stdout)}
    assert all(d["processed"] for d in docs.values())
    # The real Quyết định (signed PDF and DOCX) and Thông báo come out with their numbers.
    numbers = {d["number"] for d in docs.values()}
    assert {"07/2022/QĐ-UBND", "04/TB-UBND", "04/2021/QĐ-UBND"} <= numbers
    assert sum(d["articles"] for d in docs.values()) == 8  # links, the shared file counted twice
    listing = run_cli("--data-dir", str(crawled["data"]), "documents", check=True).stdout
    assert "1 attachment link(s) failed:" in listing
    assert "ke-hoach-131-kh-ubnd.pdf" in listing and "an HTML page instead" in listing
    # The Word web page saved as .doc: decoded from windows-1258, its header read.
    word = docs["ke-hoach-215-kh-ubnd-2023.doc"]
    assert (word["file_type"], word["number"], word["doc_kind"]) == (
        "html",
        "215/KH-UBND",
        "Kế hoạch",
    )
    assert (word["doc_date"], word["signer"]) == ("2023-08-04", "Hoàng Văn Lộc")
    assert word["issuer"] == "ỦY BAN NHÂN DÂN HUYỆN PHÚ LỘC" and word["meta_complete"]


def test_extract_document_cli(tmp_path):
    from scraper.sample_portals.content import real_file

    pdf = real_file("anphu.angiang.gov.vn__tb-thu-hoi-dat-signed.pdf")
    out = json.loads(run_cli("extract-document", str(pdf), "--json", check=True).stdout)
    assert (out["type"], out["pages"], out["method"]) == ("pdf", 3, "text-layer")
    assert out["metadata"]["number"] == "04/TB-UBND" and out["metadata"]["complete"]
    bad = tmp_path / "x.pdf"
    bad.write_bytes(b"%PDF-1.4 broken")
    proc = run_cli("extract-document", str(bad))
    assert "Traceback" not in proc.stderr


def test_documents_linked_to_the_articles_that_attach_and_cite_them(crawled):
    from archive.documents import document_articles

    archive = Archive(Config.resolve(crawled["data"]))
    try:
        docs = {d["filename"]: d for d in archive.documents()}
        decision = document_articles(archive, docs["qd-07-2022-qd-ubnd-signed.pdf"]["sha256"])
        draft = document_articles(archive, docs["ke-hoach-139-kh-ubnd-2024.docx"]["sha256"])
    finally:
        archive.close()
    # The Hàm Tân article attaches Quyết định 07/2022/QĐ-UBND and cites it with its issuer.
    assert decision.attached_by == decision.cited_by and len(decision.attached_by) == 1
    assert decision.attached_by[0].startswith("huyen-ham-tan-")
    # The draft plan has a blank number ("Số: /KH-UBND", "ngày tháng 3 năm 2024"); the
    # article that publishes it cites "Kế hoạch số 139/KH-UBND ngày 29/3/2024": same kind,
    # symbol and month, so the number is completed from it, with its source recorded.
    assert len(draft.attached_by) == 1 and draft.cited_by == draft.attached_by
    plan = docs["ke-hoach-139-kh-ubnd-2024.docx"]
    assert plan["number"] == "139/KH-UBND" and plan["doc_date"] == "2024-03-29"
    assert plan["number_source"] == f"article:{draft.attached_by[0]}"
    # Numbers printed in the file say so; the scan's handwritten number is not guessed.
    assert docs["qd-07-2022-qd-ubnd-signed.pdf"]["number_source"] == "header"
    assert docs["cv-lay-y-kien.pdf"]["number"] is None


def test_search_finds_the_plan_and_the_articles_citing_it(crawled):
    def search(*args):
        out = run_cli("--data-dir", str(crawled["data"]), "search", *args, "--json", check=True)
        return json.loads(out.stdout)

    found = search("139/KH-UBND")
    by_type = {}
    for hit in found["hits"]:
        by_type.setdefault(hit["type"], []).append(hit)
    assert len(by_type["document"]) == 1 and by_type["document"][0]["id"].startswith("doc:")
    plan = by_type["document"][0]
    assert plan["title"].startswith("Kế hoạch 139/KH-UBND: Thông tin, tuyên truyền")
    assert plan["url"].endswith("ke-hoach-139-kh-ubnd-2024.docx")
    assert plan["doc_kinds"] == ["Kế hoạch"] and plan["portal"] == "quan-thanh-xuan"
    # every article citing it: the archive's own doc_refs say which those are
    citing = {
        r.id
        for r in Archive(Config.resolve(crawled["data"])).iter_articles()
        if any(d["number"] == "139/KH-UBND" for d in r.doc_refs)
    }
    assert citing and {h["id"] for h in by_type["article"]} == citing
    assert found["facets"]["type"] == {"article": len(citing), "document": 1}
    # the same number typed in lower case, spaced, or without diacritics in the kind
    assert search("139 / kh-ubnd")["total"] == found["total"]

    # Filters: documents only, by kind and issue year.
    docs = search(
        "", "--type", "document", "--kind", "Quyết định", "--year", "2022", "--limit", "50"
    )
    assert docs["total"] == 2 and {h["type"] for h in docs["hits"]} == {"document"}
    assert all("07/2022/QĐ-UBND" in h["title"] for h in docs["hits"])  # the DOCX and the PDF
    plans = search("", "--type", "document", "--kind", "ke hoach", "--year", "2024")
    assert [h["id"] for h in plans["hits"]] == [plan["id"]]
    plans = search("", "--type", "document", "--kind", "ke hoach", "--sort", "oldest")
    assert [h["title"][:20] for h in plans["hits"]] == [
        "Kế hoạch 215/KH-UBND",
        "Kế hoạch 139/KH-UBND",
    ]
    assert search("", "--type", "document", "--kind", "ke-hoach", "--year", "2022")["total"] == 0
    # text inside an attachment is searchable: a phrase of the Thông báo's body
    hits = search('"thu hồi đất"', "--type", "document")["hits"]
    assert any(h["url"].endswith("tb-thu-hoi-dat-signed.pdf") for h in hits)
    # the scan is found through its OCR text
    ocr = search("Phòng Kinh tế Hạ tầng lấy ý kiến góp ý", "--type", "document")["hits"]
    assert any(h["url"].endswith("cv-lay-y-kien.pdf") for h in ocr)


def test_export_zip_bundle_of_a_search(crawled, tmp_path):
    import hashlib
    import zipfile

    out = tmp_path / "plan.zip"
    proc = run_cli(
        "--data-dir", str(crawled["data"]), "export", "-q", "139/KH-UBND", "-f", "zip",
        "-o", str(out), check=True,
    )  # fmt: skip
    assert "1 original file(s)" in proc.stderr and "Traceback" not in proc.stderr
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        # the search matched the plan (a document) and the article citing it: the bundle
        # holds the article, and the plan as the article's attachment
        assert manifest["description"]["query"] == "139/KH-UBND"
        (article,) = manifest["articles"]
        (attachment,) = article["attachments"]
        assert attachment["document"]["number"] == "139/KH-UBND"
        assert attachment["document"]["number_source"] == f"article:{article['id']}"
        data = zf.read(attachment["member"])
        assert hashlib.sha256(data).hexdigest() == attachment["sha256"]
        assert data[:2] == b"PK"  # the original DOCX, byte for byte
        assert "139/KH-UBND" in zf.read(article["text"]).decode("utf-8")
