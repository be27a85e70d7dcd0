"""The sample-portal world: real HTTP, ground truth, traps."""

from __future__ import annotations

import hashlib
import html
import json
import re
import tomllib
import unicodedata
import urllib.error
import urllib.request
from urllib.parse import urljoin, urlsplit

import pytest

from scraper.sample_portals import PORTALS, SampleWorld
from scraper.sample_portals.content import DATA_DIR, FILES_DIR

KEYS = {
    "canonical_url", "title", "published", "author", "views", "lead",
    "body_start", "body_end", "attachments", "doc_refs", "topics",
}  # fmt: skip
LISTING_LINK = {
    "liferay": re.compile(r'<h3 class="asset-title">\s*<a href="([^"]+)"'),
    "tandan": re.compile(r'<h3 class="tandan-news-item-title"><a href="([^"]+)"'),
    "nukeviet": re.compile(r'<h3><a href="([^"]+)"'),
}
PAGER_LINK = {
    "liferay": re.compile(r'<ul class="pager lfr-pagination-buttons">.*?</ul>', re.S),
    "tandan": re.compile(r'<div class="tandan-paging">.*?</div>', re.S),
    "nukeviet": re.compile(r'<ul class="pagination">.*?</ul>', re.S),
}


@pytest.fixture(scope="module")
def world():
    with SampleWorld() as w:
        yield w


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def family(slug: str) -> str:
    return tomllib.loads((DATA_DIR / slug / "site.toml").read_text(encoding="utf-8"))["family"]


def test_ephemeral_ports_and_registry(world, tmp_path):
    ports = {urlsplit(world.base_url(s)).port for s in PORTALS}
    assert len(ports) == 3 and all(p for p in ports)
    paths = world.write_registry(tmp_path)
    assert [p.name for p in paths] == [f"{s}.toml" for s in PORTALS]
    for slug in PORTALS:
        reg = tomllib.loads(world.registry_toml(slug))
        assert reg["slug"] == slug and reg["base_url"] == world.base_url(slug) + "/"
        assert set(reg) == {
            "slug",
            "name",
            "unit",
            "unit_code",
            "family",
            "base_url",
            "start_urls",
            "category_urls",
        }
        assert "{base}" not in world.registry_toml(slug)


@pytest.mark.parametrize("slug", PORTALS)
def test_expected_json_shape(slug):
    rows = json.loads((DATA_DIR / slug / "expected.json").read_text(encoding="utf-8"))
    assert len(rows) == 10
    assert len({r["canonical_url"] for r in rows}) == 10
    for r in rows:
        assert set(r) == KEYS
        assert r["canonical_url"].startswith("{base}/")
        assert len(r["body_start"]) == 60 and len(r["body_end"]) == 60
        assert set(r["topics"]) <= {"cchc", "dvhc"}
        for ref in r["doc_refs"]:
            assert set(ref) == {"number", "kind", "date", "issuer"}
        for text in (r["title"], r["lead"] or "", r["body_start"], r["body_end"]):
            assert unicodedata.is_normalized("NFC", text)


@pytest.mark.parametrize("slug", PORTALS)
def test_articles_answer_with_title_and_canonical(world, slug):
    for row in world.expected(slug):
        status, headers, body = fetch(row["canonical_url"])
        page = body.decode("utf-8")
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert '<meta charset="utf-8"' in page
        assert html.escape(row["title"]) in page
        assert f'href="{row["canonical_url"]}"' in page and 'rel="canonical"' in page
        inline = re.sub(r"</?(a|strong|em)\b[^>]*>", "", page)
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())
        assert row["body_start"] in text and row["body_end"] in text


@pytest.mark.parametrize("slug", PORTALS)
def test_pagination_reaches_every_article(world, slug):
    base = world.base_url(slug)
    fam = family(slug)
    reg = tomllib.loads(world.registry_toml(slug))
    seen_pages, found, queue = set(), set(), list(reg["category_urls"])
    while queue:
        url = queue.pop()
        if url in seen_pages:
            continue
        seen_pages.add(url)
        status, _, body = fetch(url)
        page = html.unescape(body.decode("utf-8"))
        assert status == 200
        for href in LISTING_LINK[fam].findall(page):
            found.add(urljoin(base, href).split("?")[0])
        pager = PAGER_LINK[fam].search(page)
        for href in re.findall(r'href="([^"#]+)"', pager.group(0) if pager else ""):
            if not href.startswith("javascript"):
                queue.append(urljoin(url, href))
    assert len(seen_pages) >= 6  # 3 pages per category
    expected = {r["canonical_url"] for r in world.expected(slug)}
    assert expected <= found
    assert len(found - expected) == 1  # the removed article


@pytest.mark.parametrize("slug", PORTALS)
def test_soft_404(world, slug):
    base = world.base_url(slug)
    status, _, body = fetch(base + "/khong-co-trang-nay.html")
    assert status == 200 and "Không tìm thấy" in body.decode("utf-8")
    removed = world.sites[slug].spec.removed.path
    status, _, body = fetch(base + removed)
    assert status == 200 and "Không tìm thấy" in body.decode("utf-8")
    assert fetch(base + "/favicon.ico")[0] == 404


@pytest.mark.parametrize("slug", PORTALS)
def test_robots_and_offhost_links(world, slug):
    status, _, body = fetch(world.base_url(slug) + "/robots.txt")
    assert status == 200
    assert "Disallow: /admin/" in body.decode() and "Crawl-delay" not in body.decode()
    home = fetch(world.base_url(slug) + "/")[2].decode("utf-8")
    assert 'href="/admin/login"' in home and "https://chinhphu.vn/" in home
    assert "utm_source=zalo" in home
    for marker in ("Truy cập nội dung luôn", "ĐƯỜNG DÂY NÓNG", "Thống kê truy cập", "Bình chọn"):
        assert marker in home


@pytest.mark.parametrize("slug", PORTALS)
def test_tracking_and_print_versions_point_to_canonical(world, slug):
    row = world.expected(slug)[0]
    page = fetch(row["canonical_url"] + "?utm_source=zalo&utm_medium=share")[2].decode("utf-8")
    assert f'href="{row["canonical_url"]}"' in page
    article = fetch(row["canonical_url"])[2].decode("utf-8")
    prints = [h for h in re.findall(r'href="([^"]+)"', article) if "print" in h]
    assert prints
    status, _, body = fetch(urljoin(row["canonical_url"], html.unescape(prints[0])))
    printed = body.decode("utf-8")
    assert status == 200 and f'href="{row["canonical_url"]}"' in printed
    assert "ĐƯỜNG DÂY NÓNG" not in printed


def test_attachments_served_with_bytes_and_headers(world):
    linked = broken = 0
    for slug in PORTALS:
        for row in world.expected(slug):
            for att in row["attachments"]:
                linked += 1
                status, headers, body = fetch(att["url"])
                name = att["url"].rsplit("/", 1)[1]
                assert status == 200
                if not (FILES_DIR / name).exists():  # the broken link: the soft 404 page
                    assert "text/html" in headers["Content-Type"] and b"<html" in body.lower()
                    broken += 1
                    continue
                want = hashlib.sha256((FILES_DIR / name).read_bytes()).hexdigest()
                assert hashlib.sha256(body).hexdigest() == want
                assert headers["Content-Disposition"].startswith("attachment;")
                ctype = {"pdf": "application/pdf", "docx": "wordprocessingml", "doc": "msword"}
                assert ctype[name.rsplit(".", 1)[1]] in headers["Content-Type"]
    assert linked >= 9 and broken == 1


def test_requests_are_logged(world):
    fetch(world.base_url(PORTALS[0]) + "/robots.txt?x=1")
    assert (PORTALS[0], "GET", "/robots.txt?x=1", 200) in world.requests


def _world_on_fixed_ports() -> tuple[SampleWorld, int]:
    # A free port found, freed, then asked for again with the next ones: another process
    # (the other test pass) can take one in between; then try another.
    for attempt in range(5):
        probe = SampleWorld().start()
        port = urlsplit(probe.base_url(PORTALS[0])).port
        probe.stop()
        try:
            return SampleWorld(port_base=port).start(), port
        except OSError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def test_fixed_ports_and_clean_stop():
    world, port = _world_on_fixed_ports()
    with world as w:
        assert w.base_url(PORTALS[1]).endswith(f":{port + 1}")
        url = w.base_url(PORTALS[1]) + "/"
        assert fetch(url)[0] == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=1)
