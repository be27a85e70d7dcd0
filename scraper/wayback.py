"""A portal's articles from a web archive's captures: the Wayback Machine's CDX API and its
``id_`` captures (``portal-archive crawl SLUG --source wayback``; the spider is
:class:`scraper.spiders.wayback.WaybackSpider`).

The CDX API lists the captures of the portal's host (``url=<host>/*``, JSON, collapsed by
digest, status 200, paged with ``resumeKey``); each kept capture is fetched raw, as
``<wayback>/web/<14-digit time>id_/<original URL>`` (the archived bytes, not rewritten for
replay), and the portal spider's own extraction runs on it *as if it were the original URL*.
Three downloader middlewares make that work:

- :class:`WaybackMiddleware` (order 40, before every other): a request for a portal URL
  (an attachment the attachments pipeline asks for) becomes a request for its capture; a
  capture's response is handed on with its original URL and the original headers (the
  archive sends them as ``X-Archive-Orig-*``), and ``request.meta["archived_capture"]``
  says what it was: original URL, capture time, capture URL.
- :class:`WaybackPaceMiddleware` (940): at most ``PORTAL_ARCHIVE_WAYBACK_RPS`` requests a
  second leave, every request counted (CDX pages, captures, redirects, robots.txt,
  retries), and a 429 or 503 pauses them all for its ``Retry-After``.
- :class:`WaybackWarcCaptureMiddleware` (950, in place of the crawl's WARC capture): a
  capture is written as a ``response`` record of the *original* URL dated at the capture
  time, with ``WARC-Source-URI`` (where it was fetched from) and ``WARC-Creation-Date``
  (when), as pywb records what it takes from another archive; the CDX pages, redirects and
  errors are written as the exchanges with the archive they were.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from time import monotonic
from typing import ClassVar
from urllib.parse import urlencode, urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Headers, Response

from archive.warcfiles import warc_date
from scraper.middlewares import parse_retry_after
from scraper.pipelines import ARCHIVED_CAPTURE
from scraper.warc import (
    WarcCaptureMiddleware,
    payload_digest,
    request_http_headers,
    response_http_headers,
)

logger = logging.getLogger(__name__)

DEFAULT_URL = "https://web.archive.org"
CDX_PATH = "/cdx/search/cdx"
#: The CDX fields asked for (all the public ones), by name: the parser reads the header row.
CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
#: Request meta: the original URL a request to the web archive stands for.
ORIGINAL = "wayback_original"
#: Why an attachment has no download (recorded as its error).
NOT_ARCHIVED = "not in the web archive"
#: The archive's prefix of the original headers of a capture.
ORIG_PREFIX = b"x-archive-orig-"
#: Original headers not handed on: they describe the archive's transfer, not the page's.
TRANSFER_HEADERS = frozenset(
    {b"content-length", b"content-encoding", b"transfer-encoding", b"connection"}
)
_CAPTURE_URL = re.compile(r"/web/(\d{14})id_/(https?://.+)$", re.S)
_STAMP = re.compile(r"\d{4,14}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def cdx_time(value: object) -> str | None:
    """A ``--from``/``--to`` value as the CDX API takes it: 4 to 14 digits (a year, a month,
    a day… ``yyyyMMddhhmmss``), or None."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if not _STAMP.fullmatch(text):
        raise ValueError(f"{value!r}: expected a year or a time of 4 to 14 digits (yyyyMMddhhmmss)")
    return text


def stamp_time(stamp: str) -> datetime:
    """A 14-digit capture time (UTC) as an aware datetime."""
    return datetime.strptime(stamp[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def capture_url(wayback: str, stamp: str, original: str) -> str:
    """The raw capture's URL: ``<wayback>/web/<time>id_/<original URL>``."""
    return f"{wayback.rstrip('/')}/web/{stamp}id_/{original}"


def capture_time(url: str, headers: Headers | None = None) -> datetime | None:
    """When a capture was taken: the time in its ``…/web/<time>id_/…`` URL (after the
    archive's redirect to the nearest capture), else its ``Memento-Datetime``."""
    m = _CAPTURE_URL.search(url)
    if m:
        return stamp_time(m.group(1))
    value = (headers or Headers()).get("Memento-Datetime")
    if value:
        try:
            return parsedate_to_datetime(value.decode("latin-1")).astimezone(UTC)
        except (TypeError, ValueError):
            return None
    return None


def cdx_url(
    wayback: str,
    netloc: str,
    *,
    time_from: str | None = None,
    time_to: str | None = None,
    limit: int = 5000,
    resume_key: str | None = None,
) -> str:
    """A CDX query for every capture under ``netloc``: JSON, status 200 only, adjacent
    captures with the same digest collapsed (one per content of each URL; not
    ``collapse=urlkey``, which keeps only the first capture of a URL and so would lose every
    later version of a page), at most ``limit`` rows and a resume key for the next page."""
    params = [
        ("url", f"{netloc}/*"),
        ("output", "json"),
        ("fl", ",".join(CDX_FIELDS)),
        ("collapse", "digest"),
        ("filter", "statuscode:200"),
        ("showResumeKey", "true"),
        ("limit", str(limit)),
    ]
    if time_from:
        params.append(("from", time_from))
    if time_to:
        params.append(("to", time_to))
    query = urlencode(params, safe=",/*:")
    if resume_key:
        # Printed URL-encoded already, to be sent as it is (the API's documentation).
        query += f"&resumeKey={resume_key}"
    return f"{wayback.rstrip('/')}{CDX_PATH}?{query}"


def parse_cdx_json(text: str) -> tuple[list[dict[str, str]], str | None]:
    """Rows of a CDX JSON answer as dicts by field name, and its resume key (None: the
    last page). The answer is ``[[header…], [row…]…, [], [resume key]]`` or ``[]``."""
    rows = json.loads(text) if text.strip() else []
    if not rows:
        return [], None
    header, *data = rows
    resume = None
    if len(data) >= 2 and data[-2] == [] and len(data[-1]) == 1:
        resume, data = data[-1][0], data[:-2]
    return [dict(zip(header, row, strict=False)) for row in data if row], resume


@dataclass(frozen=True, slots=True)
class Capture:
    """One capture the CDX API listed."""

    timestamp: str
    original: str  # the URL as the archive holds it (what the capture URL is made of)
    url: str  # the same as the portal's URL (its scheme and host: see WaybackSpider)
    mimetype: str
    digest: str

    @property
    def when(self) -> datetime:
        return stamp_time(self.timestamp)


def original_headers(headers: Headers) -> Headers:
    """The headers the site sent, as the archive hands them on (``X-Archive-Orig-*``, and
    its ``Content-Type``, which is the capture's); the archive's own headers left out.
    Headers of another archive software, without the prefix, are kept as they are."""
    if not any(name.lower().startswith(ORIG_PREFIX) for name in headers):
        return headers
    out = Headers()
    for name, values in headers.items():
        if name.lower().startswith(ORIG_PREFIX):
            real = name[len(ORIG_PREFIX) :]
            if real.lower() not in TRANSFER_HEADERS:
                out.setlist(real, values)
    if headers.get("Content-Type"):
        out["Content-Type"] = headers["Content-Type"]
    return out


async def _sleep(seconds: float) -> None:
    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.internet import reactor, task

    await maybe_deferred_to_future(task.deferLater(reactor, seconds, lambda: None))


class WaybackMiddleware:
    """Portal URLs to captures and back (see the module docstring). Needs the spider's
    ``is_wayback_url(url)`` and ``capture_url_for(url)`` (the capture of a URL the
    attachments pipeline asks for: the latest listed, another host's nearest, or None: not
    archived, the request is dropped with the reason :data:`NOT_ARCHIVED`)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WaybackMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider=None) -> Request | None:
        spider = self.crawler.spider
        if ORIGINAL in request.meta or spider.is_wayback_url(request.url):
            return None
        target = spider.capture_url_for(request.url)
        if target is None:
            self.stats.inc_value("wayback/not_archived")
            raise IgnoreRequest(NOT_ARCHIVED)
        return request.replace(
            url=target, meta={**request.meta, ORIGINAL: request.url}, dont_filter=True
        )

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        original = request.meta.get(ORIGINAL)
        if original is None:
            return response
        if response.status == 404:  # the archive has no capture of it
            self.stats.inc_value("wayback/not_archived")
            raise IgnoreRequest(f"{NOT_ARCHIVED} (404 from {response.url})")
        when = capture_time(response.url, response.headers)
        if response.status != 200 or when is None:
            return response
        request.meta[ARCHIVED_CAPTURE] = {"url": original, "date": when, "via": response.url}
        return response.replace(url=original, headers=original_headers(response.headers))


class WaybackPaceMiddleware:
    """At most ``PORTAL_ARCHIVE_WAYBACK_RPS`` requests a second to each archive host (0: no
    cap), whatever the number of portals crawled at once: the turns are kept per host for
    the whole process (``crawl all --source wayback`` runs one crawler per portal in it).
    It sits next to the downloader (940), after retries and redirects made their requests,
    so every request that leaves is counted; each waits for its turn
    (``wayback/paced_seconds``). A 429 or 503 pauses every request for its ``Retry-After``
    (else ``PORTAL_ARCHIVE_RETRY_BACKOFF``), capped by ``PORTAL_ARCHIVE_RETRY_MAX_DELAY``:
    the retry middleware waits for the request itself, but the others would go on."""

    #: Archive host → the monotonic time of its next free turn (the process's requests).
    next_at: ClassVar[dict[str, float]] = {}

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        rps = settings.getfloat("PORTAL_ARCHIVE_WAYBACK_RPS", 1.0)
        self.interval = 1.0 / rps if rps > 0 else 0.0
        self.backoff = settings.getfloat("PORTAL_ARCHIVE_RETRY_BACKOFF", 1.0)
        self.max_delay = settings.getfloat("PORTAL_ARCHIVE_RETRY_MAX_DELAY", 120.0)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WaybackPaceMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request, spider=None) -> None:
        host = urlsplit(request.url).netloc
        now = monotonic()
        at = max(now, self.next_at.get(host, 0.0))
        self.next_at[host] = at + self.interval
        if at > now:
            self.stats.inc_value("wayback/paced_seconds", round(at - now, 3))
            await _sleep(at - now)

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        if response.status in (429, 503):
            host = urlsplit(request.url).netloc
            asked = parse_retry_after(response.headers.get("Retry-After", b"").decode("latin-1"))
            pause = min(self.backoff if asked is None else asked, self.max_delay)
            self.next_at[host] = max(self.next_at.get(host, 0.0), monotonic() + pause)
            self.stats.inc_value(f"wayback/http_{response.status}")
            logger.info("the web archive answered %s: pausing %.1fs", response.status, pause)
        return response


class WaybackWarcCaptureMiddleware(WarcCaptureMiddleware):
    """The crawl's WARC capture, with captures written as the original URL's (see the
    module docstring): ``request.meta["warc"]["date"]`` is then the capture time, which the
    fetch record takes. Never a revisit: each distinct capture is listed once."""

    def spider_opened(self, spider) -> None:
        super().spider_opened(spider)
        if self.writer is not None:
            self.writer.info["description"] = (
                f"captures of {spider.entry.base_url} taken from the web archive "
                f"{getattr(spider, 'wayback', '')}"
            )

    def capture(self, request: Request, response: Response) -> dict:
        original = request.meta.get(ORIGINAL)
        when = capture_time(response.url, response.headers) if response.status == 200 else None
        if original is None or when is None:
            return super().capture(request, response)
        body = response.body
        digest = payload_digest(body)
        ref = self.writer.write_exchange(
            url=original,
            when=when,
            response_headers=response_http_headers(response),
            body=body,
            request_headers=request_http_headers(request, response.protocol),
            request_body=request.body,
            digest=digest,
            ip_address=str(response.ip_address) if response.ip_address else None,
            truncated="disconnect" if "dataloss" in response.flags else None,
            warc_headers={
                "WARC-Source-URI": response.url,
                "WARC-Creation-Date": warc_date(datetime.now(UTC)),
            },
        )
        self.stats.inc_value("warc/responses")
        return {
            "file": ref.file,
            "offset": ref.offset,
            "length": ref.length,
            "type": "response",
            "digest": digest,
            "date": when,
            "content": ref,
        }


def portal_netloc(url: str) -> tuple[str, str] | None:
    """``(scheme, host[:port])`` of a URL, the default port left out; None if unreadable."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in _DEFAULT_PORTS:
        return None
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return parts.scheme, host
    return parts.scheme, f"{host}:{port}"
