"""The one config-driven spider: ``scrapy crawl portal -a portal=<slug>``.

It follows a portal's category listings through their pagination to the articles, stays on
the portal's own host (host *and* port), never archives listings, home pages or soft-404
pages, and de-duplicates articles reached by several URLs (canonical link, print views,
tracking parameters). ``-a url=<URL>`` crawls a site that has no TOML file: its family is
detected from the first page, or generic extraction is used.

A re-crawl is incremental (see :mod:`scraper.incremental`): each category's listing is
walked newest-first only until it shows pages of known articles, known articles are not
fetched again (recent ones are re-checked with conditional requests). ``-a full=1`` or
``PORTAL_ARCHIVE_FULL_CRAWL=True`` walks everything, as the first crawl of a portal does.
After a crawl that did not finish (killed, stopped), the next one resumes: every listing
page walked, known articles skipped, the attachments they lack downloaded.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse

from archive.legacy import decode_html_bytes
from scraper import registry
from scraper.distributed import shared_run
from scraper.extract import ATTACHMENT_EXT, clean_url, extract
from scraper.incremental import KNOWN_RUN, IncrementalCrawl, full_requested
from scraper.platforms import detect_family, get_platform
from scraper.registry import PortalEntry

SKIP_PATH = re.compile(r"\.(jpe?g|png|gif|webp|svg|ico|css|js|mp[34]|avi|mov|woff2?|ttf)$", re.I)


def slug_for_url(url: str) -> str:
    host = urlsplit(url).netloc.lower().replace(":", "-")
    return re.sub(r"[^a-z0-9-]+", "-", host).strip("-") or "site"


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class UrlSet:
    """A set of URLs kept as 64-bit hashes: 88 bytes a URL instead of ~240, so a crawl's
    memory hardly grows with its pages (docs/benchmarks.md, "scale"). Two URLs of one crawl
    sharing a hash (about 3 in 100 million for a million URLs) would make the second look
    already requested."""

    __slots__ = ("_hashes",)

    def __init__(self) -> None:
        self._hashes: set[int] = set()

    @staticmethod
    def _key(url: str) -> int:
        digest = hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    def add(self, url: str) -> None:
        self._hashes.add(self._key(url))

    def discard(self, url: str) -> None:
        self._hashes.discard(self._key(url))

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and self._key(url) in self._hashes

    def __len__(self) -> int:
        return len(self._hashes)


class PortalSpider(scrapy.Spider):
    name = "portal"

    def __init__(
        self,
        portal: str | None = None,
        url: str | None = None,
        portals_dir: str | None = None,
        trigger: str = "scrapy",
        full: str | bool | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not portal and not url:
            raise ValueError("give -a portal=<slug> or -a url=<URL>")
        if portal:
            self.entry: PortalEntry = registry.get(portal, portals_dir)
        else:
            url = url if "://" in url else f"http://{url}"
            self.entry = registry.entry_from_dict(
                {
                    "slug": slug_for_url(url),
                    "name": urlsplit(url).netloc,
                    "unit": f"(unknown: {urlsplit(url).netloc})",
                    "family": "generic",
                    "base_url": url,
                    "start_urls": [url],
                }
            )
        self.auto_family = not portal
        self.trigger = trigger
        self.platform = get_platform(self.entry.family, self.entry.selectors)
        self.roots = {
            clean_url(u)
            for u in (self.entry.base_url, *self.entry.start_urls, *self.entry.category_urls)
        }
        self.seen_canonical = UrlSet()
        # URLs already requested: skipping them here is far cheaper than building a Request
        # for Scrapy's dupefilter to fingerprint and drop (listings repeat every page link).
        self.requested = UrlSet()
        self.full = full_requested(full)
        #: Set when the crawl starts, on a re-crawl; None → a full crawl (the first, or asked).
        self.incremental: IncrementalCrawl | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args, **kwargs) -> PortalSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        # Precedence: project < portal TOML < command line ("spider" < "cmdline").
        for key, value in spider.entry.settings.items():
            settings.set(key, value, priority="spider")
        if all(is_loopback_url(u) for u in spider.roots):
            # Sample portals on 127.0.0.1: politeness delays off (tests, demo, benchmarks).
            settings.set("AUTOTHROTTLE_ENABLED", False, priority="spider")
            settings.set("DOWNLOAD_DELAY", 0, priority="spider")
            settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", 16, priority="spider")
        if spider.entry.family == "generic":
            settings.set(
                "DEPTH_LIMIT", settings.getint("GENERIC_DEPTH_LIMIT", 3), priority="spider"
            )
        return spider

    def closed(self, reason: str) -> None:
        if self.incremental is not None:
            self.incremental.close()

    async def start(self):
        # Here, not in from_crawler: the crawl stats exist from the spider's opening on.
        self.incremental = IncrementalCrawl.open(self.crawler, self.entry.slug, full=self.full)
        # A worker of a distributed crawl (scraper/distributed.py): the first one seeds the
        # shared frontier, the others take their requests from it.
        run = shared_run(self.crawler)
        if run is not None:
            if not run.claim_seeding():
                return
            await run.wait_for_workers(
                int(run.description.get("workers") or 0),
                self.crawler.settings.getfloat("PORTAL_ARCHIVE_WORKERS_WAIT", 20.0),
            )
        if self.incremental is not None and self.incremental.resume:
            for item in self.incremental.attachment_items(self.entry.slug):
                yield item
        for url in dict.fromkeys((*self.entry.start_urls, *self.entry.category_urls)):
            self.requested.add(clean_url(url))
            yield scrapy.Request(url, callback=self.parse)
        if run is not None:
            run.seeding_done()

    # --- helpers ----------------------------------------------------------------------

    def on_portal(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and parts.netloc.lower() in self.entry.netlocs

    def follow_ok(self, url: str) -> bool:
        path = urlsplit(url).path
        if not self.on_portal(url) or SKIP_PATH.search(path) or ATTACHMENT_EXT.search(path + "?"):
            return False
        pr = self.platform.print_url
        return not (pr is not None and pr.search(url))

    # --- callbacks --------------------------------------------------------------------

    def parse(self, response: Response, **_):
        stats = self.crawler.stats
        if response.status == 304:  # a re-check of a known article: unchanged
            if self.incremental is not None:
                self.incremental.not_modified(clean_url(response.url))
            return
        if not isinstance(response, TextResponse):
            stats.inc_value("pages/binary")
            return
        if self.auto_family and self.platform.name == "generic":
            family = detect_family(response.text[:200_000], response.url)
            if family != "generic":
                self.logger.info("detected family %s for %s", family, response.url)
                self.platform = get_platform(family)
            self.auto_family = False
        try:
            # Our decoder, not response.text: it checks a declared charset against the bytes
            # (UTF-8 pages labelled iso-8859-1, windows-1258 pages) instead of trusting it.
            declared = response.headers.get("Content-Type", b"").decode("latin-1")
            charset = declared.split("charset=", 1)[1].strip() if "charset=" in declared else None
            html, _ = decode_html_bytes(response.body, charset)
            page = extract(html, response.url, platform=self.platform, status=response.status)
        except Exception:  # one broken page never stops a crawl: count it, log it, go on
            stats.inc_value("pages/error")
            self.logger.exception("extraction failed on %s", response.url)
            return
        stats.inc_value(f"pages/{page.kind}")

        if page.kind == "article":
            yield from self._article(response, page)
        links = page.article_links + page.page_links
        if page.next_page:
            links.append(page.next_page)  # the generic pager rules, for families without any
        if page.kind == "other" and page.canonical_url != page.url:
            links.append(page.canonical_url)  # e.g. a print view: its article
        if self.platform.name == "generic" and page.kind != "not_found":
            links = [
                clean_url(u)
                for u in response.css("a::attr(href)").getall()
                if not u.startswith(("javascript:", "mailto:", "#"))
            ]
            links = [response.urljoin(u) for u in links]
        if self.incremental is not None:
            yield from self._follow_incrementally(response, page, links)
            return
        for url in links:
            if url not in self.requested and self.follow_ok(url):
                yield self._request(url)

    def _request(self, url: str, meta: dict | None = None) -> scrapy.Request:
        self.requested.add(url)
        if self.incremental is not None:
            self.incremental.requested(url)
        return scrapy.Request(url, callback=self.parse, meta=meta)

    def _follow_incrementally(self, response: TextResponse, page, links: list[str]):
        """A re-crawl's links: known articles skipped (recent ones re-checked), a listing's
        next page walked only while the stop rule allows it (a resume walks them all, as a
        full crawl does: the stop rule has nothing to decide)."""
        inc = self.incremental
        # Generic pages have no pager to walk: known articles are skipped, DEPTH_LIMIT bounds
        # the rest.
        listing = page.kind == "listing" and self.platform.name != "generic" and not inc.resume
        pager = {*page.page_links, page.next_page} if listing else set()
        run = 0
        if listing:
            articles = [u for u in page.article_links if self.follow_ok(u)]
            # Known means archived: an article requested earlier in this crawl (e.g. from
            # the home page) is new and still makes its listing page count as unknown.
            if articles and all(inc.is_known(u) for u in articles):
                run = response.meta.get(KNOWN_RUN, 0) + 1
        for url in links:
            if url in pager or url in self.requested or not self.follow_ok(url):
                continue
            if inc.is_known(url):
                request = inc.known_article(url, self.parse)
                if request is not None:
                    self.requested.add(url)
                    yield request
            else:
                yield self._request(url)
        if not listing:
            return
        if inc.keep_walking(run):
            # Newest first, one page at a time: the next page's verdict needs this one's.
            for url in [page.next_page] if page.next_page else page.page_links:
                if url not in self.requested and self.follow_ok(url):
                    yield self._request(url, meta={KNOWN_RUN: run})
        else:
            inc.stopped([u for u in pager if u and u not in self.requested and self.follow_ok(u)])

    def _article(self, response: TextResponse, page):
        stats = self.crawler.stats
        canonical = page.canonical_url
        if (
            canonical != page.url
            and self.on_portal(canonical)
            and canonical not in self.roots
            and not response.meta.get("via_canonical")
        ):
            # Reached by an alias (print view, tracking link): fetch the canonical page.
            stats.inc_value("dupes/alias_followed")
            yield scrapy.Request(canonical, callback=self.parse, meta={"via_canonical": True})
            return
        if not self.on_portal(canonical) or canonical in self.roots:
            canonical = page.url
        if canonical in self.seen_canonical:
            stats.inc_value("dupes/canonical")
            return
        self.seen_canonical.add(canonical)
        for name in ("published", "author", "lead"):
            if not getattr(page, name):
                stats.inc_value(f"field/{name}/missing")
        yield {
            "portal": self.entry.slug,
            "url": page.url,
            "canonical_url": canonical,
            "title": page.title,
            "published": page.published,
            "author": page.author,
            "views": page.views,
            "lead": page.lead,
            "body": page.body,
            "attachments": page.attachments,
            "doc_refs": page.doc_refs,
            "topics": page.topics,
            "fetched_at": datetime.now(UTC),
            "raw_sha256": hashlib.sha256(response.body).hexdigest(),
        }
