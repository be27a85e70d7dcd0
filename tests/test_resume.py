"""A crawl killed at any moment (SIGKILL) and started again finishes the job.

One bigger sample world (three portals, several listing pages per category, attachment
downloads slowed down so that kills land during them) is crawled through the CLI, which is
SIGKILLed again and again at seeded random points of its progress (see ``kill_points``):
during start-up, during attachment downloads, in the middle of the listings, while the
crawl closes or documents are processed. A last run is let finish. Then, against the
sample world's own list of articles and files:

- every article is archived exactly once, with one version (the content never changed);
- every attachment is stored (its file complete, its sha256 its name), broken links
  recorded as failed, every document's text extracted;
- every stored article version has the fetch record of the response it came from;
- no article page stored before a run started was fetched again by that run (from the
  server's request log, cut where each run started, against what the archive held then,
  read between the runs). None of the sample articles is recent: nothing is re-checked;
- every run after a kill resumed and says so in its record; each restart took over the
  crawl locks the killed process left.

A second test kills a first crawl once a quarter of its articles or more are stored and
resumes it with every article counted as recent (``PORTAL_ARCHIVE_RECHECK_DAYS`` a
century): an incremental crawl would re-check them all; the resume must fetch none of those
the killed run stored.

``PORTAL_ARCHIVE_RESUME_SEED`` changes the kill points.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from archive import locks
from archive.config import Config
from archive.models import (
    Article,
    ArticleVersion,
    CrawlRun,
    Document,
    Download,
    Portal,
    RawResponse,
)
from archive.store import Archive
from scraper.sample_portals import SampleWorld
from scraper.sample_portals.faults import Fault, FaultPlan
from tests.conftest import ROOT, run_cli

SEED = int(os.environ.get("PORTAL_ARCHIVE_RESUME_SEED", "20251118"))
#: 8 copies of each sample article, 5 per listing page: 80 articles and 17 listing pages
#: per portal, ~310 requests for the three (an uninterrupted crawl: ~4 s after ~1.5 s of
#: start-up, then the documents' text extraction).
SCALE, PAGE_SIZE = 8, 5
#: Attachments served slowly, so that kills land while they download.
SLOW_FILES = Fault("slow", regex=r"\.(pdf|docx?)$", seconds=1.5, chunks=6)
ATTACHMENT = re.compile(r"\.(pdf|docx?)$")
#: The sample portals answer ~100 requests/s where a real portal crawled politely answers
#: one: the archive's write interval (1 s by default) shrinks with them, or a killed run of
#: a few seconds would store nothing.
FLUSH = ("-s", "PORTAL_ARCHIVE_FLUSH_SECONDS=0.3")


def kill_points(rng: random.Random) -> list[tuple[str, float]]:
    """Where each run is killed (then one run is let finish). Points are counted in the
    crawl's own progress, not in seconds, so that a loaded machine moves them little:

    - ``start-up``: seconds after the process started (before or at its first requests);
    - ``attachment``: seconds after the run's first attachment request (a download the
      server makes last 1.5 s); after its 60th request when it asks for none;
    - ``requests``: once the run has made this many requests;
    - ``quiet``: seconds after the run's requests stopped coming for 0.8 s (the crawl
      closing, or the documents' text being extracted).
    """
    start_up = lambda: ("start-up", rng.uniform(0.05, 1.0))  # noqa: E731
    attachment = lambda: ("attachment", rng.uniform(0.1, 1.3))  # noqa: E731
    requests = lambda: ("requests", rng.randint(30, 250))  # noqa: E731
    return [
        start_up(), attachment(), requests(), requests(), start_up(), attachment(),
        requests(), requests(), requests(), ("quiet", rng.uniform(0.0, 2.0)),
    ]  # fmt: skip


def kill_when(proc: subprocess.Popen, log: list, point: tuple[str, float]) -> bool:
    """Wait for ``point`` of this run, then SIGKILL it; False if it finished first."""
    kind, value = point
    start, began = len(log), time.monotonic()
    deadline = began + 120
    seen_at = None  # when the awaited event (attachment request, silence) was seen
    last_count, last_change = 0, began
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        now, new = time.monotonic(), log[start:]
        if len(new) != last_count:
            last_count, last_change = len(new), now
        if kind == "start-up":
            due = now - began >= value
        elif kind == "requests":
            due = len(new) >= value
        elif kind == "attachment":
            if seen_at is None and any(ATTACHMENT.search(path) for _, _, path, _ in new):
                seen_at = now
            due = (seen_at is not None and now - seen_at >= value) or len(new) >= 60
        else:  # quiet
            if seen_at is None and new and now - last_change >= 0.8:
                seen_at = now
            due = seen_at is not None and now - seen_at >= value
        if due:
            break
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def stored_articles(data: Path) -> set[str]:
    """Canonical URLs of the articles the archive holds, read without an :class:`Archive`
    (opening one would create the database and its tables, read-only here: SQLite's file is
    opened ``mode=ro``)."""
    url = Config.resolve(data).db_url
    if url.startswith("sqlite"):
        url = f"sqlite:///file:{data / 'archive.sqlite3'}?mode=ro&uri=true"
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT canonical_url FROM articles")).scalars())
    except DBAPIError:  # no database, or no table yet
        return set()
    finally:
        engine.dispose()


def settle(log: list, quiet: float = 0.3, limit: float = 5.0) -> None:
    """Wait until the server has logged the requests a killed crawl had in flight."""
    deadline = time.monotonic() + limit
    n = len(log)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        if len(log) == n:
            return
        n = len(log)


def crawl_command(data: Path, registry: Path, target: str = "all", *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "archive.cli", "--data-dir", str(data), "crawl", target,
        "--portals", str(registry), "--allow-private", "--no-index", *extra,
    ]  # fmt: skip


def stored_article_pages(world: SampleWorld, run: dict) -> list[tuple[str, str]]:
    """The article pages the run's requests fetched that the archive held when it began."""
    pages = {(slug, urlsplit(url).path): url for url, (slug, _) in _articles(world).items()}
    again = []
    for slug, _method, path, _status in run["requests"]:
        url = pages.get((slug, urlsplit(path).path))
        if url is not None and url in run["stored"]:
            again.append((slug, path))
    return again


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    registry, data = root / "portals", root / "data"
    rng = random.Random(SEED)
    env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING"}
    with SampleWorld(scale=SCALE, page_size=PAGE_SIZE, faults=FaultPlan([SLOW_FILES])) as world:
        world.write_registry(registry)
        runs = []  # per run: where its requests start in the log, what was stored before
        for point in kill_points(rng):
            run = {"stored": stored_articles(data), "start": len(world.requests)}
            proc = subprocess.Popen(
                crawl_command(data, registry, "all", *FLUSH), cwd=ROOT, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            if kill_when(proc, world.requests, point):
                run["killed"] = point
            settle(world.requests)
            runs.append(run)
        runs.append({"stored": stored_articles(data), "start": len(world.requests)})
        last = run_cli(*crawl_command(data, registry, "all", *FLUSH)[3:], check=True)
        runs[-1]["stdout"] = last.stdout
        for run, after in zip(runs, [*runs[1:], {"start": len(world.requests)}], strict=False):
            run["requests"] = world.requests[run["start"] : after["start"]]
        yield {"world": world, "data": data, "runs": runs}


def _articles(world: SampleWorld) -> dict[str, tuple[str, object]]:
    """Canonical URL → (portal slug, the sample article) of every article the world has."""
    return {
        world.base_url(slug) + a.path: (slug, a)
        for slug, site in world.sites.items()
        for a in site.articles
    }


def test_it_was_killed_many_times_at_random_points(killed_and_resumed):
    runs = killed_and_resumed["runs"]
    killed = [r for r in runs if "killed" in r]
    print("\nkilled at:", ", ".join(f"{k} {v:.3g}" for k, v in (r["killed"] for r in killed)))
    print("articles stored before each run:", [len(r["stored"]) for r in runs])
    assert len(killed) >= 7  # a run may finish before its point (e.g. one after the last)
    # Some kills came before anything was stored, some in the middle of the crawl.
    assert any(not r["stored"] for r in killed)
    total = len(_articles(killed_and_resumed["world"]))
    assert sum(1 for r in runs if 0 < len(r["stored"]) < total) >= 2


def test_every_article_archived_exactly_once(killed_and_resumed):
    world, data = killed_and_resumed["world"], killed_and_resumed["data"]
    expected = _articles(world)
    archive = Archive(Config.resolve(data))
    try:
        with archive.session() as s:
            got = list(s.scalars(select(Article.canonical_url)))
            versions = dict(
                s.execute(
                    select(ArticleVersion.article_id, func.count()).group_by(
                        ArticleVersion.article_id
                    )
                ).all()
            )
            hashes = list(
                s.execute(select(ArticleVersion.article_id, ArticleVersion.content_hash)).all()
            )
    finally:
        archive.close()
    assert len(got) == len(set(got))
    assert set(expected) - set(got) == set(), "articles lost"
    assert set(got) - set(expected) == set(), "articles stored under a second URL"
    assert set(versions.values()) == {1}, "an unchanged article stored twice"
    assert len(hashes) == len(set(hashes))


def test_every_attachment_stored_complete(killed_and_resumed):
    world, data = killed_and_resumed["world"], killed_and_resumed["data"]
    config = Config.resolve(data)
    served = {}
    for slug, site in world.sites.items():
        for a in site.articles:
            for att in a.attachments:
                body = site.handle(att.href, "").body
                served[world.base_url(slug) + att.href] = (att.file, body)
    archive = Archive(config)
    try:
        with archive.session() as s:
            downloads = {d.url: d for d in s.scalars(select(Download))}
            # Text extraction runs after the crawl; a kill during it leaves the rest to the
            # next crawl.
            unprocessed = s.scalars(select(Document.sha256).where(Document.processed_at.is_(None)))
            assert list(unprocessed) == []
    finally:
        archive.close()
    assert set(served) <= set(downloads), "attachments never fetched"
    for url, (file, body) in served.items():
        d = downloads[url]
        if not file:  # a broken link: the portal's soft 404 page
            assert d.status == "failed", url
            continue
        assert d.status == "downloaded", (url, d.error)
        assert d.sha256 == hashlib.sha256(body).hexdigest(), url
        stored = (config.attachments_dir / d.sha256[:2] / d.sha256).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == d.sha256, f"{url}: stored file incomplete"


def test_every_stored_version_has_its_fetch_record(killed_and_resumed):
    archive = Archive(Config.resolve(killed_and_resumed["data"]))
    try:
        with archive.session() as s:
            fetched = set(s.execute(select(RawResponse.url, RawResponse.sha256)).all())
            versions = s.execute(select(ArticleVersion.url, ArticleVersion.raw_sha256)).all()
        assert [v for v in versions if tuple(v) not in fetched] == []
        assert all(archive.raw.path(sha).exists() for _, sha in versions)
    finally:
        archive.close()


def test_no_stored_article_page_fetched_again(killed_and_resumed):
    world, runs = killed_and_resumed["world"], killed_and_resumed["runs"]
    again = [(n, page) for n, run in enumerate(runs) for page in stored_article_pages(world, run)]
    assert again == [], f"{len(again)} stored article pages fetched again: {again[:5]}"


def test_runs_after_a_kill_resume_and_say_so(killed_and_resumed):
    archive = Archive(Config.resolve(killed_and_resumed["data"]))
    try:
        with archive.session() as s:
            rows = s.execute(
                select(Portal.slug, CrawlRun.status, CrawlRun.stats)
                .join(Portal)
                .order_by(CrawlRun.id)
            ).all()
    finally:
        archive.close()
    previous: dict[str, str] = {}
    resumed = 0
    for slug, status, stats in rows:
        mode = (stats or {}).get("incremental/mode")  # None: killed before it decided
        assert status != "running", "a killed run not recognised as killed"
        after_kill = previous.get(slug, "finished") != "finished"
        if mode is not None and mode != "full (first crawl)":
            assert mode == ("resume" if after_kill else "incremental"), (slug, status, mode)
            resumed += after_kill
        previous[slug] = status
    assert resumed >= 3
    # Each restart took over the crawl locks its killed predecessor left (or it would not
    # have crawled); the last run gave them back.
    archive = Archive(Config.resolve(killed_and_resumed["data"]))
    try:
        assert locks.held(archive) == []
    finally:
        archive.close()
    assert set(previous.values()) == {"finished"}
    assert "killed" in {status for _, status, _ in rows}


def test_resume_does_not_recheck_what_the_killed_run_stored(tmp_path):
    """Killed once a quarter of the articles or more are stored, resumed with every
    article recent."""
    registry, data, slug = tmp_path / "portals", tmp_path / "data", "huyen-ham-tan"
    env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING"}
    with SampleWorld(scale=SCALE, page_size=PAGE_SIZE) as world:
        world.write_registry(registry)
        total = len(world.sites[slug].articles)
        proc = subprocess.Popen(
            crawl_command(data, registry, slug, *FLUSH),
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if total // 4 <= len(stored_articles(data)) < total:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        settle(world.requests)
        stored = stored_articles(data)
        assert total // 4 <= len(stored) < total, "the crawl was not killed half-way"
        run = {"stored": stored, "start": len(world.requests)}
        run_cli(
            *crawl_command(data, registry, slug, "-s", "PORTAL_ARCHIVE_RECHECK_DAYS=36500")[3:],
            env=env, check=True,
        )  # fmt: skip
        run["requests"] = world.requests[run["start"] :]
        assert stored_article_pages(world, run) == []
    archive = Archive(Config.resolve(data))
    try:
        resumed = archive.runs(limit=1)[0]
        with archive.session() as s:
            archived = s.scalar(select(func.count(Article.id)))
    finally:
        archive.close()
    stats = resumed["stats"]
    assert archived == total and resumed["new"] == total - len(stored)
    assert stats["incremental/mode"] == "resume"
    assert stats["incremental/rechecks_skipped_fresh"] == len(stored)
    assert "incremental/rechecks" not in stats and "incremental/listing_stops" not in stats


# --- the decision, without a crawl ------------------------------------------------------------


@pytest.fixture
def archive(tmp_path):
    a = Archive(Config.resolve(tmp_path))
    a.portal_id = a.upsert_portal(
        "p", name="P", unit="", base_url="http://p.gov.vn/", family="generic"
    )
    yield a
    a.close()


def _finish(archive: Archive, run_id: int, status: str) -> None:
    from collections import Counter

    archive.finish_run(run_id, status=status, counts=Counter(), stats={})


def test_interrupted_runs_are_those_since_the_last_clean_finish(archive):
    assert archive.interrupted_runs("nobody") == []
    first = archive.start_run(archive.portal_id)
    assert [r["id"] for r in archive.interrupted_runs("p")] == [first]  # never finished
    assert archive.interrupted_runs("p", exclude=first) == []
    _finish(archive, first, "finished")
    assert archive.interrupted_runs("p") == []
    stopped = archive.start_run(archive.portal_id)
    _finish(archive, stopped, "stopped: shutdown")
    running = archive.start_run(archive.portal_id)  # its process alive: this one
    current = archive.start_run(archive.portal_id)
    found = archive.interrupted_runs("p", exclude=current)
    assert [(r["id"], r["status"]) for r in found] == [
        (stopped, "stopped: shutdown"),
        (running, "running"),
    ]
    _finish(archive, current, "finished")
    assert archive.interrupted_runs("p") == []


def test_a_run_that_gave_up_on_requests_a_later_crawl_may_get_is_not_clean(archive):
    """Finished, but with pages lost to 5xx, timeouts or a redirect loop: the next crawl
    walks everything (tests/test_faults_crawl.py, end to end). A 404 is not worth it."""
    from collections import Counter

    def finished_with(stats: dict) -> int:
        run = archive.start_run(archive.portal_id)
        archive.finish_run(run, status="finished", counts=Counter(), stats=stats)
        return run

    finished_with({})
    lossy = finished_with({"failed/total": 3, "failed/http_503": 2, "failed/redirect_loop": 1})
    assert [r["id"] for r in archive.interrupted_runs("p")] == [lossy]
    finished_with({"failed/total": 1, "failed/http_404": 1, "failed/urls": ["http_404 http://p/x"]})
    assert archive.interrupted_runs("p") == []


def test_a_run_left_running_by_a_dead_process_is_closed_as_killed(archive):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = archive.start_run(archive.portal_id)
    with archive.session() as s:
        s.get(CrawlRun, run).stats = {"process": {"pid": dead.pid, "host": socket.gethostname()}}
    current = archive.start_run(archive.portal_id)
    assert [(r["id"], r["status"]) for r in archive.interrupted_runs("p", exclude=current)] == [
        (run, "killed")
    ]


def test_resume_plan_walks_on_and_does_not_recheck_what_was_just_stored(archive):
    from archive.schema import ArticleItem
    from scraper.incremental import RecrawlPlan

    def item(n: int, **kw) -> ArticleItem:
        url = f"http://p.gov.vn/a-{n}.html"
        base = dict(portal="p", url=url, canonical_url=url, title=f"Bài {n}", body="Nội dung.")
        return ArticleItem.model_validate(
            {**base, "fetched_at": datetime.now(UTC), "published": datetime.now(UTC), **kw}
        )

    done = archive.start_run(archive.portal_id)
    archive.store_articles([item(1)], archive.portal_id, done)
    _finish(archive, done, "finished")
    plan = RecrawlPlan.load(archive, "p")
    assert not plan.resume and not plan.keep_walking(2)
    assert plan.should_recheck("http://p.gov.vn/a-1.html")

    time.sleep(0.01)
    killed = archive.start_run(archive.portal_id)
    attachment = {"url": "http://p.gov.vn/files/kh-139.pdf", "title": "Kế hoạch 139"}
    archive.store_articles([item(2, attachments=[attachment])], archive.portal_id, killed)
    current = archive.start_run(archive.portal_id)
    plan = RecrawlPlan.load(archive, "p", current_run=current)
    assert plan.resume and plan.keep_walking(100)
    assert [r["id"] for r in plan.interrupted] == [killed]
    assert plan.should_recheck("http://p.gov.vn/a-1.html")  # stored before the killed run
    assert not plan.should_recheck("http://p.gov.vn/a-2.html")  # stored by it
    assert plan.missing_attachments == {"http://p.gov.vn/a-2.html": [attachment]}
    archive.record_download(attachment["url"], sha256="0" * 64, status="downloaded", size=1)
    assert RecrawlPlan.load(archive, "p", current_run=current).missing_attachments == {}
    assert plan.recheck_since == datetime.now(UTC).date() - timedelta(days=14)
