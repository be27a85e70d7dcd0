"""Keep the Whoosh index in step with the database.

``sync_index`` is incremental: it compares each article's current content hash in the
database with the hash the index holds, re-indexes what changed and removes what is gone.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from archive.config import Config
from archive.dates import parse_iso
from archive.store import Archive, ArticleRecord
from search.index import IndexDoc, SearchIndex

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    indexed: int
    deleted: int
    unchanged: int
    seconds: float


def record_to_doc(r: ArticleRecord) -> IndexDoc:
    published: datetime | date | None = parse_iso(r.published) if r.published else None
    return IndexDoc(
        id=r.id,
        portal=r.portal,
        unit=r.unit,
        title=r.title,
        lead=r.lead,
        body=r.body,
        published=published,
        topics=list(r.topics),
        doc_numbers=[d["number"] for d in r.doc_refs],
        url=r.canonical_url,
        content_hash=r.content_hash,
    )


def sync_index(
    archive: Archive,
    index: SearchIndex,
    *,
    rebuild: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Index what changed since the last sync; ``rebuild`` re-indexes everything."""
    started = time.perf_counter()
    in_db = archive.article_hashes()
    in_index = {} if rebuild else index.indexed_hashes()
    changed = [aid for aid, h in in_db.items() if in_index.get(aid) != h]
    gone = [aid for aid in in_index if aid not in in_db]
    deleted = index.delete(gone) if gone else 0
    total = len(changed)
    done = 0
    if changed:
        docs = (record_to_doc(r) for r in archive.iter_articles(ids=changed))

        def tick(n: int) -> None:
            nonlocal done
            done = n
            if progress:
                progress(n, total)

        index.update(docs, progress=tick)
    return SyncReport(
        indexed=total,
        deleted=deleted,
        unchanged=len(in_db) - total,
        seconds=time.perf_counter() - started,
    )


def print_progress(done: int, total: int, *, started: float, stream=sys.stderr) -> None:
    """A one-line progress bar with count, rate and ETA (used by the CLI)."""
    elapsed = time.perf_counter() - started
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate else 0.0
    width = 30
    filled = int(width * done / total) if total else width
    stream.write(
        f"\rindexing [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
        f"{rate:.0f}/s ETA {eta:.0f}s "
    )
    if done >= total:
        stream.write("\n")
    stream.flush()


class IndexOnClose:
    """Scrapy extension: update the search index when a crawl ends (``scrapy crawl``)."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        if not crawler.settings.getbool("PORTAL_ARCHIVE_INDEX_ON_CLOSE", True):
            raise NotConfigured
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider) -> None:
        settings = self.crawler.settings
        config = Config.resolve(
            settings.get("PORTAL_ARCHIVE_DATA_DIR"), settings.get("PORTAL_ARCHIVE_DB")
        )
        archive = Archive(config)
        try:
            report = sync_index(archive, SearchIndex(config.index_dir))
            spider.logger.info(
                "search index updated: %d indexed, %d removed, %d unchanged",
                report.indexed,
                report.deleted,
                report.unchanged,
            )
        finally:
            archive.close()
