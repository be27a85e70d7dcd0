"""Incremental re-crawls (scraper/incremental.py).

Real crawls through the CLI into a temporary data directory against a bigger sample portal
(200 articles, 10 per listing page): a re-crawl of the unchanged portal costs a few requests
and changes nothing; an article published between two crawls is found; a recent article is
re-checked; ``full`` walks everything again. That world is served without validators
(``validators=False``: a portal that sends no ETag / Last-Modified gets plain GETs);
conditional requests and 304s are tested against a server of our own here and against the
sample server's own validators in tests/test_conditional.py. The stop rule and the archive
queries behind it are tested without a crawl.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from scrapy.http import HtmlResponse, Request, Response
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from archive.config import Config
from archive.models import Article
from archive.schema import ArticleItem
from archive.store import Archive
from scraper.incremental import KNOWN_RUN, IncrementalCrawl, RecrawlPlan
from scraper.sample_portals import SampleWorld
from scraper.sample_portals.content import DATA_DIR
from scraper.sample_portals.nukeviet import NukevietSite
from scraper.sample_portals.portals import PORTAL_SPECS
from scraper.sample_portals.site import PortalSite
from scraper.spiders.portal import PortalSpider
from tests.conftest import ROOT, run_cli

#: NukeViet: the quickest sample portal to crawl (two attachments, no OCR).
SLUG = "huyen-ham-tan"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
#: The id before the extension of a sample article's path ("...-1523.html").
PATH_ID_END = re.compile(r"(\w+)(\.(?:html?|aspx))$")


# --- the sample portal, changed between two crawls --------------------------------------------


def publish(site: PortalSite, title: str, *, days_ago: int = 0):
    """A new article at the top of a category listing, served from now on."""
    template = site.newest("cai-cach-hanh-chinh")[0]
    n = sum(1 for a in site.articles if a.key.startswith("new-")) + 1
    article = replace(
        template,
        key=f"new-{n}",
        path=PATH_ID_END.sub(lambda m: f"{m[1]}77{n:02d}{m[2]}", template.path),
        title=title,
        published=datetime.now(VN).replace(tzinfo=None, second=0, microsecond=0)
        - timedelta(days=days_ago),
    )
    site.articles.append(article)
    site.by_path[article.path] = article
    site.build(site.base)
    return article


def edit(site: PortalSite, article, paragraph: str):
    """The same article with one paragraph more (what a portal's editor does)."""
    changed = replace(article, blocks=(*article.blocks, replace(article.blocks[0], text=paragraph)))
    site.articles[site.articles.index(article)] = changed
    site.by_path[changed.path] = changed
    site.build(site.base)
    return changed


def listing_paths(site: NukevietSite) -> set[str]:
    return {
        site.cat_path(c.slug, n)
        for c in site.spec.categories
        for n in range(1, site.page_count(c.slug) + 1)
    }


def archived(data: Path) -> dict:
    archive = Archive(Config.resolve(data))
    try:
        with archive.session() as s:
            seen = dict(s.execute(select(Article.canonical_url, Article.last_seen)).all())
        return {
            "run": archive.runs(limit=1)[0],
            "summary": archive.summary(),
            "hashes": archive.article_hashes(),
            "last_seen": seen,
        }
    finally:
        archive.close()


def crawl(log: list, data: Path, registry: Path, *extra: str) -> dict:
    """One CLI crawl of SLUG; the requests the portal served and what the archive holds."""
    before = len(log)
    run_cli(
        "--data-dir", str(data), "crawl", SLUG, "--portals", str(registry),
        "--allow-private", "--no-index", *extra, check=True,
    )  # fmt: skip
    return {"requests": list(log[before:]), **archived(data)}


def stat(result: dict, key: str) -> object:
    return result["run"]["stats"].get(f"incremental/{key}", 0)


# --- a bigger sample portal crawled five times ------------------------------------------------


@pytest.fixture(scope="module")
def recrawls(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    registry = root / "portals"
    registry.mkdir()
    data = root / "data"
    with SampleWorld(scale=20, page_size=10, validators=False) as world:
        (registry / f"{SLUG}.toml").write_text(world.registry_toml(SLUG), encoding="utf-8")
        site = world.sites[SLUG]
        out = {"world": world, "site": site, "data": data, "registry": registry}
        out["first"] = crawl(world.requests, data, registry)
        out["unchanged"] = crawl(world.requests, data, registry)
        out["listings"] = listing_paths(site)  # before an article is added
        out["fresh"] = publish(site, "Hàm Tân triển khai dịch vụ công trực tuyến toàn trình")
        out["with_new"] = crawl(world.requests, data, registry)
        out["edited"] = edit(site, out["fresh"], "Cập nhật: thêm 12 thủ tục hành chính mới.")
        out["after_edit"] = crawl(world.requests, data, registry)
        out["full"] = crawl(world.requests, data, registry, "-s", "PORTAL_ARCHIVE_FULL_CRAWL=True")
        yield out


def test_first_crawl_is_full(recrawls):
    first = recrawls["first"]
    assert stat(first, "mode") == "full (first crawl)"
    assert first["run"]["new"] == len(recrawls["site"].articles) - 1 == 200


def test_unchanged_recrawl_sends_at_most_a_tenth_of_the_requests(recrawls):
    first, again = recrawls["first"]["requests"], recrawls["unchanged"]["requests"]
    ratio = len(again) / len(first)
    print(f"\nre-crawl of the unchanged portal: {len(again)} / {len(first)} requests = {ratio:.1%}")
    for name in ("with_new", "after_edit", "full"):
        print(f"{name}: {len(recrawls[name]['requests'])} requests")
    assert ratio <= 0.10


def test_unchanged_recrawl_archives_nothing_and_loses_nothing(recrawls):
    first, again = recrawls["first"], recrawls["unchanged"]
    assert (again["run"]["new"], again["run"]["updated"]) == (0, 0)
    assert again["hashes"] == first["hashes"]  # same articles, same current versions
    assert again["summary"]["versions"] == first["summary"]["versions"] == 200


def test_unchanged_recrawl_stops_each_category_after_the_overlap(recrawls):
    again, site, listings = recrawls["unchanged"], recrawls["site"], recrawls["listings"]
    walked = {p for _, _, p, _ in again["requests"]} & listings
    # Page 1 is fully known, the overlap (one page) is walked too, then the category stops.
    assert walked == {site.cat_path(c.slug, n) for c in site.spec.categories for n in (1, 2)}
    assert stat(again, "mode") == "incremental"
    assert stat(again, "listing_stops") == 2
    assert stat(again, "pages_skipped") == len(listings) - 4
    assert stat(again, "articles_skipped_known") >= 40  # the four walked pages' articles
    assert stat(again, "rechecks") == 0  # nothing published in the last 14 days


def test_new_article_on_top_of_a_listing_is_found(recrawls):
    result, fresh = recrawls["with_new"], recrawls["fresh"]
    assert (result["run"]["new"], result["run"]["updated"]) == (1, 0)
    base = recrawls["world"].base_url(SLUG)
    assert base + fresh.path in result["last_seen"]
    assert result["summary"]["articles"] == 201
    assert len(result["requests"]) <= 0.10 * len(recrawls["first"]["requests"])


def test_recent_article_is_rechecked_and_its_change_kept_as_a_version(recrawls):
    result = recrawls["after_edit"]
    assert (result["run"]["new"], result["run"]["updated"]) == (0, 1)
    assert stat(result, "rechecks") == 1
    # The sample server sends no ETag / Last-Modified: the re-check is a plain GET.
    assert stat(result, "conditional_requests") == 0
    assert result["summary"]["versions"] == 202
    assert [p for _, _, p, _ in result["requests"]].count(recrawls["edited"].path) == 1


def test_full_recrawl_walks_everything_again(recrawls):
    result, site = recrawls["full"], recrawls["site"]
    assert stat(result, "mode") == "full (requested)"
    paths = {p for _, _, p, _ in result["requests"]}
    assert listing_paths(site) <= paths
    assert {a.path for a in site.articles} <= paths
    assert (result["run"]["new"], result["run"]["updated"], result["run"]["unchanged"]) == (
        0,
        0,
        201,
    )


def test_scrapy_full_argument(recrawls):
    """``scrapy crawl portal -a full=1`` forces a full crawl too."""
    world, data = recrawls["world"], recrawls["data"]
    env = {
        **os.environ,
        "PORTAL_ARCHIVE_PORTALS": str(recrawls["registry"]),
        "PORTAL_ARCHIVE_DATA": str(data),
        "PORTAL_ARCHIVE_ALLOW_PRIVATE": "1",
        "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING",
        "PORTAL_ARCHIVE_INDEX_ON_CLOSE": "0",
    }
    before = len(world.requests)
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "portal", "-a", f"portal={SLUG}", "-a", "full=1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run = archived(data)["run"]
    assert run["stats"]["incremental/mode"] == "full (requested)"
    assert run["unchanged"] == 201
    assert listing_paths(recrawls["site"]) <= {p for _, _, p, _ in world.requests[before:]}


# --- conditional requests against a server that sends validators ------------------------------


class ValidatingPortal:
    """A sample portal behind a server of our own: it sends ``ETag`` (a hash of the body) and
    ``Last-Modified``, and answers 304 to a matching ``If-None-Match``."""

    LAST_MODIFIED = "Mon, 17 Nov 2025 08:00:00 GMT"

    def __init__(self, site: PortalSite):
        self.site = site
        #: (slug, method, path, status, If-None-Match, If-Modified-Since) per request
        self.log: list[tuple] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                parts = urlsplit(self.path)
                resp = portal.site.handle(parts.path or "/", parts.query)
                etag = '"' + hashlib.sha256(resp.body).hexdigest()[:16] + '"'
                asked = self.headers.get("If-None-Match")
                status = 304 if asked == etag else resp.status
                portal.log.append(
                    (SLUG, "GET", self.path, status, asked, self.headers.get("If-Modified-Since"))
                )
                self.send_response(status)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", portal.LAST_MODIFIED)
                if status == 304:
                    self.end_headers()
                    return
                for name, value in resp.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                self.wfile.write(resp.body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        site.build(self.base)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ValidatingPortal:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def registry_toml(self) -> str:
        text = (DATA_DIR / SLUG / "site.toml").read_text(encoding="utf-8")
        return text.replace("{base}", self.base)


def test_conditional_recheck_304_then_200_on_change(tmp_path):
    registry = tmp_path / "portals"
    registry.mkdir()
    data = tmp_path / "data"
    site = NukevietSite(PORTAL_SPECS[SLUG])
    with ValidatingPortal(site) as portal:
        (registry / f"{SLUG}.toml").write_text(portal.registry_toml(), encoding="utf-8")
        recent = publish(site, "Hàm Tân công bố thủ tục hành chính mới", days_ago=3)
        url = portal.base + recent.path
        first = crawl(portal.log, data, registry)
        assert first["run"]["new"] == 11
        (fetch,) = [r for r in first["requests"] if r[2] == recent.path]
        assert fetch[3] == 200 and fetch[4] is None

        again = crawl(portal.log, data, registry)
        (recheck,) = [r for r in again["requests"] if r[2] == recent.path]
        assert recheck[3] == 304 and recheck[4] is not None
        assert recheck[5] == ValidatingPortal.LAST_MODIFIED
        assert stat(again, "conditional_requests") == stat(again, "not_modified") == 1
        assert again["last_seen"][url] > first["last_seen"][url]  # touched by the 304
        assert again["hashes"] == first["hashes"]
        assert (again["run"]["new"], again["run"]["updated"]) == (0, 0)

        edit(site, recent, "Bổ sung: danh mục thủ tục kèm theo.")
        changed = crawl(portal.log, data, registry)
        (refetch,) = [r for r in changed["requests"] if r[2] == recent.path]
        assert refetch[3] == 200 and refetch[4] is not None  # asked, but the page changed
        assert stat(changed, "conditional_requests") == 1 and stat(changed, "not_modified") == 0
        assert changed["run"]["updated"] == 1
        assert changed["summary"]["versions"] == first["summary"]["versions"] + 1


# --- the stop rule, without a crawl --------------------------------------------------------


def _spider(tmp_path: Path, site: NukevietSite, plan: RecrawlPlan):
    base = "http://127.0.0.1:9"
    site.build(base)
    registry = tmp_path / "portals"
    registry.mkdir(exist_ok=True)
    text = (DATA_DIR / SLUG / "site.toml").read_text(encoding="utf-8").replace("{base}", base)
    (registry / f"{SLUG}.toml").write_text(text, encoding="utf-8")
    crawler = get_crawler(PortalSpider, {})
    spider = PortalSpider(portal=SLUG, portals_dir=str(registry))
    spider._set_crawler(crawler)
    crawler.spider = spider
    crawler.stats.open_spider()
    spider.incremental = IncrementalCrawl(crawler, archive=None, plan=plan)
    return spider, base


def _walk(spider: PortalSpider, site: NukevietSite, base: str, category: str):
    """Parse a category's listing pages as the crawl would; the pages walked, the rest."""
    queue = [Request(base + site.cat_path(category))]
    spider.requested.add(queue[0].url)  # as start() does
    walked, others = [], []
    while queue:
        request = queue.pop(0)
        parts = urlsplit(request.url)
        walked.append(parts.path)
        body = site.handle(parts.path, parts.query).body
        response = HtmlResponse(request.url, body=body, encoding="utf-8", request=request)
        for out in spider.parse(response):
            if isinstance(out, Request) and KNOWN_RUN in out.meta:
                queue.append(out)
            elif isinstance(out, Request):
                others.append(out)
    return walked, others


def _site(scale: int = 5) -> NukevietSite:
    from scraper.sample_portals.content import replicate

    site = NukevietSite(PORTAL_SPECS[SLUG])
    site.articles = replicate(site.articles, scale)
    site.by_path = {a.path: a for a in site.articles}
    site.page_size = 3
    return site


def _plan(site: NukevietSite, base: str, *, unknown=(), overlap: int = 1) -> RecrawlPlan:
    """Every article of ``site`` known but ``unknown``; none of them recent."""
    known = {base + a.path: a.published.date() for a in site.articles if a not in unknown}
    return RecrawlPlan(known=known, overlap=overlap, recheck_since=date.today() - timedelta(14))


@pytest.mark.parametrize("overlap", [0, 1, 2])
def test_stop_rule_walks_one_page_plus_the_overlap(tmp_path, overlap):
    site = _site()
    spider, base = _spider(tmp_path, site, RecrawlPlan(known={}))
    spider.incremental.plan = _plan(site, base, overlap=overlap)
    walked, others = _walk(spider, site, base, "cai-cach-hanh-chinh")
    cat = "cai-cach-hanh-chinh"
    assert walked == [site.cat_path(cat, n) for n in range(1, overlap + 2)]
    assert others == []  # every article is known and old: none fetched
    stats = spider.crawler.stats
    assert stats.get_value("incremental/articles_skipped_known") == 3 * (overlap + 1)
    assert stats.get_value("incremental/pages_skipped") == site.page_count(cat) - overlap - 1


def test_stop_rule_walks_past_new_articles(tmp_path):
    site = _site()
    cat = "cai-cach-hanh-chinh"
    new = site.newest(cat)[:5]  # all of page 1, two of page 2
    spider, base = _spider(tmp_path, site, RecrawlPlan(known={}))
    spider.incremental.plan = _plan(site, base, unknown=new)
    walked, others = _walk(spider, site, base, cat)
    # Pages 1 and 2 hold new articles; 3 is the first fully-known page, 4 the overlap.
    assert walked == [site.cat_path(cat, n) for n in (1, 2, 3, 4)]
    assert sorted(r.url for r in others) == sorted(base + a.path for a in new)


def test_recent_known_article_is_asked_for_conditionally(tmp_path):
    site = _site()
    cat = "cai-cach-hanh-chinh"
    spider, base = _spider(tmp_path, site, RecrawlPlan(known={}))
    top = site.newest(cat)[0]
    plan = _plan(site, base)
    plan.known[base + top.path] = date.today() - timedelta(days=2)
    plan.validators = {base + top.path: {"etag": '"abc"', "last_modified": "Mon, 17 Nov 2025"}}
    spider.incremental.plan = plan
    _, others = _walk(spider, site, base, cat)
    (request,) = others
    assert request.url == base + top.path
    assert request.headers["If-None-Match"] == b'"abc"'
    assert request.headers["If-Modified-Since"] == b"Mon, 17 Nov 2025"
    assert request.meta["handle_httpstatus_list"] == [304] and request.meta["dont_cache"]
    not_modified = Response(request.url, status=304, request=request)
    assert list(spider.parse(not_modified)) == []
    stats = spider.crawler.stats
    assert stats.get_value("incremental/not_modified") == 1
    assert spider.incremental.unmodified == [request.url]


def test_full_crawl_when_asked_or_nothing_known(tmp_path):
    assert PortalSpider(url="https://p.example.gov.vn/", full="1").full  # -a full=1
    assert not PortalSpider(url="https://p.example.gov.vn/", full="0").full
    assert not PortalSpider(url="https://p.example.gov.vn/").full
    pipelines = {"scraper.pipelines.ArchivePipeline": 300}
    settings = {"PORTAL_ARCHIVE_DATA_DIR": str(tmp_path), "ITEM_PIPELINES": pipelines}
    for extra, full, mode in [
        ({"PORTAL_ARCHIVE_FULL_CRAWL": True}, False, "full (requested)"),
        ({}, True, "full (requested)"),
        ({}, False, "full (first crawl)"),
        ({"ITEM_PIPELINES": {}}, False, "full (no archive pipeline)"),
    ]:
        crawler = get_crawler(PortalSpider, {**settings, **extra})
        assert IncrementalCrawl.open(crawler, "p", full=full) is None
        assert crawler.stats.get_value("incremental/mode") == mode


# --- the archive's queries ----------------------------------------------------------------


@pytest.fixture
def archive(tmp_path):
    a = Archive(Config.resolve(tmp_path))
    a.portal_id = a.upsert_portal(
        "p", name="P", unit="", base_url="http://p.gov.vn/", family="generic"
    )
    yield a
    a.close()


def _item(n: int, **kw) -> ArticleItem:
    base = dict(
        portal="p",
        url=f"http://p.gov.vn/a-{n}.html",
        canonical_url=f"http://p.gov.vn/a-{n}.html",
        title=f"Bài {n}",
        body="Nội dung về cải cách hành chính.",
        fetched_at=datetime.now(UTC),
    )
    return ArticleItem.model_validate({**base, **kw})


def test_known_article_urls_with_their_day(archive):
    archive.store_articles(
        [
            _item(1, published=date(2024, 3, 29)),
            _item(2, url="http://p.gov.vn/a-2.html?print=1"),  # no date, reached by an alias
        ],
        archive.portal_id,
    )
    other = archive.upsert_portal("q", name="Q", unit="", base_url="http://q/", family="generic")
    archive.store_articles(
        [_item(9, portal="q", url="http://q/9", canonical_url="http://q/9")], other
    )
    known = archive.known_article_urls("p")
    today = datetime.now(UTC).date()
    assert known == {
        "http://p.gov.vn/a-1.html": date(2024, 3, 29),
        "http://p.gov.vn/a-2.html": today,  # first seen
        "http://p.gov.vn/a-2.html?print=1": today,
    }
    assert archive.known_article_urls("nobody") == {}


def test_last_validators_are_those_of_the_latest_fetch(archive):
    now = datetime.now(UTC)

    def fetch(url, status, headers):
        return dict(
            url=url, status=status, headers=headers, sha256="0" * 64, size=0, fetched_at=now
        )

    archive.record_fetches(
        [
            fetch("http://p/a", 200, {"Etag": ['"old"'], "Last-Modified": ["Mon, 1 Jan 2024"]}),
            fetch("http://p/a", 304, {"Etag": ['"new"']}),
            fetch("http://p/a", 404, {"Etag": ['"gone"']}),
            fetch("http://p/b", 200, {"Content-Type": ["text/html"]}),
            fetch("http://p/c", 200, {"last-modified": "Tue, 2 Jan 2024"}),
        ]
    )
    assert archive.last_validators(["http://p/a", "http://p/b", "http://p/c", "http://p/x"]) == {
        "http://p/a": {"etag": '"new"'},
        "http://p/c": {"last_modified": "Tue, 2 Jan 2024"},
    }
    assert archive.last_validators([]) == {}


def test_touch_articles_by_canonical_or_alias(archive):
    archive.store_articles([_item(1), _item(2)], archive.portal_id)
    archive.store_articles([_item(1, url="http://p.gov.vn/a-1.html?print=1")], archive.portal_id)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    assert (
        archive.touch_articles(["http://p.gov.vn/a-1.html?print=1", "http://nowhere"], later) == 1
    )
    seen = {r.canonical_url: r.last_seen for r in archive.iter_articles()}
    assert seen["http://p.gov.vn/a-1.html"].year == 2030
    assert seen["http://p.gov.vn/a-2.html"].year != 2030
    assert archive.touch_articles([]) == 0
