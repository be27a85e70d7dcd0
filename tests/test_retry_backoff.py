"""Retries wait: exponential backoff with jitter, and the server's Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from scrapy import Request
from scrapy.settings import Settings

from scraper.middlewares import BackoffRetryMiddleware, parse_retry_after


def middleware(**settings) -> BackoffRetryMiddleware:
    base = {"RETRY_ENABLED": True, "RETRY_TIMES": 3, "RETRY_HTTP_CODES": [429, 503],
            "RETRY_PRIORITY_ADJUST": -1, "RETRY_GIVE_UP_LOG_LEVEL": "ERROR",
            "RETRY_EXCEPTIONS": [], "PORTAL_ARCHIVE_RETRY_SEED": 7}  # fmt: skip
    return BackoffRetryMiddleware(Settings({**base, **settings}))


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("120") == 120
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= parse_retry_after(soon) <= 31
    past = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    assert parse_retry_after(past) == 0
    assert parse_retry_after("soon") is None and parse_retry_after("") is None


def test_backoff_doubles_with_jitter_and_is_capped():
    mw = middleware(PORTAL_ARCHIVE_RETRY_BACKOFF=1.0, PORTAL_ARCHIVE_RETRY_MAX_DELAY=10)
    delays = [mw.delay_for(Request("http://x/", meta={"retry_times": n})) for n in range(6)]
    for n, d in enumerate(delays[:4]):
        assert 0.75 * 2**n <= d <= 1.25 * 2**n
    assert delays[-1] == 10  # capped
    # the server's Retry-After wins over a shorter backoff, within the cap
    assert mw.delay_for(Request("http://x/"), "5") == 5
    assert mw.delay_for(Request("http://x/"), "3600") == 10
