"""Recurring crawls: schedules kept in the database, fired by one long-running process.

A schedule is a row of ``schedules``: a target (a portal slug, several slugs separated by
commas, or ``all``), a crontab expression and a time zone (default Asia/Ho_Chi_Minh). The CLI,
the web application and the scheduler all read and write that table, so a schedule added
while the scheduler runs is picked up at its next poll, and every schedule survives a
restart. APScheduler's ``CronTrigger`` parses the expression and computes fire times (time
zones, DST, month lengths); the loop that fires them is ours, see docs/scheduler.md for why.

When a schedule comes due the scheduler

1. moves ``next_run_at`` to the first slot after *now*: runs missed while the scheduler was
   down are coalesced into this one run, never replayed one by one;
2. takes the crawl lock (:mod:`archive.locks`) of each portal of the target; a portal whose
   lock is held (a crawl started from the CLI, the web, or this schedule's previous run still
   going) is left out and recorded as *busy*, with who holds it; if every portal is busy, the
   run is recorded as *skipped* and nothing is queued;
3. starts ``portal-archive crawl <slugs> --trigger scheduler`` in a child process, handing it
   the locks (:data:`archive.locks.ENV_HOLDER`), and records the run as *started*; when the
   child exits the run becomes *finished* (exit 0) or *failed*, and the locks are released.

Every decision is a row of ``schedule_fires`` (:func:`history`) and a log line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url

from archive import locks
from archive.config import ENV_DB, Config
from archive.models import Schedule, ScheduleFire
from archive.store import Archive, ArchiveError, utcnow

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

#: How often (seconds) the scheduler re-reads the table when nothing is due sooner.
POLL_SECONDS = 15.0

#: How long (seconds) running crawls get to end after SIGTERM when the scheduler stops.
STOP_GRACE = 60.0

#: The lock that keeps a second scheduler on the same database from firing schedules twice.
SCHEDULER_LOCK = "(scheduler)"

#: crontab shortcuts (as in Vixie cron).
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9._-]*", re.ASCII | re.IGNORECASE)

#: Known portal slugs, asked at each fire (so "all" includes portals registered later).
KnownSlugs = Callable[[], Iterable[str]]
#: The command line that crawls the given slugs (a hook: tests start a fake crawl).
CrawlCommand = Callable[[Sequence[str]], Sequence[str]]
#: Starts a crawl of the given slugs for a lock holder; returns what the scheduler follows:
#: a :class:`subprocess.Popen`, or anything with its ``poll``, ``wait``, ``send_signal``,
#: ``returncode`` and ``pid`` (:class:`archive.scrapyd.ScrapydCrawl`: jobs on Scrapyd).
Launcher = Callable[[Sequence[str], str], object]


class ScheduleError(ArchiveError):
    """A schedule request the user can correct: bad cron, unknown id, unknown portal."""


@dataclass(frozen=True)
class ScheduleInfo:
    """One schedule as the CLI and the web application see it (times in UTC)."""

    id: int
    target: str
    cron: str
    timezone: str
    paused: bool
    created_at: datetime
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_status: str | None
    last_message: str | None

    @property
    def slugs(self) -> list[str]:
        """The portals named by the target (empty for ``all``)."""
        return [] if self.target == "all" else self.target.split(",")

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        for key in ("created_at", "next_run_at", "last_run_at"):
            d[key] = d[key].isoformat() if d[key] else None
        return d


# --- cron expressions -------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r} (e.g. {DEFAULT_TIMEZONE})") from None


def _weekday(token: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token in _WEEKDAYS:
        return _WEEKDAYS.index(token)
    raise ValueError(f"{token!r} is not a day of the week (0-7 or sun-sat)")


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field as APScheduler 3 reads it.

    crontab counts 0 (and 7) as Sunday; APScheduler 3's ``CronTrigger`` counts 0 as Monday
    (its documented "historical mistake", apscheduler issue 286, fixed only in 4.x), so
    ``1-5`` would silently mean Tuesday to Saturday. Numbers, ranges and steps are expanded
    here to day names, which both read the same way: ``1-5`` → ``mon,tue,wed,thu,fri``.
    """
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"bad step in day of week {part!r}")
            step = int(step_text)
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = _weekday(a), _weekday(b)
            if first > last:
                raise ValueError(f"day-of-week range {base!r} runs backwards")
        elif slash:
            raise ValueError(f"a step needs a range or '*' in day of week {part!r}")
        else:
            first = last = _weekday(base)
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(_WEEKDAYS[d] for d in sorted(days))


def parse_cron(cron: str, timezone: str = DEFAULT_TIMEZONE) -> BaseTrigger:
    """An APScheduler trigger firing when the crontab expression ``cron`` does, in
    ``timezone``; :class:`ScheduleError` with the reason when the expression is not valid.

    Five fields (minute hour day-of-month month day-of-week) or a shortcut (``@daily``…),
    with crontab's meaning: Sunday is 0 or 7, and when both day fields are restricted a
    day matching *either* fires, as in cron(8) (APScheduler alone would need both).
    """
    text = " ".join(cron.split())
    expr = ALIASES.get(text.lower(), text)
    fields = expr.split()
    hint = "expected 5 fields: minute hour day month day-of-week, e.g. '0 2 * * *'"
    if len(fields) != 5:
        raise ScheduleError(f"cron {cron!r}: {len(fields)} field(s), {hint}")
    zone = _zone(timezone)
    minute, hour, day, month, dow = fields
    try:
        weekdays = crontab_weekdays(dow)
        common = {"minute": minute, "hour": hour, "month": month, "timezone": zone}
        if not day.startswith("*") and not dow.startswith("*"):
            trigger: BaseTrigger = OrTrigger(
                [CronTrigger(day=day, **common), CronTrigger(day_of_week=weekdays, **common)]
            )
        else:
            trigger = CronTrigger(day=day, day_of_week=weekdays, **common)
    except ValueError as exc:
        raise ScheduleError(f"cron {cron!r}: {exc}") from None
    if _next_after(trigger, utcnow()) is None:
        raise ScheduleError(f"cron {cron!r}: never fires")
    return trigger


def _next_after(trigger: BaseTrigger, now: datetime) -> datetime | None:
    # Strictly after now: CronTrigger rounds up to the whole second, and a "now" that falls
    # exactly on a slot would otherwise be returned as its own next slot.
    nxt = trigger.get_next_fire_time(None, now + timedelta(microseconds=1))
    return nxt.astimezone(UTC) if nxt else None


def next_run(cron: str, timezone: str, after: datetime) -> datetime | None:
    """The first slot of ``cron`` strictly after ``after`` (UTC)."""
    return _next_after(parse_cron(cron, timezone), after)


# --- targets ----------------------------------------------------------------------------


def normalise_target(target: str | Sequence[str]) -> str:
    """The stored form of a target: ``all`` or slugs joined by commas, in the order given.

    A group of portals is written as a comma-separated list (``a,b,c``, or several
    arguments); URLs are refused: a site is scheduled once it has a TOML file.
    """
    items = [target] if isinstance(target, str) else list(target)
    parts = [p.strip() for item in items for p in item.split(",")]
    parts = [p for p in parts if p]
    if not parts:
        raise ScheduleError("no target: give a portal slug, several slugs, or 'all'")
    if "all" in parts:
        if len(parts) > 1:
            raise ScheduleError("'all' already names every portal: give it alone")
        return "all"
    for p in parts:
        if "://" in p or "/" in p:
            raise ScheduleError(
                f"{p!r}: schedules take portal slugs, not URLs (register the site in a TOML "
                "file first, see README 'Adding a portal')"
            )
        if not _SLUG_RE.fullmatch(p):
            raise ScheduleError(f"{p!r} is not a portal slug")
    return ",".join(dict.fromkeys(parts))


def registry_slugs(portals_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The slugs of the portal registry (``--portals DIR``, ``$PORTAL_ARCHIVE_PORTALS`` or
    scraper/portals). The one place this module reaches into the scraper, lazily, as the CLI
    does; callers that know better pass their own ``known_slugs``."""
    from scraper import registry

    try:
        return list(registry.load_all(portals_dir))
    except registry.RegistryError as exc:
        raise ScheduleError(str(exc)) from None


def _resolve(target: str, known: Iterable[str]) -> tuple[list[str], list[str]]:
    """(known slugs to crawl, unknown slugs) of a stored target."""
    known = list(known)
    if target == "all":
        return known, []
    parts = target.split(",")
    return [p for p in parts if p in known], [p for p in parts if p not in known]


# --- schedules: add, list, pause, resume, remove ---------------------------------------------


@contextmanager
def _opened(archive_or_config: Archive | Config) -> Iterator[Archive]:
    if isinstance(archive_or_config, Archive):
        yield archive_or_config
        return
    archive = Archive(archive_or_config)
    try:
        yield archive
    finally:
        archive.close()


def _utc(value: datetime | None) -> datetime | None:
    # SQLite gives back naive datetimes; they were written in UTC.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _info(row: Schedule) -> ScheduleInfo:
    return ScheduleInfo(
        id=row.id,
        target=row.target,
        cron=row.cron,
        timezone=row.timezone,
        paused=row.paused,
        created_at=_utc(row.created_at),
        next_run_at=_utc(row.next_run_at),
        last_run_at=_utc(row.last_run_at),
        last_status=row.last_status,
        last_message=row.last_message,
    )


def add(
    archive_or_config: Archive | Config,
    target: str | Sequence[str],
    cron: str,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    known_slugs: Iterable[str] | None = None,
    now: datetime | None = None,
) -> ScheduleInfo:
    """Schedule crawls of ``target`` (a slug, comma-separated slugs, a list, or ``all``)
    at the times of the crontab expression ``cron`` in ``timezone``.

    The expression is validated (:func:`parse_cron`); when ``known_slugs`` is given, every
    slug of the target must be among them. The first run is the first slot after now.
    """
    target = normalise_target(target)
    cron = " ".join(cron.split())
    trigger = parse_cron(cron, timezone)
    if known_slugs is not None:
        known = list(known_slugs)
        _, unknown = _resolve(target, known)
        if unknown:
            raise ScheduleError(
                f"unknown portal(s) {', '.join(unknown)} (known: {', '.join(sorted(known)) or 'none'})"
            )
    now = now or utcnow()
    with _opened(archive_or_config) as archive, archive.session() as s:
        row = Schedule(
            target=target,
            cron=cron,
            timezone=timezone,
            paused=False,
            created_at=now,
            next_run_at=_next_after(trigger, now),
        )
        s.add(row)
        s.flush()
        return _info(row)


def list_schedules(archive_or_config: Archive | Config) -> list[ScheduleInfo]:
    """Every schedule, by id. (Not named ``list``: it would shadow the builtin here.)"""
    with _opened(archive_or_config) as archive, archive.session() as s:
        return [_info(r) for r in s.scalars(select(Schedule).order_by(Schedule.id))]


def _get(s, schedule_id: int) -> Schedule:
    row = s.get(Schedule, schedule_id)
    if row is None:
        known = ", ".join(str(i) for i in s.scalars(select(Schedule.id).order_by(Schedule.id)))
        raise ScheduleError(f"no schedule {schedule_id} (known: {known or 'none'})")
    return row


def get(archive_or_config: Archive | Config, schedule_id: int) -> ScheduleInfo:
    """One schedule; :class:`ScheduleError` for an unknown id."""
    with _opened(archive_or_config) as archive, archive.session() as s:
        return _info(_get(s, schedule_id))


def pause(archive_or_config: Archive | Config, schedule_id: int) -> ScheduleInfo:
    """Stop firing a schedule until :func:`resume` (a running crawl is not stopped)."""
    with _opened(archive_or_config) as archive, archive.session() as s:
        row = _get(s, schedule_id)
        row.paused = True
        row.next_run_at = None
        return _info(row)


def resume(
    archive_or_config: Archive | Config, schedule_id: int, *, now: datetime | None = None
) -> ScheduleInfo:
    """Fire a paused schedule again, from its first slot after now: the runs it would
    have made while paused are not made up."""
    with _opened(archive_or_config) as archive, archive.session() as s:
        row = _get(s, schedule_id)
        if row.paused or row.next_run_at is None:
            row.paused = False
            row.next_run_at = next_run(row.cron, row.timezone, now or utcnow())
        return _info(row)


def remove(archive_or_config: Archive | Config, schedule_id: int) -> ScheduleInfo:
    """Delete a schedule and its history (a running crawl is not stopped)."""
    with _opened(archive_or_config) as archive, archive.session() as s:
        row = _get(s, schedule_id)
        info = _info(row)
        s.execute(delete(ScheduleFire).where(ScheduleFire.schedule_id == schedule_id))
        s.delete(row)
        return info


def _fire_dict(f: ScheduleFire) -> dict:
    return {
        "id": f.id,
        "schedule_id": f.schedule_id,
        "scheduled_for": _utc(f.scheduled_for),
        "fired_at": _utc(f.fired_at),
        "status": f.status,
        "slugs": list(f.slugs or []),
        "busy": dict(f.busy or {}),
        "message": f.message,
        "pid": f.pid,
        "jobs": dict(f.jobs or {}),
        "exit_code": f.exit_code,
        "finished_at": _utc(f.finished_at),
    }


def history(
    archive_or_config: Archive | Config, schedule_id: int | None = None, *, limit: int = 20
) -> list[dict]:
    """The latest fires (of one schedule, or of all), newest first."""
    with _opened(archive_or_config) as archive, archive.session() as s:
        stmt = select(ScheduleFire).order_by(ScheduleFire.id.desc()).limit(limit)
        if schedule_id is not None:
            _get(s, schedule_id)
            stmt = stmt.where(ScheduleFire.schedule_id == schedule_id)
        return [_fire_dict(f) for f in s.scalars(stmt)]


# --- the scheduler ------------------------------------------------------------------------


def crawl_argv(
    config: Config,
    slugs: Sequence[str],
    *,
    portals_dir: str | os.PathLike[str] | None = None,
    allow_private: bool = False,
    trigger: str = "scheduler",
) -> list[str]:
    """The command line of a scheduled crawl (or, with ``trigger="web"``, one started from
    the web application).

    A database URL with a password is not put on the command line (``ps`` shows it to
    every user): the child gets it from ``$PORTAL_ARCHIVE_DB`` instead (:func:`child_env`).
    """
    argv = [sys.executable, "-m", "archive.cli", "--data-dir", str(config.data_dir)]
    if not _has_password(config.db_url):
        argv += ["--db", config.db_url]
    argv += ["crawl", *slugs, "--trigger", trigger]
    if portals_dir:
        argv += ["--portals", str(portals_dir)]
    if allow_private:
        argv.append("--allow-private")
    return argv


def _has_password(url: str) -> bool:
    try:
        return make_url(url).password is not None
    except Exception:  # not a URL SQLAlchemy reads: Archive() has already refused it
        return False


def child_env(config: Config, holder: str | None = None) -> dict[str, str]:
    """The environment of a crawl child: the database URL (never on its command line), and
    the lock holder it inherits when the parent took the portal's lock for it."""
    env = {**os.environ, ENV_DB: config.db_url}
    if holder:
        env[locks.ENV_HOLDER] = holder
    else:
        env.pop(locks.ENV_HOLDER, None)
    return env


@dataclass
class _Crawl:
    """A crawl child process started by the scheduler."""

    fire_id: int
    schedule_id: int
    holder: str
    slugs: list[str]
    process: subprocess.Popen  # or a ScrapydCrawl
    started: float = field(default_factory=time.monotonic)


class Scheduler:
    """Fires due schedules; one :meth:`tick` at a time, driven by :func:`run_scheduler`.

    Every decision depends only on the table and ``clock()``, so tests drive it with a
    fixed clock and a fake crawl command.
    """

    def __init__(
        self,
        archive: Archive,
        *,
        known_slugs: KnownSlugs,
        crawl_command: CrawlCommand,
        clock: Callable[[], datetime] = utcnow,
        stale_after: timedelta = locks.STALE_AFTER,
        launcher: Launcher | None = None,
    ):
        self.archive = archive
        self.known_slugs = known_slugs
        self.crawl_command = crawl_command
        #: How a crawl starts: a child process by default, jobs on Scrapyd with --scrapyd.
        self.launch: Launcher = launcher or self._start_process
        self.clock = clock
        self.stale_after = stale_after
        self.holder = (
            f"scheduler {uuid.uuid4().hex[:8]} pid {os.getpid()} on {socket.gethostname()}"
        )
        self.running: dict[int, _Crawl] = {}
        self.started = False

    # - lifecycle -

    def start(self) -> None:
        """Take the scheduler lock and close the runs a previous scheduler left open."""
        if not locks.acquire(
            self.archive, SCHEDULER_LOCK, self.holder, stale_after=self.stale_after
        ):
            why = locks.busy_reasons(self.archive, [SCHEDULER_LOCK]).get(SCHEDULER_LOCK, "")
            raise ScheduleError(f"another scheduler is running on this database ({why})")
        self.started = True
        now = self.clock()
        with self.archive.session() as s:
            for fire in s.scalars(select(ScheduleFire).where(ScheduleFire.status == "started")):
                fire.status = "abandoned"
                fire.finished_at = now
                fire.message = (
                    fire.message + "; " if fire.message else ""
                ) + "the scheduler stopped before this crawl ended (see portal-archive runs)"
        items = list_schedules(self.archive)
        active = [i for i in items if not i.paused]
        overdue = [i for i in active if i.next_run_at and i.next_run_at <= now]
        log.info(
            "scheduler started: %d schedule(s), %d paused, %d missed while down (each runs once now)",
            len(items),
            len(items) - len(active),
            len(overdue),
        )
        upcoming = sorted(
            (i for i in active if i.next_run_at and i.next_run_at > now),
            key=lambda i: i.next_run_at,
        )
        if upcoming:
            first = upcoming[0]
            log.info(
                "next: schedule %d (%s) at %s",
                first.id,
                first.target,
                _local(first.next_run_at, first.timezone),
            )

    def shutdown(self, grace: float = STOP_GRACE) -> None:
        """Ask running crawls to stop (SIGTERM: Scrapy closes them cleanly), wait up to
        ``grace`` seconds, kill the rest; record them and give every lock back."""
        self._reap()  # those that ended on their own are finished, not interrupted
        if self.running:
            log.info("stopping %d running crawl(s)", len(self.running))
        for crawl in self.running.values():
            _signal(crawl.process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for crawl in list(self.running.values()):
            try:
                crawl.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("crawl %s did not stop in %.0fs: killed", crawl.slugs, grace)
                _signal(crawl.process, signal.SIGKILL)
                crawl.process.wait()
            self._finish(crawl, status="interrupted", message="the scheduler was stopped")
        self.running.clear()
        if self.started:
            locks.release(self.archive, SCHEDULER_LOCK, self.holder)
            self.started = False
        log.info("scheduler stopped")

    # - one step -

    def tick(self) -> float | None:
        """Reap ended crawls, refresh locks, fire every due schedule; return the seconds
        until the next one is due (None when none is)."""
        now = self.clock()
        self._reap()
        if not locks.heartbeat(self.archive, [SCHEDULER_LOCK], self.holder, now=now):
            # Taken over as stale (this process was stopped for longer than stale_after):
            # take it back, unless another scheduler now runs.
            if not locks.acquire(self.archive, SCHEDULER_LOCK, self.holder, now=now):
                raise ScheduleError("another scheduler took over this database")
        for crawl in self.running.values():
            locks.heartbeat(self.archive, crawl.slugs, crawl.holder, now=now)
        with self.archive.session() as s:
            due = list(
                s.scalars(
                    select(Schedule.id)
                    .where(Schedule.paused.is_(False), Schedule.next_run_at <= now)
                    .order_by(Schedule.next_run_at, Schedule.id)
                )
            )
        for schedule_id in due:
            self.fire(schedule_id, now)
        with self.archive.session() as s:
            soonest = s.scalar(
                select(func.min(Schedule.next_run_at)).where(Schedule.paused.is_(False))
            )
        if soonest is None:
            return None
        return max(0.0, (_utc(soonest) - self.clock()).total_seconds())

    def fire(self, schedule_id: int, now: datetime) -> dict | None:
        """Run one due schedule now (see the module docstring); its fire record, or None
        when it is no longer due (paused, removed or fired meanwhile)."""
        with self.archive.session() as s:
            row = s.get(Schedule, schedule_id)
            if row is None or row.paused or row.next_run_at is None or _utc(row.next_run_at) > now:
                return None
            slot = _utc(row.next_run_at)
            target, zone, info = row.target, row.timezone, f"schedule {row.id} ({row.target})"
            try:
                row.next_run_at = next_run(row.cron, row.timezone, now)
            except ScheduleError as exc:  # edited by hand into something invalid
                row.paused, row.next_run_at = True, None
                log.error("%s: %s; paused", info, exc)
            row.last_run_at = now
            following = _utc(row.next_run_at)
        holder = f"scheduler schedule {schedule_id} run {uuid.uuid4().hex[:8]} " + (
            f"pid {os.getpid()} on {socket.gethostname()}"
        )
        fire = ScheduleFire(schedule_id=schedule_id, scheduled_for=slot, fired_at=now)
        if slot < now - timedelta(minutes=1):
            log.info(
                "%s: due at %s, missed while the scheduler was down: runs now, once",
                info,
                _local(slot, zone),
            )
        try:
            slugs, unknown = _resolve(target, self.known_slugs())
        except ArchiveError as exc:
            slugs, unknown = [], []
            fire.message = str(exc)
        notes = [f"unknown portal(s): {', '.join(unknown)}"] if unknown else []
        got: list[str] = []
        try:
            for slug in slugs:
                if locks.acquire(self.archive, slug, holder, stale_after=self.stale_after, now=now):
                    got.append(slug)
            fire.busy = locks.busy_reasons(self.archive, [s for s in slugs if s not in got])
        except ArchiveError as exc:  # the database stayed busy: this run fails, visibly
            for slug in got:
                locks.release(self.archive, slug, holder)
            got = []
            notes.append(str(exc))
        notes += [f"{slug} busy ({why})" for slug, why in (fire.busy or {}).items()]
        process = None
        if got:
            try:
                process = self.launch(got, holder)
            except (OSError, ArchiveError) as exc:  # ScrapydError is an ArchiveError
                notes.append(f"cannot start the crawl: {exc}")
                for slug in got:
                    locks.release(self.archive, slug, holder)
        if process is not None:
            fire.status, fire.slugs, fire.pid = "started", got, process.pid
            jobs = getattr(process, "jobs", None)
            if jobs:  # handed to Scrapyd
                fire.jobs = dict(jobs)
                notes.append(
                    "on Scrapyd: " + ", ".join(f"{slug} job {job}" for slug, job in jobs.items())
                )
        elif fire.busy and not got:
            fire.status = "skipped"  # every portal it could crawl is being crawled
        else:
            fire.status = "failed"
            if not (fire.message or notes):
                notes.append("no portal to crawl")
        fire.message = "; ".join(filter(None, [fire.message, *notes])) or None
        with self.archive.session() as s:
            s.add(fire)
            s.flush()
            record = _fire_dict(fire)
            row = s.get(Schedule, schedule_id)
            if row is not None:
                row.last_status, row.last_message = fire.status, fire.message
        if process is not None:
            self.running[record["id"]] = _Crawl(record["id"], schedule_id, holder, got, process)
            log.info(
                "%s: crawl of %s started (%s); next run %s",
                info,
                ", ".join(got),
                f"pid {process.pid}" if process.pid else "on Scrapyd",
                _local(following, zone),
            )
        if fire.status != "started" or fire.message:
            level = logging.WARNING if fire.status != "started" else logging.INFO
            log.log(level, "%s: %s: %s", info, fire.status, fire.message or "nothing to crawl")
        return record

    def _start_process(self, slugs: Sequence[str], holder: str) -> subprocess.Popen:
        return subprocess.Popen(
            list(self.crawl_command(slugs)),
            env=child_env(self.archive.config, holder),
            stdin=subprocess.DEVNULL,
            # Its own session: a Ctrl-C meant for the scheduler does not reach the crawl
            # twice (Scrapy takes a second signal as "stop now, uncleanly").
            start_new_session=True,
        )

    def _reap(self) -> None:
        for fire_id, crawl in list(self.running.items()):
            code = crawl.process.poll()
            if code is None:
                continue
            del self.running[fire_id]
            self._finish(crawl, status="finished" if code == 0 else "failed")

    def _finish(self, crawl: _Crawl, *, status: str, message: str | None = None) -> None:
        code = crawl.process.returncode
        seconds = time.monotonic() - crawl.started
        for slug in crawl.slugs:
            locks.release(self.archive, slug, crawl.holder)
        with self.archive.session() as s:
            fire = s.get(ScheduleFire, crawl.fire_id)
            if fire is None:  # its schedule was removed meanwhile
                return
            fire.status, fire.exit_code, fire.finished_at = status, code, self.clock()
            if message or code:
                extra = message or f"the crawl exited with status {code}"
                fire.message = f"{fire.message}; {extra}" if fire.message else extra
            latest = s.scalar(
                select(func.max(ScheduleFire.id)).where(
                    ScheduleFire.schedule_id == crawl.schedule_id
                )
            )
            row = s.get(Schedule, crawl.schedule_id)
            if row is not None and latest == crawl.fire_id:
                row.last_status, row.last_message = status, fire.message
        log.info(
            "schedule %d: crawl of %s %s (exit %s) after %.0fs",
            crawl.schedule_id,
            ", ".join(crawl.slugs),
            status,
            code,
            seconds,
        )


def _signal(process: subprocess.Popen, sig: int) -> None:
    try:
        process.send_signal(sig)
    except ProcessLookupError:
        pass


def _local(when: datetime | None, zone: str) -> str:
    """A time as the schedule's time zone shows it: ``2026-05-02T02:00+07:00``."""
    if when is None:
        return "-"
    return when.astimezone(ZoneInfo(zone)).isoformat(timespec="minutes")


def run_scheduler(
    config: Config,
    *,
    portals_dir: str | os.PathLike[str] | None = None,
    allow_private: bool = False,
    stop_event: threading.Event | None = None,
    crawl_command: CrawlCommand | None = None,
    known_slugs: KnownSlugs | None = None,
    poll: float = POLL_SECONDS,
    stop_grace: float = STOP_GRACE,
    clock: Callable[[], datetime] = utcnow,
    launcher: Launcher | None = None,
) -> None:
    """Fire the schedules until ``stop_event`` is set, or SIGTERM/SIGINT arrives (when run
    in the main thread): the long-running ``portal-archive scheduler`` process.

    ``crawl_command(slugs)`` gives the command line of a crawl (default :func:`crawl_argv`);
    ``known_slugs()`` the registered portals (default :func:`registry_slugs`);
    ``launcher`` starts the crawls elsewhere (:func:`archive.scrapyd.launcher`). Raises
    :class:`ScheduleError` when another scheduler already runs on the same database.
    """
    stop = stop_event or threading.Event()
    if crawl_command is None:

        def crawl_command(slugs: Sequence[str]) -> list[str]:
            return crawl_argv(config, slugs, portals_dir=portals_dir, allow_private=allow_private)

    archive = Archive(config)
    scheduler = Scheduler(
        archive,
        known_slugs=known_slugs or (lambda: registry_slugs(portals_dir)),
        crawl_command=crawl_command,
        clock=clock,
        launcher=launcher,
    )
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, _frame) -> None:
            log.info("%s received: stopping", signal.Signals(signum).name)
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        scheduler.start()
        while not stop.is_set():
            try:
                until_next = scheduler.tick()
            except ScheduleError:
                raise
            except Exception:  # a database hiccup: log it and try again at the next poll
                log.exception("scheduler tick failed")
                until_next = None
            wait = poll if until_next is None else min(poll, until_next)
            stop.wait(max(wait, 0.2))
    finally:
        try:
            scheduler.shutdown(stop_grace)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            archive.close()


# --- the command line ---------------------------------------------------------------------


def add_cli(subparsers: argparse._SubParsersAction, common_parent: argparse.ArgumentParser) -> None:
    """Add the ``schedule`` and ``scheduler`` commands to the CLI's subparsers."""
    from archive.cli import registry_parent

    registry = registry_parent()
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON")

    p = subparsers.add_parser(
        "schedule",
        parents=[common_parent],
        help="recurring crawls: add, list, pause, resume, remove, history",
        description="Recurring crawls, kept in the database; `portal-archive scheduler` "
        "runs them. See docs/scheduler.md.",
    )
    actions = p.add_subparsers(dest="schedule_action", metavar="ACTION")
    actions.required = True
    a = actions.add_parser(
        "add",
        parents=[common_parent, registry, as_json],
        help="schedule crawls of portals",
        description="Schedule crawls of one portal, several (slugs, or slugs separated by "
        "commas) or all of them.",
    )
    a.add_argument("targets", nargs="+", metavar="PORTAL|all")
    a.add_argument(
        "--cron",
        required=True,
        help="crontab expression: minute hour day month day-of-week, e.g. '0 2 * * *' "
        "(every day at 02:00); Sunday is 0 or 7; @daily, @weekly… also work",
    )
    a.add_argument(
        "--timezone",
        default=DEFAULT_TIMEZONE,
        help=f"time zone of the cron expression (default {DEFAULT_TIMEZONE})",
    )
    actions.add_parser("list", parents=[common_parent, as_json], help="every schedule")
    for name, what in (
        ("pause", "stop firing a schedule"),
        ("resume", "fire a paused schedule again (from its next slot)"),
        ("remove", "delete a schedule and its history"),
    ):
        s = actions.add_parser(name, parents=[common_parent, as_json], help=what)
        s.add_argument("id", type=int, help="schedule id (see schedule list)")
    h = actions.add_parser(
        "history", parents=[common_parent, as_json], help="recent fires: started, skipped…"
    )
    h.add_argument("id", type=int, nargs="?", help="only this schedule")
    h.add_argument("--limit", type=int, default=20)

    s = subparsers.add_parser(
        "scheduler",
        parents=[common_parent, registry],
        help="run the schedules (long-running; SIGTERM or Ctrl-C stops it)",
    )
    s.add_argument(
        "--allow-private",
        action="store_true",
        help="let scheduled crawls reach private and loopback addresses",
    )
    s.add_argument(
        "--poll",
        type=float,
        default=POLL_SECONDS,
        help=f"seconds between reads of the schedule table (default {POLL_SECONDS:.0f})",
    )
    s.add_argument(
        "--scrapyd",
        metavar="URL",
        help="hand each crawl to this Scrapyd server's schedule.json instead of running it "
        "here (deploy first: scrapyd-deploy; docs/distributed.md)",
    )
    s.add_argument(
        "--scrapyd-project",
        default="portal_archive",
        metavar="NAME",
        help="--scrapyd: the project name it was deployed under (default portal_archive)",
    )
    s.add_argument(
        "--scrapyd-data-dir",
        metavar="DIR",
        help="--scrapyd: the data directory as the Scrapyd host sees it (default --data-dir)",
    )


def _when(value: datetime | None, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") if value else "-"


def print_schedules(items: Sequence[ScheduleInfo]) -> None:
    if not items:
        print("no schedules: add one with `portal-archive schedule add PORTAL --cron '0 2 * * *'`")
        return
    cron_w = max(4, *(len(i.cron) for i in items))
    target_w = max(6, *(len(i.target) for i in items))
    print(
        f"{'id':>4}  {'state':<6}  {'cron':<{cron_w}}  {'target':<{target_w}}  "
        f"{'next run':<16}  {'last run':<16}  last"
    )
    for i in items:
        state = "paused" if i.paused else "active"
        last = i.last_status or "-"
        if i.last_message:
            last += f": {i.last_message}"
        print(
            f"{i.id:>4}  {state:<6}  {i.cron:<{cron_w}}  {i.target:<{target_w}}  "
            f"{_when(i.next_run_at, i.timezone):<16}  {_when(i.last_run_at, i.timezone):<16}  "
            f"{last}"
        )
    zones = sorted({i.timezone for i in items})
    print(f"{len(items)} schedule(s); times in {', '.join(zones)}")


def _dump(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=_json_default))


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def cmd_schedule(args: argparse.Namespace, config: Config) -> int:
    """``portal-archive schedule ACTION``."""
    action = args.schedule_action
    if action == "add":
        known = registry_slugs(getattr(args, "portals", None))
        info = add(config, args.targets, args.cron, timezone=args.timezone, known_slugs=known)
        if args.json:
            _dump(info.as_dict())
        else:
            print(
                f"schedule {info.id}: {info.target} at '{info.cron}' ({info.timezone}); "
                f"next run {_when(info.next_run_at, info.timezone)}"
            )
        return 0
    if action == "list":
        items = list_schedules(config)
        if args.json:
            _dump([i.as_dict() for i in items])
        else:
            print_schedules(items)
        return 0
    if action == "history":
        fires = history(config, args.id, limit=args.limit)
        if args.json:
            _dump(fires)
            return 0
        for f in fires:
            when = f["fired_at"].isoformat(timespec="seconds")
            what = ", ".join(f["slugs"]) or "-"
            print(f"{f['id']:>5}  schedule {f['schedule_id']:<4} {when}  {f['status']:<11} {what}")
            if f["message"]:
                print(f"       {f['message']}")
        if not fires:
            print("no fires yet")
        return 0
    verb = {"pause": pause, "resume": resume, "remove": remove}.get(action)
    if verb is None:
        raise ScheduleError(f"unknown schedule action {action!r}")
    info = verb(config, args.id)
    if args.json:
        _dump(info.as_dict())
    else:
        done = {"pause": "paused", "resume": "resumed", "remove": "removed"}[action]
        nxt = f"; next run {_when(info.next_run_at, info.timezone)}" if action == "resume" else ""
        print(f"schedule {info.id} ({info.target}, '{info.cron}') {done}{nxt}")
    return 0


def cmd_scheduler(args: argparse.Namespace, config: Config) -> int:
    """``portal-archive scheduler``: runs until SIGTERM or Ctrl-C, logging to stderr."""
    if args.poll <= 0:
        raise ScheduleError(f"--poll {args.poll}: expected a positive number of seconds")
    logger = logging.getLogger("archive")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    portals_dir = getattr(args, "portals", None)
    registry_slugs(portals_dir)  # a bad registry is an error now, not at the first fire
    launch = None
    if args.scrapyd:
        from archive import scrapyd

        server = scrapyd.Scrapyd(args.scrapyd, args.scrapyd_project)
        server.call("daemonstatus.json")  # unreachable: an error now, not at the first fire
        launch = scrapyd.launcher(
            server,
            config,
            portals_dir=portals_dir,
            data_dir=args.scrapyd_data_dir,
            allow_private=args.allow_private,
        )
    elif args.scrapyd_data_dir:
        raise ScheduleError("--scrapyd-data-dir goes with --scrapyd URL")
    where = f"crawls on Scrapyd {args.scrapyd}" if args.scrapyd else "crawls run here"
    print(f"scheduler on {config.data_dir}, {where} (SIGTERM or Ctrl-C stops it)", file=sys.stderr)
    run_scheduler(
        config,
        portals_dir=Path(portals_dir).resolve() if portals_dir else None,
        allow_private=args.allow_private,
        poll=args.poll,
        launcher=launch,
    )
    return 0
