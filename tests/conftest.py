"""Shared fixtures: the sample-portal world on 127.0.0.1 and one crawl of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import pg

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"


# --- SQLite or PostgreSQL (PORTAL_ARCHIVE_TEST_DB=postgres; tests/pg.py) ---------------------


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sqlite_only(reason): a test about SQLite itself, skipped on PostgreSQL"
    )
    if not pg.wanted() or hasattr(config, "pg_cluster"):
        return
    try:
        cluster = pg.Cluster().start()
        cluster.make_template()
    except (RuntimeError, OSError) as exc:
        pytest.exit(f"cannot run the tests on PostgreSQL: {exc}", returncode=3)
    config.pg_cluster = cluster
    os.environ[pg.ENV_SERVER] = cluster.server_url
    site = str(Path(__file__).parent / "pg_site")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [site, os.environ.get("PYTHONPATH")]))
    pg.route_archives()


def pytest_unconfigure(config):
    cluster = getattr(config, "pg_cluster", None)
    if cluster is not None:
        cluster.stop()


def pytest_report_header(config):
    cluster = getattr(config, "pg_cluster", None)
    return f"database: PostgreSQL {cluster.server_url}" if cluster else "database: SQLite"


def pytest_collection_modifyitems(config, items):
    if getattr(config, "pg_cluster", None) is None:
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))


@pytest.fixture(autouse=True)
def _archive_databases(request):
    """On PostgreSQL: drop the databases of this test's ``tmp_path`` after it."""
    cluster = getattr(request.config, "pg_cluster", None)
    if cluster is None or "tmp_path" not in request.fixturenames:
        yield
        return
    tmp = request.getfixturevalue("tmp_path")
    yield
    pg.drop_databases_under(cluster.server_url, tmp)


def copy_archive(source: Path, target: Path) -> None:
    """Copy a data directory, and on PostgreSQL its database with it."""
    import shutil

    shutil.copytree(source, target)
    server = os.environ.get(pg.ENV_SERVER)
    if server:
        pg.copy_database(server, source, target)


def on_postgres() -> bool:
    """Whether archives without a ``--db`` of their own are on PostgreSQL in this run."""
    return bool(os.environ.get(pg.ENV_SERVER))


@pytest.fixture
def pg_cluster(request):
    """The test PostgreSQL server; the test is skipped when the suite runs on SQLite."""
    cluster = getattr(request.config, "pg_cluster", None)
    if cluster is None:
        pytest.skip("on PostgreSQL only (PORTAL_ARCHIVE_TEST_DB=postgres)")
    return cluster


def run_cli(
    *args: str, env: dict | None = None, check: bool = False, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``portal-archive`` in a subprocess (Scrapy's reactor cannot restart in-process)."""
    full_env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "archive.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=ROOT,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"portal-archive {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture(scope="session")
def sample_world():
    from scraper.sample_portals import SampleWorld

    with SampleWorld() as world:
        yield world


@pytest.fixture(scope="session")
def crawled(sample_world, tmp_path_factory):
    """One full crawl of every sample portal through the CLI, into a fresh data directory."""
    root = tmp_path_factory.mktemp("crawl")
    registry = root / "portals"
    registry.mkdir()
    sample_world.write_registry(registry)
    data = root / "data"
    before = len(sample_world.requests)
    proc = run_cli(
        "--data-dir",
        str(data),
        "crawl",
        "all",
        "--portals",
        str(registry),
        "--allow-private",
        check=True,
    )
    return {
        "data": data,
        "registry": registry,
        "proc": proc,
        "requests": list(sample_world.requests[before:]),
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing(program: str, why: str) -> None:
    """A system program a test needs is not installed: under CI a failure, else a skip."""
    message = f"{program} is missing: `make test` installs it (scripts/system-deps.sh {why})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server (Debian's) on 127.0.0.1, a free port, no persistence."""
    import shutil
    import time

    server = shutil.which("redis-server")
    if server is None:
        _missing("redis-server", "--with-redis")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)
