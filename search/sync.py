"""Keep the search index (either backend: search/backend.py) in step with the database.

``sync_index`` is incremental: it compares each entry's hash in the database (an article's
current content hash; a processed document's state: processing time, number, publisher)
with the hash the index holds, re-indexes what changed and removes what is gone. Documents
(attachments) are entries of their own, with ids ``doc:<sha256>``.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from archive.config import Config
from archive.dates import parse_iso
from archive.store import DOCUMENT_ID_PREFIX, Archive, ArticleRecord, DocumentRecord
from archive.topics import classify
from search.index import IndexDoc, IndexVersionError, SearchIndex

if TYPE_CHECKING:
    from search.postgres import PostgresBackend

logger = logging.getLogger(__name__)

#: A document's text indexed, at most (a 500-page annex is still found by its first pages).
MAX_DOCUMENT_CHARS = 2_000_000


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
        doc_kinds=[d["kind"] for d in r.doc_refs if d.get("kind")],
    )


def document_to_doc(d: DocumentRecord) -> IndexDoc:
    """A processed attachment as a search entry: titled by kind, number and subject."""
    head = " ".join(p for p in (d.doc_kind, d.number) if p)
    if head and d.subject:
        title = f"{head}: {d.subject}"
    else:
        title = head or d.subject or d.filename or d.url
    body = d.text[:MAX_DOCUMENT_CHARS]
    return IndexDoc(
        id=d.search_id,
        portal=d.portal,
        unit=d.unit,
        title=title,
        lead=d.subject,
        body=body,
        published=d.doc_date,
        topics=classify(title, d.subject, body),
        doc_numbers=[d.number] if d.number else [],
        url=d.url,
        content_hash=d.sha256,
        type="document",
        doc_kinds=[d.doc_kind] if d.doc_kind else [],
        year=d.year,
        extra=" ".join(p for p in (d.issuer, d.signer, d.filename) if p),
    )


def index_states(archive: Archive) -> dict[str, str]:
    """search id -> the state the index must hold for it: what its content and its unit links
    were computed from (:func:`archive.unit_links.entry_states`). An entry whose state differs
    from the index's is re-indexed."""
    from archive.unit_links import entry_states

    return entry_states(archive)


# --- one indexer at a time -------------------------------------------------------------------
#
# Whoosh allows one writer and any number of readers. Two syncs at once (two crawls ending
# together, a crawl and `portal-archive index`) would both decide what is missing, then both
# add it: the second would fail on Whoosh's lock, or, between its batches, add entries the
# first already added. So a sync holds an exclusive lock on a file beside the index for its
# whole run, and a second one waits for it (and then finds little left to do). Searches never
# take it. The lock is flock(2): released by the kernel if the holder dies.

_held: dict[str, int] = {}  # lock files this process holds, and how deeply


def lock_path(index_dir: Path) -> Path:
    """``<data>/index.lock``: beside the index, since a rebuild removes the index directory."""
    index_dir = Path(index_dir)
    return index_dir.with_name(index_dir.name + ".lock")


@contextmanager
def indexer_lock(
    index_dir: Path, *, timeout: float | None = None, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the index's writer lock (re-entrant within a process). Waits for another holder,
    at most ``timeout`` seconds (None: as long as it takes), telling ``on_wait`` who holds it."""
    path = lock_path(index_dir)
    key = str(path.resolve())
    if _held.get(key):
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() > deadline:
                    raise IndexBusy(f"the search index is being updated by {_holder(fd)}") from None
                if on_wait and not told:
                    on_wait(f"waiting for the search index, being updated by {_holder(fd)}")
                    told = True
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    return text or "another process"


class IndexBusy(RuntimeError):
    """Another process is updating the search index and did not finish in time."""


def sync_index(
    archive: Archive,
    index: SearchIndex,
    *,
    rebuild: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Link new and changed entries to their administrative units
    (:func:`archive.unit_links.link_units`), then index what changed since the last sync;
    ``rebuild`` re-indexes everything. Holds :func:`indexer_lock` throughout."""
    with indexer_lock(index.path):
        return _sync_index(archive, index, rebuild=rebuild, progress=progress)


def _sync_index(
    archive: Archive,
    index: SearchIndex | PostgresBackend,
    *,
    rebuild: bool,
    progress: Callable[[int, int], None] | None,
) -> SyncReport:
    """The sync itself, for any index with ``indexed_hashes``, ``delete`` and ``update``
    (a Whoosh :class:`SearchIndex`, the PostgreSQL backend); the caller holds its lock."""
    from archive.unit_links import entry_units, link_units

    started = time.perf_counter()
    in_db = index_states(archive)
    linked = link_units(archive, states=in_db)
    for problem in linked.problems:
        logger.warning("administrative units: %s", problem)
    in_index = {} if rebuild else index.indexed_hashes()
    changed = [aid for aid, h in in_db.items() if in_index.get(aid) != h]
    gone = [aid for aid in in_index if aid not in in_db]
    deleted = index.delete(gone) if gone else 0
    total = len(changed)
    done = 0
    if changed:
        articles = [i for i in changed if not i.startswith(DOCUMENT_ID_PREFIX)]
        shas = [i[len(DOCUMENT_ID_PREFIX) :] for i in changed if i.startswith(DOCUMENT_ID_PREFIX)]

        def with_units(docs: Iterator[IndexDoc]) -> Iterator[IndexDoc]:
            """The entries with their unit links and their state, 500 at a time."""
            while chunk := list(itertools.islice(docs, 500)):
                units = entry_units(archive, [d.id for d in chunk])
                for doc in chunk:
                    links = units.get(doc.id, {})
                    doc.units = sorted({k for keys in links.values() for k in keys})
                    doc.content_hash = in_db[doc.id]
                    yield doc

        def documents() -> Iterator[IndexDoc]:
            for record in archive.iter_documents(shas):
                yield document_to_doc(record)

        docs = with_units(
            itertools.chain(
                (record_to_doc(r) for r in archive.iter_articles(ids=articles)) if articles else (),
                documents() if shas else (),
            )
        )

        def tick(n: int) -> None:
            nonlocal done
            done = n
            if progress:
                progress(n, total)

        index.update(docs, progress=tick, bulk=rebuild or not in_index)
    return SyncReport(
        indexed=total,
        deleted=deleted,
        unchanged=len(in_db) - total,
        seconds=time.perf_counter() - started,
    )


def open_index(path, *, rebuild: bool = False) -> tuple[SearchIndex, bool]:
    """The index at ``path``; one built by an earlier version is rebuilt from scratch (it is
    derived data). Returns (index, whether it must be filled from the database again)."""
    if rebuild:
        return SearchIndex(path, recreate=True), True
    try:
        return SearchIndex(path), False
    except IndexVersionError as exc:
        logger.info("%s; rebuilding it", exc)
        return SearchIndex(path, recreate=True), True


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
        if os.environ.get("PORTAL_ARCHIVE_INDEX_ON_CRAWL", "1") == "0":
            raise NotConfigured  # an indexer process does it (`portal-archive index --watch`)
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider) -> None:
        from search.backend import open_backend

        settings = self.crawler.settings
        config = Config.resolve(
            settings.get("PORTAL_ARCHIVE_DATA_DIR"), settings.get("PORTAL_ARCHIVE_DB")
        )
        archive = Archive(config)
        try:
            if settings.getbool("PORTAL_ARCHIVE_PROCESS_DOCUMENTS", True):
                from archive.documents import process_documents

                n = process_documents(archive)
                spider.logger.info("documents processed: %d", n)
            with open_backend(config, archive) as backend:
                report = backend.sync(archive)
            spider.logger.info(
                "search index updated: %d indexed, %d removed, %d unchanged",
                report.indexed,
                report.deleted,
                report.unchanged,
            )
        finally:
            archive.close()
