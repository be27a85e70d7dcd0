"""Downloader middlewares."""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

SCHEMES = ("http", "https")


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
