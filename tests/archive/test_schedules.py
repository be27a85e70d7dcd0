"""archive.schedules: schedules in the database, and the scheduler that fires them.

No real crawl runs here: the scheduler starts a fake crawl command that writes what it was
given (its arguments and the lock holder it inherited) to a file.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive import locks, schedules
from archive.config import Config
from archive.schedules import ScheduleError, Scheduler
from archive.store import Archive, ArchiveError

ROOT = Path(__file__).resolve().parents[2]
HCM = "Asia/Ho_Chi_Minh"
# 2026-05-01 (a Friday) 10:00 in Hồ Chí Minh City.
T0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)

FAKE_CRAWL = """
import json, os, sys, time
out, seconds, *slugs = sys.argv[1:]
with open(out, "a") as fh:
    fh.write(json.dumps({"slugs": slugs, "holder": os.environ.get("PORTAL_ARCHIVE_LOCK_HOLDER"),
                         "db": os.environ.get("PORTAL_ARCHIVE_DB")}) + "\\n")
time.sleep(float(seconds))
"""


@pytest.fixture
def config(tmp_path) -> Config:
    return Config.resolve(tmp_path / "data")


@pytest.fixture
def archive(config):
    archive = Archive(config)
    yield archive
    archive.close()


class FakeCrawl:
    """A crawl command hook: records each start in ``out``, runs ``seconds``."""

    def __init__(self, out: Path, seconds: float = 0.0):
        self.out, self.seconds = out, seconds

    def __call__(self, slugs):
        return [sys.executable, "-c", FAKE_CRAWL, str(self.out), str(self.seconds), *slugs]

    def starts(self, wait_for: int = 0, timeout: float = 10) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.out.read_text().splitlines() if self.out.exists() else []
            if len(lines) >= wait_for or time.monotonic() > deadline:
                return [json.loads(line) for line in lines]
            time.sleep(0.02)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_scheduler(archive, crawl, clock, known=("quan-a", "quan-b", "quan-c")) -> Scheduler:
    scheduler = Scheduler(
        archive, known_slugs=lambda: list(known), crawl_command=crawl, clock=clock
    )
    scheduler.start()
    return scheduler


def wait_reaped(scheduler: Scheduler, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while scheduler.running:
        assert time.monotonic() < deadline, "the fake crawl did not end"
        time.sleep(0.02)
        scheduler._reap()


# --- schedules in the database ------------------------------------------------------------


def test_add_list_pause_resume_remove_survive_a_restart(config):
    a = schedules.add(config, "quan-a", "0 2 * * *", now=T0)
    b = schedules.add(config, ["quan-a", "quan-b"], "30 6 * * 1-5", now=T0)
    c = schedules.add(config, "all", "@weekly", now=T0)
    # Each call opened and closed its own Archive: a new process sees the same schedules.
    assert [(i.id, i.target, i.cron, i.timezone) for i in schedules.list_schedules(config)] == [
        (a.id, "quan-a", "0 2 * * *", HCM),
        (b.id, "quan-a,quan-b", "30 6 * * 1-5", HCM),
        (c.id, "all", "@weekly", HCM),
    ]
    assert schedules.pause(config, b.id).paused
    assert schedules.get(config, b.id).paused
    assert schedules.get(config, b.id).next_run_at is None
    resumed = schedules.resume(config, b.id, now=T0)
    assert not resumed.paused
    assert schedules.get(config, b.id).next_run_at == resumed.next_run_at
    assert schedules.remove(config, a.id).target == "quan-a"
    assert [i.id for i in schedules.list_schedules(config)] == [b.id, c.id]


def test_first_run_is_the_next_slot_in_ho_chi_minh_time(config):
    info = schedules.add(config, "quan-a", "0 2 * * *", now=T0)
    assert info.timezone == HCM
    # 02:00 on 2 May in UTC+7 is 19:00 on 1 May UTC.
    assert info.next_run_at == datetime(2026, 5, 1, 19, 0, tzinfo=UTC)
    other = schedules.add(config, "quan-a", "0 2 * * *", timezone="UTC", now=T0)
    assert other.next_run_at == datetime(2026, 5, 2, 2, 0, tzinfo=UTC)


def test_weekdays_count_from_sunday_as_in_crontab(config):
    # APScheduler 3 alone would read "1" as Tuesday (0 = Monday there).
    info = schedules.add(config, "quan-a", "0 2 * * 1", now=T0)  # Mondays
    local = info.next_run_at.astimezone(schedules.ZoneInfo(HCM))
    assert (local.strftime("%A"), local.hour) == ("Monday", 2)
    assert schedules.crontab_weekdays("0") == schedules.crontab_weekdays("7") == "sun"
    assert schedules.crontab_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert schedules.crontab_weekdays("*/2") == "sun,tue,thu,sat"


def test_day_of_month_or_weekday_as_in_crontab(config):
    # "the 13th, and every Friday": the first is Friday 8 May, not a Friday the 13th.
    info = schedules.add(config, "quan-a", "0 0 13 * 5", now=T0)
    local = info.next_run_at.astimezone(schedules.ZoneInfo(HCM))
    assert local.date().isoformat() == "2026-05-08"


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("0 2 * *", "4 field(s), expected 5 fields"),
        ("61 * * * *", "61"),
        ("0 25 * * *", "25"),
        ("0 2 * * 8", "not a day of the week"),
        ("0 0 31 2 *", "never fires"),
        ("every day", "2 field(s)"),
        ("", "0 field(s)"),
    ],
)
def test_bad_cron_is_refused_with_the_reason(config, cron, why):
    with pytest.raises(ScheduleError, match=re.escape(why)):
        schedules.add(config, "quan-a", cron)
    assert schedules.list_schedules(config) == []


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("https://some-commune.gov.vn/", "not URLs"),
        ("all,quan-a", "give it alone"),
        (" , ", "no target"),
        ("quận-a", "not a portal slug"),
    ],
)
def test_bad_target_is_refused(config, target, why):
    with pytest.raises(ScheduleError, match=why):
        schedules.add(config, target, "0 2 * * *")


def test_unknown_portal_and_time_zone_are_refused(config):
    with pytest.raises(ScheduleError, match=r"unknown portal\(s\) quan-x \(known: quan-a\)"):
        schedules.add(config, "quan-a,quan-x", "0 2 * * *", known_slugs=["quan-a"])
    with pytest.raises(ScheduleError, match="unknown time zone 'Mars/Olympus'"):
        schedules.add(config, "quan-a", "0 2 * * *", timezone="Mars/Olympus")


@pytest.mark.parametrize("verb", [schedules.pause, schedules.resume, schedules.remove])
def test_unknown_id_is_a_clear_error(config, verb):
    schedules.add(config, "quan-a", "0 2 * * *")
    with pytest.raises(ScheduleError, match=r"no schedule 99 \(known: 1\)"):
        verb(config, 99)
    assert issubclass(ScheduleError, ArchiveError)  # the CLI prints it, exit status 2


# --- the scheduler --------------------------------------------------------------------------


def test_runs_missed_while_down_fire_once(config, tmp_path):
    # Hourly since T0; the scheduler was down for three days: 72 slots missed.
    info = schedules.add(config, "quan-a", "0 * * * *", now=T0)
    missed_slot = info.next_run_at
    later = T0 + timedelta(days=3, minutes=10)
    crawl = FakeCrawl(tmp_path / "starts.jsonl")
    archive = Archive(config)  # a new process: the restart
    scheduler = make_scheduler(archive, crawl, Clock(later))
    try:
        assert scheduler.tick() == pytest.approx(50 * 60)  # the next slot, not a missed one
        assert scheduler.tick() == pytest.approx(50 * 60)
        assert crawl.starts(wait_for=1) == [
            {"slugs": ["quan-a"], "holder": crawl.starts()[0]["holder"], "db": config.db_url}
        ]
        wait_reaped(scheduler)
        after = schedules.get(archive, info.id)
        assert after.last_run_at == later
        assert after.next_run_at == T0 + timedelta(days=3, hours=1)
        assert after.last_status == "finished"
        [fire] = schedules.history(archive, info.id)
        assert (fire["status"], fire["scheduled_for"], fire["exit_code"]) == (
            "finished",
            missed_slot,
            0,
        )
    finally:
        scheduler.shutdown(grace=5)
        archive.close()
    assert len(crawl.starts()) == 1


def test_a_due_schedule_fires_at_its_slot_and_moves_on(config, tmp_path):
    info = schedules.add(config, "quan-a", "*/5 * * * *", now=T0)
    crawl = FakeCrawl(tmp_path / "starts.jsonl")
    clock = Clock(T0)
    archive = Archive(config)
    scheduler = make_scheduler(archive, crawl, clock)
    try:
        assert scheduler.tick() == pytest.approx(300)
        clock.now = info.next_run_at  # exactly on the slot
        assert scheduler.tick() == pytest.approx(300)
        wait_reaped(scheduler)
        clock.now += timedelta(minutes=5)
        scheduler.tick()
        wait_reaped(scheduler)
        assert len(crawl.starts()) == 2
    finally:
        scheduler.shutdown(grace=5)
        archive.close()


def test_a_paused_schedule_does_not_fire(config, tmp_path):
    info = schedules.add(config, "quan-a", "0 * * * *", now=T0)
    schedules.pause(config, info.id)
    crawl = FakeCrawl(tmp_path / "starts.jsonl")
    archive = Archive(config)
    scheduler = make_scheduler(archive, crawl, Clock(T0 + timedelta(days=1)))
    try:
        assert scheduler.tick() is None  # nothing active, nothing due
        assert scheduler.running == {}
        assert schedules.history(archive) == []
        # Resumed, it runs from its next slot: the runs it missed while paused are not made up.
        schedules.resume(archive, info.id, now=T0 + timedelta(days=1))
        assert scheduler.tick() > 0
        assert scheduler.running == {}
    finally:
        scheduler.shutdown(grace=5)
        archive.close()
    assert crawl.starts() == []


def test_a_busy_portal_makes_the_run_skip(config, tmp_path):
    info = schedules.add(config, "quan-a", "0 * * * *", now=T0)
    crawl = FakeCrawl(tmp_path / "starts.jsonl")
    archive = Archive(config)
    assert locks.acquire(archive, "quan-a", "cli pid 4242 on this host")
    scheduler = make_scheduler(archive, crawl, Clock(T0 + timedelta(hours=2)))
    try:
        scheduler.tick()
        [fire] = schedules.history(archive, info.id)
        assert fire["status"] == "skipped"
        assert "quan-a busy (held by cli pid 4242 on this host since" in fire["message"]
        assert list(fire["busy"]) == ["quan-a"]
        after = schedules.get(archive, info.id)
        assert (after.last_status, after.last_message) == ("skipped", fire["message"])
        assert after.next_run_at == T0 + timedelta(hours=3)  # not queued: the next slot
        scheduler.tick()
        assert len(schedules.history(archive, info.id)) == 1
        assert locks.held(archive)[0]["holder"] == "cli pid 4242 on this host"
    finally:
        scheduler.shutdown(grace=5)
        archive.close()
    assert crawl.starts() == []


def test_a_group_crawls_the_free_portals_and_names_the_busy_ones(config, tmp_path):
    info = schedules.add(config, "quan-a,quan-b,quan-c", "0 * * * *", now=T0)
    crawl = FakeCrawl(tmp_path / "starts.jsonl", seconds=30)
    archive = Archive(config)
    locks.acquire(archive, "quan-b", "web pid 7")
    scheduler = make_scheduler(archive, crawl, Clock(T0 + timedelta(hours=2)))
    try:
        scheduler.tick()
        [start] = crawl.starts(wait_for=1)
        assert start["slugs"] == ["quan-a", "quan-c"]
        # The crawl inherited the locks the scheduler took for it.
        held = {h["slug"]: h["holder"] for h in locks.held(archive)}
        assert held["quan-a"] == held["quan-c"] == start["holder"]
        assert start["holder"].startswith(f"scheduler schedule {info.id} run ")
        [fire] = schedules.history(archive, info.id)
        assert fire["status"] == "started"
        assert fire["slugs"] == ["quan-a", "quan-c"]
        assert "quan-b busy (held by web pid 7" in fire["message"]
    finally:
        scheduler.shutdown(grace=5)
        archive.close()


def test_a_run_still_going_is_not_started_twice(config, tmp_path):
    info = schedules.add(config, "quan-a", "*/5 * * * *", now=T0)
    crawl = FakeCrawl(tmp_path / "starts.jsonl", seconds=30)
    clock = Clock(T0 + timedelta(minutes=5))
    archive = Archive(config)
    scheduler = make_scheduler(archive, crawl, clock)
    try:
        scheduler.tick()
        clock.now += timedelta(minutes=5)
        scheduler.tick()
        second, first = schedules.history(archive, info.id)
        assert first["status"] == "started"
        assert second["status"] == "skipped"
        assert "held by scheduler schedule" in second["message"]
        assert len(crawl.starts(wait_for=1)) == 1
    finally:
        scheduler.shutdown(grace=5)
    # Stopping the scheduler stops its crawl, records it and gives the locks back.
    first = schedules.history(archive, info.id)[-1]
    assert first["status"] == "interrupted"
    assert locks.held(archive) == []
    archive.close()


def test_an_unknown_portal_at_fire_time_fails_the_run(config, tmp_path):
    info = schedules.add(config, "quan-gone", "0 * * * *", now=T0)
    crawl = FakeCrawl(tmp_path / "starts.jsonl")
    archive = Archive(config)
    scheduler = make_scheduler(archive, crawl, Clock(T0 + timedelta(hours=2)))
    try:
        scheduler.tick()
        [fire] = schedules.history(archive, info.id)
        assert (fire["status"], fire["message"]) == ("failed", "unknown portal(s): quan-gone")
    finally:
        scheduler.shutdown(grace=5)
        archive.close()


def test_a_failing_crawl_is_recorded_as_failed(config, tmp_path):
    info = schedules.add(config, "all", "0 * * * *", now=T0)
    archive = Archive(config)
    scheduler = make_scheduler(
        archive,
        lambda slugs: [sys.executable, "-c", "raise SystemExit(3)"],
        Clock(T0 + timedelta(hours=2)),
    )
    try:
        scheduler.tick()
        wait_reaped(scheduler)
        [fire] = schedules.history(archive, info.id)
        assert fire["slugs"] == ["quan-a", "quan-b", "quan-c"]  # "all": the registry now
        assert (fire["status"], fire["exit_code"]) == ("failed", 3)
        assert "exited with status 3" in fire["message"]
        assert schedules.get(archive, info.id).last_status == "failed"
        assert [h["slug"] for h in locks.held(archive)] == [schedules.SCHEDULER_LOCK]
    finally:
        scheduler.shutdown(grace=5)
        archive.close()


def test_one_scheduler_per_database(config, tmp_path):
    crawl = FakeCrawl(tmp_path / "starts.jsonl")
    archive = Archive(config)
    first = make_scheduler(archive, crawl, Clock(T0))
    try:
        with pytest.raises(ScheduleError, match="another scheduler is running"):
            make_scheduler(archive, crawl, Clock(T0))
    finally:
        first.shutdown(grace=5)
    make_scheduler(archive, crawl, Clock(T0)).shutdown(grace=5)  # free again
    archive.close()


def test_crawl_command_line(config, tmp_path):
    argv = schedules.crawl_argv(config, ["quan-a", "quan-b"])
    assert argv == [
        sys.executable, "-m", "archive.cli", "--data-dir", str(config.data_dir),
        "--db", config.db_url, "crawl", "quan-a", "quan-b", "--trigger", "scheduler",
    ]  # fmt: skip
    argv = schedules.crawl_argv(config, ["quan-a"], portals_dir=tmp_path, allow_private=True)
    assert argv[-6:] == [
        "quan-a", "--trigger", "scheduler", "--portals", str(tmp_path), "--allow-private"
    ]  # fmt: skip
    # A password stays off the command line (ps shows it): the child reads $PORTAL_ARCHIVE_DB.
    secret = Config(config.data_dir, "postgresql://archive:s3cret@db/archive")
    assert not any("s3cret" in a for a in schedules.crawl_argv(secret, ["quan-a"]))
    assert schedules.child_env(secret, "h")["PORTAL_ARCHIVE_DB"] == secret.db_url


def test_run_scheduler_stops_on_the_stop_event(config, tmp_path):
    schedules.add(config, "quan-a", "0 * * * *", now=T0)  # long overdue: fires at once
    crawl = FakeCrawl(tmp_path / "starts.jsonl", seconds=60)
    stop = threading.Event()
    thread = threading.Thread(
        target=schedules.run_scheduler,
        args=(config,),
        kwargs={
            "stop_event": stop,
            "crawl_command": crawl,
            "known_slugs": lambda: ["quan-a"],
            "poll": 0.2,
        },
    )
    thread.start()
    try:
        assert len(crawl.starts(wait_for=1)) == 1  # it runs, and its crawl is going
        started = time.monotonic()
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert time.monotonic() - started < 2
    finally:
        stop.set()
        thread.join(timeout=10)
    archive = Archive(config)
    try:
        assert schedules.history(archive)[0]["status"] == "interrupted"
        assert locks.held(archive) == []  # the crawl's and the scheduler's
    finally:
        archive.close()


def test_scheduler_process_ends_cleanly_on_sigterm(config, tmp_path):
    schedules.add(config, "quan-a", "0 * * * *", now=T0)
    script = f"""
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(message)s")
from archive.config import Config
from archive.schedules import run_scheduler
out = {str(tmp_path / "starts.jsonl")!r}
run_scheduler(
    Config.resolve({str(config.data_dir)!r}),
    known_slugs=lambda: ["quan-a"],
    crawl_command=lambda slugs: [sys.executable, "-c", {FAKE_CRAWL!r}, out, "60", *slugs],
)
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if "crawl of quan-a started" in line:
                break
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=10)
        assert time.monotonic() - started < 3
        assert proc.returncode == 0, "".join(lines) + rest
        assert "SIGTERM received: stopping" in rest
        assert "scheduler stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- the command line -----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS)
    p = argparse.ArgumentParser(prog="portal-archive", parents=[common])
    sub = p.add_subparsers(dest="command")
    schedules.add_cli(sub, common)
    return p


@pytest.fixture
def registry(tmp_path) -> Path:
    root = tmp_path / "portals"
    root.mkdir()
    for slug in ("quan-a", "quan-b"):
        (root / f"{slug}.toml").write_text(
            f'slug = "{slug}"\nname = "Cổng {slug}"\nunit = "Quận {slug}"\nunit_code = "009"\n'
            f'family = "generic"\nbase_url = "https://{slug}.example.gov.vn/"\n',
            encoding="utf-8",
        )
    return root


def test_cli_add_list_pause_remove(config, registry, capsys):
    def run(*argv: str) -> str:
        args = _parser().parse_args(argv)
        assert schedules.cmd_schedule(args, config) == 0
        return capsys.readouterr().out

    out = run(
        "schedule", "add", "quan-a", "quan-b", "--cron", "0 2 * * *", "--portals", str(registry)
    )
    assert out.startswith("schedule 1: quan-a,quan-b at '0 2 * * *' (Asia/Ho_Chi_Minh); next run ")
    added = json.loads(
        run("schedule", "add", "all", "--cron", "@daily", "--portals", str(registry), "--json")
    )
    assert (added["id"], added["target"], added["paused"]) == (2, "all", False)
    listed = json.loads(run("schedule", "list", "--json"))
    assert [s["target"] for s in listed] == ["quan-a,quan-b", "all"]
    assert "schedule 1 (quan-a,quan-b, '0 2 * * *') paused" in run("schedule", "pause", "1")
    assert "paused" in run("schedule", "list")
    assert "resumed; next run" in run("schedule", "resume", "1")
    assert json.loads(run("schedule", "remove", "2", "--json"))["id"] == 2
    assert json.loads(run("schedule", "history", "--json")) == []


def test_cli_errors_are_schedule_errors(config, registry):
    def run(*argv: str) -> int:
        return schedules.cmd_schedule(_parser().parse_args(argv), config)

    with pytest.raises(ScheduleError, match="unknown portal"):
        run("schedule", "add", "quan-x", "--cron", "0 2 * * *", "--portals", str(registry))
    with pytest.raises(ScheduleError, match="cron '0 2 \\* \\*'"):
        run("schedule", "add", "quan-a", "--cron", "0 2 * *", "--portals", str(registry))
    with pytest.raises(ScheduleError, match="no schedule 5"):
        run("schedule", "pause", "5")
    with pytest.raises(ScheduleError, match="does not exist"):
        run("schedule", "add", "quan-a", "--cron", "0 2 * * *", "--portals", str(registry / "x"))
    with pytest.raises(SystemExit):
        _parser().parse_args(["schedule", "pause", "one"])  # argparse: exit status 2


def test_scheduler_parser(registry):
    args = _parser().parse_args(["scheduler", "--portals", str(registry), "--poll", "5"])
    assert (args.command, args.portals, args.poll, args.allow_private) == (
        "scheduler",
        str(registry),
        5.0,
        False,
    )
