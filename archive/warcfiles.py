"""The archive's WARC files: where they live, their names, their CDXJ index, the files a
killed crawl left open, and reading one record back.

Crawls write them (``scraper/warc.py``) into ``<data>/warc/``, one series per crawl of a
portal: ``<portal>-<YYYYmmddHHMMSS>-<serial>.warc.gz``, WARC 1.1, each record its own gzip
member. A file being written is named ``….warc.gz.open`` and renamed when it is closed, so a
name without ``.open`` is always a complete file. ``index.cdxj`` beside them is pywb's
CDXJ (SURT key, 14-digit timestamp, JSON with url, mime, status, digest, length, offset,
filename), sorted, one line per response and revisit record (but the revisits of 304s: see
:func:`indexed`), the same lines pywb's ``cdx-indexer -j`` writes for them (tested). See
docs/warc.md.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import heapq
import io
import json
import os
import re
import socket
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from archive.config import Config

WARC_DIRNAME = "warc"
OPEN_SUFFIX = ".open"
#: An open file written on another machine (workers sharing a data directory) whose writer
#: cannot be asked: taken as abandoned only once untouched for this long (seconds).
FOREIGN_STALE = 3600.0
INDEX_NAME = "index.cdxj"
#: A file name the archive may serve: plain, in the WARC directory, no path.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.w?arc(?:\.gz)?")
#: The largest gzip member (one record, compressed) read back: pages are capped at 20 MiB and
#: attachments at 50 MiB (DOWNLOAD_MAXSIZE, PORTAL_ARCHIVE_ATTACHMENT_MAXSIZE).
MAX_RECORD_BYTES = 128 * 1024 * 1024
_CHUNK = 1 << 16
#: Content types pywb's indexer reads only up to ";" or " ".
_MIME_END = re.compile(r"[; ]")


def warc_dir(config: Config) -> Path:
    return config.data_dir / WARC_DIRNAME


def file_name(slug: str, started: datetime, serial: int) -> str:
    """``<portal>-<YYYYmmddHHMMSS>-<serial>.warc.gz`` (UTC; the serial counts rotations)."""
    return f"{slug}-{started.astimezone(UTC):%Y%m%d%H%M%S}-{serial:05d}.warc.gz"


def warc_date(when: datetime) -> str:
    """WARC-Date of a time: UTC, microseconds (WARC 1.1 allows fractions of a second)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_warc_date(value: str) -> datetime:
    """A WARC-Date (or an ARC 14-digit date) as an aware UTC datetime."""
    value = value.strip()
    if value.isdigit():
        return datetime.strptime(value[:14].ljust(14, "0"), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def url_key(url: str) -> str:
    """The SURT key pywb sorts and looks up by (``surt.surt``, as pywb's canonicalize)."""
    import surt

    try:
        return surt.surt(url)
    except Exception:  # noqa: BLE001 - a URL surt cannot read is still indexed, as itself
        return url


def mime_of(content_type: str | None) -> str:
    return _MIME_END.split(content_type, 1)[0] if content_type else "unk"


def cdxj_line(
    *,
    url: str,
    when: datetime,
    rec_type: str,
    content_type: str | None,
    status: int | None,
    digest: str | None,
    length: int,
    offset: int,
    filename: str,
) -> str:
    """One line of pywb's CDXJ for a response or revisit record (no trailing newline)."""
    fields: dict[str, str] = {"url": url}
    fields["mime"] = "warc/revisit" if rec_type == "revisit" else mime_of(content_type)
    if rec_type == "response" and status:  # pywb writes a status for responses only
        fields["status"] = str(status)
    if digest:
        fields["digest"] = digest.removeprefix("sha1:")
    fields.update(length=str(length), offset=str(offset), filename=filename)
    stamp = when.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    return f"{url_key(url)} {stamp} {json.dumps(fields)}"


def indexed(rec_type: str, profile: str | None) -> bool:
    """Whether a record gets a line in the index: responses and revisits, except revisits
    of a ``304 Not Modified``. pywb replays those as the 304 they were (its revisit replay
    takes the revisit's status line and headers), which a browser cannot show; and they say
    nothing the last full capture does not (archives filter them out for that reason:
    ukwa/ukwa-pywb#40). They stay in the WARC files; pywb's ``cdx-indexer`` would list them.
    """
    if rec_type == "revisit":
        return not (profile or "").endswith("/server-not-modified")
    return rec_type == "response"


def _sort_key(line: str) -> bytes:
    return line.encode("utf-8")  # pywb binary-searches bytes (LC_ALL=C sort)


def index_file(path: Path, filename: str | None = None) -> list[str]:
    """CDXJ lines of the records of one WARC file :func:`indexed` lists, unsorted."""
    from warcio.archiveiterator import ArchiveIterator

    filename = filename or path.name
    lines = []
    with path.open("rb") as fh:
        records = ArchiveIterator(fh)
        for record in records:
            if not indexed(record.rec_type, record.rec_headers.get_header("WARC-Profile")):
                continue
            record.content_stream().read()  # to the end, so that the length is known
            http = record.http_headers
            status = http.get_statuscode() if http is not None else None
            lines.append(
                cdxj_line(
                    url=record.rec_headers.get_header("WARC-Target-URI"),
                    when=parse_warc_date(record.rec_headers.get_header("WARC-Date")),
                    rec_type=record.rec_type,
                    content_type=http.get_header("Content-Type") if http is not None else None,
                    status=int(status) if status and status.isdigit() else None,
                    digest=record.rec_headers.get_header("WARC-Payload-Digest"),
                    length=records.get_record_length(),
                    offset=records.get_record_offset(),
                    filename=filename,
                )
            )
    return lines


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """The index is rewritten by crawls of other portals too (other processes)."""
    with (directory / f"{INDEX_NAME}.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def add_to_index(directory: Path, lines: Iterable[str]) -> None:
    """Merge ``lines`` into ``<directory>/index.cdxj``, which stays sorted (written to a
    temporary file and renamed: a reader never sees half an index)."""
    new = sorted(lines, key=_sort_key)
    if not new:
        return
    directory.mkdir(parents=True, exist_ok=True)
    index = directory / INDEX_NAME
    with _locked(directory):
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".index.", suffix=".tmp")
        os.fchmod(fd, 0o644)  # as the WARC files (mkstemp makes it private)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
                old = index.open(encoding="utf-8") if index.exists() else io.StringIO()
                with old:
                    existing = (line.rstrip("\n") for line in old)
                    for line in heapq.merge(existing, new, key=_sort_key):
                        if line:
                            out.write(line + "\n")
            os.replace(tmp, index)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def rebuild_index(directory: Path) -> int:
    """Index every closed WARC file of ``directory`` again, from scratch; returns lines."""
    lines: list[str] = []
    for path in sorted(directory.glob("*.warc.gz")):
        lines += index_file(path)
    with contextlib.suppress(FileNotFoundError):
        (directory / INDEX_NAME).unlink()
    add_to_index(directory, lines)
    return len(lines)


# --- gzip members ----------------------------------------------------------------------------


def member_length(fh, offset: int, *, limit: int = MAX_RECORD_BYTES) -> int | None:
    """Bytes of the complete gzip member starting at ``offset``; None when it is truncated
    or not gzip."""
    fh.seek(offset)
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    consumed = 0
    while not inflater.eof:
        chunk = fh.read(_CHUNK)
        if not chunk:
            return None
        try:
            inflater.decompress(chunk, 0)
        except zlib.error:
            return None
        consumed += len(chunk)
        if consumed - len(inflater.unused_data) > limit:
            return None
    return consumed - len(inflater.unused_data)


def complete_prefix(path: Path) -> tuple[int, int]:
    """``(bytes, members)`` of the complete gzip members a file starts with: what is left of
    a file whose writer was killed, its last record perhaps cut short."""
    end = members = 0
    size = path.stat().st_size
    with path.open("rb") as fh:
        while end < size:
            length = member_length(fh, end, limit=size)
            if length is None:
                break
            end += length
            members += 1
    return end, members


# --- files a killed crawl left open ------------------------------------------------------------


def _writer_of(path: Path) -> tuple[str | None, int | None]:
    """(hostname, pid) of the process that wrote an open file (its warcinfo record)."""
    with path.open("rb") as fh:
        length = member_length(fh, 0, limit=1 << 20)
        if length is None:
            return None, None
        fh.seek(0)
        info = zlib.decompress(fh.read(length), zlib.MAX_WBITS | 16)
    host = re.search(rb"\r\nhostname: ([^\r\n]+)", info)
    pid = re.search(rb"\r\npid: (\d+)", info)
    return (
        host.group(1).decode("utf-8", "replace") if host else None,
        int(pid.group(1)) if pid else None,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def abandoned_open_files(directory: Path, slug: str | None = None) -> list[Path]:
    """The ``*.warc.gz.open`` files (of portal ``slug``, or all) whose writer is gone (a
    crawl killed mid-file): :func:`recover_open_files` closes them."""
    if not directory.is_dir():
        return []
    pattern = f"{slug}-*.warc.gz{OPEN_SUFFIX}" if slug else f"*.warc.gz{OPEN_SUFFIX}"
    here = socket.gethostname()
    out = []
    for path in sorted(directory.glob(pattern)):
        host, pid = _writer_of(path)
        if host == here and pid is not None and pid != os.getpid() and _alive(pid):
            continue
        if host not in (here, None) and time.time() - path.stat().st_mtime < FOREIGN_STALE:
            continue  # another machine's crawl (a shared data directory): alive, as far as we know
        out.append(path)
    return out


def recover_open_files(directory: Path, slug: str | None = None) -> list[Path]:
    """Close the ``*.warc.gz.open`` files (of portal ``slug``, or all) whose writer is gone:
    cut each after its last complete record, rename it, add it to the index. A file whose
    writer still runs (same host, live pid) is left alone. Returns the closed files.

    Each record is written as one gzip member and flushed, so a SIGKILL loses at most the
    record being written; every pointer the database holds was written after its record.
    """
    closed = []
    for path in abandoned_open_files(directory, slug):
        end, members = complete_prefix(path)
        final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
        if members == 0:
            path.unlink()  # not even its warcinfo record: nothing was archived in it
            continue
        with path.open("r+b") as fh:
            fh.truncate(end)
        os.replace(path, final)
        add_to_index(directory, index_file(final))
        closed.append(final)
    return closed


# --- reading one record back ---------------------------------------------------------------


@dataclass
class WarcCapture:
    """One record of the archive's WARC files: ``data`` is its gzip member, a valid
    one-record ``.warc.gz`` on its own (serve it as ``application/warc``)."""

    filename: str
    offset: int
    data: bytes
    rec_type: str
    target_uri: str | None
    date: str | None
    status: int | None
    content_type: str | None

    @property
    def download_name(self) -> str:
        return f"{self.filename.removesuffix('.warc.gz')}-{self.offset}.warc.gz"


class WarcRecordError(ValueError):
    """No such record: a bad name, a bad offset, or no record starts there."""


def warc_record(config: Config, file: str, offset: int) -> WarcCapture:
    """The record of ``<data>/warc/<file>`` starting at byte ``offset``, as the web app's
    capture link returns it. Only plain names of the WARC directory are read (an open file
    too, while its crawl runs), and only where a gzip member holding a WARC record starts."""
    from warcio.archiveiterator import ArchiveIterator

    if not SAFE_NAME.fullmatch(file) or not isinstance(offset, int) or offset < 0:
        raise WarcRecordError(f"no WARC record {file!r} at {offset!r}")
    directory = warc_dir(config)
    path = directory / file
    if not path.is_file():
        path = directory / (file + OPEN_SUFFIX)
    if not path.is_file() or offset >= path.stat().st_size:
        raise WarcRecordError(f"no WARC record {file!r} at {offset}")
    with path.open("rb") as fh:
        length = member_length(fh, offset)
        if length is None:
            raise WarcRecordError(f"no complete gzip member in {file} at {offset}")
        fh.seek(offset)
        data = fh.read(length)
    head = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(data, 16)
    if not head.startswith(b"WARC/"):
        raise WarcRecordError(f"no WARC record in {file} at {offset}")
    record = next(iter(ArchiveIterator(io.BytesIO(data))))
    http = record.http_headers
    status = http.get_statuscode() if http is not None else None
    return WarcCapture(
        filename=file,
        offset=offset,
        data=data,
        rec_type=record.rec_type,
        target_uri=record.rec_headers.get_header("WARC-Target-URI"),
        date=record.rec_headers.get_header("WARC-Date"),
        status=int(status) if status and status.isdigit() else None,
        content_type=http.get_header("Content-Type") if http is not None else None,
    )
