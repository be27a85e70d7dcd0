"""Distributed crawls: worker processes sharing one portal's frontier in a real Redis.

Each sample portal is crawled by ``crawl SLUG --redis URL --workers 3``, each worker held
to two requests at a time (``-s CONCURRENT_REQUESTS=2``) so that one worker cannot take
a small portal's whole frontier on its own. Against the sample world's ground truth and
its request log: every article archived exactly once with one version, every page
fetched once across the workers (robots.txt once per worker), every worker did part of
the work, each wrote its own WARC file, one run record adds their stats up. Then an
unchanged re-crawl is incremental, and a second crawl is refused while a distributed run
holds the portal, which a worker joining with ``crawl-worker`` (as from another machine)
then finishes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from archive.config import Config
from archive.models import Article, ArticleVersion, Portal, RawResponse
from archive.store import Archive
from scraper.distributed import SharedRun
from scraper.sample_portals import PORTALS
from tests.conftest import ROOT, run_cli

WORKERS = 3


@pytest.fixture(scope="module")
def distributed(sample_world, redis_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    registry = root / "portals"
    sample_world.write_registry(registry)
    data = root / "data"
    requests = {}
    for slug in PORTALS:
        before = len(sample_world.requests)
        run_cli(
            "--data-dir", str(data), "crawl", slug, "--portals", str(registry),
            "--allow-private", "--redis", redis_url, "--workers", str(WORKERS),
            # two requests at a time, 0.3 s apart: a portal of ~24 pages lasts a few seconds,
            # so a worker that starts last on a loaded machine still gets its share
            "-s", "CONCURRENT_REQUESTS=2", "-s", "DOWNLOAD_DELAY=0.3", check=True,
        )  # fmt: skip
        requests[slug] = [r for r in sample_world.requests[before:] if r[0] == slug]
    archive = Archive(Config.resolve(data))
    runs = {r["portal"]: r for r in archive.runs()}
    archive.close()
    return {"data": data, "registry": registry, "requests": requests, "runs": runs}


@pytest.mark.parametrize("slug", PORTALS)
def test_every_article_archived_exactly_once(distributed, sample_world, slug):
    archive = Archive(Config.resolve(distributed["data"]))
    with archive.session() as s:
        rows = s.execute(
            select(Article.canonical_url, Article.version_count, func.count(ArticleVersion.id))
            .join(Portal)
            .join(ArticleVersion, ArticleVersion.article_id == Article.id)
            .where(Portal.slug == slug)
            .group_by(Article.id)
        ).all()
    archive.close()
    got = [url for url, _, _ in rows]
    assert len(got) == len(set(got)), "duplicate articles"
    assert set(got) == {e["canonical_url"] for e in sample_world.expected(slug)}
    assert {(n, versions) for _, n, versions in rows} == {(1, 1)}, "one version each"


@pytest.mark.parametrize("slug", PORTALS)
def test_every_page_fetched_once_across_workers(distributed, slug):
    requests = distributed["requests"][slug]
    counts = Counter(path for _, method, path, _ in requests if method == "GET")
    robots = counts.pop("/robots.txt", 0)
    assert 1 <= robots <= WORKERS, "robots.txt: once per worker that fetched anything"
    assert [path for path, n in counts.items() if n > 1] == []
    # The archive's fetch records agree: one per URL.
    archive = Archive(Config.resolve(distributed["data"]))
    with archive.session() as s:
        urls = s.scalars(
            select(RawResponse.url).where(
                RawResponse.crawl_run_id == distributed["runs"][slug]["id"]
            )
        ).all()
    archive.close()
    pages = Counter(u for u in urls if not u.endswith("/robots.txt"))
    assert pages and max(pages.values()) == 1


@pytest.mark.parametrize("slug", PORTALS)
def test_the_work_was_shared_and_recorded_as_one_run(distributed, slug):
    run = distributed["runs"][slug]
    assert run["status"] == "finished"
    assert run["new"] == 10 and run["errors"] == 0
    workers = run["stats"]["distributed/workers"]
    assert len(workers) == WORKERS
    # Each worker fetched robots.txt and at least one page of the portal.
    assert all(w["pages"] >= 2 for w in workers.values()), workers
    assert sum(w["pages"] for w in workers.values()) == run["pages"]
    assert sum(w["new"] for w in workers.values()) == run["new"]
    assert run["stats"]["incremental/mode"].startswith("full")


@pytest.mark.parametrize("slug", PORTALS)
def test_each_worker_writes_its_own_warc_file(distributed, slug):
    files = sorted((distributed["data"] / "warc").glob(f"{slug}-*.warc.gz"))
    assert len(files) == WORKERS
    pids = set()
    for path in files:
        from warcio.archiveiterator import ArchiveIterator

        with path.open("rb") as fh:
            info = next(iter(ArchiveIterator(fh)))
            pids.add(re.search(rb"pid: (\d+)", info.content_stream().read())[1])
    assert len(pids) == WORKERS
    assert distributed["runs"][slug]["stats"]["warc/files"] == WORKERS


def test_unchanged_recrawl_is_incremental(distributed, sample_world, redis_url):
    slug = PORTALS[0]
    before = len(sample_world.requests)
    proc = run_cli(
        "--data-dir", str(distributed["data"]), "crawl", slug, "--portals",
        str(distributed["registry"]), "--allow-private", "--redis", redis_url,
        "--workers", "2", "--quiet", check=True,
    )  # fmt: skip
    assert "finished" in proc.stdout
    archive = Archive(Config.resolve(distributed["data"]))
    run = archive.runs(limit=1)[0]
    archive.close()
    assert run["stats"]["incremental/mode"] == "incremental"
    assert run["new"] == 0 and run["updated"] == 0
    # Known articles are not fetched again: far fewer requests than the first crawl.
    again = [r for r in sample_world.requests[before:] if r[0] == slug]
    assert len(again) < len(distributed["requests"][slug]) / 2


def test_busy_portal_refused_and_a_joining_worker_finishes_the_run(
    sample_world, redis_url, tmp_path
):
    """``--workers 0``: the coordinator holds the portal and waits for workers from other
    machines; meanwhile an ordinary crawl is refused, and one ``crawl-worker`` does it all."""
    registry = tmp_path / "portals"
    sample_world.write_registry(registry)
    data = tmp_path / "data"
    slug = PORTALS[1]
    env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING"}
    coordinator = subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "--data-dir", str(data), "crawl", slug,
         "--portals", str(registry), "--allow-private", "--redis", redis_url, "--workers", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = coordinator.stderr.readline()
        key = re.search(r"distributed run (\S+)", line)[1]
        busy = run_cli(
            "--data-dir", str(data), "crawl", slug, "--portals", str(registry),
            "--allow-private",
        )  # fmt: skip
        assert busy.returncode != 0
        assert "held by distributed cli pid" in busy.stderr
        worker = run_cli(
            "--data-dir", str(data), "crawl-worker", key, "--redis", redis_url,
            "--portals", str(registry),
        )  # fmt: skip
        assert worker.returncode == 0, worker.stderr
        out, err = coordinator.communicate(timeout=120)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
    assert coordinator.returncode == 0, err
    assert re.search(rf"{slug}\s+finished\s+full\s+\d+\s+10\s", out), out
    proc = run_cli("--data-dir", str(data), "runs", "--json", check=True)
    (run,) = json.loads(proc.stdout)
    (only,) = run["stats"]["distributed/workers"].values()
    assert only["pages"] == run["pages"] and only["new"] == 10


@pytest.mark.parametrize(
    "args, message",
    [
        (["crawl", "x", "--workers", "2"], "--workers goes with --redis"),
        (["crawl", "all", "--redis", "redis://127.0.0.1:9/0"], "one registered portal"),
        (["crawl", "a", "b", "--redis", "redis://127.0.0.1:9/0"], "one registered portal"),
        (["crawl-worker", "1-abc"], "--redis URL is needed"),
        (["crawl-worker", "1-abc", "--redis", "http://x"], "--redis 'http://x'"),
    ],
)
def test_bad_input_is_one_clear_line(args, message, tmp_path):
    proc = run_cli("--data-dir", str(tmp_path), *args, env={"PORTAL_ARCHIVE_REDIS": ""})
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_redis_and_unknown_run(sample_world, redis_url, tmp_path):
    registry = tmp_path / "portals"
    sample_world.write_registry(registry)
    dead = "redis://127.0.0.1:9/0"
    proc = run_cli(
        "--data-dir", str(tmp_path), "crawl", PORTALS[0], "--portals", str(registry),
        "--allow-private", "--redis", dead,
    )  # fmt: skip
    assert proc.returncode == 2 and "cannot reach Redis at" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli("--data-dir", str(tmp_path), "crawl-worker", "7-nope", "--redis", redis_url)
    assert proc.returncode == 2 and "no run '7-nope' in Redis" in proc.stderr


def test_a_stopped_run_stops_every_worker_and_the_next_one_resumes(redis_url, tmp_path):
    """SIGTERM to the coordinator stops its local worker and a joined one (as on another
    machine); the run is recorded as stopped, and the next distributed crawl resumes it:
    every article ends up archived exactly once."""
    from scraper.sample_portals import SampleWorld

    slug = PORTALS[2]
    with SampleWorld(scale=20, page_size=10) as world:
        registry = tmp_path / "portals"
        world.write_registry(registry)
        data = tmp_path / "data"
        # Slowed down (5 requests/s a worker) so that the stop lands mid-crawl.
        slow = ["-s", "DOWNLOAD_DELAY=0.2", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False"]
        env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING"}
        coordinator = subprocess.Popen(
            [sys.executable, "-m", "archive.cli", "--data-dir", str(data), "crawl", slug,
             "--portals", str(registry), "--allow-private", "--redis", redis_url,
             "--workers", "1", *slow],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        joined = None
        try:
            key = re.search(r"distributed run (\S+)", coordinator.stderr.readline())[1]
            joined = subprocess.Popen(
                [sys.executable, "-m", "archive.cli", "--data-dir", str(data), "crawl-worker",
                 key, "--redis", redis_url],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            # Both workers in (a loaded machine starts the joined one late), then some pages.
            import redis

            client = redis.Redis.from_url(redis_url)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (
                sum(1 for w in client.hkeys(SharedRun(client, key).workers_key)
                    if w != b"coordinator") < 2
                or len(world.requests) < 60
            ):  # fmt: skip
                time.sleep(0.05)
            client.close()
            coordinator.send_signal(signal.SIGTERM)
            out, err = coordinator.communicate(timeout=120)
            assert joined.wait(timeout=60) != 0  # stopped, not finished
        finally:
            for p in (coordinator, joined):
                if p is not None and p.poll() is None:
                    p.kill()
        assert coordinator.returncode == 1, err
        served = len(world.requests)
        assert served < 200, "the stop came too late to test anything"
        proc = run_cli("--data-dir", str(data), "runs", "--json", check=True)
        (stopped,) = json.loads(proc.stdout)
        assert stopped["status"].startswith("stopped"), stopped["status"]
        assert len(stopped["stats"]["distributed/workers"]) == 2
        # The next crawl resumes: every listing walked, what was stored not fetched again.
        run_cli(
            "--data-dir", str(data), "crawl", slug, "--portals", str(registry),
            "--allow-private", "--redis", redis_url, "--workers", "2", check=True,
        )  # fmt: skip
        archive = Archive(Config.resolve(data))
        resumed = archive.runs(limit=1)[0]
        with archive.session() as s:
            urls = s.scalars(select(Article.canonical_url)).all()
            versions = s.scalar(select(func.count(ArticleVersion.id)))
        archive.close()
        assert resumed["status"] == "finished"
        assert resumed["stats"]["incremental/mode"] == "resume"
        assert len(urls) == len(set(urls)) == len(world.sites[slug].articles) == versions
        assert resumed["new"] == len(urls) - stopped["new"]


def test_workers_stats_add_up_into_the_runs():
    from scraper.distributed import merge_stats

    merged = merge_stats(
        [
            {"stats": {"response_received_count": 10, "failed/total": 1, "failed/http-503": 1,
                       "failed/urls": ["http://a/1"], "start_time": "2026-01-01 10:00:05",
                       "finish_time": "2026-01-01 10:01:00", "incremental/mode": "resume"}},
            {"stats": {"response_received_count": 7, "failed/total": 2, "failed/timeout": 2,
                       "failed/urls": ["http://a/2", "http://a/3"],
                       "start_time": "2026-01-01 10:00:01", "finish_time": "2026-01-01 10:01:09",
                       "incremental/mode": "resume"}},
        ]
    )  # fmt: skip
    assert merged["response_received_count"] == 17
    assert merged["failed/total"] == 3
    assert merged["failed/http-503"] == 1 and merged["failed/timeout"] == 2
    assert merged["failed/urls"] == ["http://a/1", "http://a/2", "http://a/3"]
    assert merged["start_time"] == "2026-01-01 10:00:01"
    assert merged["finish_time"] == "2026-01-01 10:01:09"
    assert merged["incremental/mode"] == "resume"
