"""Exports of articles as web archives: one WARC file, or a WACZ package around it.

:func:`write_warc` writes the original captures of the exported articles (every version)
and of their attachments into one ``.warc.gz``, copied **record by record, byte for byte**
from the archive's WARC files (the pointers of ``article_versions``, ``downloads``): each
record is a gzip member of its own there, so the copy is the member as it is, its digests
and ``WARC-Record-ID`` unchanged. With each response goes the ``request`` record written
right after it (``WARC-Concurrent-To`` it), and the ``warcinfo`` record of every source
file (which the copies' ``WARC-Warcinfo-ID`` names) is copied once, before its first
record. An uncompressed source file (an imported ``.warc``) gives its record's bytes
gzipped, the record itself unchanged.

A page or file archived before WARC writing existed (no pointer, or a pointer that no
longer reaches a response record) gets a ``response`` record *made* from the stored body and
headers of its fetch, and a ``metadata`` record right after it (``WARC-Refers-To`` it) that
says so and from what. The file starts with its own ``warcinfo`` (what was exported, when,
by what) and ends with a ``metadata`` manifest: every article with its records, and what
could not be exported and why.

:func:`write_wacz` packages that WARC as WACZ 1.1.1 (the format ReplayWeb.page opens):
``archive/data.warc.gz`` (stored, not deflated), its CDXJ (the lines pywb writes) as a ZipNum
index, ``indexes/index.cdx.gz`` (gzip members of 3,000 lines, stored) with
``indexes/index.idx`` (the first key of each member and where it is), as py-wacz writes it;
ReplayWeb.page replays it (tests/test_replayweb.py, in Chromium). Then ``pages/pages.jsonl`` (each article's page at its capture time),
``datapackage.json`` (sha256 and size of every file) and ``datapackage-digest.json``. It is
written here rather than by py-wacz (``wacz`` on PyPI): that would bring frictionless and
some 25 other packages into the project for a ZIP of five members; ``wacz validate``
checks the result in the tests (in ``.venv-replay``, beside pywb).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from importlib.metadata import version as package_version
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from archive.models import Article, ArticleVersion, Download, Portal, RawResponse
from archive.store import Archive, _aware
from archive.warcfiles import (
    OPEN_SUFFIX,
    index_file,
    member_length,
    parse_warc_date,
    warc_date,
    warc_dir,
)

WACZ_VERSION = "1.1.1"
BATCH = 500
#: Headers of a stored fetch that describe the transfer, not the body as stored (decoded).
TRANSFER_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
MANIFEST_URI = "urn:x-portal-archive:export-manifest"


@dataclass
class RecordInfo:
    """What a record's header says (read from its gzip member)."""

    rec_type: str
    uri: str | None
    record_id: str | None
    date: str | None
    concurrent_to: str | None


@dataclass
class WarcExportReport:
    articles: int = 0
    versions: int = 0
    responses: int = 0  # response records written (copied and made)
    copied: int = 0  # of which copied from the archive's files
    synthesised: int = 0  # of which made from stored bodies
    requests: int = 0  # request records copied with their responses
    attachments: int = 0  # attachment responses written
    bytes: int = 0
    missing: list[dict] = field(default_factory=list)  # {"url", "why"}
    #: The current version of each article: id, url, ts (RFC 3339), title (WACZ pages).
    pages: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("pages")
        return d


class _Sources:
    """Reads records of the archive's WARC files (names in ``<data>/warc/``, or an imported
    file's absolute path), files kept open."""

    def __init__(self, archive: Archive):
        self.directory = warc_dir(archive.config)
        self.handles: dict[Path, IO[bytes]] = {}

    def path(self, name: str) -> Path | None:
        path = Path(name) if "/" in name else self.directory / name
        if not path.is_file() and path.with_name(path.name + OPEN_SUFFIX).is_file():
            path = path.with_name(path.name + OPEN_SUFFIX)  # its crawl is still running
        return path if path.is_file() else None

    def read(self, path: Path, offset: int) -> tuple[bytes, int] | None:
        """``(gzip member holding the record at offset, bytes it takes in the file)``."""
        fh = self.handles.get(path)
        if fh is None:
            fh = self.handles[path] = path.open("rb")
        fh.seek(offset)
        if fh.read(2) == b"\x1f\x8b":
            length = member_length(fh, offset)
            if length is None:
                return None
            fh.seek(offset)
            return fh.read(length), length
        from warcio.archiveiterator import ArchiveIterator

        fh.seek(offset)
        try:
            records = ArchiveIterator(fh)
            record = next(iter(records))
            record.content_stream().read()
            records.read_to_end(record)
            length = records.get_record_length()
        except (StopIteration, ValueError, EOFError, OSError):
            return None
        fh.seek(offset)
        return gzip.compress(fh.read(length), mtime=0), length

    def close(self) -> None:
        for fh in self.handles.values():
            fh.close()


def record_info(member: bytes) -> RecordInfo | None:
    from warcio.archiveiterator import ArchiveIterator

    try:
        record = next(iter(ArchiveIterator(io.BytesIO(member))))
    except (StopIteration, ValueError, EOFError, OSError):
        return None
    h = record.rec_headers
    return RecordInfo(
        record.rec_type,
        h.get_header("WARC-Target-URI"),
        h.get_header("WARC-Record-ID"),
        h.get_header("WARC-Date"),
        h.get_header("WARC-Concurrent-To"),
    )


class _Writer:
    """The export file: members written once each, in order."""

    def __init__(self, out: IO[bytes], report: WarcExportReport):
        from warcio.warcwriter import WARCWriter

        self.out = out
        self.report = report
        self.written: set[tuple] = set()
        self.infos: set[Path] = set()
        self._buffer = io.BytesIO()
        self._warcio = WARCWriter(self._buffer, gzip=True, warc_version="1.1")

    def member(self, data: bytes) -> None:
        self.out.write(data)
        self.report.bytes += len(data)

    def record(self, record) -> str:
        """Write a warcio record (gzip member); its WARC-Record-ID is returned."""
        self._buffer.seek(0)
        self._buffer.truncate()
        self._warcio.write_record(record)
        self.member(self._buffer.getvalue())
        return record.rec_headers.get_header("WARC-Record-ID")

    @property
    def warcio(self):
        return self._warcio


def _http_headers(status: int | None, headers: dict | None, body: bytes):
    from warcio.statusandheaders import StatusAndHeaders

    status = status or 200
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    pairs = []
    for name, values in (headers or {}).items():
        if name.lower() in TRANSFER_HEADERS:
            continue
        for value in values if isinstance(values, list) else [values]:
            pairs.append((name, str(value)))
    pairs.append(("Content-Length", str(len(body))))
    return StatusAndHeaders(f"{status} {phrase}".strip(), pairs, protocol="HTTP/1.1")


def _rfc3339(value: str | datetime) -> str:
    when = parse_warc_date(value) if isinstance(value, str) else _aware(value)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Export:
    def __init__(self, archive: Archive, out: IO[bytes]):
        self.archive = archive
        self.report = WarcExportReport()
        self.writer = _Writer(out, self.report)
        self.sources = _Sources(archive)
        self.manifest: list[dict] = []

    # --- one capture --------------------------------------------------------------------------

    def copy(self, file: str | None, offset: int | None) -> RecordInfo | None:
        """Copy the response record at ``file``/``offset`` with its request record (and its
        file's warcinfo, once); None when it cannot be (the caller makes one instead)."""
        if not file or offset is None:
            return None
        path = self.sources.path(file)
        if path is None:
            return None
        found = self.sources.read(path, offset)
        info = record_info(found[0]) if found else None
        if info is None or info.rec_type not in ("response", "resource"):
            return None
        if (path, offset) in self.writer.written:
            return info
        if path not in self.writer.infos:  # the warcinfo the copies name, once
            self.writer.infos.add(path)
            head = self.sources.read(path, 0)
            head_info = record_info(head[0]) if head else None
            if head_info is not None and head_info.rec_type == "warcinfo":
                self.writer.member(head[0])
        member, length = found
        self.writer.member(member)
        self.writer.written.add((path, offset))
        self.report.responses += 1
        self.report.copied += 1
        following = self.sources.read(path, offset + length)
        request = record_info(following[0]) if following else None
        if request and request.rec_type == "request" and request.concurrent_to == info.record_id:
            self.writer.member(following[0])
            self.report.requests += 1
        return info

    def make(
        self,
        url: str,
        when: datetime,
        body: bytes,
        *,
        status: int | None,
        headers: dict | None,
        source: str,
        why: str,
    ) -> RecordInfo:
        """A response record made from a stored body, and the metadata record saying so."""
        w = self.writer.warcio
        date = warc_date(_aware(when))
        record = w.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=_http_headers(status, headers, body),
            warc_headers_dict={"WARC-Date": date},
        )
        record_id = self.writer.record(record)
        note = {
            "synthesised": True,
            "why": why,
            "from": source,
            "note": "not a capture as received: made by portal-archive's export from the "
            "stored body (sha256-checked) and the stored headers of the fetch",
        }
        payload = json.dumps(note, ensure_ascii=False).encode("utf-8")
        self.writer.record(
            w.create_warc_record(
                url,
                "metadata",
                payload=io.BytesIO(payload),
                length=len(payload),
                warc_content_type="application/json",
                warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": record_id},
            )
        )
        self.report.responses += 1
        self.report.synthesised += 1
        return RecordInfo("response", url, record_id, date, None)

    # --- articles and attachments --------------------------------------------------------------

    def version(self, v: ArticleVersion) -> RecordInfo | None:
        info = self.copy(v.warc_file, v.warc_offset)
        if info is not None:
            return info
        why = "archived before WARC writing" if not v.warc_file else "its WARC record is gone"
        key = ("made", v.url, v.raw_sha256)
        if key in self.writer.written:
            return None
        if not v.raw_sha256:
            self.report.missing.append({"url": v.url, "why": f"{why}, no stored body"})
            return None
        try:
            body = self.archive.raw.get(v.raw_sha256)
        except OSError:
            self.report.missing.append({"url": v.url, "why": f"{why}, stored body missing"})
            return None
        if hashlib.sha256(body).hexdigest() != v.raw_sha256:
            self.report.missing.append({"url": v.url, "why": f"{why}, stored body corrupt"})
            return None
        with self.archive.session() as s:
            fetch = s.execute(
                select(RawResponse.status, RawResponse.headers, RawResponse.id)
                .where(RawResponse.url == v.url, RawResponse.sha256 == v.raw_sha256)
                .order_by(RawResponse.id.desc())
                .limit(1)
            ).first()
        status, headers, fetch_id = fetch if fetch else (200, None, None)
        source = f"raw response {v.raw_sha256}" + (f", fetch record {fetch_id}" if fetch_id else "")
        self.writer.written.add(key)
        return self.make(
            v.url, v.fetched_at, body, status=status, headers=headers, source=source, why=why
        )

    def attachment(self, download: Download | None, url: str) -> dict:
        if download is None or download.status != "downloaded" or not download.sha256:
            why = "never downloaded" if download is None else (download.error or download.status)
            self.report.missing.append({"url": url, "why": f"attachment {why}"})
            return {"url": url, "record": None}
        info = self.copy(download.warc_file, download.warc_offset)
        if info is None:
            key = ("made", url, download.sha256)
            if key in self.writer.written:
                return {"url": url, "record": "made"}
            path = self.archive.config.attachments_dir / download.sha256[:2] / download.sha256
            try:
                body = path.read_bytes()
            except OSError:
                self.report.missing.append({"url": url, "why": "attachment file missing"})
                return {"url": url, "record": None}
            self.writer.written.add(key)
            why = "its WARC record is gone" if download.warc_file else "downloaded before WARC"
            info = self.make(
                url,
                download.fetched_at,
                body,
                status=download.http_status,
                headers=download.headers,
                source=f"attachment file {download.sha256}",
                why=why,
            )
        self.report.attachments += 1
        return {"url": url, "record": info.record_id, "date": info.date}

    def close(self, description: dict | None) -> None:
        payload = json.dumps(
            {
                "description": description or {},
                "exported_at": _rfc3339(datetime.now(UTC)),
                "counts": self.report.as_dict() | {"missing": len(self.report.missing)},
                "missing": self.report.missing,
                "articles": self.manifest,
            },
            ensure_ascii=False,
            indent=1,
        ).encode("utf-8")
        w = self.writer.warcio
        self.writer.record(
            w.create_warc_record(
                MANIFEST_URI,
                "metadata",
                payload=io.BytesIO(payload),
                length=len(payload),
                warc_content_type="application/json",
            )
        )
        self.sources.close()


def _versions(archive: Archive, ids: list[str] | None) -> Iterator[tuple[Article, list]]:
    """Each article with its versions (oldest first), in batches."""
    stmt = (
        select(ArticleVersion, Article, Portal.slug)
        .join(Article, Article.id == ArticleVersion.article_id)
        .join(Portal, Portal.id == Article.portal_id)
        .options(selectinload(ArticleVersion.attachments))
        .order_by(ArticleVersion.article_id, ArticleVersion.version)
    )
    chunks = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)] if ids is not None else [None]
    with archive.Session() as s:
        for chunk in chunks:
            q = stmt if chunk is None else stmt.where(ArticleVersion.article_id.in_(chunk))
            current: tuple | None = None
            for version, article, slug in s.execute(q):
                if current is not None and current[0].id != article.id:
                    yield current[0], current[1]
                    current = None
                if current is None:
                    current = (article, [])
                current[1].append((version, slug))
            if current is not None:
                yield current[0], current[1]
            s.expunge_all()


def write_warc(
    archive: Archive,
    article_ids: Iterable[str] | None,
    out: IO[bytes],
    *,
    description: dict | None = None,
) -> WarcExportReport:
    """Write the captures of ``article_ids`` (None: every article) and of their
    attachments to ``out`` as one ``.warc.gz`` (see the module docstring); a report of what
    was written and what could not be is returned. ``description``: what was exported (the
    query, the collection…), kept in the warcinfo record and the manifest."""
    from warcio.warcwriter import WARCWriter  # noqa: F401 - fail early without warcio

    ids = list(dict.fromkeys(article_ids)) if article_ids is not None else None
    export = _Export(archive, out)
    w = export.writer.warcio
    info = {
        "software": f"portal-archive {package_version('portal-archive')} "
        f"(warcio {package_version('warcio')})",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
        "warc-format/warc-1.1/",
        "description": "an export of archived articles and their attachments: the records "
        "of their captures copied byte for byte from portal-archive's WARC files (records "
        "made from stored bodies are each followed by a metadata record saying so)",
        "isPartOf": "portal-archive export",
        "export": json.dumps(description or {}, ensure_ascii=False),
    }
    export.writer.record(w.create_warcinfo_record("export.warc.gz", info))
    for article, versions in _versions(archive, ids):
        export.report.articles += 1
        entry = {"id": article.id, "url": article.canonical_url, "versions": [], "attachments": []}
        attachment_urls: dict[str, None] = {}
        page = None
        for v, _slug in versions:
            export.report.versions += 1
            got = export.version(v)
            entry["versions"].append(
                {"version": v.version, "record": got.record_id if got else None,
                 "date": got.date if got else None}
            )  # fmt: skip
            if v.is_current and got is not None and got.uri:
                page = {"id": article.id, "url": got.uri, "ts": _rfc3339(got.date or v.fetched_at),
                        "title": v.title}  # fmt: skip
            for a in v.attachments:
                attachment_urls.setdefault(a.url)
        if page:
            export.report.pages.append(page)
        if attachment_urls:
            with archive.session() as s:
                downloads = {
                    d.url: d
                    for d in s.scalars(
                        select(Download).where(Download.url.in_(list(attachment_urls)))
                    )
                }
                s.expunge_all()
            for url in attachment_urls:
                entry["attachments"].append(export.attachment(downloads.get(url), url))
        export.manifest.append(entry)
    export.close(description)
    return export.report


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_wacz(
    archive: Archive,
    article_ids: Iterable[str] | None,
    out: IO[bytes],
    *,
    description: dict | None = None,
    title: str | None = None,
) -> WarcExportReport:
    """:func:`write_warc`'s file packaged as WACZ 1.1.1 (see the module docstring), written
    to ``out`` (a pipe will do: the ZIP is streamed)."""
    with tempfile.TemporaryDirectory(prefix="wacz-") as tmp:
        warc_path = Path(tmp) / "data.warc.gz"
        with warc_path.open("wb") as fh:
            report = write_warc(archive, article_ids, fh, description=description)
        lines = sorted(index_file(warc_path, "data.warc.gz"), key=lambda s: s.encode("utf-8"))
        cdx_gz, idx = zipnum_index(lines)
        pages = [{"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}, *report.pages]
        pages_bytes = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pages).encode()
        members = [
            ("archive/data.warc.gz", warc_path.stat().st_size, _sha256_file(warc_path)),
            ("indexes/index.cdx.gz", len(cdx_gz), hashlib.sha256(cdx_gz).hexdigest()),
            ("indexes/index.idx", len(idx), hashlib.sha256(idx).hexdigest()),
            ("pages/pages.jsonl", len(pages_bytes), hashlib.sha256(pages_bytes).hexdigest()),
        ]
        now = datetime.now(UTC)
        package = {
            "profile": "data-package",
            "wacz_version": WACZ_VERSION,
            "title": title or "portal-archive export",
            "description": _markdown(description),
            "created": _rfc3339(now),
            "modified": _rfc3339(now),
            "software": f"portal-archive {package_version('portal-archive')}",
            "resources": [
                {"name": Path(path).name, "path": path, "hash": f"sha256:{digest}", "bytes": size}
                for path, size, digest in members
            ],
        }
        if report.pages:
            package["mainPageUrl"] = report.pages[0]["url"]
            package["mainPageDate"] = report.pages[0]["ts"]
        package_bytes = json.dumps(package, ensure_ascii=False, indent=2).encode("utf-8")
        digest = {
            "path": "datapackage.json",
            "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest(),
        }
        stamp = now.timetuple()[:6]
        with zipfile.ZipFile(out, "w", allowZip64=True) as z:
            # Already gzipped, and read by offset (HTTP range requests): stored as they are.
            member = zipfile.ZipInfo("archive/data.warc.gz", stamp)
            member.compress_type = zipfile.ZIP_STORED
            # Its size known up front: a ZIP64 header only when it needs one. ReplayWeb.page
            # 2.5 reads members at the offset the central directory implies, and found
            # nothing in a WACZ whose local header carried a ZIP64 field it did not need.
            member.file_size = warc_path.stat().st_size
            with warc_path.open("rb") as src, z.open(member, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            member = zipfile.ZipInfo("indexes/index.cdx.gz", stamp)
            member.compress_type = zipfile.ZIP_STORED
            z.writestr(member, cdx_gz)
            for name, data in (
                ("indexes/index.idx", idx),
                ("pages/pages.jsonl", pages_bytes),
                ("datapackage.json", package_bytes),
                ("datapackage-digest.json", json.dumps(digest, indent=2).encode("utf-8")),
            ):
                info = zipfile.ZipInfo(name, stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
    return report


#: CDXJ lines per gzip member of a ZipNum index (py-wacz's block size).
ZIPNUM_LINES = 3000


def zipnum_index(lines: list[str]) -> tuple[bytes, bytes]:
    """Sorted CDXJ ``lines`` as a ZipNum index: ``index.cdx.gz`` (a gzip member per
    :data:`ZIPNUM_LINES` lines) and ``index.idx`` (a ``!meta`` line, then per member its
    first key and timestamp with its offset, length and sha256)."""
    members: list[bytes] = []
    idx = ['!meta 0 {"format": "cdxj-gzip-1.0", "filename": "index.cdx.gz"}']
    offset = 0
    for i in range(0, len(lines), ZIPNUM_LINES):
        block = gzip.compress(
            "".join(x + "\n" for x in lines[i : i + ZIPNUM_LINES]).encode(), mtime=0
        )
        where = {"offset": offset, "length": len(block),
                 "digest": "sha256:" + hashlib.sha256(block).hexdigest()}  # fmt: skip
        idx.append(" ".join(lines[i].split(" ", 2)[:2]) + " " + json.dumps(where))
        members.append(block)
        offset += len(block)
    return b"".join(members), "".join(x + "\n" for x in idx).encode("utf-8")


def _describe(value: object) -> str:
    """One line for a description value: a unit filter by its label, key and note."""
    if isinstance(value, dict) and "label" in value:
        unit = value.get("unit") or {}
        note = f" — {value['note']}" if value.get("note") else ""
        return f"{value['label']} ({unit.get('key', '')}){note}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def _markdown(description: dict | None) -> str:
    """The export's description as Markdown (the WACZ ``description``)."""
    lines = ["Articles exported from portal-archive with the original captures of their pages "
             "and attachments."]  # fmt: skip
    for key, value in (description or {}).items():
        if value not in (None, "", [], {}):
            lines.append(f"- {key}: {_describe(value)}")
    return "\n".join(lines)
