"""WARC capture of every HTTP exchange a crawl makes, and extraction of archived captures.

:class:`WarcCaptureMiddleware` sits right next to the downloader (order 950, after every
built-in downloader middleware), so it sees each request as sent, with the headers the other
middlewares added (User-Agent, Accept-Encoding, cookies, validators), and each response as
received: still content-encoded (HttpCompressionMiddleware, 590, decodes it later), before
redirects (600) and retries (550) act on it. So every exchange is written, 3xx and retried
5xx included, pages, robots.txt and attachments alike, as a ``response`` record (or a
``revisit``) followed by its ``request`` record (``WARC-Concurrent-To`` the response).

Twisted hands Scrapy the body with the chunked transfer coding removed: such a response is
recorded without its ``Transfer-Encoding`` header and with the ``Content-Length`` of the
body, so that replay tools read it as received. ``Proxy-Authorization`` and
``Authorization`` are left out of request records (credentials). A response served from
Scrapy's HTTP cache is not a capture and is not written.

A ``200`` whose payload digest equals that of the URL's last full response record (this
crawl's or an earlier one's, from the archive) is written as a ``revisit`` record
(identical-payload-digest profile: HTTP headers, no payload); a ``304`` answering a
conditional re-check as a ``revisit`` with the server-not-modified profile. Files:
:class:`WarcFileWriter`, see :mod:`archive.warcfiles` and docs/warc.md.

:class:`CaptureExtractor` runs the crawl's own spider code on an archived capture (URL,
status, headers, body) and returns the items the crawl would have stored: the extraction
``portal-archive import-warc`` uses.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Headers, Response

from archive.config import Config
from archive.warcfiles import (
    OPEN_SUFFIX,
    add_to_index,
    cdxj_line,
    file_name,
    indexed,
    recover_open_files,
    warc_date,
    warc_dir,
)

logger = logging.getLogger(__name__)

#: Request meta: when the request went to the downloader (the capture's WARC-Date).
SENT_AT = "warc_sent_at"
#: Request meta: the record written for the response (see :meth:`WarcCaptureMiddleware.capture`).
WARC_META = "warc"
DEFAULT_MAX_BYTES = 1024**3
PROFILE_IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
PROFILE_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
#: Request headers never written (credentials of a proxy or a site).
SECRET_HEADERS = frozenset({"proxy-authorization", "authorization"})
#: gzip level of each record (zlib's default). warcio's own writer uses 9; on the sample
#: portals' HTML both give 33.3% at 22-26 MB/s (measured 2026-12-06), so either would do.
GZIP_LEVEL = 6


def payload_digest(body: bytes) -> str:
    """The WARC/CDX payload digest: ``sha1:`` + base32 of the SHA-1."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


@dataclass(frozen=True)
class WarcRef:
    """Where one record is: file name (in the WARC directory), offset, length."""

    file: str
    offset: int
    length: int


@dataclass(frozen=True)
class Prior:
    """The last full response record of a URL: what a revisit refers to."""

    digest: str
    date: datetime
    ref: WarcRef | None
    uri: str


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def header_pairs(headers: Headers) -> list[tuple[str, str]]:
    return [(_text(name), _text(v)) for name, values in headers.items() for v in values]


def response_http_headers(response: Response):
    """The status line and headers of a response as received, for a WARC record."""
    from warcio.statusandheaders import StatusAndHeaders

    pairs = header_pairs(response.headers)
    if any(n.lower() == "transfer-encoding" for n, _ in pairs):
        # Twisted removed the chunked coding: record what the body now is.
        pairs = [
            (n, v) for n, v in pairs if n.lower() not in ("transfer-encoding", "content-length")
        ]
        pairs.append(("Content-Length", str(len(response.body))))
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = ""
    statusline = f"{response.status} {phrase}".strip()
    return StatusAndHeaders(statusline, pairs, protocol=response.protocol or "HTTP/1.1")


def request_http_headers(request: Request, protocol: str | None):
    from warcio.statusandheaders import StatusAndHeaders

    parts = urlsplit(request.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pairs = [(n, v) for n, v in header_pairs(request.headers) if n.lower() not in SECRET_HEADERS]
    if not any(n.lower() == "host" for n, _ in pairs):
        pairs.insert(0, ("Host", parts.netloc))  # the download handler adds it on the wire
    return StatusAndHeaders(
        f"{request.method} {target} {protocol or 'HTTP/1.1'}", pairs, is_http_request=True
    )


class WarcFileWriter:
    """Writes one crawl of one portal into WARC 1.1 files, gzip per record, rotated at
    ``max_bytes``: ``<portal>-<YYYYmmddHHMMSS>-<serial>.warc.gz`` in ``directory``, each
    starting with a ``warcinfo`` record (``info``, plus this process's hostname and pid, by
    which a later crawl tells an abandoned open file from one still being written).

    A file is ``….warc.gz.open`` until :meth:`close` (or a rotation) renames it and merges
    its CDXJ lines into ``index.cdxj``. Each record is flushed as written: a killed crawl
    leaves complete records, and at most a cut last one (see
    :func:`archive.warcfiles.recover_open_files`).
    """

    def __init__(
        self,
        directory: Path,
        slug: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        info: dict[str, str] | None = None,
        started: datetime | None = None,
    ):
        from warcio.warcwriter import WARCWriter

        self.directory = directory
        self.slug = slug
        self.max_bytes = max_bytes
        self.info = dict(info or {})
        self.started = started or datetime.now(UTC)
        self.serial = -1
        self.name: str | None = None
        self.fh = None
        self.size = 0
        self.lines: list[str] = []
        self.warcinfo_id: str | None = None
        self.files: list[str] = []
        self.bytes_written = 0
        self._buffer = BytesIO()
        self._warcio = WARCWriter(self._buffer, gzip=False, warc_version="1.1")

    # --- files -------------------------------------------------------------------------

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        while True:
            self.serial += 1
            name = file_name(self.slug, self.started, self.serial)
            final = self.directory / name
            if final.exists() or final.with_name(name + OPEN_SUFFIX).exists():
                continue
            try:
                self.fh = final.with_name(name + OPEN_SUFFIX).open("xb")
            except FileExistsError:
                continue
            break
        self.name, self.size, self.lines = name, 0, []
        info = {
            "software": "portal-archive",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
            "warc-format/warc-1.1/",
            "isPartOf": self.slug,
            **self.info,
            "hostname": socket.gethostname(),
            "pid": str(os.getpid()),
        }
        record = self._warcio.create_warcinfo_record(name, info)
        self.warcinfo_id = record.rec_headers.get_header("WARC-Record-ID")
        self._write(record)

    def _close_file(self) -> None:
        if self.fh is None:
            return
        self.fh.close()
        self.fh = None
        final = self.directory / self.name
        os.replace(final.with_name(self.name + OPEN_SUFFIX), final)
        add_to_index(self.directory, self.lines)
        self.files.append(self.name)
        self.lines = []

    def close(self) -> None:
        """Close the current file: renamed to its final name, indexed."""
        self._close_file()

    def _write(self, record) -> WarcRef:
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        self._warcio.write_record(record)
        deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        member = deflate.compress(buffer.getbuffer()) + deflate.flush()
        offset = self.size
        self.fh.write(member)
        self.fh.flush()
        self.size += len(member)
        self.bytes_written += len(member)
        return WarcRef(self.name, offset, len(member))

    def _index(self, record, ref: WarcRef, when: datetime, status: int | None) -> None:
        if not indexed(record.rec_type, record.rec_headers.get_header("WARC-Profile")):
            return
        http = record.http_headers
        self.lines.append(
            cdxj_line(
                url=record.rec_headers.get_header("WARC-Target-URI"),
                when=when,
                rec_type=record.rec_type,
                content_type=http.get_header("Content-Type") if http is not None else None,
                status=status,
                digest=record.rec_headers.get_header("WARC-Payload-Digest"),
                length=ref.length,
                offset=ref.offset,
                filename=ref.file,
            )
        )

    # --- records -----------------------------------------------------------------------

    def write_exchange(
        self,
        *,
        url: str,
        when: datetime,
        response_headers,
        body: bytes,
        request_headers,
        request_body: bytes = b"",
        digest: str | None = None,
        revisit_of: Prior | None = None,
        not_modified: bool = False,
        ip_address: str | None = None,
        truncated: str | None = None,
        warc_headers: dict[str, str] | None = None,
    ) -> WarcRef:
        """Write a response (or revisit) record and its request record; the response's
        place is returned. ``revisit_of``: the earlier record with the same payload (an
        identical-payload-digest revisit); ``not_modified``: a 304 (server-not-modified
        revisit, referring to ``revisit_of`` when known); ``warc_headers``: more WARC
        headers for both records (e.g. ``WARC-Source-URI`` of a capture taken from a web
        archive, scraper/wayback.py)."""
        if self.fh is None or self.size >= self.max_bytes:
            self._close_file()
            self._open()
        from warcio.statusandheaders import StatusAndHeadersParser

        make_warc_id = StatusAndHeadersParser.make_warc_id
        date = warc_date(when)
        w = self._warcio
        extra = {
            "WARC-Type": "",  # the conventional order: type, id, URI, date (filled by warcio)
            "WARC-Record-ID": make_warc_id(),
            "WARC-Target-URI": url,
            "WARC-Date": date,
            "WARC-Warcinfo-ID": self.warcinfo_id,
        }
        if ip_address:
            extra["WARC-IP-Address"] = ip_address
        extra.update(warc_headers or {})
        request_extra = dict(extra)
        if not_modified or revisit_of is not None:
            record = w.create_warc_record(
                url, "revisit", http_headers=response_headers, warc_headers_dict=extra
            )
            headers = record.rec_headers
            headers.add_header(
                "WARC-Profile", PROFILE_NOT_MODIFIED if not_modified else PROFILE_IDENTICAL
            )
            if revisit_of is not None:
                headers.add_header("WARC-Refers-To-Target-URI", revisit_of.uri)
                headers.add_header("WARC-Refers-To-Date", warc_date(revisit_of.date))
                headers.add_header("WARC-Payload-Digest", revisit_of.digest)
        else:
            extra["WARC-Payload-Digest"] = digest or payload_digest(body)
            if truncated:
                extra["WARC-Truncated"] = truncated
            record = w.create_warc_record(
                url,
                "response",
                payload=BytesIO(body),
                length=len(body),
                http_headers=response_headers,
                warc_headers_dict=extra,
            )
        ref = self._write(record)
        status = response_headers.get_statuscode()
        self._index(record, ref, when, int(status) if status.isdigit() else None)
        request = w.create_warc_record(
            url,
            "request",
            payload=BytesIO(request_body),
            length=len(request_body),
            http_headers=request_headers,
            warc_headers_dict={
                **request_extra,
                "WARC-Record-ID": make_warc_id(),
                "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        self._write(request)
        return ref


def _archive_enabled(settings) -> bool:
    from scraper.incremental import _archive_pipeline_enabled

    return _archive_pipeline_enabled(settings)


class WarcCaptureMiddleware:
    """Writes every exchange of a crawl to WARC (see the module docstring).

    Settings: ``PORTAL_ARCHIVE_WARC`` (True; False switches it off),
    ``PORTAL_ARCHIVE_WARC_MAX_BYTES`` (1 GiB; a file is rotated once it reaches this),
    ``PORTAL_ARCHIVE_WARC_REVISITS`` (True; False writes every payload in full). Stats:
    ``warc/responses``, ``warc/revisits``, ``warc/not_modified``, ``warc/bytes``,
    ``warc/files``, ``warc/errors``.

    Sets ``request.meta["warc"]`` for the archive and attachments pipelines: ``file``,
    ``offset``, ``length``, ``type`` (``response`` or ``revisit``), ``digest``, ``date``
    (the WARC-Date, also the fetch record's time) and ``content``: the :class:`WarcRef` of
    the response record that holds the payload (for a revisit, the one it refers to).
    """

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.config = Config.resolve(
            settings.get("PORTAL_ARCHIVE_DATA_DIR"), settings.get("PORTAL_ARCHIVE_DB")
        )
        self.directory = warc_dir(self.config)
        self.max_bytes = settings.getint("PORTAL_ARCHIVE_WARC_MAX_BYTES", DEFAULT_MAX_BYTES)
        self.revisits = settings.getbool("PORTAL_ARCHIVE_WARC_REVISITS", True)
        self.user_agent = settings.get("USER_AGENT") or ""
        self.writer: WarcFileWriter | None = None
        self.last: dict[str, Prior] = {}
        self.failed = False
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        if not crawler.settings.getbool("PORTAL_ARCHIVE_WARC", True):
            raise NotConfigured
        return cls(crawler)

    def spider_opened(self, spider) -> None:
        from importlib.metadata import version

        entry = getattr(spider, "entry", None)
        slug = entry.slug if entry is not None else spider.name
        closed = recover_open_files(self.directory, slug)
        for path in closed:
            logger.warning("closed %s, left open by a crawl that did not finish", path.name)
        if self.revisits and _archive_enabled(self.crawler.settings):
            from scraper.pipelines import open_archive

            archive = open_archive(self.crawler.settings)
            try:
                for url, (digest, when, file, offset, length) in archive.warc_last_responses(
                    slug
                ).items():
                    self.last[url] = Prior(digest, when, WarcRef(file, offset, length), url)
            finally:
                archive.close()
        info = {
            "software": f"portal-archive {version('portal-archive')} (Scrapy "
            f"{version('scrapy')}, warcio {version('warcio')})",
            "robots": "obey" if self.crawler.settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            "http-header-user-agent": self.user_agent,
            "description": f"crawl of {getattr(entry, 'base_url', spider.name)}",
        }
        if os.environ.get("PORTAL_ARCHIVE_CONTACT"):
            info["operator"] = os.environ["PORTAL_ARCHIVE_CONTACT"]
        self.writer = WarcFileWriter(self.directory, slug, max_bytes=self.max_bytes, info=info)

    def spider_closed(self, spider, reason: str = "finished") -> None:
        if self.writer is None:
            return
        try:
            self.writer.close()
        finally:
            self.stats.set_value("warc/files", len(self.writer.files))
            self.stats.set_value("warc/bytes", self.writer.bytes_written)

    def process_request(self, request: Request, spider=None) -> None:
        request.meta[SENT_AT] = datetime.now(UTC)

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        if self.writer is None or "cached" in response.flags:
            return response
        try:
            request.meta[WARC_META] = self.capture(request, response)
        except Exception:  # the crawl goes on: the raw store still has every body
            self.stats.inc_value("warc/errors")
            if not self.failed:
                logger.exception("could not write %s to WARC", response.url)
                self.failed = True
        return response

    def capture(self, request: Request, response: Response) -> dict:
        """Write one exchange; return what ``request.meta["warc"]`` gets."""
        when = request.meta.get(SENT_AT) or datetime.now(UTC)
        url = response.url
        body = response.body
        prior = self.last.get(url)
        digest = payload_digest(body)
        not_modified = response.status == 304
        revisit = not_modified or (
            self.revisits
            and response.status == 200
            and prior is not None
            and prior.digest == digest
        )
        ref = self.writer.write_exchange(
            url=url,
            when=when,
            response_headers=response_http_headers(response),
            body=body,
            request_headers=request_http_headers(request, response.protocol),
            request_body=request.body,
            digest=digest,
            revisit_of=prior if revisit else None,
            not_modified=not_modified,
            ip_address=str(response.ip_address) if response.ip_address else None,
            truncated="disconnect" if "dataloss" in response.flags else None,
        )
        if not_modified:
            self.stats.inc_value("warc/not_modified")
        if revisit:
            self.stats.inc_value("warc/revisits")
            content = prior.ref if prior is not None else None
            digest = prior.digest if prior is not None else None
        else:
            self.stats.inc_value("warc/responses")
            content = ref
            if response.status == 200:
                self.last[url] = Prior(digest, when, ref, url)
        return {
            "file": ref.file,
            "offset": ref.offset,
            "length": ref.length,
            "type": "revisit" if revisit else "response",
            "digest": digest,
            "date": when,
            "content": content,
        }


# --- archived captures through the crawl's extraction ---------------------------------------


class _Stats:
    """The few stats calls the spider's callbacks make, counted."""

    def __init__(self):
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] = self.values.get(key, start) + count

    def get_value(self, key: str, default=None):
        return self.values.get(key, default)

    def set_value(self, key: str, value) -> None:
        self.values[key] = value


class CaptureExtractor:
    """The crawl's spider, run on archived responses instead of live ones.

    ``items(url, status, headers, body, fetched_at)`` returns the article items
    :class:`~scraper.spiders.portal.PortalSpider` yields for that response (at most one),
    unvalidated, as the archive pipeline receives them; links it would follow are ignored.
    A page reached by an alias of its article (a print view, a tracking link) gives none:
    the crawl would have fetched the canonical URL instead (``stats["dupes/alias_followed"]``).
    """

    def __init__(
        self, *, portal: str | None = None, url: str | None = None, portals_dir: str | None = None
    ):
        from types import SimpleNamespace

        from scraper.spiders.portal import PortalSpider

        self.stats = _Stats()
        self.spider = PortalSpider(portal=portal, url=url, portals_dir=portals_dir)
        self.spider.crawler = SimpleNamespace(stats=self.stats)
        self.entry = self.spider.entry

    def items(
        self,
        url: str,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        fetched_at: datetime,
    ) -> list[dict]:
        from scrapy.responsetypes import responsetypes

        scrapy_headers = Headers()
        for name, value in headers:
            scrapy_headers.appendlist(name, value)
        cls = responsetypes.from_args(headers=scrapy_headers, url=url, body=body)
        response = cls(url, status=status, headers=scrapy_headers, body=body, request=Request(url))
        spider = self.spider
        # Each capture stands alone (an import may hold several of one URL): fresh sets.
        spider.seen_canonical = type(spider.seen_canonical)()
        spider.requested = type(spider.requested)()
        out = []
        for result in spider.parse(response) or ():
            if isinstance(result, dict):
                out.append({**result, "fetched_at": fetched_at})
        return out

    def attachment(self, url: str, headers: list[tuple[str, str]], body: bytes) -> dict:
        """What the attachments pipeline records of a downloaded file: ``filename``,
        ``file_type`` and ``error`` (an HTML page where a file was linked)."""
        from scraper.attachments import _may_be_html, original_filename, sniff_type

        scrapy_headers = Headers()
        for name, value in headers:
            scrapy_headers.appendlist(name, value)
        filename = original_filename(Response(url, headers=scrapy_headers))
        file_type = sniff_type(body, filename)
        error = None
        if file_type == "html" and not _may_be_html(filename, url):
            error = f"an HTML page instead of the linked file ({filename})"
        return {"filename": filename, "file_type": file_type, "error": error}
