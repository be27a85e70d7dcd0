"""archive.locks: one crawl per portal, on a real SQLite file, with real processes."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from archive import locks
from archive.config import Config
from archive.models import CrawlLock
from archive.store import Archive, utcnow


@pytest.fixture
def config(tmp_path) -> Config:
    config = Config.resolve(tmp_path / "data")
    Archive(config).close()  # the schema exists before any process races for a lock
    return config


@pytest.fixture
def archive(config):
    archive = Archive(config)
    yield archive
    archive.close()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: its pid names no process (a zombie would still answer kill 0)
    return proc.pid


def test_one_holder_at_a_time(archive):
    assert locks.acquire(archive, "quan-a", "cli pid 1")
    assert not locks.acquire(archive, "quan-a", "web pid 2")
    assert locks.acquire(archive, "quan-b", "web pid 2")  # another portal is free
    assert not locks.release(archive, "quan-a", "web pid 2")  # not its lock
    assert [h["slug"] for h in locks.held(archive)] == ["quan-a", "quan-b"]
    assert locks.release(archive, "quan-a", "cli pid 1")
    assert locks.acquire(archive, "quan-a", "web pid 2")


def test_held_describes_each_lock(archive):
    locks.acquire(archive, "quan-a", "cli pid 1")
    [row] = locks.held(archive)
    assert row["holder"] == "cli pid 1"
    assert row["pid"] == os.getpid()
    assert row["hostname"] == socket.gethostname()
    assert row["acquired_at"].tzinfo is not None
    assert row["stale"] is None
    assert "held by cli pid 1 since" in locks.busy_reasons(archive, ["quan-a"])["quan-a"]


def test_same_holder_takes_over_its_own_lock(archive, monkeypatch):
    """The scheduler takes the lock and hands it to the crawl it starts (same holder name,
    through the environment): the crawl acquires it and becomes its owner."""
    assert locks.acquire(archive, "quan-a", "scheduler schedule 1 run ab12")
    monkeypatch.setenv(locks.ENV_HOLDER, "scheduler schedule 1 run ab12")
    assert locks.holder_for("cli") == "scheduler schedule 1 run ab12"
    assert locks.acquire(archive, "quan-a", locks.holder_for("cli"))
    monkeypatch.delenv(locks.ENV_HOLDER)
    assert locks.holder_for("cli") == f"cli pid {os.getpid()} on {socket.gethostname()}"
    assert not locks.acquire(archive, "quan-a", locks.holder_for("cli"))


def test_lock_of_a_dead_process_on_this_host_is_taken_over(archive):
    assert locks.acquire(archive, "quan-a", "cli pid ?")
    with archive.session() as s:
        s.execute(update(CrawlLock).values(pid=_dead_pid()))
    [row] = locks.held(archive)
    assert "is gone" in row["stale"]
    assert locks.acquire(archive, "quan-a", "scheduler")
    assert locks.held(archive)[0]["holder"] == "scheduler"


def test_lock_without_heartbeat_is_taken_over(archive):
    """A holder on another host cannot be checked by pid: its heartbeat decides."""
    assert locks.acquire(archive, "quan-a", "cli on another host")
    with archive.session() as s:
        s.execute(
            update(CrawlLock).values(
                hostname="another-host", pid=1, heartbeat_at=utcnow() - timedelta(minutes=11)
            )
        )
    assert "no heartbeat for" in locks.held(archive)[0]["stale"]
    assert locks.acquire(archive, "quan-a", "scheduler")


def test_live_lock_with_recent_heartbeat_is_kept(archive):
    assert locks.acquire(archive, "quan-a", "cli on another host")
    with archive.session() as s:
        s.execute(
            update(CrawlLock).values(
                hostname="another-host", heartbeat_at=utcnow() - timedelta(minutes=9)
            )
        )
    assert not locks.acquire(archive, "quan-a", "scheduler")
    # … until its heartbeat is older than the timeout given.
    assert locks.acquire(archive, "quan-a", "scheduler", stale_after=timedelta(minutes=5))


def test_heartbeat_refreshes_only_the_holders_locks(archive):
    later = utcnow() + timedelta(minutes=3)
    locks.acquire(archive, "quan-a", "cli")
    locks.acquire(archive, "quan-b", "web")
    assert locks.heartbeat(archive, ["quan-a", "quan-b"], "cli", now=later) == 1
    beats = {h["slug"]: h["heartbeat_at"] for h in locks.held(archive)}
    assert beats["quan-a"] == later
    assert beats["quan-b"] < later


def test_portal_lock_takes_what_it_can_and_reports_the_rest(archive):
    locks.acquire(archive, "quan-b", "web pid 2")
    with locks.portal_lock(archive, ["quan-a", "quan-b", "quan-c"], "cli pid 1") as acquired:
        assert acquired == {"quan-a", "quan-c"}
        assert list(acquired.busy) == ["quan-b"]
        assert "held by web pid 2" in acquired.busy["quan-b"]
        assert {h["slug"] for h in locks.held(archive)} == {"quan-a", "quan-b", "quan-c"}
    assert [h["slug"] for h in locks.held(archive)] == ["quan-b"]


def test_portal_lock_opens_the_archive_from_a_config(config, archive):
    with locks.portal_lock(config, ["quan-a"], "cli") as acquired:
        assert acquired == {"quan-a"}
        assert [h["holder"] for h in locks.held(archive)] == ["cli"]
    assert locks.held(archive) == []


def test_portal_lock_releases_on_error(archive):
    with pytest.raises(RuntimeError), locks.portal_lock(archive, ["quan-a"], "cli"):
        raise RuntimeError("the crawl failed")
    assert locks.held(archive) == []


def test_portal_lock_keeps_its_heartbeat_fresh(archive):
    with locks.portal_lock(archive, ["quan-a"], "cli", heartbeat_every=0.05):
        first = locks.held(archive)[0]["heartbeat_at"]
        deadline = time.monotonic() + 5
        while locks.held(archive)[0]["heartbeat_at"] == first:
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.02)


# --- real processes ---------------------------------------------------------------------


def _race(data_dir: str, slugs: list[str], holder: str, barrier, results) -> None:
    archive = Archive(Config.resolve(data_dir))
    try:
        barrier.wait(timeout=30)
        results.put((holder, [s for s in slugs if locks.acquire(archive, s, holder)]))
        # Stay alive until every process has tried: a lock whose holder has exited is
        # stale, and a latecomer would rightly take it over.
        barrier.wait(timeout=30)
    finally:
        archive.close()


def _hold(data_dir: str, slug: str, ready) -> None:
    archive = Archive(Config.resolve(data_dir))
    assert locks.acquire(archive, slug, f"crawler pid {os.getpid()}")
    ready.set()
    time.sleep(600)  # killed by the test


@pytest.mark.parametrize("left_by_a_dead_crawl", [False, True], ids=["free", "stale"])
def test_processes_racing_for_a_portal_exactly_one_wins(config, left_by_a_dead_crawl):
    # fork: the children start at once with the modules already imported, so they really
    # race (spawn spends seconds importing, one after the other on a small machine).
    ctx = multiprocessing.get_context("fork")
    slugs = ["quan-a", "quan-b", "quan-c"]
    n = 6
    if left_by_a_dead_crawl:  # every racer sees a stale lock: one recovers it, not two
        archive = Archive(config)
        for slug in slugs:
            assert locks.acquire(archive, slug, "killed crawl")
        with archive.session() as s:
            s.execute(update(CrawlLock).values(pid=_dead_pid()))
        archive.close()
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(str(config.data_dir), slugs, f"p{i}", barrier, results))
        for i in range(n)
    ]
    for p in procs:
        p.start()
    outcomes = dict(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    for slug in slugs:
        winners = [h for h, won in outcomes.items() if slug in won]
        assert len(winners) == 1, (slug, outcomes)
    archive = Archive(config)
    try:
        held = {h["slug"]: h["holder"] for h in locks.held(archive)}
    finally:
        archive.close()
    assert held == {s: next(h for h, won in outcomes.items() if s in won) for s in slugs}


def test_lock_of_a_killed_process_is_recovered(config):
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(config.data_dir), "quan-a", ready))
    holder.start()
    try:
        assert ready.wait(timeout=60)
        archive = Archive(config)
        assert not locks.acquire(archive, "quan-a", "scheduler")  # alive: busy
        holder.kill()
        holder.join(timeout=30)  # reaped
        assert locks.held(archive)[0]["stale"] == (
            f"process {holder.pid} on {socket.gethostname()} is gone"
        )
        assert locks.acquire(archive, "quan-a", "scheduler")
        assert locks.held(archive)[0]["holder"] == "scheduler"
        archive.close()
    finally:
        if holder.is_alive():
            holder.kill()
            holder.join()


def test_the_crawl_command_leaves_a_busy_portal_out(crawled, tmp_path):
    """`portal-archive crawl` takes the same lock: a portal held by someone else is not
    crawled, the user is told by whom, and the free ones are crawled."""

    from tests.conftest import copy_archive, run_cli

    data = tmp_path / "data"
    copy_archive(crawled["data"], data)
    config = Config.resolve(data)
    args = ("--data-dir", str(data), "crawl", "--portals", str(crawled["registry"]))
    with locks.portal_lock(config, ["quan-thanh-xuan"], "scheduler pid 1 on elsewhere"):
        proc = run_cli(*args, "quan-thanh-xuan", "--allow-private", "--no-index")
        assert proc.returncode != 0
        assert "quan-thanh-xuan: not crawled, a crawl is already running" in proc.stderr
        assert "held by scheduler pid 1 on elsewhere" in proc.stderr
        assert "Traceback" not in proc.stderr
        proc = run_cli(*args, "quan-thanh-xuan", "huyen-ham-tan", "--allow-private", "--no-index")
        assert "quan-thanh-xuan: not crawled" in proc.stderr
        archive = Archive(config)
        try:
            last = archive.runs(limit=1)[0]
            # the crawl gave its own lock back; the other holder's is untouched
            assert [h["slug"] for h in locks.held(archive)] == ["quan-thanh-xuan"]
        finally:
            archive.close()
        assert last["portal"] == "huyen-ham-tan"
    archive = Archive(config)
    try:
        assert locks.held(archive) == []
    finally:
        archive.close()
