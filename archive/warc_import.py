"""Importing existing WARC and ARC files into the archive (``portal-archive import-warc``).

Files written by Heritrix, Browsertrix, wget, Common Crawl or our own crawls go through the
same extraction as a crawl (the spider's own code, handed in by the CLI as an extractor: see
:class:`scraper.warc.CaptureExtractor`) and the same storage: raw bodies by sha256, a fetch
record per capture pointing to its WARC record, articles with their versions, attachments
as documents. Each portal gets a run with trigger ``import``.

Two passes over the files. The first reads only the records' headers: what each record
is, and why it is skipped (not a response, not http, a redirect or an error status, not
HTML, a host that is not imported, already imported, a revisit whose original is not in the
files). The second reads the kept captures' payloads by offset, oldest capture first (so
that versions come in the order they were published, whatever the order of the files),
a revisit from the record it refers to. Attachments are then taken from the files for the
imported articles that link them and have none downloaded.

Importing the same file again changes nothing: a capture whose record (file and offset) a
fetch record already points to is skipped, and the attachments are downloaded already.
Articles are stored before their fetch records, so an import killed in between is finished
by the next one (the article is found unchanged).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import tempfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import select

from archive.models import RawResponse
from archive.schema import ArticleItem
from archive.store import Archive
from archive.warcfiles import parse_warc_date, warc_dir

logger = logging.getLogger(__name__)

BATCH = 100
HTML_TYPES = ("text/html", "application/xhtml+xml")
NOT_MODIFIED_PROFILE = "server-not-modified"


class Extractor(Protocol):
    """What the import needs of the crawl's extraction (:class:`scraper.warc.CaptureExtractor`)."""

    stats: object

    def items(
        self,
        url: str,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        fetched_at: datetime,
    ) -> list[dict]: ...

    def attachment(self, url: str, headers: list[tuple[str, str]], body: bytes) -> dict: ...


@dataclass
class Site:
    """A portal the import stores captures for: who it is, and its extraction."""

    slug: str
    name: str
    unit: str
    base_url: str
    family: str
    config: dict
    extractor: Extractor


@dataclass
class Capture:
    """One response or revisit record, as the first pass saw it (no payload)."""

    path: Path
    file_id: str
    offset: int
    length: int
    rec_type: str
    url: str
    date: datetime
    status: int
    mime: str
    digest: str | None
    profile: str = ""
    refers_uri: str | None = None
    refers_date: datetime | None = None
    #: The full response record holding the payload (itself, or what a revisit refers to).
    original: Capture | None = None


@dataclass
class ImportReport:
    files: int = 0
    records: int = 0
    skipped: Counter = field(default_factory=Counter)
    pages: int = 0
    attachments: int = 0
    runs: dict[str, int] = field(default_factory=dict)  # slug → run id
    counts: dict[str, Counter] = field(default_factory=dict)  # slug → new/updated/…
    #: Files not read to their end: path → why (their records before the damage are imported).
    damaged: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "damaged": self.damaged,
            "records": self.records,
            "pages": self.pages,
            "attachments": self.attachments,
            "skipped": dict(sorted(self.skipped.items())),
            "runs": self.runs,
            "articles": {slug: dict(c) for slug, c in self.counts.items()},
        }


def file_id(archive: Archive, path: Path) -> str:
    """How fetch records name a WARC file: its name when it is one of the archive's own
    (``<data>/warc/``), else its absolute path."""
    path = path.resolve()
    return path.name if path.parent == warc_dir(archive.config).resolve() else str(path)


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _status(http) -> int:
    code = http.get_statuscode() if http is not None else None
    return int(code) if code and code.isdigit() else 0


# --- pass 1: what the files hold -------------------------------------------------------------


def scan(path: Path, fid: str, report: ImportReport) -> list[Capture]:
    """Every response and revisit record of http(s) URLs in one file, headers only; the
    other records are counted as skipped. A file that is not WARC or ARC, or is damaged
    part-way, is noted in ``report.damaged`` with the records read before the damage kept."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    out: list[Capture] = []
    read = 0
    why = None
    # warcio writes a gzip member it cannot inflate to stderr and goes on with the raw bytes
    # (as one record running to the end of the file): caught here, and the block lengths
    # checked, so a damaged file is said to be damaged rather than silently cut short.
    warcio_said = io.StringIO()
    try:
        with path.open("rb") as fh, contextlib.redirect_stderr(warcio_said):
            records = ArchiveIterator(fh, arc2warc=True)
            for record in records:
                stream = record.raw_stream  # a LimitReader over the rest of the block
                while stream.read(1 << 16):
                    pass
                missing = getattr(stream, "limit", 0)
                if missing > 0 or warcio_said.tell():
                    said = warcio_said.getvalue().strip().splitlines()
                    why = said[0] if said else f"its last {missing:,} bytes are missing"
                    break
                read += 1
                capture = _capture(path, fid, records, record, report)
                if capture is not None:
                    out.append(capture)
    except (ArchiveLoadFailed, OSError, EOFError, ValueError, zlib.error) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if why is not None:
        report.damaged[str(path)] = (
            f"not a WARC or ARC file ({why[:200]})"
            if read == 0
            else f"damaged at record {read + 1:,}; the {read:,} before it are read ({why[:200]})"
        )
        logger.info("%s: %s", path, report.damaged[str(path)])
    report.records += read
    return out


def _capture(path: Path, fid: str, records, record, report: ImportReport) -> Capture | None:  # noqa: ANN001
    """The capture one record gives (None for a record that is not an http(s) response or
    revisit, counted as skipped)."""
    if record.rec_type not in ("response", "revisit"):
        report.skipped[f"{record.rec_type} record"] += 1
        return None
    headers = record.rec_headers
    url = headers.get_header("WARC-Target-URI") or ""
    if urlsplit(url).scheme not in ("http", "https") or record.http_headers is None:
        report.skipped["not http (dns:, …)"] += 1
        return None
    refers_date = headers.get_header("WARC-Refers-To-Date")
    return Capture(
        path=path,
        file_id=fid,
        offset=records.get_record_offset(),
        length=records.get_record_length(),
        rec_type=record.rec_type,
        url=url,
        date=parse_warc_date(headers.get_header("WARC-Date")),
        status=_status(record.http_headers),
        mime=_mime(record.http_headers.get_header("Content-Type")),
        digest=headers.get_header("WARC-Payload-Digest"),
        profile=headers.get_header("WARC-Profile") or "",
        refers_uri=headers.get_header("WARC-Refers-To-Target-URI"),
        refers_date=parse_warc_date(refers_date) if refers_date else None,
    )


def _resolve_revisits(captures: list[Capture], report: ImportReport) -> list[Capture]:
    """Point each capture at the response record holding its payload: itself, or for a
    revisit the full response it refers to (same URL and payload digest; for a 304, the
    latest 200 of the URL before it). Revisits without one in the files are dropped."""
    full = [c for c in captures if c.rec_type == "response" and c.status == 200]
    by_digest = {(c.url, c.digest): c for c in full if c.digest}
    by_url: dict[str, list[Capture]] = defaultdict(list)
    for c in sorted(full, key=lambda c: c.date):
        by_url[c.url].append(c)
    kept = []
    for c in captures:
        if c.rec_type == "response" and c.status != 304:
            c.original = c
        else:
            uri = c.refers_uri or c.url
            original = by_digest.get((uri, c.digest)) if c.digest else None
            if original is None and (NOT_MODIFIED_PROFILE in c.profile or c.status == 304):
                before = [o for o in by_url.get(uri, ()) if o.date <= (c.refers_date or c.date)]
                original = before[-1] if before else None
            if original is None:
                report.skipped["revisit without its original in the files"] += 1
                continue
            c.original = original
            c.mime = c.mime or original.mime
        kept.append(c)
    return kept


def _already_imported(archive: Archive, file_ids: Iterable[str]) -> set[tuple[str, int]]:
    with archive.session() as s:
        rows = s.execute(
            select(RawResponse.warc_file, RawResponse.warc_offset).where(
                RawResponse.warc_file.in_(list(file_ids))
            )
        )
        return {(f, o) for f, o in rows}


# --- pass 2: payloads ------------------------------------------------------------------------


class _Reader:
    """Reads one record at a file offset (files kept open between reads)."""

    def __init__(self):
        self.files: dict[Path, object] = {}

    def read(self, capture: Capture) -> tuple[list[tuple[str, str]], bytes]:
        """The record's HTTP headers and its payload, transfer and content codings undone."""
        from warcio.archiveiterator import ArchiveIterator

        fh = self.files.get(capture.path)
        if fh is None:
            fh = self.files[capture.path] = capture.path.open("rb")
        fh.seek(capture.offset)
        record = next(iter(ArchiveIterator(fh, arc2warc=True)))
        if record.rec_headers.get_header("WARC-Target-URI") != capture.url:
            raise ValueError(
                f"{capture.path}: no record of {capture.url} at offset {capture.offset} (a "
                "file gzipped whole rather than per record? `warcio recompress` fixes it)"
            )
        body = record.content_stream().read()
        return list(record.http_headers.headers), body

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()


def _decoded_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers of a body whose codings were undone."""
    drop = ("content-encoding", "transfer-encoding", "content-length")
    return [(n, v) for n, v in headers if n.lower() not in drop]


def _put_attachment(archive: Archive, body: bytes) -> str:
    """Store a file under ``attachments/ab/<sha256>`` (as the attachments pipeline does)."""
    sha = hashlib.sha256(body).hexdigest()
    path = archive.config.attachments_dir / sha[:2] / sha
    if not path.exists() or path.stat().st_size != len(body):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.replace(tmp, path)
    return sha


class _Run:
    """One portal's import run: its batches of articles and fetch records."""

    def __init__(self, archive: Archive, site: Site):
        self.archive = archive
        self.site = site
        self.portal_id = archive.upsert_portal(
            site.slug,
            name=site.name,
            unit=site.unit,
            base_url=site.base_url,
            family=site.family,
            config=site.config,
        )
        self.run_id = archive.start_run(self.portal_id, "import")
        self.items: list[ArticleItem] = []
        self.fetches: list[dict] = []
        self.counts: Counter = Counter()
        self.stats: Counter = Counter()

    def fetch(self, capture: Capture, headers: list[tuple[str, str]], body: bytes) -> str:
        sha = self.archive.raw.put(body)
        grouped: dict[str, list[str]] = {}
        for name, value in headers:
            grouped.setdefault(name, []).append(value)
        self.fetches.append(
            {
                "crawl_run_id": self.run_id,
                "url": capture.url,
                "status": capture.status,
                "headers": grouped,
                "sha256": sha,
                "size": len(body),
                "fetched_at": capture.date,
                "warc_file": capture.file_id,
                "warc_offset": capture.offset,
                "warc_length": capture.length,
                "warc_type": capture.rec_type,
                "warc_digest": capture.digest,
            }
        )
        self.stats["response_received_count"] += 1
        return sha

    def add(self, raw: dict, capture: Capture) -> None:
        original = capture.original or capture
        data = {k: v for k, v in raw.items() if k != "files"}
        data.update(
            crawl_run_id=self.run_id,
            warc_file=original.file_id,
            warc_offset=original.offset,
            warc_length=original.length,
        )
        try:
            self.items.append(ArticleItem.model_validate(data))
        except ValidationError as exc:
            self.counts["invalid"] += 1
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            logger.warning("invalid article at %s: %s", capture.url, fields)
        if len(self.items) >= BATCH:
            self.flush()

    def flush(self) -> None:
        # Articles first: an import killed between the two leaves articles whose captures
        # are imported again next time (found unchanged), never a capture marked imported
        # whose article was lost.
        if self.items:
            self.counts.update(
                self.archive.store_articles(
                    self.items, self.portal_id, self.run_id, seen_at_fetch=True
                )
            )
            self.items = []
        if self.fetches:
            self.archive.record_fetches(self.fetches)
            self.fetches = []

    def finish(self, report: ImportReport, status: str = "finished") -> None:
        self.flush()
        stats = {
            "incremental/mode": "import",  # the mode column of `portal-archive runs`
            **{f"import/{k}": v for k, v in self.stats.items() if k != "response_received_count"},
            "response_received_count": self.stats["response_received_count"],
            **{f"import/skipped/{k}": v for k, v in report.skipped.items()},
            **{k: v for k, v in getattr(self.site.extractor.stats, "values", {}).items()},
        }
        self.archive.finish_run(self.run_id, status=status, counts=self.counts, stats=stats)
        report.runs[self.site.slug] = self.run_id
        report.counts[self.site.slug] = Counter(
            {k: self.counts[k] for k in ("new", "updated", "unchanged", "invalid")}
        )


def import_warc(
    archive: Archive,
    paths: Sequence[Path],
    route: Callable[[str], Site | None],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import WARC/ARC ``paths`` (gzip or not); ``route(url)`` says which site a page URL
    belongs to (None: skipped, "host not imported")."""
    report = ImportReport(files=len(paths))
    captures: list[Capture] = []
    for path in paths:
        captures += scan(path, file_id(archive, path), report)
    captures = _resolve_revisits(captures, report)
    done = _already_imported(archive, {c.file_id for c in captures})

    pages: list[tuple[Capture, Site]] = []
    files_by_url: dict[str, Capture] = {}  # attachment candidates: the latest of each URL
    non_html = 0
    runs: dict[str, _Run] = {}
    for c in captures:
        status = c.status if c.status != 304 else c.original.status
        if 300 <= status < 400:
            report.skipped["redirect"] += 1
            continue
        if status != 200:
            report.skipped[f"status {status}"] += 1
            continue
        if c.mime and c.mime not in HTML_TYPES:
            non_html += 1
            files_by_url[c.url] = max(c, files_by_url.get(c.url, c), key=lambda x: x.date)
            continue
        site = route(c.url)
        if site is None:
            report.skipped["host not imported"] += 1
            continue
        if site.slug not in runs:  # a run for each portal the files hold pages of
            runs[site.slug] = _Run(archive, site)
        if (c.file_id, c.offset) in done:
            report.skipped["already imported"] += 1
            continue
        pages.append((c, site))
    pages.sort(key=lambda pair: pair[0].date)

    reader = _Reader()
    status = "finished"
    try:
        for n, (capture, site) in enumerate(pages, 1):
            run = runs[site.slug]
            try:
                headers, body = reader.read(capture.original)
                own = headers if capture.original is capture else reader.read(capture)[0]
            except (OSError, ValueError, EOFError) as exc:  # warcio raises several kinds
                report.skipped["unreadable"] += 1
                logger.warning("cannot read %s: %s", capture.url, exc)
                continue
            run.fetch(capture, own, body)
            report.pages += 1
            for raw in site.extractor.items(
                capture.url, 200, _decoded_headers(headers), body, capture.date
            ):
                run.add(raw, capture)
            if progress:
                progress(n, len(pages))
        for run in runs.values():
            run.flush()
        _import_attachments(archive, runs, files_by_url, reader, report)
    except BaseException as exc:
        # CrawlRun.status is 20 characters; the error itself is raised to the caller.
        status = "stopped: interrupted" if isinstance(exc, KeyboardInterrupt) else "failed: error"
        raise
    finally:
        reader.close()
        for run in runs.values():
            run.finish(report, status)
    report.skipped["not HTML, not a missing attachment"] += non_html - report.attachments
    return report


def _import_attachments(
    archive: Archive,
    runs: dict[str, _Run],
    files_by_url: dict[str, Capture],
    reader: _Reader,
    report: ImportReport,
) -> None:
    """The files the imported portals' articles link and lack, when the WARC holds them."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for slug, run in runs.items():
        wanted = {
            link["url"]
            for links in archive.missing_attachments(slug, epoch).values()
            for link in links
        }
        for url in sorted(wanted & files_by_url.keys()):
            capture = files_by_url[url]
            try:
                headers, body = reader.read(capture.original)
            except (OSError, ValueError, EOFError) as exc:
                report.skipped["unreadable"] += 1
                logger.warning("cannot read %s: %s", url, exc)
                continue
            run.fetch(capture, headers, body)
            info = run.site.extractor.attachment(url, headers, body)
            pointer = (capture.original.file_id, capture.original.offset, capture.original.length)
            grouped: dict[str, list[str]] = {}
            for name, value in headers:
                grouped.setdefault(name, []).append(value)
            if info.get("error") or not body:
                archive.record_download(
                    url,
                    sha256=None,
                    status="failed",
                    http_status=200,
                    error=info.get("error") or "empty file",
                    run_id=run.run_id,
                    warc=pointer,
                    fetched_at=capture.date,
                )
                run.stats["attachments/failed"] += 1
            else:
                archive.record_download(
                    url,
                    sha256=_put_attachment(archive, body),
                    status="downloaded",
                    http_status=200,
                    headers=grouped,
                    filename=info.get("filename"),
                    size=len(body),
                    file_type=info.get("file_type"),
                    run_id=run.run_id,
                    warc=pointer,
                    fetched_at=capture.date,
                )
                run.stats["attachments/downloaded"] += 1
            report.attachments += 1
        run.flush()
