"""A self-contained ZIP bundle of archived articles with their original attachment files.

Layout of the bundle::

    manifest.json       what was exported, counts, one entry per article and per file
    articles.jsonl      the JSON Lines export (archive.export), byte for byte
    articles.csv        the CSV export (archive.export), byte for byte
    text/<id>.txt       each article as plain text: title, date, portal, URL, lead and body
    files/<sha12>-<name>  each original file once, however many articles link it
    SHA256SUMS          ``sha256sum -c`` lines for every other member

The bundle streams: ``out`` may be a pipe (members then carry data descriptors), records are
read in batches, files are copied in chunks, and the JSONL, CSV, manifest and checksum
members are spooled to temporary files, so memory does not grow with the bodies or the file
sizes. It grows only with the number of members, a few hundred bytes each: the ZIP central
directory, written last, and the manifest's list of distinct files.

A stored file is read twice: once to check its sha256 before anything is written (a missing
or corrupt file is then recorded in the manifest, never included), and once to copy it,
hashed again; a file that changes between the two reads aborts the bundle with
:class:`BundleError`, since its bytes are already in the output.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import select

from archive.export import CSV_COLUMNS, csv_row, write_export
from archive.models import Document, Download
from archive.store import Archive, ArchiveError, ArticleRecord, utcnow

FORMAT = "portal-archive-bundle"
FORMAT_VERSION = 1

#: File types whose bytes are already compressed: deflating them again costs time for nothing.
STORED_TYPES = frozenset({"pdf", "docx", "xlsx", "odt", "zip", "jpg", "jpeg", "png"})
CHUNK = 1 << 20
#: How much of each spooled member (JSONL, CSV, manifest, checksums) stays in memory.
SPOOL_MEMORY = 256 * 1024
BATCH_RECORDS = 200
#: Attachment URLs per database query; SQLite builds before 3.32 allow 999 parameters.
BATCH_URLS = 900
#: Longest file name kept, in UTF-8 bytes (file systems allow 255 per path component).
MAX_NAME_BYTES = 150

_RESERVED = re.compile(r'[<>:"|?*]')  # not allowed in Windows file names
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}$")


class BundleError(ArchiveError):
    """The bundle could not be written faithfully (a stored file changed while being copied)."""


@dataclass
class BundleReport:
    articles: int = 0
    files: int = 0  # distinct original files included
    missing_files: int = 0  # distinct stored files missing or corrupt, left out
    bytes: int = 0  # size of the original files included


def safe_filename(name: str | None) -> str:
    """``name`` as a single harmless path component, or ``""`` when nothing usable is left.

    Keeps Vietnamese letters (NFC); drops directories, ``..``, control and format characters
    (a right-to-left override can disguise ``fdp.exe`` as ``exe.pdf``); replaces characters
    Windows refuses; caps the length in UTF-8 bytes, keeping the extension.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        " " if c.isspace() else c for c in name if c.isspace() or unicodedata.category(c)[0] != "C"
    )
    name = " ".join(_RESERVED.sub("_", name).split()).strip(" .")
    m = _SUFFIX.search(name)
    suffix = m.group(0) if m else ""
    stem = name[: len(name) - len(suffix)]
    room = MAX_NAME_BYTES - len(suffix.encode())
    if len(stem.encode()) > room:
        stem = stem.encode()[:room].decode("utf-8", "ignore").rstrip(" .")
    if not stem.strip("._- "):
        return ""
    return stem + suffix


def file_member(
    sha256: str, filename: str | None, file_type: str | None, *, prefix: int = 12
) -> str:
    """``files/<sha256[:12]>-<safe name>``, or ``files/<sha256[:12]>.<type>`` without a name."""
    ext = file_type if file_type and file_type != "unknown" else "bin"
    name = safe_filename(filename)
    if not name:
        return f"files/{sha256[:prefix]}.{ext}"
    if not _SUFFIX.search(name):
        name = f"{name}.{ext}"
    return f"files/{sha256[:prefix]}-{name}"


def article_text(record: ArticleRecord) -> str:
    """The plain-text member of an article: a short header, a blank line, lead and body."""
    portal = f"{record.unit} ({record.portal})" if record.unit else record.portal
    head = [record.title, record.published or "", portal, record.canonical_url or record.url]
    parts = [part for part in (record.lead, record.body) if part]
    return "\n".join(head) + "\n\n" + "\n\n".join(parts).rstrip() + "\n"


def write_bundle(
    archive: Archive,
    records: Iterable[ArticleRecord],
    out: IO[bytes],
    *,
    description: dict | None = None,
    progress: Callable[[int], None] | None = None,
) -> BundleReport:
    """Write ``records`` and the files they link as a ZIP bundle to the binary stream ``out``.

    ``out`` may be non-seekable (stdout into a pipe); it is not closed. ``description`` says
    what was exported (query, filters) and is copied into the manifest. ``progress`` is called
    with the number of articles written so far. Stored files that are missing or whose bytes
    do not match their sha256 are listed in the manifest with ``problem`` and counted in the
    report, never included.
    """
    bundle = _Bundle(archive, out)
    try:
        for batch in _batches(records):
            downloads = _downloads(archive, {a["url"] for r in batch for a in r.attachments})
            write_export(batch, bundle.jsonl, "jsonl")
            for record in batch:
                bundle.add_article(record, downloads)
                if progress and bundle.report.articles % 100 == 0:
                    progress(bundle.report.articles)
        bundle.finish(description or {})
    finally:
        bundle.close()
    if progress:
        progress(bundle.report.articles)
    return bundle.report


def _batches(records: Iterable[ArticleRecord]) -> Iterator[list[ArticleRecord]]:
    """Records in batches small enough for one attachment lookup each."""
    batch: list[ArticleRecord] = []
    urls = 0
    for record in records:
        if batch and urls + len(record.attachments) > BATCH_URLS:
            yield batch
            batch, urls = [], 0
        batch.append(record)
        urls += len(record.attachments)
        if len(batch) >= BATCH_RECORDS:
            yield batch
            batch, urls = [], 0
    if batch:
        yield batch


_LOOKUP = (
    Download.url,
    Download.status,
    Download.error,
    Download.sha256,
    Download.filename,
    Document.size,
    Document.file_type,
    Document.filename.label("document_filename"),
    Document.processed_at,
    Document.number,
    Document.number_source,
    Document.doc_kind,
    Document.doc_date,
    Document.issuer,
    Document.subject,
    Document.ocr,
)


def _downloads(archive: Archive, urls: set[str]) -> dict:
    """Attachment URL → its download and document row (without the document's text)."""
    found: dict = {}
    url_list = sorted(urls)
    with archive.session() as s:
        # One query per batch of records: _batches keeps a batch within BATCH_URLS, so this
        # loops more than once only for a single article linking more than that.
        for i in range(0, len(url_list), BATCH_URLS):
            chunk = url_list[i : i + BATCH_URLS]
            query = (
                select(*_LOOKUP)
                .outerjoin(Document, Document.sha256 == Download.sha256)
                .where(Download.url.in_(chunk))
            )
            found.update((row.url, row) for row in s.execute(query))
    return found


class _Bundle:
    """The open ZIP and what has been written to it so far."""

    def __init__(self, archive: Archive, out: IO[bytes]):
        self.store = archive.config.attachments_dir
        self.created = utcnow()
        self.stamp = self.created.timetuple()[:6]
        self.report = BundleReport()
        self.links = 0
        self.not_downloaded = 0
        self.files: dict[str, dict] = {}  # sha256 → the file's manifest entry
        self.file_members: set[str] = set()
        self.zf = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self.jsonl = self._spool()
        self.entries = self._spool()  # the manifest's article entries, one JSON per line
        self.sums = self._spool()
        self.csv_text = io.TextIOWrapper(self._spool(), encoding="utf-8-sig", newline="")
        # Exactly archive.export's CSV, written row by row as the batches arrive.
        self.csv = csv.writer(self.csv_text, dialect="excel")
        self.csv.writerow(CSV_COLUMNS)

    @staticmethod
    def _spool() -> tempfile.SpooledTemporaryFile:
        return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)

    def add_article(self, record: ArticleRecord, downloads: dict) -> None:
        # Ids are "<portal slug>-<hash>"; made safe all the same, since they name a path.
        stem = safe_filename(record.id) or hashlib.sha1(record.id.encode()).hexdigest()
        text_member = f"text/{stem}.txt"
        data = article_text(record).encode("utf-8")
        self._write(text_member, io.BytesIO(data), len(data), compress=True)
        entry = {
            "id": record.id,
            "title": record.title,
            "portal": record.portal,
            "unit": record.unit,
            "published": record.published,
            "url": record.url,
            "canonical_url": record.canonical_url,
            "topics": record.topics,
            "doc_refs": record.doc_refs,
            "version": record.version,
            "content_hash": record.content_hash,
            "text": text_member,
            "attachments": [
                self._attachment(a, downloads.get(a["url"])) for a in record.attachments
            ],
        }
        if self.report.articles:
            self.entries.write(b",\n")
        self.entries.write(_json(entry).encode("utf-8"))
        self.csv.writerow(csv_row(record))
        self.report.articles += 1

    def _attachment(self, link: dict, row) -> dict:
        self.links += 1
        entry = {"url": link["url"], "title": link.get("title", "")}
        if row is None or row.status != "downloaded" or row.sha256 is None:
            self.not_downloaded += 1
            entry["status"] = row.status if row is not None else "not_fetched"
            entry["error"] = row.error if row is not None else None
            return entry
        file = self._file(row)
        entry.update(
            status="downloaded",
            member=file["member"],
            sha256=row.sha256,
            size=row.size,
            file_type=row.file_type,
            filename=row.filename or row.document_filename,
        )
        if "problem" in file:
            entry["problem"] = file["problem"]
        if row.processed_at is not None:
            entry["document"] = {
                "number": row.number,
                "number_source": row.number_source,
                "doc_kind": row.doc_kind,
                "doc_date": row.doc_date.isoformat() if row.doc_date else None,
                "issuer": row.issuer,
                "subject": row.subject,
                "ocr": row.ocr,
            }
        return entry

    def _file(self, row) -> dict:
        """The manifest entry of the stored file ``row`` names, copying it the first time."""
        file = self.files.get(row.sha256)
        if file is not None:
            if row.url not in file["urls"]:
                file["urls"].append(row.url)
            return file
        filename = row.document_filename or row.filename
        file = {
            "member": None,
            "sha256": row.sha256,
            "size": row.size,
            "file_type": row.file_type,
            "filename": filename,
            "urls": [row.url],
        }
        self.files[row.sha256] = file
        path = self.store / row.sha256[:2] / row.sha256
        problem = _stored_problem(path, row.sha256, row.size)
        if problem:
            file["problem"] = problem
            self.report.missing_files += 1
            return file
        member = file_member(row.sha256, filename, row.file_type)
        if member in self.file_members:  # two contents sharing 48 bits of hash: spell it out
            member = file_member(row.sha256, filename, row.file_type, prefix=64)
        size = path.stat().st_size
        with path.open("rb") as fh:
            digest = self._write(member, fh, size, compress=row.file_type not in STORED_TYPES)
        if digest != row.sha256:
            raise BundleError(f"{path} changed while it was being bundled")
        file["member"] = member
        self.file_members.add(member)
        self.report.files += 1
        self.report.bytes += size
        return file

    def _write(self, name: str, src: IO[bytes], size: int, *, compress: bool) -> str:
        """Copy ``src`` into the member ``name`` in chunks; returns its sha256."""
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        info.file_size = size
        digest = hashlib.sha256()
        # ZIP64 headers only where a member may pass 4 GiB (deflate can grow data a little);
        # the size has to be decided before writing, since a pipe cannot be rewound.
        with self.zf.open(info, "w", force_zip64=size * 1.05 > zipfile.ZIP64_LIMIT) as dest:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dest.write(chunk)
        if name != "SHA256SUMS":
            self.sums.write(f"{digest.hexdigest()}  {name}\n".encode())
        return digest.hexdigest()

    def _write_spool(self, name: str, spool: IO[bytes]) -> None:
        size = spool.seek(0, io.SEEK_END)
        spool.seek(0)
        self._write(name, spool, size, compress=True)

    def finish(self, description: dict) -> None:
        self.csv_text.flush()
        self._write_spool("articles.jsonl", self.jsonl)
        self._write_spool("articles.csv", self.csv_text.buffer)
        manifest = self._spool()
        try:
            self._manifest(manifest, description)
            self._write_spool("manifest.json", manifest)
        finally:
            manifest.close()
        self._write_spool("SHA256SUMS", self.sums)

    def _manifest(self, dest: IO[bytes], description: dict) -> None:
        """One JSON object, written piecewise: the article entries come from their spool."""
        head = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "created_at": self.created.isoformat(timespec="seconds"),
            "generator": _generator(),
            "description": description,
            "counts": {
                "articles": self.report.articles,
                "attachments": self.links,
                "attachments_not_downloaded": self.not_downloaded,
                "files": self.report.files,
                "missing_files": self.report.missing_files,
                "file_bytes": self.report.bytes,
            },
        }
        dest.write(b"{\n")
        for key, value in head.items():
            dest.write(f"{json.dumps(key)}: {_json(value)},\n".encode())
        files = ",\n".join(_json(f) for f in self.files.values())
        dest.write(f'"files": [\n{files}\n],\n"articles": [\n'.encode())
        self.entries.seek(0)
        while chunk := self.entries.read(CHUNK):
            dest.write(chunk)
        dest.write(b"\n]\n}\n")

    def close(self) -> None:
        self.zf.close()
        self.csv_text.close()
        for spool in (self.jsonl, self.entries, self.sums):
            spool.close()


def _stored_problem(path: Path, sha256: str, size: int | None) -> str | None:
    """``"missing"``, ``"corrupt"`` (bytes do not hash to ``sha256``) or None when sound."""
    try:
        if size is not None and path.stat().st_size != size:
            return "corrupt"
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    except OSError:
        return "missing"
    return None if digest.hexdigest() == sha256 else "corrupt"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _generator() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"portal-archive {version('portal-archive')}"
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "portal-archive"
