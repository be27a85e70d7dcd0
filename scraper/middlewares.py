"""Downloader middlewares."""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import random
import socket
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.response import response_status_message

SCHEMES = ("http", "https")
logger = logging.getLogger(__name__)


@lru_cache(maxsize=4096)
def _addresses(host: str) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(host.strip("[]"))),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return ()
    return tuple(sorted({info[4][0] for info in infos}))


def is_public_address(addr: str) -> bool:
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_url(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` may not be fetched, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        return f"scheme {parts.scheme or '(none)'!r} is not http(s)"
    if not parts.hostname:
        return "no host"
    if allow_private:
        return None
    addrs = _addresses(parts.hostname)
    if not addrs:
        return None  # unresolvable: the download fails on its own with a DNS error
    bad = [a for a in addrs if not is_public_address(a)]
    if bad:
        return (
            f"{parts.hostname} resolves to a private/loopback address ({bad[0]}); "
            "use --allow-private or PORTAL_ARCHIVE_ALLOW_PRIVATE=1 to allow it"
        )
    return None


class SafeFetchMiddleware:
    """Fetch only http(s); refuse private and loopback addresses unless ALLOW_PRIVATE."""

    def __init__(self, crawler: Crawler):
        self.allow_private = crawler.settings.getbool("ALLOW_PRIVATE")
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SafeFetchMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        reason = check_url(request.url, allow_private=self.allow_private)
        if reason:
            self.stats.inc_value("safety/refused")
            if spider is not None:
                spider.logger.warning("refused %s: %s", request.url, reason)
            raise IgnoreRequest(reason)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries with waiting: an exponential backoff between attempts (with jitter)
    and the server's ``Retry-After`` (seconds or an HTTP date) when it sends one, capped by
    ``PORTAL_ARCHIVE_RETRY_MAX_DELAY``. Scrapy's own middleware retries at once, which a portal
    answering 503 or 429 only takes as more load.

    The waiting request stays among the downloader's active ones (it counts against
    ``CONCURRENT_REQUESTS``), but its host's slot is free: Scrapy counts a slot's concurrency
    by the requests on the wire, and a response leaves the wire before the middlewares see
    it (scrapy/core/downloader/__init__.py). So other pages of the host are still fetched
    meanwhile; politeness towards the host is AutoThrottle's and DOWNLOAD_DELAY's. Stats:
    ``retry/backoff_seconds`` (total waited).
    """

    def __init__(self, settings):  # noqa: ANN001 - Scrapy settings
        super().__init__(settings)
        self.base = settings.getfloat("PORTAL_ARCHIVE_RETRY_BACKOFF", 1.0)
        self.max_delay = settings.getfloat("PORTAL_ARCHIVE_RETRY_MAX_DELAY", 120.0)
        self._rng = random.Random(settings.getint("PORTAL_ARCHIVE_RETRY_SEED", 0) or None)

    def delay_for(self, request: Request, retry_after: str | None = None) -> float:
        attempt = request.meta.get("retry_times", 0)
        delay = self.base * (2**attempt) * (0.75 + self._rng.random() / 2)
        if retry_after:
            asked = parse_retry_after(retry_after)
            if asked is not None:
                delay = max(delay, asked)
        return max(0.0, min(delay, self.max_delay))

    async def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import reactor, task

        self.crawler.stats.inc_value("retry/backoff_seconds", round(seconds, 3))
        await maybe_deferred_to_future(task.deferLater(reactor, seconds, lambda: None))

    async def process_response(self, request, response, spider=None):  # noqa: ANN001, ANN201
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        await self._wait(
            self.delay_for(request, response.headers.get("Retry-After", b"").decode("latin-1"))
        )
        return retry

    async def process_exception(self, request, exception, spider=None):  # noqa: ANN001, ANN201
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get(
            "dont_retry", False
        ):
            return None
        retry = self._retry(request, exception)
        if retry is not None:
            await self._wait(self.delay_for(request))
        return retry


def parse_retry_after(value: str) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: a number of seconds or an HTTP date."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


#: Exception class names (anywhere in the exception's MRO) → failure kind. Names, not
#: classes: which ones a download raises (Scrapy's own or Twisted's) depends on the Scrapy
#: and Twisted versions, and not every class exists in all of them.
FAILURE_KINDS = {
    "timeout": ("DownloadTimeoutError", "TimeoutError", "TCPTimedOutError", "UserTimeoutError"),
    # The server closed the connection mid-body: Scrapy drops the truncated response
    # (DOWNLOAD_FAIL_ON_DATALOSS), so nothing truncated is ever extracted or stored.
    "dropped": ("ResponseDataLossError", "ResponseFailed", "ResponseNeverReceived",
                "ConnectionLost", "ConnectionDone", "PotentialDataLoss"),
    "unreachable": ("DownloadConnectionRefusedError", "ConnectionRefusedError",
                    "CannotResolveHostError", "DNSLookupError", "ConnectError", "NoRouteError",
                    "DownloadFailedError"),
}  # fmt: skip


def failure_kind(exception: BaseException) -> str:
    """The kind of a download error: ``timeout``, ``dropped``, ``unreachable``,
    ``too_large`` (over ``DOWNLOAD_MAXSIZE``), ``cancelled`` or ``error``."""
    names = {cls.__name__ for cls in type(exception).__mro__}
    for kind, known in FAILURE_KINDS.items():
        if names.intersection(known):
            return kind
    if names & {"DownloadCancelledError", "CancelledError"}:
        # Scrapy cancels a body over DOWNLOAD_MAXSIZE (announced or received) with this.
        return "too_large" if "max size" in str(exception) else "cancelled"
    return "error"


class FailedRequestsMiddleware:
    """Records every request the crawl gave up on, pages and attachments alike, by kind.

    It sits just outside :class:`BackoffRetryMiddleware`, so it sees only what the retries
    could not mend: a final HTTP error status (``http_503``, ``http_404``…), a download error
    (``timeout``, ``dropped``, ``unreachable``, ``too_large``…) and redirect loops, which
    Scrapy ends silently (the redirect back to a URL of its own chain is dropped by the
    duplicate filter). Requests refused on purpose (robots.txt, :class:`SafeFetchMiddleware`)
    are not failures, nor is robots.txt itself (a portal without one answers 404).

    Stats, and so the run record: ``failed/total``, ``failed/<kind>``, and ``failed/urls``
    ("<kind> <url>", the first ``PORTAL_ARCHIVE_FAILED_URLS_KEPT``). Each failure is
    logged at debug level (Scrapy reports it already), a redirect loop as a warning.
    """

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.kept = crawler.settings.getint("PORTAL_ARCHIVE_FAILED_URLS_KEPT", 100)
        self.urls: list[str] = []
        crawler.signals.connect(self.request_dropped, signal=signals.request_dropped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FailedRequestsMiddleware:
        return cls(crawler)

    def failed(self, request: Request, kind: str, reason: str, *, unreported: bool = False) -> None:
        """Count ``request`` as given up on; ``unreported``: Scrapy logs nothing about it,
        so it is logged here as a warning (else at debug level)."""
        if urlsplit(request.url).path == "/robots.txt":
            return
        self.stats.inc_value("failed/total")
        self.stats.inc_value(f"failed/{kind}")
        if len(self.urls) < self.kept:
            self.urls.append(f"{kind} {request.url}")
            self.stats.set_value("failed/urls", list(self.urls))
        logger.log(
            logging.WARNING if unreported else logging.DEBUG,
            "gave up on %s (%s): %s", request.url, kind, reason,
        )  # fmt: skip

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if response.status >= 400:
            self.failed(
                request, f"http_{response.status}", response_status_message(response.status)
            )
        return response

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> None:
        if not isinstance(exception, IgnoreRequest):
            self.failed(
                request, failure_kind(exception), str(exception) or type(exception).__name__
            )

    def request_dropped(self, request: Request, spider: Spider | None = None) -> None:
        chain = request.meta.get("redirect_urls") or []
        if request.url in chain:
            hops = len(chain)
            self.failed(
                request, "redirect_loop", f"redirected back to itself after {hops} hop(s)",
                unreported=True,
            )  # fmt: skip
