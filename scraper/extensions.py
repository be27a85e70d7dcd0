"""Crawl extensions."""

from __future__ import annotations

import time

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from archive.store import error_count


class CrawlProgress:
    """Logs one progress line per interval: pages, articles stored, errors and the rate.

    Errors are this crawl's own (``archive.store.error_count``: requests given up on, pages
    the extractor failed on), not ``log_count/ERROR``, which Scrapy counts process-wide.
    """

    def __init__(self, crawler: Crawler, interval: float):
        self.crawler = crawler
        self.interval = interval
        self.started = time.monotonic()
        self.loop: task.LoopingCall | None = None
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProgress:
        interval = crawler.settings.getfloat("PROGRESS_INTERVAL", 5.0)
        if interval <= 0:
            raise NotConfigured
        return cls(crawler, interval)

    def opened(self, spider) -> None:
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.report, spider)
        self.loop.start(self.interval, now=False)

    def report(self, spider) -> None:
        s = self.crawler.stats
        pages = s.get_value("response_received_count", 0)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        pending = self._pending()
        eta = f", ~{pending / (pages / elapsed):.0f}s left in queue" if pages and pending else ""
        spider.logger.info(
            "progress %s: %d pages (%.1f/s), %d articles (%d new), %d invalid, %d errors, "
            "%d queued%s",
            spider.entry.slug,
            pages,
            pages / elapsed,
            s.get_value("item_scraped_count", 0),
            s.get_value("archive/new", 0),
            s.get_value("item/invalid", 0),
            error_count(s.get_stats()),
            pending,
            eta,
        )

    def _pending(self) -> int:
        """Requests waiting in the scheduler (``engine.scheduler`` is public since 2.19)."""
        engine = self.crawler.engine
        scheduler = getattr(engine, "scheduler", None)
        if scheduler is None:
            slot = getattr(engine, "_slot", None) or getattr(engine, "slot", None)
            scheduler = getattr(slot, "scheduler", None)
        try:
            return len(scheduler) if scheduler is not None else 0
        except TypeError:
            return 0

    def closed(self, spider) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
