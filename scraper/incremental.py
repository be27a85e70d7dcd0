"""Incremental re-crawls: what the archive already holds of a portal, and when to stop.

The first crawl of a portal walks everything. A re-crawl walks each category's listing
newest-first and stops once it has walked ``PORTAL_ARCHIVE_OVERLAP_PAGES`` + 1 consecutive
listing pages whose articles are all known; known articles are not fetched again, except
the recent ones (published within ``PORTAL_ARCHIVE_RECHECK_DAYS``), which are asked for
again with ``If-None-Match`` / ``If-Modified-Since`` from their last fetch. A 304 only
touches the article's ``last_seen``; a 200 goes through extraction and the store, which
makes a new version only when the content changed.

``-a full=1`` or ``PORTAL_ARCHIVE_FULL_CRAWL=True`` forces a full crawl (repairs, a new
extractor); so does an archive that holds nothing of the portal yet.

A crawl that follows one that did not finish (killed, even by SIGKILL; stopped; failed;
left "running" by a dead process) *resumes*: the interrupted run walked its listings only
part of the way, so the first pages are all known while older articles were never fetched,
and the stop rule would lose them. A resume walks every listing page, still skips known
articles, does not re-check those stored or seen since the interrupted run(s) began (they
were just fetched), and downloads the attachments those articles lack.

Counted in the crawl stats (and so in the run record) under ``incremental/``: ``mode``,
``known_urls``, ``listing_stops`` (categories the stop rule ended), ``pages_skipped``
(pager links of those last pages never requested: a lower bound when a pager shows only a
window of pages), ``articles_skipped_known``, ``rechecks`` (known recent articles asked
for again), ``conditional_requests`` (those sent with a validator), ``not_modified``
(304s received); on a resume also ``resumed_runs`` (the interrupted runs and their
status), ``resume_since``, ``rechecks_skipped_fresh`` and ``attachments_retried``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import scrapy
from scrapy.crawler import Crawler

from archive.config import truthy
from archive.store import Archive

logger = logging.getLogger(__name__)

#: Request meta: how many fully-known listing pages in a row led to this one.
KNOWN_RUN = "incremental_known_run"
#: Request meta: this request re-checks a known article (304 expected).
RECHECK = "incremental_recheck"
#: 304s are written to the archive in batches of this many.
TOUCH_BATCH = 100
#: Item key: not an article but the attachments a stored article still lacks (a resume
#: downloads them through the attachments pipeline; the archive pipeline stores nothing).
ATTACHMENTS_ONLY = "attachments_only"


@dataclass
class RecrawlPlan:
    """What the archive holds of one portal, as an incremental crawl needs it.

    ``known`` maps every URL of an archived article (canonical or alias, as the spider
    cleans URLs) to the day that says how recent it is; ``validators`` holds the ETag /
    Last-Modified of the recent ones' last fetch.
    """

    known: dict[str, date | None]
    validators: dict[str, dict] = field(default_factory=dict)
    overlap: int = 1
    recheck_since: date | None = None
    #: The runs since the last clean finish, when the last crawl did not finish: a resume.
    interrupted: list[dict] = field(default_factory=list)
    #: On a resume, URLs of the articles stored or seen since the interrupted runs began.
    fresh: set[str] = field(default_factory=set)
    #: On a resume, canonical URL → attachments of those articles not downloaded.
    missing_attachments: dict[str, list[dict]] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        archive: Archive,
        portal_slug: str,
        *,
        overlap: int = 1,
        recheck_days: int = 14,
        today: date | None = None,
        current_run: int | None = None,
    ) -> RecrawlPlan:
        """The known URLs, the validators of the recent ones; on a resume (the portal's
        runs since its last clean finish, ``current_run`` left out, are not all finished),
        what those runs stored and the attachments it lacks."""
        known = archive.known_article_urls(portal_slug)
        today = today or datetime.now(UTC).date()
        since = today - timedelta(days=recheck_days) if recheck_days > 0 else None
        plan = cls(known=known, overlap=max(0, overlap), recheck_since=since)
        if known:
            plan.interrupted = archive.interrupted_runs(portal_slug, exclude=current_run)
        if plan.resume:
            began = plan.interrupted[0]["started_at"]
            plan.fresh = archive.article_urls_seen_since(portal_slug, began)
            plan.missing_attachments = archive.missing_attachments(portal_slug, began)
        recent = [u for u in known if plan.should_recheck(u)]
        plan.validators = archive.last_validators(recent) if recent else {}
        return plan

    @property
    def resume(self) -> bool:
        """The last crawl did not finish: walk every listing page, trust no stop rule."""
        return bool(self.interrupted)

    def is_known(self, url: str) -> bool:
        return url in self.known

    def is_recent(self, url: str) -> bool:
        day = self.known.get(url)
        return self.recheck_since is not None and day is not None and day >= self.recheck_since

    def should_recheck(self, url: str) -> bool:
        """Recent, and not fetched by the interrupted runs this crawl resumes."""
        return self.is_recent(url) and url not in self.fresh

    def keep_walking(self, known_run: int) -> bool:
        """After ``known_run`` fully-known listing pages in a row: walk the next page?"""
        return self.resume or known_run <= self.overlap

    def conditional_headers(self, url: str) -> dict[str, str]:
        found = self.validators.get(url, {})
        headers = {}
        if found.get("etag"):
            headers["If-None-Match"] = found["etag"]
        if found.get("last_modified"):
            headers["If-Modified-Since"] = found["last_modified"]
        return headers


class IncrementalCrawl:
    """The spider's side of an incremental crawl: the plan, the stats, the 304 touches.

    Built by :meth:`open`, which returns None for a full crawl.
    """

    def __init__(self, crawler: Crawler, archive: Archive, plan: RecrawlPlan):
        self.stats = crawler.stats
        self.archive = archive
        self.plan = plan
        self.skipped_known: set[str] = set()
        self.skipped_pages: set[str] = set()
        self.unmodified: list[str] = []

    @classmethod
    def open(
        cls, crawler: Crawler, portal_slug: str, *, full: bool = False
    ) -> IncrementalCrawl | None:
        settings = crawler.settings
        stats = crawler.stats
        full = full or settings.getbool("PORTAL_ARCHIVE_FULL_CRAWL")
        if not _archive_pipeline_enabled(settings):
            mode = "full (requested)" if full else "full (no archive pipeline)"
            stats.set_value("incremental/mode", mode)
            return None
        from scraper.pipelines import open_archive

        archive = open_archive(settings)
        # The run in progress (the archive pipeline opened it before the spider starts).
        run_id = stats.get_value("archive/run_id")
        if full:
            _decided(archive, stats, run_id, {"incremental/mode": "full (requested)"})
            archive.close()
            return None
        plan = RecrawlPlan.load(
            archive,
            portal_slug,
            overlap=settings.getint("PORTAL_ARCHIVE_OVERLAP_PAGES", 1),
            recheck_days=settings.getint("PORTAL_ARCHIVE_RECHECK_DAYS", 14),
            current_run=run_id,
        )
        if not plan.known:
            _decided(archive, stats, run_id, {"incremental/mode": "full (first crawl)"})
            archive.close()
            return None
        decided: dict[str, object] = {"incremental/known_urls": len(plan.known)}
        if plan.resume:
            decided["incremental/mode"] = "resume"
            decided["incremental/resumed_runs"] = ", ".join(
                f"{r['id']} ({r['status']})" for r in plan.interrupted
            )
            decided["incremental/resume_since"] = plan.interrupted[0]["started_at"]
            logger.info(
                "resuming the interrupted crawl of %s (runs %s): every listing page walked, "
                "%d articles stored since %s not fetched again, %d lack attachments",
                portal_slug, decided["incremental/resumed_runs"], len(plan.fresh),
                decided["incremental/resume_since"], len(plan.missing_attachments),
            )  # fmt: skip
        else:
            decided["incremental/mode"] = "incremental"
            logger.info(
                "incremental crawl of %s: %d known URLs, %d recent", portal_slug,
                len(plan.known), sum(1 for u in plan.known if plan.is_recent(u)),
            )  # fmt: skip
        _decided(archive, stats, run_id, decided)
        return cls(crawler, archive, plan)

    # --- decisions ------------------------------------------------------------------------

    @property
    def resume(self) -> bool:
        return self.plan.resume

    def is_known(self, url: str) -> bool:
        return self.plan.is_known(url)

    def known_article(self, url: str, callback) -> scrapy.Request | None:
        """A known article linked from a walked page: a re-check request when it is recent
        (conditional when its last fetch gave a validator) and not just fetched by the runs
        this one resumes, else None (skipped, counted)."""
        if not self.plan.should_recheck(url):
            if url not in self.skipped_known:
                self.skipped_known.add(url)
                self.stats.inc_value("incremental/articles_skipped_known")
                if self.plan.is_recent(url):
                    self.stats.inc_value("incremental/rechecks_skipped_fresh")
            return None
        self.stats.inc_value("incremental/rechecks")
        headers = self.plan.conditional_headers(url)
        if headers:
            self.stats.inc_value("incremental/conditional_requests")
        return scrapy.Request(
            url,
            callback=callback,
            headers=headers,
            # 304 reaches the callback (HttpErrorMiddleware passes it); an HTTP cache, when
            # one is switched on, neither answers nor stores it (it would turn the 304 into
            # its own copy, or send validators of its own).
            meta={"handle_httpstatus_list": [304], "dont_cache": True, RECHECK: True},
        )

    def keep_walking(self, known_run: int) -> bool:
        return self.plan.keep_walking(known_run)

    def attachment_items(self, portal_slug: str) -> list[dict]:
        """On a resume: one item per stored article whose attachments are not all
        downloaded, for the attachments pipeline to fetch (the archive pipeline passes it)."""
        missing = self.plan.missing_attachments
        if missing:
            urls = {link["url"] for links in missing.values() for link in links}
            self.stats.set_value("incremental/attachments_retried", len(urls))
        return [
            {"portal": portal_slug, "url": url, "attachments": links, ATTACHMENTS_ONLY: True}
            for url, links in missing.items()
        ]

    def stopped(self, unrequested_pages: list[str]) -> None:
        """The stop rule ended a category here; its pager links not walked are counted."""
        self.stats.inc_value("incremental/listing_stops")
        for url in unrequested_pages:
            if url not in self.skipped_pages:
                self.skipped_pages.add(url)
                self.stats.inc_value("incremental/pages_skipped")

    def requested(self, url: str) -> None:
        """A URL counted as skipped was reached another way after all."""
        if url in self.skipped_pages:
            self.skipped_pages.discard(url)
            self.stats.inc_value("incremental/pages_skipped", -1)

    def not_modified(self, url: str) -> None:
        self.stats.inc_value("incremental/not_modified")
        self.unmodified.append(url)
        if len(self.unmodified) >= TOUCH_BATCH:
            self.flush()

    # --- the archive ----------------------------------------------------------------------

    def flush(self) -> None:
        if self.unmodified:
            self.archive.touch_articles(self.unmodified)
            self.unmodified = []

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.archive.close()


def _decided(archive: Archive, stats, run_id: int | None, values: dict) -> None:
    """What this crawl decided at its start, in its stats and at once in its run record
    (a run killed later still shows how it crawled: ``portal-archive runs --json``)."""
    for key, value in values.items():
        stats.set_value(key, value)
    archive.note_run(run_id, values)


def full_requested(value: object) -> bool:
    """The spider argument ``full`` (``-a full=1``)."""
    return value is True or (isinstance(value, str) and truthy(value))


def _archive_pipeline_enabled(settings) -> bool:
    """Known URLs come from the archive the ArchivePipeline writes; without it (a bare
    spider, a benchmark), there is nothing to compare with."""
    pipelines = settings.getwithbase("ITEM_PIPELINES")
    return any(
        (path if isinstance(path, str) else f"{path.__module__}.{path.__qualname__}").endswith(
            "pipelines.ArchivePipeline"
        )
        and order is not None
        for path, order in pipelines.items()
    )
