"""Distributed crawls from the command line (docs/distributed.md).

``portal-archive crawl SLUG --redis URL --workers N`` is the *coordinator*: it takes the
portal's crawl lock, records one crawl run, puts the run's description in Redis, starts N
local ``crawl-worker`` processes and waits until every worker of the run (local, or joined
from another machine with ``portal-archive crawl-worker RUN --redis URL``) has ended. It
then records the run once, with the workers' stats added up (each worker's own figures
are kept under ``distributed/workers``), deletes the run's Redis keys and gives the lock
back. Workers never take the lock: they are admitted by the run they join, and refuse to
start when the lock is no longer held by that run's coordinator.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence

from archive import locks
from archive.config import Config
from archive.store import Archive

#: The Redis URL workers started by a coordinator read (never on a command line: it may
#: hold a password).
ENV_REDIS = "PORTAL_ARCHIVE_REDIS"
#: How often (seconds) the coordinator looks at its workers.
WAIT_POLL = 0.5
#: How long (seconds) local workers get to stop after SIGTERM before they are killed.
STOP_GRACE = 60.0


def _cli_error(message: str) -> Exception:
    from archive.cli import CliError

    return CliError(message)


def _require_extra() -> None:
    if importlib.util.find_spec("scrapy_redis") is None:
        raise _cli_error(
            "distributed crawls need scrapy-redis: pip install 'portal-archive[distributed]'"
        )


def _connect(url: str):
    from scraper.distributed import SharedRunError, connect

    try:
        return connect(url)
    except SharedRunError as exc:
        raise _cli_error(str(exc)) from None


def _prefix() -> str:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "scraper.settings")
    from scrapy.utils.project import get_project_settings

    return get_project_settings().get("PORTAL_ARCHIVE_REDIS_PREFIX", "portal-archive")


def worker_argv(
    config: Config,
    run_key: str,
    *,
    portals_dir: str | os.PathLike[str] | None = None,
    quiet: bool = False,
) -> list[str]:
    """The command line of a local worker (the database URL and Redis URL go in its
    environment when they hold a password: see :func:`archive.schedules.child_env`)."""
    from archive.schedules import _has_password

    argv = [sys.executable, "-m", "archive.cli", "--data-dir", str(config.data_dir)]
    if not _has_password(config.db_url):
        argv += ["--db", config.db_url]
    argv += ["crawl-worker", run_key]
    if portals_dir:
        argv += ["--portals", str(portals_dir)]
    if quiet:
        argv.append("--quiet")
    return argv


def run_distributed(
    config: Config,
    slug: str,
    *,
    redis_url: str,
    workers: int,
    portals_dir: str | None,
    allow_private: bool,
    settings_overrides: Sequence[str] = (),
    quiet: bool = False,
    trigger: str = "cli",
) -> list[dict]:
    """Crawl portal ``slug`` with ``workers`` local worker processes sharing one frontier
    in Redis (more may join from other machines); return the run record (a list of one,
    as :func:`archive.cli.run_crawls`)."""
    from archive.cli import parse_overrides
    from scraper import registry
    from scraper.distributed import SharedRun
    from scraper.middlewares import check_url

    _require_extra()
    if workers < 0:
        raise _cli_error(f"--workers {workers}: expected 0 or more")
    parse_overrides(settings_overrides)  # a bad -s is an error before anything starts
    entry = registry.get(slug, portals_dir)
    for url in (*entry.start_urls, *entry.category_urls):
        reason = check_url(url, allow_private=allow_private)
        if reason:
            raise _cli_error(f"cannot crawl {slug}: {url}: {reason}")
    client = _connect(redis_url)
    prefix = _prefix()
    holder = f"distributed {locks.holder_for(trigger)}"
    archive = Archive(config)
    try:
        with locks.portal_lock(archive, [slug], holder) as acquired:
            if slug not in acquired:
                raise _cli_error(f"{slug}: not crawled, a crawl is already running "
                                 f"({acquired.busy.get(slug, 'busy')})")  # fmt: skip
            portal_id = archive.upsert_portal(
                entry.slug, name=entry.name, unit=entry.unit, base_url=entry.base_url,
                family=entry.family, config=entry.as_dict(),
            )  # fmt: skip
            run_id = archive.start_run(portal_id, trigger)
            run = SharedRun.create(
                client,
                run_id,
                {
                    "portal": slug,
                    "portals_dir": str(portals_dir) if portals_dir else None,
                    "allow_private": allow_private,
                    "settings": list(settings_overrides),
                    "trigger": trigger,
                    "holder": holder,
                    "workers": workers,  # the local ones: the seeder waits for them
                },
                prefix=prefix,
            )
            archive.note_run(run_id, {"distributed/run": run.key})
            print(
                f"{slug}: distributed run {run.key} (crawl run {run_id}), {workers} local "
                f"worker(s); more join with: portal-archive crawl-worker {run.key} "
                f"--redis {_redacted(redis_url)}",
                file=sys.stderr,
            )
            try:
                results, lost = _run_workers(
                    config, run, redis_url, workers, portals_dir=portals_dir, quiet=quiet
                )
                _record(archive, run_id, run, results, lost)
            finally:
                run.delete()
        return [r for r in archive.runs(limit=100) if r["id"] == run_id]
    finally:
        archive.close()


def _redacted(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def _run_workers(
    config: Config,
    run,
    redis_url: str,
    workers: int,
    *,
    portals_dir: str | None,
    quiet: bool,
) -> tuple[dict[str, dict], list[str]]:
    """Start the local workers and wait for every worker of the run; returns the workers'
    results and the local workers that ended without one (killed, crashed)."""
    from archive.schedules import child_env

    env = {**child_env(config), ENV_REDIS: redis_url}
    argv = worker_argv(config, run.key, portals_dir=portals_dir, quiet=quiet)
    processes: list[subprocess.Popen] = []
    stopping = False
    previous = None
    if threading_main():

        def on_term(signum, _frame) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, on_term)
    try:
        for _ in range(workers):
            # Their own session: a Ctrl-C reaches the coordinator only, which passes one
            # SIGTERM on (Scrapy takes a second signal as "stop now, uncleanly").
            processes.append(
                subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
            )
        announced = False
        stale = 60.0
        while True:
            try:
                local_running = [p for p in processes if p.poll() is None]
                live = run.live_workers(stale)
                results = run.results()
                if not local_running and not live and (results or workers):
                    break
                if not local_running and live and not announced:
                    print(f"waiting for {len(live)} worker(s) of run {run.key}: "
                          f"{', '.join(live)}", file=sys.stderr)  # fmt: skip
                    announced = True
                time.sleep(WAIT_POLL)
            except KeyboardInterrupt:
                if stopping:
                    raise
                stopping = True
                print("stopping the workers", file=sys.stderr)
                run.request_stop("the coordinator was stopped")  # workers elsewhere too
                for p in processes:
                    _signal(p, signal.SIGTERM)
                deadline = time.monotonic() + STOP_GRACE
                for p in processes:
                    try:
                        p.wait(timeout=max(0.0, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        _signal(p, signal.SIGKILL)
                        p.wait()
                while run.live_workers(stale) and time.monotonic() < deadline:
                    time.sleep(WAIT_POLL)  # those on other machines see the request
                break
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    results = run.results()
    host = socket.gethostname()
    lost = [
        f"{host}:{p.pid} (exit {p.returncode})"
        for p in processes
        if f"{host}:{p.pid}" not in results
    ]
    lost += [name for name in run.live_workers(stale) if name not in results]
    return results, lost


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _signal(process: subprocess.Popen, sig: int) -> None:
    try:
        process.send_signal(sig)
    except ProcessLookupError:
        pass


def _record(archive: Archive, run_id: int, run, results: dict[str, dict], lost: list[str]):
    """The run's record: the workers' stats added up, each worker's figures beside them."""
    from scraper.distributed import merge_stats

    stats = merge_stats(results.values())
    counts: Counter = Counter()
    for r in results.values():
        counts.update(r.get("counts") or {})
    statuses = [r.get("status") or "finished" for r in results.values()]
    unfinished = [s for s in statuses if s != "finished"]
    if lost:
        status = f"stopped: worker(s) ended without a result: {', '.join(lost)}"
    elif unfinished:
        status = unfinished[0]
    elif not results:
        status = "failed: no worker ran"
    elif not stats.get("response_received_count"):
        status = "failed: unreachable"
    else:
        status = "finished"
    stats.pop("archive/run_id", None)
    stats["archive/run_id"] = run_id
    stats["distributed/run"] = run.key
    stats["distributed/workers"] = {
        name: {
            "status": r.get("status"),
            "pages": int((r.get("stats") or {}).get("response_received_count", 0)),
            "items": int((r.get("stats") or {}).get("item_scraped_count", 0)),
            "new": int((r.get("counts") or {}).get("new", 0)),
        }
        for name, r in sorted(results.items())
    }
    archive.finish_run(run_id, status=status, counts=counts, stats=stats)


# --- crawl-worker ----------------------------------------------------------------------------


def add_cli(subparsers: argparse._SubParsersAction, common_parent: argparse.ArgumentParser) -> None:
    """The ``crawl-worker`` command (the ``--redis``/``--workers`` options of ``crawl`` are
    declared with the others in archive/cli.py)."""
    from archive.cli import registry_parent

    s = subparsers.add_parser(
        "crawl-worker",
        parents=[common_parent, registry_parent()],
        help="join a distributed crawl as one more worker (docs/distributed.md)",
    )
    s.add_argument("run", metavar="RUN", help="the run key the coordinator printed")
    s.add_argument(
        "--redis",
        metavar="URL",
        help=f"the run's Redis, redis://HOST:PORT/DB (default ${ENV_REDIS})",
    )
    s.add_argument("--quiet", action="store_true", help="only progress lines")


def cmd_crawl_worker(args: argparse.Namespace, config: Config) -> int:
    """One worker of a distributed run: crawls from the shared frontier until it is done."""
    from archive.cli import NETWORK_ERROR_LOGGERS, _one_line_network_errors, apply_crawl_settings
    from scraper.distributed import REDIS_URL, RUN_KEY, SharedRun, SharedRunError

    _require_extra()
    url = args.redis or os.environ.get(ENV_REDIS)
    if not url:
        raise _cli_error(f"--redis URL is needed (or ${ENV_REDIS})")
    client = _connect(url)
    try:
        run = SharedRun.join(client, args.run, prefix=_prefix())
        description = run.description
    except SharedRunError as exc:
        raise _cli_error(str(exc)) from None
    slug = description["portal"]
    archive = Archive(config)
    try:
        holders = {row["slug"]: row["holder"] for row in locks.held(archive)}
    finally:
        archive.close()
    if holders.get(slug) != description["holder"]:
        now = holders.get(slug, "nobody")
        raise _cli_error(
            f"run {args.run}: the lock of {slug} is no longer held by its coordinator "
            f"(held by {now}); is this worker using the run's database?"
        )
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "scraper.settings")
    import logging

    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    apply_crawl_settings(
        settings,
        config,
        allow_private=bool(description.get("allow_private")),
        settings_overrides=description.get("settings") or [],
        quiet=args.quiet,
    )
    settings.set("SCHEDULER", "scraper.distributed.SharedScheduler", priority="cmdline")
    settings.set(REDIS_URL, url, priority="cmdline")
    settings.set(RUN_KEY, args.run, priority="cmdline")
    process = CrawlerProcess(settings)
    for name in NETWORK_ERROR_LOGGERS:
        logging.getLogger(name).addFilter(_one_line_network_errors)
    crawler = process.create_crawler("portal")
    process.crawl(
        crawler,
        portal=slug,
        portals_dir=getattr(args, "portals", None) or description.get("portals_dir"),
        trigger=description.get("trigger", "cli"),
    )
    process.start()
    return 0 if crawler.stats.get_value("finish_reason") == "finished" else 1
