"""A big index's segments searched by several processes at once (scatter-gather).

A query's work is per segment: its posting lists read, intersected, scored, its matches
counted into the facets. At 1,000,000 articles (40 segments) that is a few hundred
milliseconds for a common phrase on one core, while the machine's other cores wait; the
compiled loops release the GIL, but the Python between them does not, so threads did not
help (docs/search.md). So, as Elasticsearch searches a node's shards, the Whoosh backend
splits the segments between worker processes, each with the index open: each evaluates the
query on its segments (:func:`search.query.evaluate`: its matches' count, its first page of
hits with their sort keys, its facet counts) and the parts are added up
(:func:`search.query.merge_parts`), so the page is the one a single process finds. The
calling process then reads the page's stored fields and highlights the snippets.

``$PORTAL_ARCHIVE_SEARCH_WORKERS``: ``auto`` (the default) uses one worker per CPU (at most
4) for an index of at least 200,000 documents in two segments or more, none below; a number
uses that many for any index (the tests use 2); ``0`` or ``off`` never. A query uses the
workers only when no other query does: concurrent queries (the web application's threads)
run in their own thread as before, so the workers cut one query's latency and add no
throughput. Workers start on the first search that wants them (each opens the index and
codes its columns: a few seconds at 1,000,000 articles) and stop with the process. A
worker that fails, hangs past :data:`TIMEOUT_S` or dies is not trusted again: the search
runs in the calling process instead, and says so in the log (a query a worker fails on is
run by the caller too, which raises the error if it is one).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.backend import SearchBackendError

if TYPE_CHECKING:
    from whoosh.searching import Searcher

    from search.index import SearchIndex
    from search.query import Part

__all__ = ["AUTO_MIN_DOCS", "ENV_WORKERS", "SearchPool", "evaluate", "workers_wanted"]

log = logging.getLogger(__name__)

ENV_WORKERS = "PORTAL_ARCHIVE_SEARCH_WORKERS"
#: ``auto`` uses workers from this many documents on (below, a query takes tens of ms).
AUTO_MIN_DOCS = 200_000
AUTO_MAX_WORKERS = 4
#: How long a worker may take to answer; its first answer includes opening the index and
#: coding its columns.
TIMEOUT_S = 300.0


def workers_wanted(doc_count: int, segments: int, environ: Mapping[str, str] = os.environ) -> int:
    """How many worker processes search an index of ``doc_count`` documents in
    ``segments`` segments (0: none, the calling process searches alone)."""
    value = environ.get(ENV_WORKERS, "").strip().lower()
    if value in ("", "auto"):
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cpus = os.cpu_count() or 1
        if cpus < 2 or doc_count < AUTO_MIN_DOCS:
            return 0
        n = min(cpus, AUTO_MAX_WORKERS)
    elif value in ("0", "1", "off", "no", "false"):
        return 0
    else:
        try:
            n = int(value)
        except ValueError:
            n = -1
        if n < 0:
            raise SearchBackendError(
                f"{ENV_WORKERS}={environ.get(ENV_WORKERS)!r}: expected auto, off or a number"
                " of processes"
            )
    n = min(n, segments)
    return n if n >= 2 else 0


def split(sizes: Sequence[int], parts: int) -> list[list[int]]:
    """The segment numbers (of ``sizes`` documents each) dealt into ``parts`` groups of
    about equal documents: size classes (powers of two) biggest first, each segment to the
    group with the fewest documents counted in units of its class, ties taking turns. So
    segments of one class alternate between the groups in index order: neighbours, written
    at about the same time and alike in content, are searched by different workers (on the
    500,000-article benchmark index, dealt by exact size, one worker took 83-87 ms and the
    other 63-68 for the same phrase query)."""
    groups: list[list[int]] = [[] for _ in range(parts)]
    load = [0] * parts
    turn = 0
    for i in sorted(range(len(sizes)), key=lambda i: (-max(sizes[i], 1).bit_length(), i)):
        unit = 1 << (max(sizes[i], 1).bit_length() - 1)
        g = min(range(parts), key=lambda g: (load[g] // unit, (g - turn) % parts))
        groups[g].append(i)
        load[g] += sizes[i]
        turn = g + 1
    return [sorted(g) for g in groups if g]


class SearchPool:
    """``n`` worker processes with the index at ``path`` open, answering one query at a
    time (:meth:`evaluate`)."""

    def __init__(self, path: Path, n: int) -> None:
        self.path = Path(path)
        self.n = n
        self.broken = False
        self.answered = 0  # queries the workers evaluated
        self._lock = threading.Lock()
        self._conns: list[Connection] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        # A new interpreter, not multiprocessing: a fork of a threaded web server is unsafe,
        # and multiprocessing's spawn runs the caller's main script again in the worker.
        # The worker gets this process's import path and one end of a socket pair.
        code = "from search.shards import _main; _main()"
        for _ in range(n):
            mine, theirs = socket.socketpair()
            proc = subprocess.Popen(
                [sys.executable, "-c", code, str(self.path), str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
                env={**os.environ, _ENV_PATH: json.dumps(sys.path)},
            )
            theirs.close()
            self._conns.append(Connection(mine.detach()))
            self._procs.append(proc)

    def evaluate(
        self,
        generation: int,
        groups: list[list[int]],
        request: dict[str, Any],
    ) -> list[Part] | None:
        """Each group of segments evaluated by a worker, or None when the workers are busy
        with another query, see another generation of the index, or fail."""
        if self.broken or not self._lock.acquire(blocking=False):
            return None
        try:
            for conn, leaves in zip(self._conns, groups, strict=False):
                conn.send((generation, leaves, request))
            answers = []
            for conn in self._conns[: len(groups)]:
                if not conn.poll(TIMEOUT_S):
                    raise TimeoutError(f"no answer in {TIMEOUT_S:.0f} s")
                answers.append(conn.recv())
        except (OSError, EOFError, TimeoutError) as exc:
            self._fail(f"{type(exc).__name__}: {exc}")
            return None
        finally:
            self._lock.release()
        parts = []
        for kind, value in answers:
            if kind == "stale":  # a commit between: this query runs in the caller
                return None
            if kind != "ok":  # the caller runs it, and raises the same error if it is one
                log.warning("a search worker failed (%s): searching in this process", value)
                return None
            parts.append(value)
        self.answered += 1
        return parts

    def _fail(self, why: str) -> None:
        log.warning("search workers stopped (%s): searching in this process", why)
        self.broken = True
        self.close()

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(None)
                conn.close()
            except OSError:
                pass
        for proc in self._procs:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=2)
        self._conns, self._procs = [], []


_pools: dict[Path, SearchPool] = {}
_pools_lock = threading.Lock()


def pool_for(path: Path, n: int) -> SearchPool | None:
    """The process's pool of ``n`` workers for the index at ``path`` (made on first use);
    None when a pool of it failed."""
    key = Path(path).resolve()
    with _pools_lock:
        pool = _pools.get(key)
        if pool is not None and pool.broken:
            return None
        if pool is None or pool.n != n:
            if pool is not None:
                pool.close()
            pool = _pools[key] = SearchPool(key, n)
        return pool


@atexit.register
def close_pools() -> None:
    """Stop every worker (done at exit; a worker also ends when its caller's end of the
    socket closes, however the caller ended)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


def evaluate(
    index: SearchIndex,
    searcher: Searcher,
    query: str,
    filters: Mapping[str, Any],
    sort: str,
    limit: int,
    facets: bool,
) -> Part | None:
    """:func:`search.query.evaluate` over all of ``searcher``'s segments, split between the
    index's workers; None when it has none (or they cannot answer): the caller evaluates
    it itself."""
    from search.query import merge_parts

    leaves = searcher.leaf_searchers()
    n = workers_wanted(searcher.doc_count_all(), len(leaves))
    if not n:
        return None
    pool = pool_for(index.path, n)
    if pool is None:
        return None
    groups = split([s.doc_count_all() for s, _ in leaves], n)
    request = dict(query=query, filters=dict(filters), sort=sort, limit=limit, facets=facets)
    parts = pool.evaluate(searcher.reader().generation(), groups, request)
    if parts is None:
        return None
    return merge_parts(parts, limit)


_ENV_PATH = "PORTAL_ARCHIVE_SEARCH_WORKER_PATH"


def _main() -> None:
    """A worker's entry: ``python -c ... INDEX_DIR FD``, the caller's import path in
    ``$PORTAL_ARCHIVE_SEARCH_WORKER_PATH``."""
    sys.path[:] = json.loads(os.environ.pop(_ENV_PATH, "[]")) or sys.path
    _serve(sys.argv[1], Connection(int(sys.argv[2])))


def _serve(path: str, conn: Connection) -> None:
    """A worker: answers ``(generation, leaves, request)`` with ``("ok", Part)``, or
    ``("stale", None)`` when its index is at another generation, or ``("error", why)``;
    ``None`` ends it, as does the caller's end of the pipe closing."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C is the caller's to handle
    from search.index import SearchIndex
    from search.query import evaluate as evaluate_part

    index = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        generation, leaves, request = message
        try:
            if index is None:
                index = SearchIndex(Path(path))
            searcher = index.searcher()
            if searcher.reader().generation() != generation:
                conn.send(("stale", None))
                continue
            conn.send(("ok", evaluate_part(searcher, leaves=leaves, **request)))
        except Exception as exc:  # noqa: BLE001 - told to the caller, which searches itself
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    if index is not None:
        index.close()
