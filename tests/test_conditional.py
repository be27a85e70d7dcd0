"""Conditional re-crawls against the sample portal's own validators (ETag, Last-Modified).

A bigger sample portal (200 dated-back articles plus three published in the last days, 10
per listing page) is crawled through the CLI, then changed with ``SampleWorld.edit`` /
``publish`` and crawled again: an unchanged re-crawl costs a few requests and its recent
articles answer 304; an edited article becomes a second version with both texts kept; a
newly published article is found; with a re-check window that covers every article, an
old article's edit is found too.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest

from archive.config import Config
from archive.schema import article_id
from archive.store import Archive
from scraper.sample_portals import SampleWorld
from scraper.sample_portals.site import VN
from tests.test_incremental import SLUG, crawl, stat

CATEGORY = "cai-cach-hanh-chinh"
OLD_TEXT = "Ý kiến của cử tri được tổng hợp gửi Ủy ban nhân dân huyện trước ngày 15."
NEW_TEXT = "Đã tổng hợp 1.250 ý kiến; 97% cử tri đồng ý với phương án sắp xếp."
OLD_ARTICLE_TEXT = "Bổ sung: danh sách cán bộ tiếp nhận hồ sơ tại Bộ phận một cửa."


def statuses(result: dict) -> Counter:
    return Counter(status for _, _, _, status in result["requests"])


def versions(data, url: str) -> list[dict]:
    archive = Archive(Config.resolve(data))
    try:
        return archive.versions(article_id(SLUG, url))
    finally:
        archive.close()


@pytest.fixture(scope="module")
def recrawls(tmp_path_factory):
    root = tmp_path_factory.mktemp("conditional")
    registry = root / "portals"
    registry.mkdir()
    data = root / "data"
    with SampleWorld(scale=20, page_size=10) as world:
        (registry / f"{SLUG}.toml").write_text(world.registry_toml(SLUG), encoding="utf-8")
        now = datetime.now(VN).replace(tzinfo=None, microsecond=0)
        recent = [
            world.publish(
                SLUG,
                CATEGORY,
                title=f"Hàm Tân lấy ý kiến cử tri về sắp xếp khu phố, đợt {k}",
                body_text=f"Đợt {k} lấy ý kiến cử tri tại các khu phố.\n\n{OLD_TEXT}",
                published=now - timedelta(days=k),
            )
            for k in (1, 2, 3)
        ]
        out = {"world": world, "data": data, "recent": recent}
        out["first"] = crawl(world.requests, data, registry)
        out["unchanged"] = crawl(world.requests, data, registry)
        out["edited"] = world.edit(
            SLUG, recent[1].path, new_body_text=f"Đợt 2 đã kết thúc.\n\n{NEW_TEXT}"
        )
        out["after_edit"] = crawl(world.requests, data, registry)
        out["fresh"] = world.publish(SLUG, CATEGORY, title="Hàm Tân công bố kết quả lấy ý kiến")
        out["with_new"] = crawl(world.requests, data, registry)
        old = world.article(SLUG, 8)  # not recent: skipped unless the window covers it
        out["old"] = world.edit(SLUG, old.path, new_body_text=OLD_ARTICLE_TEXT)
        out["old_default"] = crawl(world.requests, data, registry)
        out["old_wide"] = crawl(
            world.requests, data, registry, "-s", "PORTAL_ARCHIVE_RECHECK_DAYS=100000"
        )
        yield out


def test_first_crawl_fetches_everything_unconditionally(recrawls):
    first = recrawls["first"]
    assert stat(first, "mode") == "full (first crawl)"
    assert first["run"]["new"] == 203
    assert statuses(first)[304] == 0


def test_unchanged_recrawl_is_a_tenth_and_rechecks_answer_304(recrawls):
    first, again = recrawls["first"], recrawls["unchanged"]
    ratio = len(again["requests"]) / len(first["requests"])
    print(
        f"\nunchanged re-crawl: {len(again['requests'])} / {len(first['requests'])} = {ratio:.1%}"
    )
    assert ratio <= 0.10
    recent = {a.path for a in recrawls["recent"]}
    assert {p for _, _, p, s in again["requests"] if s == 304} == recent
    assert statuses(again)[304] == 3
    for key in ("rechecks", "conditional_requests", "not_modified"):
        assert stat(again, key) == 3, key
    assert (again["run"]["new"], again["run"]["updated"]) == (0, 0)
    assert again["hashes"] == first["hashes"]
    url = recrawls["world"].url(SLUG, recrawls["recent"][0])
    assert again["last_seen"][url] > first["last_seen"][url]  # touched by the 304


def test_edited_article_becomes_a_new_version_with_both_texts(recrawls):
    result, edited = recrawls["after_edit"], recrawls["edited"]
    assert (result["run"]["new"], result["run"]["updated"]) == (0, 1)
    assert stat(result, "conditional_requests") == 3 and stat(result, "not_modified") == 2
    assert [(p, s) for _, _, p, s in result["requests"] if p == edited.path] == [(edited.path, 200)]
    old, new = versions(recrawls["data"], recrawls["world"].url(SLUG, edited))
    assert (old["version"], old["is_current"], new["version"], new["is_current"]) == (
        1,
        False,
        2,
        True,
    )
    assert OLD_TEXT in old["body"] and NEW_TEXT not in old["body"]
    assert NEW_TEXT in new["body"] and OLD_TEXT not in new["body"]
    assert result["summary"]["versions"] == recrawls["first"]["summary"]["versions"] + 1


def test_new_article_is_found_by_the_incremental_recrawl(recrawls):
    result, fresh = recrawls["with_new"], recrawls["fresh"]
    assert stat(result, "mode") == "incremental"
    assert (result["run"]["new"], result["run"]["updated"]) == (1, 0)
    assert recrawls["world"].url(SLUG, fresh) in result["last_seen"]
    assert result["summary"]["articles"] == 204
    assert len(result["requests"]) <= 0.10 * len(recrawls["first"]["requests"])


def test_old_article_edit_needs_a_window_that_covers_it(recrawls):
    url = recrawls["world"].url(SLUG, recrawls["old"])
    default, wide = recrawls["old_default"], recrawls["old_wide"]
    assert default["run"]["updated"] == 0  # outside the 14 days: not fetched (docs/incremental.md)
    assert url not in {recrawls["world"].base_url(SLUG) + p for _, _, p, _ in default["requests"]}
    assert (wide["run"]["new"], wide["run"]["updated"]) == (0, 1)
    assert stat(wide, "rechecks") == stat(wide, "conditional_requests") >= 20
    assert statuses(wide)[304] == stat(wide, "not_modified") > 0
    old, new = versions(recrawls["data"], url)
    assert OLD_ARTICLE_TEXT not in old["body"] and OLD_ARTICLE_TEXT in new["body"]
