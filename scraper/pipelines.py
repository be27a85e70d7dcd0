"""From scraper to archive: validate items, store them with their raw responses."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from datetime import UTC, datetime

from pydantic import ValidationError
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.http import Request, Response

from archive.config import Config
from archive.schema import ArticleItem
from archive.store import Archive
from scraper.distributed import shared_run
from scraper.incremental import ATTACHMENTS_ONLY
from scraper.warc import WARC_META

logger = logging.getLogger(__name__)


def open_archive(settings) -> Archive:
    return Archive(
        Config.resolve(settings.get("PORTAL_ARCHIVE_DATA_DIR"), settings.get("PORTAL_ARCHIVE_DB"))
    )


#: Bodies whose WARC record is remembered until their article arrives (pages in flight).
WARC_POINTERS_KEPT = 10_000

#: Request meta: the response is a web archive's capture of the page (scraper/wayback.py):
#: ``{"url": original URL, "date": capture time, "via": the capture URL fetched}``.
ARCHIVED_CAPTURE = "archived_capture"

#: Fields an article may lack; the share missing per run is kept (fields/missing/<name>).
OPTIONAL_FIELDS = ("published", "author", "lead")


#: Default of ``PORTAL_ARCHIVE_FLUSH_SECONDS``: what is buffered is written at least this
#: often, so a killed crawl loses at most this much work (a batch of 100 articles takes
#: minutes on a portal crawled politely).
FLUSH_SECONDS = 1.0


class ArchivePipeline:
    """Validates each item into :class:`ArticleItem` and stores batches in the archive.

    Every response's body is kept (gzip, content-addressed) with a fetch record, so pages
    can be re-extracted when the extractor improves. Items and fetch records are written
    in batches of ``PORTAL_ARCHIVE_BATCH``, and at least every
    ``PORTAL_ARCHIVE_FLUSH_SECONDS``. The crawl run is recorded with its stats when the
    spider closes.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.batch_size = crawler.settings.getint("PORTAL_ARCHIVE_BATCH", 100)
        self.flush_every = crawler.settings.getfloat("PORTAL_ARCHIVE_FLUSH_SECONDS", FLUSH_SECONDS)
        self.flushed_at = time.monotonic()
        self.archive = open_archive(crawler.settings)
        self.items: list[ArticleItem] = []
        self.fetches: list[dict] = []
        self.counts: Counter = Counter()
        #: raw sha256 → the WARC record holding that body (the latest of each, bounded).
        self.warc_content: dict = {}
        self.run_id: int | None = None
        self.portal_id: int | None = None
        self.status: str | None = None
        #: The distributed crawl this process is a worker of (scraper/distributed.py).
        self.shared = None
        #: First and last seen are the items' fetch times, not now (a spider whose pages
        #: are a web archive's old captures says so with ``seen_at_fetch = True``).
        self.seen_at_fetch = False
        crawler.signals.connect(self.response_received, signal=signals.response_received)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler)

    def open_spider(self, spider=None) -> None:
        spider = spider or self.crawler.spider
        e = spider.entry
        self.portal_id = self.archive.upsert_portal(
            e.slug,
            name=e.name,
            unit=e.unit,
            base_url=e.base_url,
            family=e.family,
            config=e.as_dict(),
        )
        self.shared = shared_run(self.crawler)
        if self.shared is not None:
            # A worker of a distributed crawl: the run was recorded by its coordinator,
            # which records its end with every worker's stats (scraper/distributed.py).
            self.run_id = self.shared.run_id
        else:
            self.run_id = self.archive.start_run(
                self.portal_id, getattr(spider, "trigger", "scrapy")
            )
        self.seen_at_fetch = bool(getattr(spider, "seen_at_fetch", False))
        self.stats.set_value("archive/run_id", self.run_id)
        # A crawl run by Scrapyd (archive/scrapyd.py): its job id, by which the scheduler
        # that handed it over finds the run.
        job = getattr(spider, "_job", None) or os.environ.get("SCRAPY_JOB")
        if job and self.shared is None:
            self.stats.set_value("scrapyd/job", job)
            self.archive.note_run(self.run_id, {"scrapyd/job": job})

    def response_received(self, response: Response, request: Request, spider=None) -> None:
        sha = self.archive.raw.put(response.body)
        warc = request.meta.get(WARC_META) or {}
        archived = request.meta.get(ARCHIVED_CAPTURE) or {}
        if warc.get("content") is not None:  # where an article from this body points
            self.warc_content[sha] = warc["content"]
            if len(self.warc_content) > WARC_POINTERS_KEPT:
                del self.warc_content[next(iter(self.warc_content))]
        self.fetches.append(
            {
                "crawl_run_id": self.run_id,
                "url": response.url,
                "status": response.status,
                "headers": {
                    k.decode("latin-1"): [v.decode("latin-1") for v in vs]
                    for k, vs in response.headers.items()
                },
                "sha256": sha,
                "size": len(response.body),
                "fetched_at": warc.get("date") or archived.get("date") or datetime.now(UTC),
                "warc_file": warc.get("file"),
                "warc_offset": warc.get("offset"),
                "warc_length": warc.get("length"),
                "warc_type": warc.get("type"),
                "warc_digest": warc.get("digest"),
                "via": archived.get("via"),
            }
        )
        if len(self.fetches) >= self.batch_size:
            self._flush_fetches()
        self._flush_if_due()

    def process_item(self, item, spider=None):
        if item.get(ATTACHMENTS_ONLY):
            # A resume fetching what a stored article lacked: the downloads are recorded by
            # the attachments pipeline; the article itself is already stored.
            return item
        try:
            # "files" is the attachments pipeline's download report (stored by it already).
            data = {k: v for k, v in item.items() if k != "files"}
            ref = self.warc_content.get(item.get("raw_sha256"))
            if ref is not None:  # the WARC record of the page (scraper.warc)
                data.update(warc_file=ref.file, warc_offset=ref.offset, warc_length=ref.length)
            article = ArticleItem.model_validate({**data, "crawl_run_id": self.run_id})
        except ValidationError as exc:
            self.counts["invalid"] += 1
            self.stats.inc_value("item/invalid")
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"][:1]) or "item"
                self.stats.inc_value(f"item/invalid/{field}")
            fields = ", ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise DropItem(f"invalid article at {item.get('url')}: {fields}") from None
        for field in OPTIONAL_FIELDS:  # a jump in these shares is how a layout change shows
            if not getattr(article, field):
                self.stats.inc_value(f"fields/missing/{field}")
        self.items.append(article)
        if len(self.items) >= self.batch_size:
            self._flush_items()
        self._flush_if_due()
        return item

    def close_spider(self, spider=None) -> None:
        spider = spider or self.crawler.spider
        self._flush_fetches()
        self._flush_items()
        reason = self.stats.get_value("finish_reason") or "finished"
        stats = self.stats.get_stats()
        status = "finished" if reason == "finished" else f"stopped: {reason}"
        if self.shared is not None:  # the coordinator records the run: see spider_closed
            self.status = status
            self.archive.close()
            return
        if not stats.get("response_received_count"):
            status = "failed: unreachable"  # not one response: the errors say why
        if self.run_id is not None:
            self.archive.finish_run(self.run_id, status=status, counts=self.counts, stats=stats)
        self.status = status
        self.archive.close()

    def spider_closed(self, spider=None, reason: str = "finished") -> None:
        """Scrapy sets ``finish_reason`` after the pipelines have closed, so a crawl stopped
        early (Ctrl-C, SIGTERM, a CLOSESPIDER limit) looked "finished" to close_spider: its
        next crawl would trust the stop rule and lose the articles it never reached."""
        if self.shared is not None:
            status = "finished" if reason == "finished" else f"stopped: {reason}"
            self.shared.record_result(
                {"status": status, "counts": dict(self.counts), "stats": self.stats.get_stats()}
            )
            return
        if self.run_id is None or self.status != "finished" or reason == "finished":
            return
        self.status = f"stopped: {reason}"
        try:  # a disposed engine opens a new pool
            self.archive.finish_run(
                self.run_id, status=self.status, counts=self.counts, stats=self.stats.get_stats()
            )
        finally:
            self.archive.close()

    def _flush_if_due(self) -> None:
        if (self.items or self.fetches) and time.monotonic() - self.flushed_at >= self.flush_every:
            self._flush_items()

    def _flush_items(self) -> None:
        # Fetch records first: a crawl killed between the two transactions leaves no stored
        # article without the record (headers, validators) of the response it came from.
        self._flush_fetches()
        self.flushed_at = time.monotonic()
        if self.items:
            counts = self.archive.store_articles(
                self.items, self.portal_id, self.run_id, seen_at_fetch=self.seen_at_fetch
            )
            self.items = []
            self.counts.update(counts)
            for key, n in counts.items():
                self.stats.inc_value(f"archive/{key}", n)

    def _flush_fetches(self) -> None:
        if self.fetches:
            self.archive.record_fetches(self.fetches)
            self.fetches = []
