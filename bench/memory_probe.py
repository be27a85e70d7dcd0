"""A Scrapy extension for bench_scale.py: what the crawl holds per URL, measured at its end.

Enabled by adding ``bench.memory_probe.MemoryProbe`` to EXTENSIONS with the environment
variable ``MEMORY_PROBE_OUT`` naming a JSON file. Every 0.5 s it notes the responses so far
and the requests waiting in the scheduler; when the spider closes it writes the deep size
(``sys.getsizeof`` of the container and its items) of each structure that grows with the
number of URLs: the spider's ``requested`` and ``seen_canonical`` sets, Scrapy's dupefilter
fingerprints, the incremental plan's known URLs and validators, the crawl stats; and the
process's resident memory then (``VmRSS``) and at its peak (``VmHWM``).
"""

from __future__ import annotations

import json
import os
import sys

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task


def status_kb(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in KiB; 0 if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def deep_size(value: object) -> int:
    """Bytes of a set / dict / list and its items (one level of nesting, no sharing)."""
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        return size + sum(deep_size(k) + deep_size(v) for k, v in value.items())
    if isinstance(value, set | frozenset | list | tuple):
        return size + sum(sys.getsizeof(v) for v in value)
    return size


class MemoryProbe:
    def __init__(self, crawler, out: str):
        self.crawler, self.out = crawler, out
        self.queue: list[tuple[int, int]] = []  # (responses so far, requests waiting)
        self.loop = task.LoopingCall(self.sample)
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        out = os.environ.get("MEMORY_PROBE_OUT")
        if not out:
            raise NotConfigured
        return cls(crawler, out)

    def _scheduler(self):
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None) or getattr(engine, "slot", None)
        return getattr(engine, "scheduler", None) or getattr(slot, "scheduler", None)

    def opened(self, spider) -> None:
        self.loop.start(0.5, now=False)

    def sample(self) -> None:
        scheduler = self._scheduler()
        try:
            waiting = len(scheduler) if scheduler is not None else 0
        except TypeError:
            waiting = 0
        pages = self.crawler.stats.get_value("response_received_count", 0)
        self.queue.append((pages, waiting))

    def closed(self, spider, reason) -> None:
        if self.loop.running:
            self.loop.stop()
        sizes: dict[str, dict] = {}

        def note(name: str, value: object) -> None:
            if value is not None:
                sizes[name] = {"items": len(value), "bytes": deep_size(value)}

        note("spider.requested", getattr(spider, "requested", None))
        note("spider.seen_canonical", getattr(spider, "seen_canonical", None))
        scheduler = self._scheduler()
        note(
            "dupefilter.fingerprints", getattr(getattr(scheduler, "df", None), "fingerprints", None)
        )
        inc = getattr(spider, "incremental", None)
        if inc is not None:
            note("incremental.plan.known", inc.plan.known)
            note("incremental.plan.validators", inc.plan.validators)
            note("incremental.skipped_known", inc.skipped_known)
        note("stats", self.crawler.stats.get_stats())
        with open(self.out, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "sizes": sizes,
                    "responses": self.crawler.stats.get_value("response_received_count", 0),
                    "max_waiting": max((w for _, w in self.queue), default=0),
                    "rss_kb": status_kb("VmRSS"),
                    "hwm_kb": status_kb("VmHWM"),
                    "queue": self.queue,
                },
                fh,
            )
