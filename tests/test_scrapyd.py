"""Scrapyd: the project deploys with scrapyd-deploy, and the scheduler hands crawls to it.

A real Scrapyd (PyPI ``scrapyd``, the dev extra) is started on 127.0.0.1 in a temporary
directory; ``scrapyd-deploy env`` (scrapy.cfg's ``[deploy:env]`` target, the URL from
``$PORTAL_ARCHIVE_SCRAPYD_URL``) builds the project's egg and uploads it. A schedule of a
sample portal then fires in a :class:`Scheduler` given the Scrapyd launcher: the crawl is a
Scrapyd job, recorded with its id, holding the portal's lock until it ends; its articles
land in the data directory the job was told to use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive import locks, schedules
from archive.config import Config
from archive.scrapyd import Scrapyd, launcher
from archive.store import Archive
from scraper.sample_portals import PORTALS
from tests.conftest import ROOT, free_port, run_cli

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def scrapyd_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("scrapyd")
    port = free_port()
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        f"eggs_dir = {home / 'eggs'}\nlogs_dir = {home / 'logs'}\ndbs_dir = {home / 'dbs'}\n"
        "poll_interval = 0.5\nmax_proc = 2\njobs_to_keep = 20\n"
    )
    # HOME too: Scrapyd also reads ~/.scrapyd.conf, after ./scrapyd.conf.
    env = {**os.environ, "HOME": str(home), "PORTAL_ARCHIVE_LOG_LEVEL": "INFO"}
    proc = subprocess.Popen(
        [str(BIN / "scrapyd")], cwd=home, env=env,
        stdout=subprocess.DEVNULL, stderr=(home / "scrapyd.err").open("wb"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "daemonstatus.json", timeout=2) as resp:
                assert json.loads(resp.read())["status"] == "ok"
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(
                    "scrapyd did not start: " + (home / "scrapyd.err").read_text()[-2000:]
                ) from None
            time.sleep(0.2)
    yield {"url": url, "logs": home / "logs"}
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def deployed(scrapyd_url):
    proc = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "env", "--version", "r1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PORTAL_ARCHIVE_SCRAPYD_URL": scrapyd_url["url"]},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "ok"
    return scrapyd_url


def test_deploy_uploads_the_project_with_its_spiders(deployed):
    server = Scrapyd(deployed["url"])
    assert "portal_archive" in server.call("listprojects.json")["projects"]
    spiders = server.call("listspiders.json?project=portal_archive")["spiders"]
    assert {"portal", "wayback"} <= set(spiders)


def test_scheduler_hands_the_crawl_to_scrapyd(deployed, sample_world, tmp_path):
    registry = tmp_path / "portals"
    sample_world.write_registry(registry)
    config = Config.resolve(tmp_path / "data")
    slug = PORTALS[2]
    archive = Archive(config)
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    info = schedules.add(archive, slug, "0 2 * * *", known_slugs=PORTALS, now=t0)
    server = Scrapyd(deployed["url"])
    scheduler = schedules.Scheduler(
        archive,
        known_slugs=lambda: list(PORTALS),
        crawl_command=lambda slugs: pytest.fail("a local crawl was started"),
        clock=lambda: info.next_run_at,
        launcher=launcher(server, config, portals_dir=registry, allow_private=True),
    )
    scheduler.start()
    try:
        scheduler.tick()
        (fire,) = schedules.history(archive)
        assert fire["status"] == "started" and fire["pid"] is None
        job = fire["jobs"][slug]
        assert f"{slug} job {job}" in fire["message"]
        assert server.job_states()[job] in ("pending", "running", "finished")
        held = {row["slug"]: row["holder"] for row in locks.held(archive)}
        assert held[slug].startswith("scheduler schedule")  # held while the job runs
        deadline = time.monotonic() + 180
        while scheduler.running and time.monotonic() < deadline:
            time.sleep(1)
            scheduler.tick()
        assert not scheduler.running, "the Scrapyd job did not end"
    finally:
        scheduler.shutdown(grace=30)
    (fire,) = schedules.history(archive)
    log = next(deployed["logs"].rglob(f"{job}.log"), None)
    assert fire["status"] == "finished", (fire, log.read_text()[-3000:] if log else None)
    assert fire["exit_code"] == 0
    assert slug not in {row["slug"] for row in locks.held(archive)}
    (run,) = archive.runs()
    assert run["portal"] == slug and run["trigger"] == "scheduler"
    assert run["status"] == "finished" and run["new"] == 10
    assert run["stats"]["scrapyd/job"] == job
    got = {r.canonical_url for r in archive.iter_articles()}
    archive.close()
    assert got == {e["canonical_url"] for e in sample_world.expected(slug)}
    assert list((config.data_dir / "warc").glob(f"{slug}-*.warc.gz"))


def test_unreachable_scrapyd_is_a_clear_error(tmp_path, sample_world):
    registry = tmp_path / "portals"
    sample_world.write_registry(registry)
    proc = run_cli(
        "--data-dir", str(tmp_path), "scheduler", "--portals", str(registry),
        "--scrapyd", f"http://127.0.0.1:{free_port()}/",
    )  # fmt: skip
    assert proc.returncode == 2
    assert "cannot reach Scrapyd at" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("--data-dir", str(tmp_path), "scheduler", "--scrapyd", "ftp://x")
    assert proc.returncode == 2 and "expected http(s)://HOST:PORT/" in proc.stderr
