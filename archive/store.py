"""The archive's storage: database access and the raw-response store.

Every other part of portal-archive reaches the database through :class:`Archive`.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import os
import re
import socket
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from archive.config import Config
from archive.models import (
    Article,
    ArticleUrl,
    ArticleVersion,
    Attachment,
    CrawlRun,
    DocReference,
    Document,
    Download,
    EntryUnit,
    Portal,
    RawResponse,
)
from archive.schema import ArticleItem
from archive.units_models import AdminUnit  # its tables are created with the others


class ArchiveError(Exception):
    """A problem the user can act on (bad database URL, unreadable data directory)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(when: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite gives back naive UTC times)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


class RawStore:
    """Content-addressed, gzip-compressed response bodies: ``raw/ab/<sha256>.gz``."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.gz"

    def put(self, body: bytes) -> str:
        sha = hashlib.sha256(body).hexdigest()
        target = self.path(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a crash never leaves a truncated file under the final name.
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(gzip.compress(body, compresslevel=6, mtime=0))
            os.replace(tmp, target)
        return sha

    def get(self, sha256: str) -> bytes:
        return gzip.decompress(self.path(sha256).read_bytes())


@dataclass
class ArticleRecord:
    """The current version of one article, flattened for indexing and export."""

    id: str
    portal: str
    unit: str
    url: str
    canonical_url: str
    title: str
    published: str | None
    published_day: date | None
    author: str | None
    views: int | None
    lead: str | None
    body: str
    topics: list[str]
    attachments: list[dict] = field(default_factory=list)
    doc_refs: list[dict] = field(default_factory=list)
    fetched_at: datetime | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    version: int = 1
    content_hash: str = ""
    # administrative units (archive/unit_links.py): {"issuer": [...], "mention": [...]}, each
    # {"key": "009@pre2025", "label": "quận Thanh Xuân (009@pre2025)"}
    units: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = self.__dict__.copy()
        for key in ("fetched_at", "first_seen", "last_seen", "published_day"):
            if d[key] is not None:
                d[key] = d[key].isoformat()
        return d


#: How much of an attachment's text an article's page carries (the document page has it all).
ATTACHMENT_TEXT_SHOWN = 20_000

#: Search ids of documents are their sha256 behind this prefix (article ids have no ":").
DOCUMENT_ID_PREFIX = "doc:"


@dataclass
class DocumentRecord:
    """A processed attachment, flattened for indexing: text, header metadata, publisher."""

    sha256: str
    file_type: str
    filename: str | None
    url: str
    size: int
    text: str
    ocr: bool
    error: str | None
    doc_kind: str | None
    number: str | None
    number_source: str | None
    issuer: str | None
    place: str | None
    doc_date: date | None
    subject: str | None
    signer: str | None
    meta: dict
    meta_complete: bool
    portal: str
    unit: str

    @property
    def search_id(self) -> str:
        return DOCUMENT_ID_PREFIX + self.sha256

    @property
    def year(self) -> int | None:
        """The issue year: from the date, a draft's partial date, or a number "…/2022/…"."""
        if self.doc_date:
            return self.doc_date.year
        partial = self.meta.get("date_partial")
        if partial:
            return int(partial[:4])
        m = re.search(r"/((?:19|20)\d\d)/", self.number or "")
        return int(m.group(1)) if m else None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _close_dead_runs(s: Session, portal_id: int) -> None:
    """Runs of this portal still marked running whose process on this host is gone were
    killed (SIGKILL, power loss): say so, so that they are not mistaken for running crawls."""
    host = socket.gethostname()
    for run in s.scalars(
        select(CrawlRun).where(CrawlRun.portal_id == portal_id, CrawlRun.status == "running")
    ):
        process = (run.stats or {}).get("process") or {}
        pid = int(process.get("pid") or 0)
        if pid > 0 and process.get("host") == host and not _process_alive(pid):
            run.status = "killed"
            run.finished_at = utcnow()


#: How long (ms) a SQLite writer waits for another one (several crawl workers writing to
#: one archive, docs/distributed.md); Python's default, 5 s, was short with three workers
#: flushing their batches and the scheduler's lock heartbeats at once.
SQLITE_BUSY_TIMEOUT_MS = 60_000

#: Attempts at a write that lost a race with another process writing the same rows
#: (two workers of a distributed crawl storing one article, or one file from two URLs).
WRITE_ATTEMPTS = 3


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def open_engine(url: str) -> Engine:
    """The engine of a database URL (SQLite: WAL, foreign keys); no query is made yet."""
    try:
        # A server closes connections (restart, idle timeout): check one before reusing it.
        server = not url.startswith("sqlite")
        engine = create_engine(url, pool_pre_ping=server)
    except (ArgumentError, ImportError) as exc:
        raise ArchiveError(f"cannot use database URL {url!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        event.listen(engine, "connect", _postgres_strings)
    return engine


def _postgres_strings(dbapi_conn, _record) -> None:
    """Strings go to PostgreSQL without NUL characters, which its text types cannot hold
    (SQLite's can): a scraped title, a file name from a Content-Disposition header, the text
    of a broken PDF may carry one, and the row must not be lost for it."""
    for dumper in _nul_free_dumpers():
        dbapi_conn.adapters.register_dumper(str, dumper)


@cache
def _nul_free_dumpers() -> tuple[type, ...]:
    from psycopg.types.string import StrBinaryDumper, StrDumperUnknown

    def without_nul(base: type) -> type:
        class Dumper(base):
            def dump(self, obj: str):
                return super().dump(obj.replace("\x00", "") if "\x00" in obj else obj)

        return Dumper

    # Registered last, the text one is what psycopg uses for a str parameter.
    return without_nul(StrBinaryDumper), without_nul(StrDumperUnknown)


class Archive:
    """Database + raw store of one data directory."""

    def __init__(self, config: Config):
        self.config = config.ensure()
        self.engine: Engine = open_engine(config.db_url)
        from archive.migrate import ensure_schema

        try:
            ensure_schema(self.engine)  # one query when the schema is up to date
        except ArchiveError:
            self.engine.dispose()
            raise
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        self.raw = RawStore(config.raw_dir)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.Session() as s, s.begin():
            yield s

    def close(self) -> None:
        self.engine.dispose()

    # --- portals and runs -------------------------------------------------------------

    def upsert_portal(
        self,
        slug: str,
        *,
        name: str,
        unit: str,
        base_url: str,
        family: str,
        config: dict | None = None,
    ) -> int:
        with self.session() as s:
            portal = s.scalar(select(Portal).where(Portal.slug == slug))
            if portal is None:
                portal = Portal(slug=slug, created_at=utcnow())
                s.add(portal)
            portal.name, portal.unit, portal.base_url, portal.family = name, unit, base_url, family
            portal.config = config or {}
            s.flush()
            return portal.id

    def start_run(self, portal_id: int, trigger: str = "cli") -> int:
        """Record a crawl starting (with this process's pid and host, so that a run left
        "running" by a killed process is recognised and closed as "killed" later)."""
        with self.session() as s:
            _close_dead_runs(s, portal_id)
            run = CrawlRun(
                portal_id=portal_id,
                trigger=trigger,
                started_at=utcnow(),
                stats={"process": {"pid": os.getpid(), "host": socket.gethostname()}},
            )
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, *, status: str, counts: Counter, stats: dict) -> None:
        with self.session() as s:
            run = s.get(CrawlRun, run_id)
            run.status = status
            run.finished_at = utcnow()
            run.pages = int(stats.get("response_received_count", 0))
            run.articles_new = counts["new"]
            run.articles_updated = counts["updated"]
            run.articles_unchanged = counts["unchanged"]
            run.items_invalid = counts["invalid"]
            run.errors = error_count(stats) + counts["invalid"]
            run.stats = {**(run.stats or {}), **{k: _jsonable(v) for k, v in stats.items()}}

    def note_run(self, run_id: int | None, stats: dict) -> None:
        """Merge ``stats`` into a running crawl's record now, not only when it finishes: what
        a run decided at its start (e.g. ``incremental/mode``) survives its being killed."""
        if run_id is None:
            return
        with self.session() as s:
            run = s.get(CrawlRun, run_id)
            if run is not None:
                run.stats = {**(run.stats or {}), **{k: _jsonable(v) for k, v in stats.items()}}

    def runs(self, limit: int = 20) -> list[dict]:
        with self.session() as s:
            rows = s.execute(
                select(CrawlRun, Portal.slug).join(Portal).order_by(CrawlRun.id.desc()).limit(limit)
            ).all()
            return [
                {
                    "id": r.id,
                    "portal": slug,
                    "status": r.status,
                    "trigger": r.trigger,
                    "started_at": r.started_at,
                    "finished_at": r.finished_at,
                    "pages": r.pages,
                    "new": r.articles_new,
                    "updated": r.articles_updated,
                    "unchanged": r.articles_unchanged,
                    "invalid": r.items_invalid,
                    "errors": r.errors,
                    "attachments": int((r.stats or {}).get("attachments/downloaded") or 0),
                    "attachments_failed": int((r.stats or {}).get("attachments/failed") or 0),
                    "stats": r.stats or {},
                }
                for r, slug in rows
            ]

    # --- raw responses ----------------------------------------------------------------

    def record_fetches(self, rows: Sequence[dict]) -> None:
        """Bulk-insert fetch records (``url, status, headers, sha256, size, fetched_at``)."""
        if rows:
            with self.session() as s:
                s.execute(RawResponse.__table__.insert(), list(rows))

    def warc_last_responses(self, portal_slug: str) -> dict[str, tuple]:
        """URL → ``(payload digest, fetched_at, warc file, offset, length)`` of the latest
        full WARC response record (status 200, in ``<data>/warc/``) of each URL the portal's
        crawls fetched: what decides whether the next fetch is written as a revisit."""
        stmt = (
            select(
                RawResponse.url,
                RawResponse.warc_digest,
                RawResponse.fetched_at,
                RawResponse.warc_file,
                RawResponse.warc_offset,
                RawResponse.warc_length,
            )
            .join(CrawlRun, CrawlRun.id == RawResponse.crawl_run_id)
            .join(Portal, Portal.id == CrawlRun.portal_id)
            .where(
                Portal.slug == portal_slug,
                RawResponse.warc_type == "response",
                RawResponse.status == 200,
                RawResponse.warc_digest.isnot(None),
            )
            .order_by(RawResponse.id)
        )
        with self.session() as s:
            return {
                url: (digest, _aware(when), file, offset, length)
                for url, digest, when, file, offset, length in s.execute(stmt)
                if file and "/" not in file  # an imported file elsewhere: not ours to refer to
            }

    # --- attachments ------------------------------------------------------------------

    def known_download(self, url: str) -> Download | None:
        """The stored result of an earlier successful download of ``url``."""
        with self.session() as s:
            row = s.get(Download, url)
            return row if row is not None and row.status == "downloaded" else None

    def record_download(
        self,
        url: str,
        *,
        sha256: str | None,
        status: str,
        error: str | None = None,
        http_status: int | None = None,
        headers: dict | None = None,
        filename: str | None = None,
        size: int | None = None,
        file_type: str | None = None,
        run_id: int | None = None,
        warc: tuple[str, int, int] | None = None,
        fetched_at: datetime | None = None,
    ) -> None:
        """Record one attachment fetch; a new file content becomes a Document row.
        ``warc``: (file, offset, length) of the download's WARC record."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return self._record_download(
                    url, sha256=sha256, status=status, error=error, http_status=http_status,
                    headers=headers, filename=filename, size=size, file_type=file_type,
                    run_id=run_id, warc=warc, fetched_at=fetched_at,
                )  # fmt: skip
            except IntegrityError:  # the same file, stored by another worker meanwhile
                if attempt == WRITE_ATTEMPTS - 1:
                    raise

    def _record_download(
        self,
        url: str,
        *,
        sha256: str | None,
        status: str,
        error: str | None,
        http_status: int | None,
        headers: dict | None,
        filename: str | None,
        size: int | None,
        file_type: str | None,
        run_id: int | None,
        warc: tuple[str, int, int] | None,
        fetched_at: datetime | None,
    ) -> None:
        now = fetched_at or utcnow()
        with self.session() as s:
            if sha256 is not None and s.get(Document, sha256) is None:
                s.add(
                    Document(
                        sha256=sha256,
                        size=size or 0,
                        file_type=file_type or "unknown",
                        filename=filename,
                        first_url=url,
                        fetched_at=now,
                    )
                )
                s.flush()
            row = s.get(Download, url) or Download(url=url)
            row.sha256, row.status, row.error = sha256, status, error
            row.http_status, row.headers, row.filename = http_status, headers or {}, filename
            row.fetched_at, row.crawl_run_id = now, run_id
            row.warc_file, row.warc_offset, row.warc_length = warc or (None, None, None)
            s.merge(row)

    def failed_downloads(self) -> list[dict]:
        """Attachment links whose download failed (latest attempt), with the reason."""
        with self.session() as s:
            rows = s.scalars(
                select(Download).where(Download.status != "downloaded").order_by(Download.url)
            )
            return [
                {
                    "url": d.url,
                    "status": d.status,
                    "http_status": d.http_status,
                    "error": d.error,
                    "fetched_at": d.fetched_at.isoformat() if d.fetched_at else None,
                }
                for d in rows
            ]

    def documents(self) -> list[dict]:
        """Every stored document with how many articles link it."""
        with self.session() as s:
            links = dict(
                s.execute(
                    select(Download.sha256, func.count(func.distinct(ArticleVersion.article_id)))
                    .join(Attachment, Attachment.url == Download.url)
                    .join(ArticleVersion, ArticleVersion.id == Attachment.version_id)
                    .group_by(Download.sha256)
                ).all()
            )
            return [
                {
                    "sha256": d.sha256,
                    "file_type": d.file_type,
                    "size": d.size,
                    "filename": d.filename,
                    "url": d.first_url,
                    "number": d.number,
                    "number_source": d.number_source,
                    "doc_kind": d.doc_kind,
                    "doc_date": d.doc_date.isoformat() if d.doc_date else None,
                    "issuer": d.issuer,
                    "subject": d.subject,
                    "signer": d.signer,
                    "meta_complete": d.meta_complete,
                    "ocr": d.ocr,
                    "error": d.error,
                    "processed": d.processed_at is not None,
                    "articles": links.get(d.sha256, 0),
                }
                for d in s.scalars(select(Document).order_by(Document.fetched_at))
            ]

    # --- articles ---------------------------------------------------------------------

    def store_articles(
        self,
        items: Iterable[ArticleItem],
        portal_id: int,
        run_id: int | None = None,
        *,
        seen_at_fetch: bool = False,
    ) -> Counter:
        """Store a batch of validated items in one transaction.

        New canonical URL → new article; same content → ``unchanged`` (last_seen and views
        updated); changed content → a new version, the old one kept. ``seen_at_fetch``
        (imports of old captures): first and last seen are the items' fetch times, not now.
        """
        items = list(items)
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return self._store_articles(items, portal_id, run_id, seen_at_fetch)
            except IntegrityError:
                # Another process stored one of these articles between our read and our
                # write: read again, it is now an existing article (unchanged or updated).
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _store_articles(
        self, items: list[ArticleItem], portal_id: int, run_id: int | None, seen_at_fetch: bool
    ) -> Counter:
        counts: Counter = Counter()
        if not items:
            return counts
        now = utcnow()
        with self.session() as s:
            urls = {u for it in items for u in (it.url, it.canonical_url)}
            alias = dict(
                s.execute(
                    select(ArticleUrl.url, ArticleUrl.article_id).where(ArticleUrl.url.in_(urls))
                ).all()
            )
            ids = {alias.get(it.canonical_url) or alias.get(it.url) or it.id for it in items}
            # One query each for the articles and their current versions, not one per item.
            articles = {a.id: a for a in s.scalars(select(Article).where(Article.id.in_(ids)))}
            current = {
                v.article_id: v
                for v in s.scalars(
                    select(ArticleVersion).where(
                        ArticleVersion.article_id.in_(ids), ArticleVersion.is_current.is_(True)
                    )
                )
            }
            for item in items:
                aid = alias.get(item.canonical_url) or alias.get(item.url) or item.id
                digest = item.content_hash()
                article = articles.get(aid)
                if seen_at_fetch:
                    now = item.fetched_at
                if article is None:
                    article = Article(
                        id=aid,
                        portal_id=portal_id,
                        canonical_url=item.canonical_url,
                        first_seen=now,
                        last_seen=now,
                        version_count=1,
                    )
                    articles[aid] = article
                    s.add(article)
                    current[aid] = _version(item, aid, 1, digest, run_id)
                    s.add(current[aid])
                    counts["new"] += 1
                else:
                    version = current.get(aid)
                    if seen_at_fetch:
                        article.first_seen = min(_aware(article.first_seen), now)
                        article.last_seen = max(_aware(article.last_seen), now)
                    else:
                        article.last_seen = now
                    if version is not None and version.content_hash == digest:
                        version.views = item.views if item.views is not None else version.views
                        if version.warc_file is None and item.warc_file:  # archived before WARC
                            version.warc_file = item.warc_file
                            version.warc_offset = item.warc_offset
                            version.warc_length = item.warc_length
                        counts["unchanged"] += 1
                    else:
                        if version is not None:
                            version.is_current = False
                        article.version_count += 1
                        current[aid] = _version(item, aid, article.version_count, digest, run_id)
                        s.add(current[aid])
                        counts["updated"] += 1
                for u in {item.url, item.canonical_url}:
                    if u not in alias:
                        s.add(ArticleUrl(url=u, article_id=aid))
                        alias[u] = aid
        return counts

    def article_hashes(self) -> dict[str, str]:
        """id → content hash of the current version of every article."""
        with self.session() as s:
            return dict(
                s.execute(
                    select(ArticleVersion.article_id, ArticleVersion.content_hash).where(
                        ArticleVersion.is_current.is_(True)
                    )
                ).all()
            )

    def iter_articles(
        self,
        *,
        ids: Iterable[str] | None = None,
        portals: Sequence[str] | None = None,
        topic: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        batch: int = 500,
    ) -> Iterator[ArticleRecord]:
        """Stream current versions, oldest first, without loading them all in memory."""
        stmt = (
            select(ArticleVersion, Article, Portal)
            .join(Article, Article.id == ArticleVersion.article_id)
            .join(Portal, Portal.id == Article.portal_id)
            .where(ArticleVersion.is_current.is_(True))
            .options(
                selectinload(ArticleVersion.attachments), selectinload(ArticleVersion.doc_refs)
            )
            .order_by(ArticleVersion.published_day, ArticleVersion.article_id)
        )
        if portals:
            stmt = stmt.where(Portal.slug.in_(list(portals)))
        if date_from:
            stmt = stmt.where(ArticleVersion.published_day >= date_from)
        if date_to:
            stmt = stmt.where(ArticleVersion.published_day <= date_to)
        id_list = list(ids) if ids is not None else None
        chunks = (
            [id_list[i : i + batch] for i in range(0, len(id_list), batch)]
            if id_list is not None
            else [None]
        )
        with self.Session() as s:
            for chunk in chunks:
                q = stmt if chunk is None else stmt.where(ArticleVersion.article_id.in_(chunk))
                result = s.execute(q.execution_options(yield_per=batch))
                rows = (r for r in result if not topic or topic in (r[0].topics or []))
                # a batch at a time: the unit links of a batch in one query, memory flat
                while part := list(itertools.islice(rows, batch)):
                    units = _units_of(s, [a.id for _v, a, _p in part])
                    for version, article, portal in part:
                        record = _record(version, article, portal)
                        record.units = units.get(article.id, {})
                        yield record
                s.expunge_all()

    # --- documents as search entries ---------------------------------------------------

    def _document_portals(self, s: Session, shas: Sequence[str] | None) -> dict[str, Portal]:
        """sha256 -> the portal of the first article (by first sight) that attaches it."""
        stmt = (
            select(Download.sha256, Article.first_seen, Portal)
            .join(Attachment, Attachment.url == Download.url)
            .join(ArticleVersion, ArticleVersion.id == Attachment.version_id)
            .join(Article, Article.id == ArticleVersion.article_id)
            .join(Portal, Portal.id == Article.portal_id)
            .where(ArticleVersion.is_current.is_(True), Download.sha256.isnot(None))
        )
        if shas is not None:
            stmt = stmt.where(Download.sha256.in_(list(shas)))
        first: dict[str, tuple[datetime, Portal]] = {}
        for sha, seen, portal in s.execute(stmt):
            if sha not in first or seen < first[sha][0]:
                first[sha] = (seen, portal)
        return {sha: portal for sha, (_seen, portal) in first.items()}

    def document_states(self) -> dict[str, str]:
        """sha256 -> a string that changes whenever what the index holds of a processed
        document would change (its processing, its number, the portal that published it)."""
        with self.session() as s:
            portals = self._document_portals(s, None)
            rows = s.execute(
                select(
                    Document.sha256,
                    Document.processed_at,
                    Document.number,
                    Document.number_source,
                    Document.doc_date,
                ).where(Document.processed_at.isnot(None))
            )
            out = {}
            for sha, processed, number, source, when in rows:
                portal = portals.get(sha)
                out[sha] = "|".join(
                    str(v) for v in (processed, number, source, when, portal.slug if portal else "")
                )
            return out

    def iter_documents(
        self, shas: Iterable[str] | None = None, *, batch: int = 100
    ) -> Iterator[DocumentRecord]:
        """Stream processed documents (text included) with the portal that published them."""
        sha_list = list(shas) if shas is not None else None
        chunks = (
            [sha_list[i : i + batch] for i in range(0, len(sha_list), batch)]
            if sha_list is not None
            else [None]
        )
        stmt = select(Document).where(Document.processed_at.isnot(None)).order_by(Document.sha256)
        with self.Session() as s:
            for chunk in chunks:
                q = stmt if chunk is None else stmt.where(Document.sha256.in_(chunk))
                docs = list(s.scalars(q.execution_options(yield_per=batch)))
                portals = self._document_portals(s, [d.sha256 for d in docs])
                for d in docs:
                    yield _document_record(d, portals.get(d.sha256))
                s.expunge_all()

    def bodies(self, ids: Sequence[str]) -> dict[str, str]:
        """Full text by search id: an article's current body, a document's ("doc:<sha>") text."""
        shas = [i[len(DOCUMENT_ID_PREFIX) :] for i in ids if i.startswith(DOCUMENT_ID_PREFIX)]
        out: dict[str, str] = {}
        if shas:
            with self.session() as s:
                for sha, text_ in s.execute(
                    select(Document.sha256, Document.text).where(Document.sha256.in_(shas))
                ):
                    out[DOCUMENT_ID_PREFIX + sha] = text_ or ""
            ids = [i for i in ids if not i.startswith(DOCUMENT_ID_PREFIX)]
            if not ids:
                return out
        with self.session() as s:
            return out | dict(
                s.execute(
                    select(ArticleVersion.article_id, ArticleVersion.body).where(
                        ArticleVersion.article_id.in_(list(ids)),
                        ArticleVersion.is_current.is_(True),
                    )
                ).all()
            )

    def versions(self, article_id: str) -> list[dict]:
        with self.session() as s:
            rows = s.scalars(
                select(ArticleVersion)
                .where(ArticleVersion.article_id == article_id)
                .order_by(ArticleVersion.version)
            ).all()
            return [
                {
                    "version": v.version,
                    "is_current": v.is_current,
                    "title": v.title,
                    "body": v.body,
                    "fetched_at": v.fetched_at,
                    "content_hash": v.content_hash,
                }
                for v in rows
            ]

    # --- pages of the web application -----------------------------------------------

    def article_page(self, article_id: str) -> dict | None:
        """Everything an article's page shows: the current version, where its archived page
        is (raw sha256), its attachments with their download and document, its versions."""
        records = list(self.iter_articles(ids=[article_id]))
        if not records:
            return None
        record = records[0]
        with self.session() as s:
            current = s.scalar(
                select(ArticleVersion).where(
                    ArticleVersion.article_id == article_id, ArticleVersion.is_current.is_(True)
                )
            )
            raw_sha256 = current.raw_sha256 if current else None
            warc = (
                {
                    "file": current.warc_file,
                    "offset": current.warc_offset,
                    "length": current.warc_length,
                }
                if current is not None and current.warc_file
                else None
            )
            urls = [a["url"] for a in record.attachments]
            rows = {
                d.url: (d, doc)
                for d, doc in s.execute(
                    select(Download, Document)
                    .outerjoin(Document, Document.sha256 == Download.sha256)
                    .where(Download.url.in_(urls))
                )
            }
        attachments = []
        for link in record.attachments:
            download, doc = rows.get(link["url"], (None, None))
            attachments.append(
                {
                    "url": link["url"],
                    "title": link["title"],
                    "status": download.status if download else "not fetched",
                    "error": download.error if download else None,
                    "document": _document_summary(doc) if doc is not None else None,
                    "text": (doc.text or "")[:ATTACHMENT_TEXT_SHOWN] if doc is not None else "",
                }
            )
        return {
            "record": record,
            "raw_sha256": raw_sha256,
            "warc": warc,  # the capture: archive.warcfiles.warc_record(config, file, offset)
            "attachments": attachments,
            "versions": self.versions(article_id),
        }

    def document_page(self, sha256: str) -> dict | None:
        """A stored document with its text and metadata, and the articles that attach or cite
        it."""
        from archive.documents import document_articles

        with self.session() as s:
            doc = s.get(Document, sha256)
            if doc is None:
                return None
            info = _document_summary(doc)
            info.update(
                text=doc.text or "",
                meta=doc.meta or {},
                place=doc.place,
                error=doc.error,
                pages=doc.pages,
                text_method=doc.text_method,
                legacy_encoding=doc.legacy_encoding,
                first_url=doc.first_url,
                fetched_at=doc.fetched_at,
            )
        links = document_articles(self, sha256)
        titles = {r.id: r for r in self.iter_articles(ids=links.attached_by + links.cited_by)}
        info["attached_by"] = [titles[i] for i in links.attached_by if i in titles]
        info["cited_by"] = [titles[i] for i in links.cited_by if i in titles]
        return info

    def portal_status(self) -> list[dict]:
        """Each portal with its article count and its last crawl run."""
        with self.session() as s:
            counts = dict(
                s.execute(
                    select(Article.portal_id, func.count(Article.id)).group_by(Article.portal_id)
                ).all()
            )
            last_ids = dict(
                s.execute(
                    select(CrawlRun.portal_id, func.max(CrawlRun.id)).group_by(CrawlRun.portal_id)
                ).all()
            )
            runs = {
                r.id: r
                for r in s.scalars(select(CrawlRun).where(CrawlRun.id.in_(list(last_ids.values()))))
            }
            out = []
            for p in s.scalars(select(Portal).order_by(Portal.slug)):
                run = runs.get(last_ids.get(p.id, -1))
                out.append(
                    {
                        "slug": p.slug,
                        "name": p.name,
                        "unit": p.unit,
                        "unit_code": (p.config or {}).get("unit_code") or "",
                        "base_url": p.base_url,
                        "family": p.family,
                        "articles": counts.get(p.id, 0),
                        "last_run": None
                        if run is None
                        else {
                            "id": run.id,
                            "status": run.status,
                            "started_at": run.started_at,
                            "finished_at": run.finished_at,
                            "pages": run.pages,
                            "new": run.articles_new,
                            "updated": run.articles_updated,
                            "errors": run.errors,
                        },
                    }
                )
            return out

    def summary(self) -> dict:
        """Counts for the end-of-job summary: articles per portal and per topic."""
        with self.session() as s:
            per_portal = dict(
                s.execute(
                    select(Portal.slug, func.count(Article.id))
                    .join(Article, isouter=True)
                    .group_by(Portal.slug)
                    .order_by(Portal.slug)
                ).all()
            )
            topics: Counter = Counter()
            for (t,) in s.execute(
                select(ArticleVersion.topics).where(ArticleVersion.is_current.is_(True))
            ):
                topics.update(t or [])
                if not t:
                    topics["none"] += 1
            versions = s.scalar(select(func.count(ArticleVersion.id))) or 0
            raw = s.scalar(select(func.count(RawResponse.id))) or 0
        return {
            "articles_per_portal": per_portal,
            "topics": dict(topics),
            "articles": sum(per_portal.values()),
            "versions": versions,
            "fetches": raw,
        }

    # --- incremental crawling (scraper.incremental) -----------------------------------------

    def known_article_urls(self, portal_slug: str) -> dict[str, date | None]:
        """Every URL (canonical or alias) of a portal's archived articles, in one query.

        Each maps to the day that says how recent its article is: the current version's
        publication day, else (no date on the page) the day the article was first seen.
        """
        current = (ArticleVersion.article_id == Article.id) & ArticleVersion.is_current.is_(True)
        stmt = (
            select(ArticleUrl.url, ArticleVersion.published_day, Article.first_seen)
            .join(Article, Article.id == ArticleUrl.article_id)
            .join(Portal, Portal.id == Article.portal_id)
            .outerjoin(ArticleVersion, current)
            .where(Portal.slug == portal_slug)
        )
        with self.session() as s:
            return {
                url: day or (seen.date() if seen is not None else None)
                for url, day, seen in s.execute(stmt)
            }

    def last_validators(self, urls: Iterable[str], *, batch: int = 500) -> dict[str, dict]:
        """URL → ``{"etag": …, "last_modified": …}`` from the latest fetch of it (status 200
        or 304) whose headers carried either; URLs never fetched with them are left out.

        One query per ``batch`` URLs (SQLite caps bound parameters); the stored header names
        are Scrapy's (``Etag``), so they are matched without regard to case.
        """
        wanted = list(dict.fromkeys(urls))
        out: dict[str, dict] = {}
        with self.session() as s:
            for i in range(0, len(wanted), batch):
                rows = s.execute(
                    select(RawResponse.url, RawResponse.headers)
                    .where(
                        RawResponse.url.in_(wanted[i : i + batch]),
                        RawResponse.status.in_((200, 304)),
                    )
                    .order_by(RawResponse.id)
                )
                for url, headers in rows:  # oldest first: a later fetch overwrites
                    values = {k.lower(): v for k, v in (headers or {}).items()}
                    found = {}
                    for name, key in (("etag", "etag"), ("last-modified", "last_modified")):
                        value = values.get(name)
                        if isinstance(value, list):
                            value = value[-1] if value else None
                        if value:
                            found[key] = value
                    if found:
                        out[url] = found
        return out

    def touch_articles(
        self, urls: Iterable[str], when: datetime | None = None, *, batch: int = 500
    ) -> int:
        """Set ``last_seen`` of the articles reached by ``urls`` (canonical or alias), e.g.
        after a 304 Not Modified; one UPDATE per ``batch`` URLs. Returns the articles touched."""
        wanted = list(dict.fromkeys(urls))
        when = when or utcnow()
        touched = 0
        table = Article.__table__
        with self.session() as s:
            for i in range(0, len(wanted), batch):
                ids = select(ArticleUrl.article_id).where(ArticleUrl.url.in_(wanted[i : i + batch]))
                result = s.execute(table.update().where(table.c.id.in_(ids)).values(last_seen=when))
                touched += result.rowcount or 0
        return touched

    # --- resuming an interrupted crawl (scraper.incremental) ------------------------------

    def interrupted_runs(self, portal_slug: str, *, exclude: int | None = None) -> list[dict]:
        """The portal's runs since its last one that finished cleanly (all of them when none
        did), oldest first, each as ``id``, ``status``, ``started_at``; ``exclude`` (the run
        in progress) left out.

        Not empty means the last crawl did not reach its end: killed (a run left "running"
        by a dead process is marked so by :meth:`start_run`), stopped, failed, or still
        "running" elsewhere; or it finished but gave up on requests that may succeed later
        (5xx, 429, timeouts, dropped connections, redirect loops: :func:`transient_failures`).
        Its listings were not all walked, or not all their articles fetched, so the next
        crawl must not trust the incremental stop rule. A 404 or 410 does not count: a dead
        link on a portal would otherwise make every crawl walk everything.

        Runs that did not walk the site (a wayback crawl, an import: :func:`walked_the_site`)
        neither count as its last clean finish nor as interrupted, except when no crawl of
        the site ever finished cleanly: then the archive holds articles whose listings were
        never walked to the end (a web archive captured the newest articles only, say), and
        those runs are returned, so that the next crawl walks every listing page (skipping
        the articles it has) instead of stopping at the first known ones.
        """
        with self.session() as s:
            portal_id = s.scalar(select(Portal.id).where(Portal.slug == portal_slug))
            if portal_id is None:
                return []
            mine = CrawlRun.portal_id == portal_id
            if exclude is not None:
                mine = mine & (CrawlRun.id != exclude)
            finished = select(CrawlRun.id, CrawlRun.stats).where(
                mine, CrawlRun.status == "finished"
            )
            last_clean = max(
                (
                    rid
                    for rid, stats in s.execute(finished)
                    if walked_the_site(stats) and not transient_failures(stats)
                ),
                default=None,
            )
            if last_clean is not None:
                mine = mine & (CrawlRun.id > last_clean)
            runs = list(s.scalars(select(CrawlRun).where(mine).order_by(CrawlRun.id)))
            if last_clean is not None or all(walked_the_site(r.stats) for r in runs):
                runs = [r for r in runs if walked_the_site(r.stats)]
            return [{"id": r.id, "status": r.status, "started_at": r.started_at} for r in runs]

    # --- captures taken from a web archive (scraper.wayback) -----------------------------

    def archived_captures_fetched(self, portal_slug: str) -> set[str]:
        """The ``via`` URLs (a web archive's capture URLs, ``…/web/<time>id_/<url>``) of the
        portal's fetch records from runs that ended in order (finished, or stopped and
        flushed): captures a wayback crawl need not fetch again. The captures of a run that
        was killed or failed are left out: the articles of its last second may be lost."""
        ended = (CrawlRun.status == "finished") | CrawlRun.status.like("stopped%")
        stmt = (
            select(RawResponse.via)
            .join(CrawlRun, CrawlRun.id == RawResponse.crawl_run_id)
            .join(Portal, Portal.id == CrawlRun.portal_id)
            .where(Portal.slug == portal_slug, RawResponse.via.isnot(None), ended)
        )
        with self.session() as s:
            return set(s.scalars(stmt))

    def article_urls_seen_since(self, portal_slug: str, since: datetime) -> set[str]:
        """Every URL (canonical or alias) of the portal's articles stored or seen again at or
        after ``since``."""
        stmt = (
            select(ArticleUrl.url)
            .join(Article, Article.id == ArticleUrl.article_id)
            .join(Portal, Portal.id == Article.portal_id)
            .where(Portal.slug == portal_slug, Article.last_seen >= since)
        )
        with self.session() as s:
            return set(s.scalars(stmt))

    def missing_attachments(self, portal_slug: str, since: datetime) -> dict[str, list[dict]]:
        """Attachments of the portal's articles seen at or after ``since`` (current version)
        that have no successful download: canonical URL → ``[{"url", "title"}]``.

        An article is stored only after its attachments were fetched (the attachments
        pipeline runs first), but a crawl stopped while it closes fails the downloads still
        to do, and a failure may have been passing."""
        downloaded = select(Download.url).where(Download.status == "downloaded")
        stmt = (
            select(Article.canonical_url, Attachment.url, Attachment.title)
            .join(ArticleVersion, ArticleVersion.article_id == Article.id)
            .join(Attachment, Attachment.version_id == ArticleVersion.id)
            .join(Portal, Portal.id == Article.portal_id)
            .where(
                Portal.slug == portal_slug,
                Article.last_seen >= since,
                ArticleVersion.is_current.is_(True),
                Attachment.url.not_in(downloaded),
            )
            .order_by(Article.canonical_url, Attachment.position)
        )
        out: dict[str, list[dict]] = {}
        with self.session() as s:
            for canonical, url, title in s.execute(stmt):
                out.setdefault(canonical, []).append({"url": url, "title": title or ""})
        return out


def _version(
    item: ArticleItem, aid: str, number: int, digest: str, run_id: int | None
) -> ArticleVersion:
    published = item.published
    day = published.date() if isinstance(published, datetime) else published
    return ArticleVersion(
        article_id=aid,
        version=number,
        is_current=True,
        content_hash=digest,
        url=item.url,
        title=item.title,
        published=published.isoformat() if published else None,
        published_day=day,
        author=item.author,
        views=item.views,
        lead=item.lead,
        body=item.body,
        topics=list(item.topics),
        fetched_at=item.fetched_at,
        raw_sha256=item.raw_sha256,
        crawl_run_id=run_id or item.crawl_run_id,
        warc_file=item.warc_file,
        warc_offset=item.warc_offset,
        warc_length=item.warc_length,
        attachments=[
            Attachment(position=i, url=a.url, title=a.title) for i, a in enumerate(item.attachments)
        ],
        doc_refs=[
            DocReference(position=i, number=r.number, kind=r.kind, date=r.date, issuer=r.issuer)
            for i, r in enumerate(item.doc_refs)
        ],
    )


def _document_summary(doc: Document) -> dict:
    return {
        "sha256": doc.sha256,
        "filename": doc.filename,
        "file_type": doc.file_type,
        "size": doc.size,
        "processed": doc.processed_at is not None,
        "ocr": bool(doc.ocr),
        "doc_kind": doc.doc_kind,
        "number": doc.number,
        "number_source": doc.number_source,
        "doc_date": doc.doc_date,
        "issuer": doc.issuer,
        "subject": doc.subject,
        "signer": doc.signer,
        "characters": len(doc.text or ""),
    }


def _document_record(d: Document, portal: Portal | None) -> DocumentRecord:
    return DocumentRecord(
        sha256=d.sha256,
        file_type=d.file_type,
        filename=d.filename,
        url=d.first_url,
        size=d.size,
        text=d.text or "",
        ocr=bool(d.ocr),
        error=d.error,
        doc_kind=d.doc_kind,
        number=d.number,
        number_source=d.number_source,
        issuer=d.issuer,
        place=d.place,
        doc_date=d.doc_date,
        subject=d.subject,
        signer=d.signer,
        meta=d.meta or {},
        meta_complete=bool(d.meta_complete),
        portal=portal.slug if portal else "",
        unit=portal.unit if portal else "",
    )


def _units_of(s: Session, ids: Sequence[str]) -> dict[str, dict[str, list[dict]]]:
    """entry id -> role -> [{"key", "label"}]: the entries' unit links, labelled from the
    gazetteer tables when ``units load`` filled them (else the key alone)."""
    out: dict[str, dict[str, list[dict]]] = {}
    if not ids:
        return out
    rows = s.execute(
        select(EntryUnit.entry_id, EntryUnit.role, EntryUnit.unit_key, AdminUnit.kind,
               AdminUnit.short_name)
        .outerjoin(AdminUnit, AdminUnit.key == EntryUnit.unit_key)
        .where(EntryUnit.entry_id.in_(list(ids)))
        .order_by(EntryUnit.entry_id, EntryUnit.role, EntryUnit.unit_key)
    )  # fmt: skip
    for entry, role, key, kind, short in rows:
        label = f"{kind} {short} ({key})" if short else key
        out.setdefault(entry, {}).setdefault(role, []).append({"key": key, "label": label})
    return out


def _record(v: ArticleVersion, a: Article, p: Portal) -> ArticleRecord:
    return ArticleRecord(
        id=a.id,
        portal=p.slug,
        unit=p.unit,
        url=v.url,
        canonical_url=a.canonical_url,
        title=v.title,
        published=v.published,
        published_day=v.published_day,
        author=v.author,
        views=v.views,
        lead=v.lead,
        body=v.body,
        topics=list(v.topics or []),
        attachments=[{"url": x.url, "title": x.title} for x in v.attachments],
        doc_refs=[
            {
                "number": r.number,
                "kind": r.kind,
                "date": r.date.isoformat() if r.date else None,
                "issuer": r.issuer,
            }
            for r in v.doc_refs
        ],
        fetched_at=v.fetched_at,
        first_seen=a.first_seen,
        last_seen=a.last_seen,
        version=v.version,
        content_hash=v.content_hash,
    )


#: The crawl stats whose sum is a run's ``errors`` (with its rejected articles): requests
#: given up on, pages and attachments (``failed/total``, by
#: ``scraper.middlewares.FailedRequestsMiddleware``), pages the extractor failed on, spider
#: callback exceptions. Not ``log_count/ERROR``: Scrapy counts log lines process-wide, so in
#: a crawl of several portals each run counted the others' errors, and a page that timed
#: out logs two errors (Scrapy's retry gives up, then the download fails).
ERROR_STATS = ("failed/total", "pages/error", "spider_exceptions/count")


#: Failure kinds (``failed/<kind>`` in a run's stats) that no later crawl will mend: the page
#: is gone. Every other kind (5xx, 429, timeouts, dropped connections, redirect loops, pages
#: over the size cap…) may pass next time.
PERMANENT_FAILURES = ("http_404", "http_410")


#: Run modes (``incremental/mode`` in a run's stats) that did not walk the live site: a crawl
#: of a web archive's captures (scraper/wayback.py) and an import of WARC files. Whether the
#: last live crawl finished is decided without them: a wayback run that finished after a
#: killed crawl must not hide it (the next crawl would trust the stop rule and lose articles).
NOT_SITE_WALKS = ("wayback", "import")


def walked_the_site(stats: dict | None) -> bool:
    """Whether a run crawled the portal itself (not a web archive's captures, not an import)."""
    return (stats or {}).get("incremental/mode") not in NOT_SITE_WALKS


def transient_failures(stats: dict | None) -> int:
    """Requests a run gave up on that a later crawl may get (all but 404 and 410)."""
    return sum(
        value
        for key, value in (stats or {}).items()
        if key.startswith("failed/")
        and isinstance(value, int)
        and key not in ("failed/total",)
        and key.removeprefix("failed/") not in PERMANENT_FAILURES
    )


def error_count(stats: dict) -> int:
    """A crawl's errors from its stats (see ``ERROR_STATS``), rejected articles not included."""
    return sum(int(stats.get(key) or 0) for key in ERROR_STATS)


def _jsonable(value: object) -> object:
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):  # e.g. failed/urls
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):  # e.g. distributed/workers
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
