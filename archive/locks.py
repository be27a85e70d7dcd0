"""One crawl per portal at a time, whoever starts it (scheduler, CLI, web application).

A lock is a row of ``crawl_locks`` keyed by the portal slug. Taking it is one INSERT: the
primary key makes it atomic on SQLite and PostgreSQL alike, so of two processes that try at
once exactly one wins, on one machine or several sharing a database. Giving it back is one
DELETE. The row names its holder (a readable description that is also its identity), the
process id and host, when it was taken and when its holder last said it is still alive.

A holder that dies without giving its locks back (SIGKILL, power loss) leaves rows behind;
they are *stale* and the next :func:`acquire` takes them over when

- the holder ran on this host and its process is gone, or
- its heartbeat is older than ``stale_after`` (default :data:`STALE_AFTER`, 10 minutes):
  the only test possible for a holder on another host, and the fallback when a pid was
  reused. :func:`portal_lock` refreshes the heartbeat from a background thread.

A takeover deletes the stale row only if it still carries the token it was read with, so
two processes recovering the same lock cannot both win.

The scheduler takes a portal's lock before it starts the crawl process and hands it over
through the environment (:data:`ENV_HOLDER`): the crawl then holds it under the same name
(:func:`holder_for`), with its own pid, and nobody can slip in between.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from archive.config import Config
from archive.models import CrawlLock
from archive.store import Archive, ArchiveError, utcnow

log = logging.getLogger(__name__)

#: A lock whose holder has not refreshed it for this long is taken over.
STALE_AFTER = timedelta(minutes=10)

#: The holder a crawl process inherits from the scheduler that started it.
ENV_HOLDER = "PORTAL_ARCHIVE_LOCK_HOLDER"

# Attempts at INSERT → (stale? delete) → INSERT before giving up: a lock released or
# recovered between our two statements is simply tried again.
_ATTEMPTS = 5


class Acquired(set):
    """The slugs :func:`portal_lock` acquired (a set), with ``busy``: each slug it could
    not take, mapped to a description of who holds it."""

    def __init__(self, acquired: Iterable[str] = (), busy: dict[str, str] | None = None):
        super().__init__(acquired)
        self.busy: dict[str, str] = dict(busy or {})


def holder_for(trigger: str) -> str:
    """This process's holder name: the one inherited from the scheduler when it started
    this process, else ``"<trigger> pid <pid> on <host>"``."""
    return os.environ.get(ENV_HOLDER) or f"{trigger} pid {os.getpid()} on {socket.gethostname()}"


def _utc(value: datetime) -> datetime:
    # SQLite gives back naive datetimes; they were written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    except OSError:
        return False
    return True


def stale_reason(
    row: CrawlLock | dict, *, stale_after: timedelta = STALE_AFTER, now: datetime | None = None
) -> str | None:
    """Why a lock can be taken over, or None while its holder looks alive."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    now = now or utcnow()
    age = now - _utc(get("heartbeat_at"))
    if get("hostname") == socket.gethostname() and not _process_alive(int(get("pid"))):
        return f"process {get('pid')} on {get('hostname')} is gone"
    if age > stale_after:
        return f"no heartbeat for {int(age.total_seconds())}s"
    return None


def describe(row: CrawlLock | dict) -> str:
    """One line for a busy portal: who holds it since when."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    since = _utc(get("acquired_at")).isoformat(timespec="seconds")
    return f"held by {get('holder')} since {since}"


def acquire(
    archive: Archive,
    slug: str,
    holder: str,
    *,
    stale_after: timedelta = STALE_AFTER,
    now: datetime | None = None,
) -> bool:
    """Take ``slug``'s lock for ``holder``; False when someone else holds it.

    Taking a lock ``holder`` already holds succeeds (a crawl started by the scheduler takes
    over the lock the scheduler took for it) and records this process as its owner. A stale
    lock (see the module) is taken over, with a warning in the log.
    """
    try:
        for _ in range(_ATTEMPTS):
            outcome = _try_acquire(archive, slug, holder, stale_after, now or utcnow())
            if outcome is not None:
                return outcome
    except OperationalError as exc:  # e.g. SQLite busy beyond its timeout
        raise ArchiveError(f"cannot take the lock of {slug!r}: {exc.orig}") from exc
    return False


def _try_acquire(
    archive: Archive, slug: str, holder: str, stale_after: timedelta, when: datetime
) -> bool | None:
    """One attempt: True (taken), False (held by someone alive), None (try again)."""
    mine = {"pid": os.getpid(), "hostname": socket.gethostname(), "heartbeat_at": when}
    try:
        with archive.session() as s:
            s.add(
                CrawlLock(
                    slug=slug, holder=holder, token=uuid.uuid4().hex, acquired_at=when, **mine
                )
            )
        return True
    except IntegrityError:
        pass  # held: by us, by someone alive, or by someone dead
    with archive.session() as s:
        row = s.get(CrawlLock, slug)
        if row is None:
            return None  # released in between: insert again
        same_row = (CrawlLock.slug == slug) & (CrawlLock.token == row.token)
        if row.holder == holder:
            taken = s.execute(
                update(CrawlLock)
                .where(same_row)
                .values(**mine)
                .execution_options(synchronize_session=False)
            ).rowcount
            return True if taken else None
        reason = stale_reason(row, stale_after=stale_after, now=when)
        if reason is None:
            return False
        gone = s.execute(
            delete(CrawlLock).where(same_row).execution_options(synchronize_session=False)
        ).rowcount
        if gone:
            log.warning("lock of %s taken over from %s: %s", slug, row.holder, reason)
    return None  # deleted (by us or by another recoverer): insert again


def release(archive: Archive, slug: str, holder: str) -> bool:
    """Give ``slug``'s lock back if ``holder`` holds it; True if it did."""
    with archive.session() as s:
        result = s.execute(
            delete(CrawlLock)
            .where(CrawlLock.slug == slug, CrawlLock.holder == holder)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)


def heartbeat(
    archive: Archive, slugs: Iterable[str], holder: str, *, now: datetime | None = None
) -> int:
    """Say ``holder`` is still at work on ``slugs``; returns how many of their locks it
    still holds (fewer means one was taken over as stale: its crawl should stop)."""
    wanted = list(slugs)
    if not wanted:
        return 0
    with archive.session() as s:
        result = s.execute(
            update(CrawlLock)
            .where(CrawlLock.slug.in_(wanted), CrawlLock.holder == holder)
            .values(heartbeat_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0


def held(archive: Archive, *, stale_after: timedelta = STALE_AFTER) -> list[dict]:
    """Every lock, oldest first, each with ``stale``: why it could be taken over, or None."""
    now = utcnow()
    with archive.session() as s:
        rows = s.scalars(select(CrawlLock).order_by(CrawlLock.acquired_at, CrawlLock.slug))
        return [
            {
                "slug": r.slug,
                "holder": r.holder,
                "pid": r.pid,
                "hostname": r.hostname,
                "acquired_at": _utc(r.acquired_at),
                "heartbeat_at": _utc(r.heartbeat_at),
                "stale": stale_reason(r, stale_after=stale_after, now=now),
            }
            for r in rows
        ]


def busy_reasons(archive: Archive, slugs: Iterable[str]) -> dict[str, str]:
    """For each of ``slugs`` that is locked: who holds it since when."""
    wanted = list(slugs)
    with archive.session() as s:
        rows = s.scalars(select(CrawlLock).where(CrawlLock.slug.in_(wanted)))
        return {r.slug: describe(r) for r in rows}


@contextmanager
def portal_lock(
    archive: Archive | Config,
    slugs: Iterable[str],
    holder: str,
    *,
    stale_after: timedelta = STALE_AFTER,
    heartbeat_every: float | None = None,
) -> Iterator[Acquired]:
    """Hold the locks of as many of ``slugs`` as are free, for the ``with`` block.

    Yields the set of slugs acquired; its ``busy`` attribute maps each slug left out to
    who holds it. While the block runs a daemon thread refreshes the heartbeat (every
    ``heartbeat_every`` seconds, default a third of ``stale_after``); on exit, normal or
    not, the locks are released. Given a :class:`Config`, it opens the archive for the
    block and closes it after::

        with portal_lock(config, ["quan-thanh-xuan"], holder_for("cli")) as acquired:
            for slug, why in acquired.busy.items():
                print(f"{slug}: busy, {why}")
            crawl(acquired)
    """
    if isinstance(archive, Config):
        opened = Archive(archive)
        try:
            with portal_lock(
                opened, slugs, holder, stale_after=stale_after, heartbeat_every=heartbeat_every
            ) as acquired:
                yield acquired
        finally:
            opened.close()
        return
    wanted = list(dict.fromkeys(slugs))
    got: list[str] = []
    stop = threading.Event()
    beater: threading.Thread | None = None
    try:
        for slug in wanted:
            if acquire(archive, slug, holder, stale_after=stale_after):
                got.append(slug)
        acquired = Acquired(got, busy_reasons(archive, [s for s in wanted if s not in got]))
        if got:
            every = heartbeat_every or stale_after.total_seconds() / 3

            def beat() -> None:
                while not stop.wait(every):
                    try:
                        if heartbeat(archive, got, holder) < len(got):
                            log.warning("a lock of %s was taken over as stale", ", ".join(got))
                    except Exception:  # a database hiccup must not kill the crawl
                        log.exception("lock heartbeat failed")

            beater = threading.Thread(target=beat, name="lock-heartbeat", daemon=True)
            beater.start()
        yield acquired
    finally:
        stop.set()
        if beater is not None:
            beater.join(timeout=5)
        for slug in got:
            release(archive, slug, holder)
