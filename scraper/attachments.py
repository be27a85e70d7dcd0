"""Attachment downloads through Scrapy's FilesPipeline, into a content-addressed store.

Every attachment an article links is fetched once, however many articles link it: a URL
already downloaded (this crawl or an earlier one, per the archive's ``downloads`` table) is
not fetched again, and identical content from two URLs is stored once under its sha256
(``<data>/attachments/ab/<sha256>``). The original file name, URL, HTTP headers and fetch
time are recorded, the real type is sniffed from the bytes, the size is capped
(``PORTAL_ARCHIVE_ATTACHMENT_MAXSIZE``) and failures are recorded too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.files import FilesPipeline

from archive.config import Config
from archive.store import Archive
from scraper.distributed import shared_run
from scraper.warc import WARC_META

logger = logging.getLogger(__name__)

DEFAULT_MAXSIZE = 50 * 1024 * 1024
#: Request meta: this download's failure is recorded already (see ``media_failed``).
FAILURE_RECORDED = "attachment_failure_recorded"
_DISPOSITION_STAR = re.compile(r"filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)")
_DISPOSITION = re.compile(r'filename\s*=\s*"?([^";]+)"?')


def original_filename(response: Response) -> str:
    """The name the server gave the file (Content-Disposition), else the URL's last part."""
    disposition = response.headers.get("Content-Disposition", b"").decode("latin-1")
    m = _DISPOSITION_STAR.search(disposition)
    if m:
        return unquote(m.group(1).strip())
    m = _DISPOSITION.search(disposition)
    if m:
        raw = m.group(1).strip()
        try:  # servers often send UTF-8 bytes in the plain parameter
            return raw.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return raw
    return unquote(PurePosixPath(urlsplit(response.url).path).name) or "file"


#: Extensions under which an HTML file is a real attachment (Word saves "web pages" as .doc).
HTML_EXTENSIONS = frozenset({"doc", "htm", "html", "xhtml", "mht", "mhtml"})


def _may_be_html(filename: str | None, url: str) -> bool:
    names = (filename or "", unquote(urlsplit(url).path))
    return any(PurePosixPath(n).suffix.lower().lstrip(".") in HTML_EXTENSIONS for n in names)


def _warc_content(response: Response, request: Request):
    """The WARC record holding the file (:mod:`scraper.warc`), from the meta of the request
    that got the response (after a redirect, not the request the pipeline made)."""
    try:
        meta = response.meta
    except AttributeError:  # a response with no request
        meta = request.meta
    return (meta.get(WARC_META) or {}).get("content")


def sniff_type(data: bytes, filename: str | None = None) -> str:
    from archive.doctext import sniff

    return sniff(data, filename)


class AttachmentsPipeline(FilesPipeline):
    """Downloads ``item["attachments"][*]["url"]`` (runs before the archive pipeline)."""

    def __init__(self, store_uri: str, *, crawler: Crawler):
        super().__init__(store_uri, crawler=crawler)
        settings = crawler.settings
        self.maxsize = settings.getint("PORTAL_ARCHIVE_ATTACHMENT_MAXSIZE", DEFAULT_MAXSIZE)
        self.archive = Archive(
            Config.resolve(
                settings.get("PORTAL_ARCHIVE_DATA_DIR"), settings.get("PORTAL_ARCHIVE_DB")
            )
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AttachmentsPipeline:
        settings = crawler.settings
        config = Config.resolve(
            settings.get("PORTAL_ARCHIVE_DATA_DIR"), settings.get("PORTAL_ARCHIVE_DB")
        ).ensure()
        cls._update_stores(settings)
        return cls(str(config.attachments_dir), crawler=crawler)

    def close_spider(self, spider=None) -> None:
        self.archive.close()

    def _run_id(self) -> int | None:
        return self.crawler.stats.get_value("archive/run_id")

    def get_media_requests(self, item, info) -> list[Request]:
        return [
            Request(a["url"], callback=NO_CALLBACK, meta={"download_maxsize": self.maxsize})
            for a in item.get("attachments") or []
        ]

    def media_to_download(self, request: Request, info, *, item=None):
        known = self.archive.known_download(request.url)
        if known is None:
            run = shared_run(self.crawler)
            if run is not None and not run.claim_attachment(request.url):
                # Another worker of this distributed crawl fetches it (two of its articles
                # link the same file): it records the download.
                self.inc_stats("peer")
                return {"url": request.url, "path": None, "checksum": None, "status": "peer"}
            return None  # not fetched before: download it
        self.inc_stats("uptodate")
        return {
            "url": request.url,
            "path": self._path(known.sha256),
            "checksum": known.sha256,
            "status": "uptodate",
        }

    def media_failed(self, failure, request: Request, info):
        # Scrapy >= 2.14 also calls this for the exception media_downloaded raises after an
        # HTTP error, which is recorded there already: recording it again here replaced
        # "HTTP 503" by "download-error" and counted the failure twice.
        if not request.meta.get(FAILURE_RECORDED):
            self.crawler.stats.inc_value("attachments/failed")
            self.archive.record_download(
                request.url,
                sha256=None,
                status="failed",
                error=str(failure.value)[:500],
                run_id=self._run_id(),
            )
        return super().media_failed(failure, request, info)

    async def media_downloaded(self, response: Response, request: Request, info, *, item=None):
        if response.status != 200 or not response.body:
            request.meta[FAILURE_RECORDED] = True
            self.crawler.stats.inc_value("attachments/failed")
            self.archive.record_download(
                request.url,
                sha256=None,
                status="failed",
                http_status=response.status,
                error="empty file" if response.status == 200 else f"HTTP {response.status}",
                run_id=self._run_id(),
            )
        return await super().media_downloaded(response, request, info, item=item)

    @staticmethod
    def _path(sha256: str) -> str:
        return f"{sha256[:2]}/{sha256}"

    def file_path(
        self, request: Request, response: Response | None = None, info=None, *, item=None
    ) -> str:
        if response is None:  # only asked before a download, which media_to_download decides
            return f"pending/{hashlib.sha1(request.url.encode()).hexdigest()}"
        return self._path(hashlib.sha256(response.body).hexdigest())

    async def file_downloaded(
        self, response: Response, request: Request, info, *, item=None
    ) -> str:
        body = response.body
        sha = hashlib.sha256(body).hexdigest()
        filename = original_filename(response)
        file_type = sniff_type(body, filename)
        if file_type == "html" and not _may_be_html(filename, request.url):
            # An error or login page served with status 200 where a PDF (…) was linked: not
            # the file. Word's "web page" .doc files and .htm attachments are kept.
            self.crawler.stats.inc_value("attachments/failed")
            self.archive.record_download(
                request.url,
                sha256=None,
                status="failed",
                http_status=response.status,
                error=f"an HTML page instead of the linked file ({filename})",
                run_id=self._run_id(),
            )
            return self._path(sha)
        path = Path(self.store.basedir) / self._path(sha)  # type: ignore[attr-defined]
        # The same content from another URL is stored once. Written to a temporary name and
        # renamed (FilesPipeline writes in place): a crawl killed mid-write must not leave a
        # truncated file under the name that says it is complete.
        if not path.exists() or path.stat().st_size != len(body):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
            os.replace(tmp, path)
        headers = {
            k.decode("latin-1"): [v.decode("latin-1") for v in vs]
            for k, vs in response.headers.items()
        }
        ref = _warc_content(response, request)
        self.archive.record_download(
            request.url,
            sha256=sha,
            status="downloaded",
            http_status=response.status,
            headers=headers,
            filename=filename,
            size=len(body),
            file_type=file_type,
            run_id=self._run_id(),
            warc=(ref.file, ref.offset, ref.length) if ref is not None else None,
        )
        self.crawler.stats.inc_value("attachments/downloaded")
        return sha
