"""The one config-driven spider: ``scrapy crawl portal -a portal=<slug>``.

It follows a portal's category listings through their pagination to the articles, stays on
the portal's own host (host *and* port), never archives listings, home pages or soft-404
pages, and de-duplicates articles reached by several URLs (canonical link, print views,
tracking parameters). ``-a url=<URL>`` crawls a site that has no TOML file: its family is
detected from the first page, or generic extraction is used.
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
from scraper.extract import ATTACHMENT_EXT, clean_url, extract
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


class PortalSpider(scrapy.Spider):
    name = "portal"

    def __init__(
        self,
        portal: str | None = None,
        url: str | None = None,
        portals_dir: str | None = None,
        trigger: str = "scrapy",
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
        self.seen_canonical: set[str] = set()
        # URLs already requested: skipping them here is far cheaper than building a Request
        # for Scrapy's dupefilter to fingerprint and drop (listings repeat every page link).
        self.requested: set[str] = set()

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

    async def start(self):
        for url in dict.fromkeys((*self.entry.start_urls, *self.entry.category_urls)):
            self.requested.add(clean_url(url))
            yield scrapy.Request(url, callback=self.parse)

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
        for url in links:
            if url not in self.requested and self.follow_ok(url):
                self.requested.add(url)
                yield scrapy.Request(url, callback=self.parse)

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
