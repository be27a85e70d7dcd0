"""Distributed crawls: several worker processes share one portal's frontier in Redis.

A *shared run* is one crawl of one portal (one ``crawl_runs`` row) done by any number of
worker processes, on one machine or several. Its state lives under one Redis key prefix
(``<PORTAL_ARCHIVE_REDIS_PREFIX>:run:<run key>``, the run key being ``<crawl run id>-<random>``):

``…``                 hash: the portal, the crawl run id, the settings every worker applies,
                      who seeded the frontier and whether the seeding is done
``…:requests``        the frontier: scrapy-redis's priority queue of serialised requests
``…:dupefilter``      fingerprints of every request scheduled (scrapy-redis's filter)
``…:workers``         hash: worker id → its state (``busy``, ``idle``, ``done``) and when said
``…:stats``           hash: worker id → its final stats, counts and status
``…:attachments``     set: attachment URLs a worker took on (fetched by one worker only)

:class:`SharedScheduler` (scrapy-redis's scheduler with our end-of-crawl rule) schedules
into that frontier. The first worker to start seeds it (the spider's start URLs and, on a
resume, the attachments stored articles lack); the others take requests from it.

**When a worker stops.** scrapy-redis's own rule, stop after the frontier has been empty
for ``SCHEDULER_IDLE_BEFORE_CLOSE`` seconds, loses workers early or keeps them idling: a
page still being downloaded by another worker may yet add hundreds of links. Here a worker
stops when the frontier is empty, the seeding is done *and* no other worker is busy (has
requests in flight). A worker says it is busy before it takes a request, so a peer never
sees an empty frontier and no busy worker while a request is on its way; it says it is
idle when its own engine is. States carry a time and are refreshed every
:data:`REPORT_EVERY` seconds; a busy state older than ``PORTAL_ARCHIVE_WORKER_STALE``
(a killed worker) no longer keeps the others waiting.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

logger = logging.getLogger(__name__)

#: Settings: where Redis is, and the run this process works on (set by the CLI).
REDIS_URL = "PORTAL_ARCHIVE_REDIS_URL"
RUN_KEY = "PORTAL_ARCHIVE_RUN_KEY"
#: Seconds between a worker's state reports.
REPORT_EVERY = 2.0
#: Engine heartbeat of a worker (seconds): how often an idle worker looks at the frontier
#: again. Scrapy's is 5 s, made for a scheduler only its own process fills: an idle worker
#: would take up to 5 s to notice the links a peer just added.
POLL_SECONDS = 0.25


class SharedRunError(Exception):
    """A run that cannot be joined (unknown, finished) or Redis that cannot be reached."""


def connect(url: str):
    """A Redis client for ``url`` (``redis://host:port/db``), checked with a PING."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
        client.ping()
    except ValueError as exc:
        raise SharedRunError(f"--redis {url!r}: {exc}") from None
    except redis.RedisError as exc:
        raise SharedRunError(f"cannot reach Redis at {url}: {exc}") from None
    return client


class SharedRun:
    """One distributed crawl's state in Redis, seen from one process (a worker, or the
    coordinator that created it)."""

    def __init__(self, client, key: str, *, prefix: str = "portal-archive", worker: str = ""):
        self.client = client
        self.key = key
        self.base = f"{prefix}:run:{key}"
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self._state: str | None = None

    # --- names ----------------------------------------------------------------------

    @property
    def requests_key(self) -> str:
        return f"{self.base}:requests"

    @property
    def dupefilter_key(self) -> str:
        return f"{self.base}:dupefilter"

    @property
    def workers_key(self) -> str:
        return f"{self.base}:workers"

    @property
    def stats_key(self) -> str:
        return f"{self.base}:stats"

    @property
    def attachments_key(self) -> str:
        return f"{self.base}:attachments"

    # --- the run ----------------------------------------------------------------------

    @classmethod
    def create(
        cls, client, run_id: int, description: dict, *, prefix: str = "portal-archive"
    ) -> SharedRun:
        """A new run for crawl run ``run_id``; ``description`` (portal, settings…) is what
        every worker reads to crawl the same way."""
        run = cls(client, f"{run_id}-{secrets.token_hex(3)}", prefix=prefix, worker="coordinator")
        fields = {
            "run_id": str(run_id),
            "created": str(time.time()),
            "description": json.dumps(description),
        }
        client.hset(run.base, mapping=fields)
        return run

    @classmethod
    def join(cls, client, key: str, *, prefix: str = "portal-archive") -> SharedRun:
        run = cls(client, key, prefix=prefix)
        if not client.exists(run.base):
            open_runs = ", ".join(open_run_keys(client, prefix=prefix)) or "none"
            raise SharedRunError(f"no run {key!r} in Redis (open runs: {open_runs})")
        return run

    def info(self) -> dict:
        raw = {k.decode(): v.decode() for k, v in self.client.hgetall(self.base).items()}
        if not raw:
            raise SharedRunError(f"run {self.key} is over (its keys are gone from Redis)")
        return raw

    @property
    def run_id(self) -> int:
        return int(self.info()["run_id"])

    @property
    def description(self) -> dict:
        return json.loads(self.info()["description"])

    def delete(self) -> None:
        """Remove every key of the run (the coordinator, once the run is recorded)."""
        self.client.delete(
            self.base,
            self.requests_key,
            self.dupefilter_key,
            self.workers_key,
            self.stats_key,
            self.attachments_key,
        )

    # --- seeding --------------------------------------------------------------------

    def claim_seeding(self) -> bool:
        """True for the one worker that seeds the frontier (the first to ask)."""
        self.report("busy")  # before the claim: peers must not see an empty, idle run
        return bool(self.client.hsetnx(self.base, "seeder", self.worker))

    async def wait_for_workers(self, expected: int, timeout: float) -> int:
        """The seeder waits until ``expected`` workers have said they are there (at most
        ``timeout`` seconds): a worker that started a few seconds late, on a loaded machine,
        would otherwise find a small portal's frontier already empty. The reactor runs on
        meanwhile (state reports go on). Returns how many were there."""
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import reactor

        deadline = time.monotonic() + timeout
        while True:
            there = sum(1 for name in self.workers() if name != "coordinator")
            if there >= expected or time.monotonic() >= deadline:
                return there
            await maybe_deferred_to_future(task.deferLater(reactor, 0.1, lambda: None))

    def seeding_done(self) -> None:
        self.client.hset(self.base, "seeded", "1")

    def seeded(self) -> bool:
        return self.client.hget(self.base, "seeded") == b"1"

    # --- stopping -------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """Ask every worker to stop (the coordinator, on Ctrl-C or SIGTERM)."""
        self.client.hset(self.base, "stop", reason)

    def stop_requested(self) -> str | None:
        value = self.client.hget(self.base, "stop")
        return value.decode() if value is not None else None

    # --- workers --------------------------------------------------------------------

    def report(self, state: str, *, force: bool = False) -> None:
        """Say this worker is ``busy``, ``idle`` or ``done`` (written when it changes, or
        ``force``: the periodic refresh)."""
        if state == self._state and not force:
            return
        self._state = state
        value = json.dumps({"state": state, "at": time.time()})
        self.client.hset(self.workers_key, self.worker, value)

    def workers(self) -> dict[str, dict]:
        return {k.decode(): json.loads(v) for k, v in self.client.hgetall(self.workers_key).items()}

    def busy_peers(self, stale_after: float) -> list[str]:
        """Other workers busy, with a report newer than ``stale_after`` seconds."""
        now = time.time()
        return [
            name
            for name, w in self.workers().items()
            if name != self.worker and w["state"] == "busy" and now - w["at"] < stale_after
        ]

    def live_workers(self, stale_after: float) -> list[str]:
        """Workers not done whose last report is newer than ``stale_after`` seconds."""
        now = time.time()
        return [
            name
            for name, w in self.workers().items()
            if w["state"] != "done" and now - w["at"] < stale_after
        ]

    def frontier_size(self) -> int:
        return int(self.client.zcard(self.requests_key))

    def claim_attachment(self, url: str) -> bool:
        """True for the one worker that fetches this attachment in this run."""
        return bool(self.client.sadd(self.attachments_key, url))

    # --- results --------------------------------------------------------------------

    def record_result(self, result: dict) -> None:
        self.client.hset(self.stats_key, self.worker, json.dumps(result, default=str))
        self.report("done")

    def results(self) -> dict[str, dict]:
        return {k.decode(): json.loads(v) for k, v in self.client.hgetall(self.stats_key).items()}


def open_run_keys(client, *, prefix: str = "portal-archive") -> list[str]:
    """Keys of the runs whose state is in Redis."""
    head = f"{prefix}:run:"
    keys = (k.decode() for k in client.scan_iter(match=f"{head}*", count=1000))
    return sorted(k.removeprefix(head) for k in keys if ":" not in k.removeprefix(head))


def shared_run(crawler: Crawler) -> SharedRun | None:
    """The run this crawler works on, when it is a worker of a distributed crawl (one
    client per crawler, shared by the scheduler, the spider and the pipelines)."""
    settings = crawler.settings
    key = settings.get(RUN_KEY)
    if not key:
        return None
    run = getattr(crawler, "_portal_archive_shared_run", None)
    if run is None:
        client = connect(settings.get(REDIS_URL))
        prefix = settings.get("PORTAL_ARCHIVE_REDIS_PREFIX", "portal-archive")
        run = SharedRun.join(client, key, prefix=prefix)
        crawler._portal_archive_shared_run = run
    return run


def merge_stats(results: Iterable[dict]) -> dict:
    """One run's stats from its workers' (``results``: each ``{"stats": …}``): numbers
    added up, times the earliest start and the latest finish, ``failed/urls`` joined, any
    other value the first worker's."""
    merged: dict = {}
    for result in results:
        for key, value in (result.get("stats") or {}).items():
            if key not in merged:
                merged[key] = value
            elif key == "start_time":
                merged[key] = min(merged[key], value)
            elif key in ("finish_time", "elapsed_time_seconds"):
                merged[key] = max(merged[key], value)
            elif key == "failed/urls" and isinstance(value, list):
                merged[key] = [*merged[key], *value]
            elif isinstance(value, int | float) and not isinstance(value, bool):
                if isinstance(merged[key], int | float):
                    merged[key] += value
    return merged


class SharedScheduler:
    """scrapy-redis's scheduler on the shared run's frontier, stopping as the module says.

    Enabled by ``PORTAL_ARCHIVE_RUN_KEY`` (the CLI sets it, and ``SCHEDULER`` to this
    class); the queue and duplicate filter keys are the run's, they persist until the
    coordinator deletes them (scrapy-redis's default would let the first worker to stop
    clear the frontier under the others).
    """

    def __init__(self, crawler: Crawler, run: SharedRun):
        from scrapy_redis.scheduler import Scheduler

        settings = crawler.settings
        self.crawler = crawler
        self.run = run
        self.stale_after = settings.getfloat("PORTAL_ARCHIVE_WORKER_STALE", 60.0)
        self.inner = Scheduler(
            server=run.client,
            persist=True,
            queue_key=run.requests_key,
            queue_cls="scrapy_redis.queue.PriorityQueue",
            dupefilter_key=run.dupefilter_key,
            dupefilter_cls="scrapy_redis.dupefilter.RFPDupeFilter",
        )
        self.stats = crawler.stats  # counted here: scrapy-redis passes a deprecated argument
        self.loop: task.LoopingCall | None = None
        self.waiting_since: float | None = None
        self.stopping = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedScheduler:
        run = shared_run(crawler)
        if run is None:
            raise NotConfigured("SharedScheduler needs PORTAL_ARCHIVE_RUN_KEY")
        return cls(crawler, run)

    def open(self, spider):
        from scrapy_redis.dupefilter import RFPDupeFilter

        self.inner.df = RFPDupeFilter(self.run.client, key=self.run.dupefilter_key)
        self.inner.open(spider)
        engine = self.crawler.engine
        if hasattr(engine, "_SLOT_HEARTBEAT_INTERVAL"):  # read when the engine's loop starts
            engine._SLOT_HEARTBEAT_INTERVAL = POLL_SECONDS
        self.run.report("idle")
        self.loop = task.LoopingCall(self._refresh)
        self.loop.start(REPORT_EVERY, now=False)

    def close(self, reason: str):
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.inner.close(reason)

    def _refresh(self) -> None:
        try:
            self.run.report(self.run._state or "idle", force=True)
            why = self.run.stop_requested()
        except Exception:  # Redis gone for a moment: the next report may get through
            logger.exception("could not report this worker's state")
            return
        if why and not self.stopping:
            # The coordinator was stopped: end as Ctrl-C would (the run is recorded as
            # stopped, and the next crawl of the portal resumes it).
            self.stopping = True
            logger.warning("the run is being stopped (%s): this worker stops", why)
            from scrapy.utils.defer import deferred_from_coro

            stop_async = getattr(self.crawler, "stop_async", None)
            if stop_async is not None:
                deferred_from_coro(stop_async())
            else:  # Scrapy < 2.14
                self.crawler.stop()

    # --- Scrapy's scheduler interface -----------------------------------------------

    def enqueue_request(self, request) -> bool:
        queued = self.inner.enqueue_request(request)
        self.stats.inc_value("scheduler/enqueued/redis" if queued else "dupefilter/filtered")
        return queued

    def next_request(self):
        if self.run.frontier_size() == 0:
            return None
        self.run.report("busy")  # before the pop: see the module docstring
        request = self.inner.next_request()
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def __len__(self) -> int:
        return len(self.inner)

    def has_pending_requests(self) -> bool:
        """Asked by the engine when this worker has nothing in flight: False ends it."""
        self.run.report("idle")
        if self.run.frontier_size() > 0:
            self.waiting_since = None
            return True
        if not self.run.seeded():
            seeder = self.run.client.hget(self.run.base, "seeder")
            if seeder is None or seeder.decode() in self.run.live_workers(self.stale_after):
                return self._wait("the frontier to be seeded")
            logger.error("the worker seeding the frontier (%s) is gone", seeder.decode())
            return False
        busy = self.run.busy_peers(self.stale_after)
        if busy:
            return self._wait(f"{len(busy)} busy worker(s)")
        return False

    def _wait(self, what: str) -> bool:
        now = time.monotonic()
        if self.waiting_since is None:
            self.waiting_since = now
            logger.debug("frontier empty, waiting for %s", what)
        return True
