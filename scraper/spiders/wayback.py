"""``scrapy crawl wayback -a portal=<slug>``: a portal's articles from the Wayback Machine's
captures, never from the portal itself (``portal-archive crawl SLUG --source wayback``).

The portal spider's extraction runs on each capture as if it were the original page
(:class:`~scraper.spiders.portal.PortalSpider` is the base class, its ``parse`` is used
as it is), so an article archived from a capture has its original URL, canonicalised as a
crawl does, and the capture time as its fetch time and first sight. How requests reach the
archive and come back is in :mod:`scraper.wayback`.

1. The CDX API lists the captures of each of the portal's hosts, page by page
   (``PORTAL_ARCHIVE_WAYBACK_PAGE_SIZE`` rows, then the resume key), within
   ``-a time_from=YEAR`` / ``-a time_to=YEAR`` (4 to 14 digits, inclusive).
2. Kept as pages to fetch: captures of HTML on the portal's host (``www.`` or not, http or
   https, default port or not: the portal's own scheme and host are used), one per URL and
   content digest, that the portal spider would follow (not files, images, print views),
   neither its home or category pages nor a listing page (``listing_url`` of its family),
   and not fetched by an earlier wayback crawl that ended in order. Every other row is
   counted under ``wayback/skipped/<reason>``.
3. Once the listing is complete, the pages are fetched oldest first; the captures of one
   URL one after the other (its versions are stored in the order they were captured).
4. Attachments of the articles found are fetched from their latest listed capture; one the
   listing does not have is recorded as failed, ``not in the web archive``, without a
   request (a file on another host is asked for at the archive, which redirects to its
   nearest capture or answers 404).

A page captured only under an alias of its article (a tracking link) stands for the
article when the canonical page itself was not captured.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response

from archive.warcfiles import url_key
from scraper.extract import clean_url
from scraper.pipelines import ARCHIVED_CAPTURE
from scraper.spiders.portal import PortalSpider, UrlSet
from scraper.wayback import (
    DEFAULT_URL,
    HTML_TYPES,
    ORIGINAL,
    Capture,
    capture_time,
    capture_url,
    cdx_time,
    cdx_url,
    parse_cdx_json,
    portal_netloc,
)

#: Request meta: the later captures of the same URL, fetched after this one.
LATER = "wayback_later"
#: Request meta: the host whose listing a CDX page is.
LISTING = "wayback_listing"


class WaybackSpider(PortalSpider):
    name = "wayback"
    #: Items' first and last sight are their capture time (scraper.pipelines).
    seen_at_fetch = True

    def __init__(
        self,
        portal: str | None = None,
        url: str | None = None,
        portals_dir: str | None = None,
        trigger: str = "scrapy",
        wayback_url: str | None = None,
        time_from: str | None = None,
        time_to: str | None = None,
        **kwargs,
    ):
        kwargs.pop("full", None)  # the captures are walked whole; no incremental stop rule
        super().__init__(portal=portal, url=url, portals_dir=portals_dir, trigger=trigger, **kwargs)
        self.wayback = (wayback_url or "").rstrip("/")
        self.time_from, self.time_to = cdx_time(time_from), cdx_time(time_to)
        if self.time_from and self.time_to and self.time_from[:4] > self.time_to[:4]:
            raise ValueError(f"time_from {self.time_from} is after time_to {self.time_to}")
        self.page_size = 5000
        # The portal's hosts (default port left out), and without "www.": its scheme and
        # host as configured, which captured URLs are given.
        self.hosts: dict[str, tuple[str, str]] = {}
        #: The hosts listed (one CDX listing each).
        self.netlocs: set[str] = set()
        for u in (self.entry.base_url, *self.entry.start_urls, *self.entry.category_urls):
            found = portal_netloc(u)
            if found:
                parts = urlsplit(u)
                self.netlocs.add(found[1])
                for key in (found[1], found[1].removeprefix("www.")):
                    self.hosts.setdefault(key, (parts.scheme, parts.netloc.lower()))
        #: url_key → the latest listed capture of each URL (what attachments are taken from).
        self.files: dict[str, Capture] = {}
        #: Page URL → its captures to fetch.
        self.pages: dict[str, list[Capture]] = {}
        self.contents: set[tuple[str, str]] = set()  # (url_key, digest) seen
        self.done: set[tuple[str, str]] = set()  # (time, url_key) of earlier runs
        self.listing_pending: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args, **kwargs) -> WaybackSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.wayback = spider.wayback or (
            settings.get("PORTAL_ARCHIVE_WAYBACK_URL") or DEFAULT_URL
        ).rstrip("/")
        spider.page_size = settings.getint("PORTAL_ARCHIVE_WAYBACK_PAGE_SIZE", 5000)
        # Pacing is WaybackPaceMiddleware's, one request at a time: Scrapy's own delays off
        # (its jitter sends some requests at half the delay), and the portal's (its TOML,
        # or the loopback sample portals' settings) are not the archive's.
        settings.set("AUTOTHROTTLE_ENABLED", False, priority="spider")
        settings.set("DOWNLOAD_DELAY", 0, priority="spider")
        if settings.getfloat("PORTAL_ARCHIVE_WAYBACK_RPS", 1.0) > 0:
            settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", 1, priority="spider")
        middlewares = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
        middlewares.update(
            {
                "scraper.wayback.WaybackMiddleware": 40,
                "scraper.wayback.WaybackPaceMiddleware": 940,
                "scraper.warc.WarcCaptureMiddleware": None,
                "scraper.wayback.WaybackWarcCaptureMiddleware": 950,
            }
        )
        settings.set("DOWNLOADER_MIDDLEWARES", middlewares, priority="spider")
        return spider

    # --- what the middlewares ask ----------------------------------------------------------

    def is_wayback_url(self, url: str) -> bool:
        return url.startswith(self.wayback + "/")

    def capture_url_for(self, url: str) -> str | None:
        """Where to fetch ``url`` from: its latest listed capture; for a URL of another host
        (not listed), the archive's capture nearest to the end of the period (it redirects);
        None when the portal's listing has no capture of it."""
        capture = self.files.get(url_key(url))
        if capture is not None:
            return capture_url(self.wayback, capture.timestamp, capture.original)
        if self.portal_url(url) is not None:
            return None
        end = f"{self.time_to[:4]}1231235959" if self.time_to else None
        return capture_url(self.wayback, end or datetime.now(UTC).strftime("%Y%m%d%H%M%S"), url)

    def portal_url(self, original: str) -> str | None:
        """A captured URL as the portal's own (its scheme and host as configured), or None
        when it is another host's."""
        found = portal_netloc(original)
        if found is None:
            return None
        _scheme, netloc = found
        known = self.hosts.get(netloc) or self.hosts.get(netloc.removeprefix("www."))
        if known is None:
            return None
        scheme, own = known
        rest = original.split("://", 1)[1]
        path = rest[len(rest.split("/", 1)[0]) :] or "/"
        if path.startswith("?"):
            path = "/" + path
        return f"{scheme}://{own}{path.split('#', 1)[0]}"

    # --- the listing -------------------------------------------------------------------------

    async def start(self):
        self._load_done()
        self.listing_pending = set(self.netlocs)
        for netloc in sorted(self.netlocs):
            yield self._listing(netloc)

    def _load_done(self) -> None:
        """Captures archived by earlier wayback crawls; the run's mode recorded at once."""
        from scraper.incremental import _archive_pipeline_enabled, _decided

        stats = self.crawler.stats
        stats.set_value("incremental/mode", "wayback")
        if not _archive_pipeline_enabled(self.crawler.settings):
            return
        from scraper.pipelines import open_archive

        archive = open_archive(self.crawler.settings)
        try:
            _decided(
                archive,
                stats,
                stats.get_value("archive/run_id"),
                {"incremental/mode": "wayback", "wayback/url": self.wayback},
            )
            for via in archive.archived_captures_fetched(self.entry.slug):
                m = via.split("/web/", 1)[-1]
                stamp, _, original = m.partition("id_/")
                self.done.add((stamp, url_key(original)))
        finally:
            archive.close()

    def _listing(self, netloc: str, resume_key: str | None = None) -> scrapy.Request:
        url = cdx_url(
            self.wayback,
            netloc,
            time_from=self.time_from,
            time_to=self.time_to,
            limit=self.page_size,
            resume_key=resume_key,
        )
        return scrapy.Request(
            url,
            callback=self.parse_listing,
            errback=self.listing_failed,
            meta={LISTING: netloc},
            dont_filter=True,
            priority=1000,  # before any capture
        )

    def parse_listing(self, response: Response):
        stats = self.crawler.stats
        stats.inc_value("wayback/listing_pages")
        rows, resume = parse_cdx_json(response.text)
        for row in rows:
            self._consider(row)
        netloc = response.meta[LISTING]
        if resume:
            yield self._listing(netloc, resume)
            return
        yield from self._listed(netloc)

    def listing_failed(self, failure):
        self.crawler.stats.inc_value("wayback/listing_failed")
        self.logger.error("the web archive's listing failed: %s", failure.value)
        yield from self._listed(failure.request.meta[LISTING])

    def _skip(self, reason: str) -> None:
        self.crawler.stats.inc_value(f"wayback/skipped/{reason}")

    def _consider(self, row: dict[str, str]) -> None:
        self.crawler.stats.inc_value("wayback/listed")
        mimetype = (row.get("mimetype") or "").split(";", 1)[0].strip().lower()
        if mimetype == "warc/revisit":
            return self._skip("revisit")
        if row.get("statuscode") != "200":
            return self._skip(f"status {row.get('statuscode') or '-'}")
        original = row.get("original") or ""
        stamp = row.get("timestamp") or ""
        url = self.portal_url(original)
        if url is None or len(stamp) != 14 or not stamp.isdigit():
            return self._skip("another host")
        key = url_key(url)
        if (key, row.get("digest") or stamp) in self.contents:
            return self._skip("same content as an earlier capture")
        self.contents.add((key, row.get("digest") or stamp))
        capture = Capture(stamp, original, url, mimetype, row.get("digest") or "")
        latest = self.files.get(key)
        if latest is None or latest.timestamp < stamp:
            self.files[key] = capture  # an attachment is taken from here
        if mimetype not in HTML_TYPES:
            return self._skip("not a page")
        if not self.follow_ok(url):
            return self._skip("not an article page")
        listing = self.platform.listing_url
        if clean_url(url) in self.roots or (listing is not None and listing.search(url)):
            return self._skip("listing or home page")
        if (stamp, url_key(original)) in self.done:
            return self._skip("archived by an earlier crawl")
        self.pages.setdefault(url, []).append(capture)

    def _listed(self, netloc: str):
        """One host's listing is complete; once every host's is, the pages are asked for."""
        self.listing_pending.discard(netloc)
        if self.listing_pending:
            return
        ordered = sorted(
            self.pages.items(), key=lambda kv: (min(c.timestamp for c in kv[1]), kv[0])
        )
        total = sum(len(captures) for _url, captures in ordered)
        self.crawler.stats.set_value("wayback/captures", total)
        self.logger.info(
            "%d captures of %d pages of %s to fetch from %s",
            total, len(ordered), self.entry.slug, self.wayback,
        )  # fmt: skip
        for rank, (_url, captures) in enumerate(ordered):
            captures.sort(key=lambda c: c.timestamp)
            yield self._capture(captures, priority=len(ordered) - rank)

    # --- the captures ------------------------------------------------------------------------

    def _capture(self, captures: list[Capture], priority: int) -> scrapy.Request:
        first, later = captures[0], captures[1:]
        return scrapy.Request(
            capture_url(self.wayback, first.timestamp, first.original),
            callback=self.parse_capture,
            errback=self.capture_failed,
            priority=priority,
            dont_filter=True,
            meta={ORIGINAL: first.url, LATER: (later, priority)},
        )

    def _later(self, meta: dict):
        later, priority = meta.get(LATER) or ((), 0)
        if later:
            yield self._capture(list(later), priority)

    def parse_capture(self, response: Response):
        self.crawler.stats.inc_value("wayback/pages_fetched")
        archived = response.meta.get(ARCHIVED_CAPTURE) or {}
        when = archived.get("date") or capture_time(response.request.url) or datetime.now(UTC)
        yield from self._extract(response, when)
        yield from self._later(response.meta)

    def capture_failed(self, failure):
        self.crawler.stats.inc_value("wayback/pages_failed")
        self.logger.warning("capture %s failed: %s", failure.request.url, failure.value)
        yield from self._later(failure.request.meta)

    def _extract(self, response: Response, when: datetime):
        """The portal spider's items for this capture, fetched at ``when``; the links it
        would follow are dropped (the listing says what the archive holds)."""
        alias_of = None
        for attempt in range(2):
            self.seen_canonical = UrlSet()  # each capture stands alone
            for result in super().parse(response):
                if isinstance(result, dict):
                    self.crawler.stats.inc_value("wayback/articles")
                    yield {**result, "fetched_at": when}
                elif isinstance(result, scrapy.Request) and result.meta.get("via_canonical"):
                    alias_of = result.url
            if attempt or alias_of is None or clean_url(alias_of) in self.pages:
                return
            # Reached by an alias whose article page was never captured: this copy stands
            # for it (the portal spider then stores it under the canonical URL).
            response.meta["via_canonical"] = True
