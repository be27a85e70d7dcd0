"""The sample portals' validators (ETag, Last-Modified, 304) and changes between crawls."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import datetime
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest

from scraper.sample_portals import PORTALS, SampleWorld
from scraper.sample_portals.site import http_date, is_not_modified

VN = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def world():
    with SampleWorld() as w:
        yield w


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:  # urllib raises on 304
        return e.code, dict(e.headers), e.read()


@pytest.mark.parametrize("slug", PORTALS)
def test_article_pages_carry_validators_and_answer_304(world, slug):
    article = world.article(slug, 0)
    url = world.url(slug, article)
    status, headers, body = fetch(url)
    assert status == 200 and headers["ETag"].startswith('"') and body
    assert parsedate_to_datetime(headers["Last-Modified"]) == article.published.replace(tzinfo=VN)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    status, headers, body = fetch(url, **{"If-None-Match": etag})
    assert (status, body, headers["ETag"]) == (304, b"", etag)
    assert "Content-Length" not in headers
    assert fetch(url, **{"If-None-Match": f'"other", W/{etag}'})[0] == 304
    assert fetch(url, **{"If-Modified-Since": modified})[0] == 304
    assert fetch(url, **{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == 200
    # If-None-Match decides when sent: a stale tag gets the page even with a later date.
    assert fetch(url, **{"If-None-Match": '"stale"', "If-Modified-Since": modified})[0] == 200
    assert (slug, "GET", article.path, 304) in world.requests


def test_attachments_carry_validators_listings_do_not(world):
    slug = "huyen-ham-tan"
    site = world.sites[slug]
    href = next(iter(site._files))
    status, headers, _ = fetch(world.base_url(slug) + href)
    assert status == 200 and "ETag" in headers and "Last-Modified" in headers
    assert fetch(world.base_url(slug) + href, **{"If-None-Match": headers["ETag"]})[0] == 304
    for path in ("/", site.cat_path("cai-cach-hanh-chinh"), "/robots.txt", "/khong-co.html"):
        status, headers, _ = fetch(world.base_url(slug) + path, **{"If-None-Match": "*"})
        assert status == 200 and "ETag" not in headers and "Last-Modified" not in headers


def test_without_validators_nothing_changes():
    with SampleWorld(validators=False) as w:
        slug = PORTALS[0]
        url = w.url(slug, w.article(slug, 0))
        status, headers, _ = fetch(url, **{"If-None-Match": "*"})
        assert status == 200 and "ETag" not in headers and "Last-Modified" not in headers


def test_edit_changes_text_etag_and_last_modified(world):
    slug = "huyen-ham-tan"
    before = world.article(slug, 3)
    url = world.url(slug, before)
    _, old, _ = fetch(url)
    edited = world.edit(slug, url, new_body_text="Đoạn đã sửa.\n\nĐoạn thứ hai mới.")
    assert edited.path == before.path and edited.modified > before.published
    status, new, body = fetch(url)
    assert status == 200 and "Đoạn thứ hai mới." in body.decode("utf-8")
    assert new["ETag"] != old["ETag"]
    assert parsedate_to_datetime(new["Last-Modified"]) > parsedate_to_datetime(old["Last-Modified"])
    assert fetch(url, **{"If-None-Match": old["ETag"]})[0] == 200
    assert fetch(url, **{"If-Modified-Since": old["Last-Modified"]})[0] == 200
    assert fetch(url, **{"If-None-Match": new["ETag"]})[0] == 304
    # Edited twice within a second: Last-Modified still moves on.
    again = world.edit(slug, edited.path, title="Tiêu đề đã sửa")
    assert again.modified > edited.modified and again.blocks == edited.blocks


@pytest.mark.parametrize("slug", PORTALS)
def test_publish_puts_a_new_article_on_top_of_its_listing(world, slug):
    site = world.sites[slug]
    category = site.spec.categories[1].slug
    first_page = [r[0] for r in site.listing_entries(category)[: site.page_size]]
    new = world.publish(slug, category, title="Bài mới đăng hôm nay")
    assert new.category == category and new.attachments == ()
    assert site.newest(category)[0] == new == world.article(slug, 0)
    status, _, body = fetch(world.url(slug, new))
    assert status == 200 and "Bài mới đăng hôm nay" in body.decode("utf-8")
    rows = [r[0] for r in site.listing_entries(category)]
    assert rows[0] == new.path and rows[1 : site.page_size + 1] == first_page  # pushed down
    assert new.path in site.pages[f"list:{category}:1"].decode("utf-8")
    second = world.publish(slug, category)
    assert second.path != new.path and second.key != new.key


def test_changes_before_start_are_served():
    w = SampleWorld()
    new = w.publish("huyen-phu-loc", title="Đăng trước khi chạy")
    with w:
        assert fetch(w.url("huyen-phu-loc", new))[0] == 200


def test_big_world_renders_on_demand():
    with SampleWorld(scale=300, page_size=20) as w:
        slug = "huyen-ham-tan"
        site = w.sites[slug]
        assert len(site.articles) == 3000 and site._cache_limit is not None
        oldest = site.newest()[-1]
        status, headers, body = fetch(w.url(slug, oldest))
        assert status == 200 and oldest.title in body.decode("utf-8") and "ETag" in headers
        pages = site.page_count("cai-cach-hanh-chinh")
        last = w.base_url(slug) + site.cat_path("cai-cach-hanh-chinh", pages)
        assert fetch(last)[0] == 200
        assert len(site._rendered) <= site._cache_limit


def test_condition_rules():
    from scraper.sample_portals.site import Response

    stamp = http_date(datetime(2025, 11, 17, 15, 0))
    assert stamp == "Mon, 17 Nov 2025 08:00:00 GMT"
    resp = Response(200, b"x", {"ETag": '"a"', "Last-Modified": stamp})
    assert is_not_modified(resp, '"a"', None)
    assert is_not_modified(resp, "*", None)
    assert not is_not_modified(resp, '"b"', stamp)
    assert is_not_modified(resp, None, "Mon, 17 Nov 2025 09:00:00 GMT")
    assert not is_not_modified(resp, None, "Mon, 17 Nov 2025 07:59:59 GMT")
    assert not is_not_modified(resp, None, "not a date")
    assert not is_not_modified(Response(404, b"", dict(resp.headers)), '"a"', None)
