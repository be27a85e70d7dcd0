"""Many writers, one index: concurrent syncs wait for each other, searches read throughout,
and `portal-archive index --watch` indexes what crawls store (issue 9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from archive.config import Config
from archive.schema import ArticleItem
from archive.store import Archive
from search.index import SearchIndex
from search.query import search_ids
from tests.conftest import ROOT

BODY = (
    "UBND quận Thanh Xuân ban hành Kế hoạch số {n}/KH-UBND về cải cách hành chính năm 2024, "
    "giao phường Kim Giang và phường Thượng Đình rà soát thủ tục hành chính. "
) * 8


def store(data, first: int, count: int) -> None:
    archive = Archive(Config.resolve(data))
    try:
        pid = archive.upsert_portal(
            "quan-thanh-xuan", name="Q", unit="Quận Thanh Xuân", base_url="http://q.gov.vn/",
            family="generic", config={"unit_code": "009"},
        )  # fmt: skip
        items = [
            ArticleItem(
                portal="quan-thanh-xuan", url=f"http://q.gov.vn/tin/{n}.html",
                canonical_url=f"http://q.gov.vn/tin/{n}.html", title=f"Kế hoạch số {n}",
                body=BODY.format(n=n), fetched_at=datetime.now(UTC),
                published=date(2024, 1, 1) + timedelta(days=n % 300),
            )
            for n in range(first, first + count)
        ]  # fmt: skip
        archive.store_articles(items, pid)
    finally:
        archive.close()


def cli(data, *args: str, env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "--data-dir", str(data), *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def index_ids(data) -> list[str]:
    ix = SearchIndex(Config.resolve(data).index_dir)
    try:
        reader = ix.searcher().reader()
        return [ix.searcher().stored_fields(d)["id"] for d in reader.all_doc_ids()]
    finally:
        ix.close()


def postgres_ids(data) -> list[str]:
    from search.backend import open_backend

    with open_backend(Config.resolve(data), name="postgres") as backend:
        return list(backend.indexed_states())


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_concurrent_syncs_wait_for_each_other_and_index_each_entry_once(tmp_path, request, backend):
    if backend == "postgres":
        request.getfixturevalue("pg_cluster")  # skipped on SQLite
    env = {"PORTAL_ARCHIVE_SEARCH": backend}
    data = tmp_path / "data"
    store(data, 0, 1200)  # enough that the three overlap (without the lock two fail)
    procs = [cli(data, "index", env=env) for _ in range(3)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _o, e in outs]
    assert not any("Traceback" in e for _o, e in outs)
    ids = index_ids(data) if backend == "whoosh" else postgres_ids(data)
    assert len(ids) == 1200 and len(set(ids)) == 1200  # every article, once
    # the others found the work done (or waited for it)
    indexed = sorted(int(o.split()[0]) for o, _e in outs)
    assert indexed[-1] == 1200 and sum(indexed) == 1200
    check = subprocess.run(
        [sys.executable, "-m", "archive.cli", "--data-dir", str(data), "check"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **env},
    )  # fmt: skip
    assert "search index: in step" in check.stdout


def test_searches_read_while_the_indexer_writes(tmp_path):
    data = tmp_path / "data"
    store(data, 0, 600)
    index_dir = Config.resolve(data).index_dir
    SearchIndex(index_dir).close()  # an empty index to read from the start
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                ix = SearchIndex(index_dir)  # as the web app after a commit: a new searcher
                try:
                    seen.append(len(search_ids(ix, "cai cach hanh chinh")))
                finally:
                    ix.close()
                time.sleep(0.05)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    indexer = cli(data, "index")
    out, err = indexer.communicate(timeout=600)
    time.sleep(0.3)
    done.set()
    reader.join(timeout=60)
    assert indexer.returncode == 0, err
    assert errors == []
    assert len(seen) >= 3 and seen == sorted(seen)  # never a step back
    assert seen[0] < 600 and seen[-1] == 600  # read during the writes, and the end state


def test_watching_indexer_indexes_what_crawls_store_and_stops_on_sigterm(tmp_path):
    data = tmp_path / "data"
    store(data, 0, 20)
    watcher = cli(data, "index", "--watch", "--interval", "0.5")
    try:
        deadline = time.monotonic() + 120
        while len(index_ids(data) if (data / "index").exists() else []) < 20:
            assert time.monotonic() < deadline, "the indexer did not index the first articles"
            time.sleep(0.3)
        store(data, 20, 5)  # a crawl stores five more
        while len(index_ids(data)) < 25:
            assert time.monotonic() < deadline, "the indexer did not index the new articles"
            time.sleep(0.3)
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, err
    assert "20 indexed" in out and "5 indexed" in out
    assert "indexer stopped after" in out and "25 change(s) indexed" in out


def test_opening_tries_again_when_a_commit_removed_its_files():
    """A reader lists the latest commit, then the indexer's next commit deletes its files:
    the index (or searcher) is opened again from the newer commit."""
    from search.index import _opened

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise FileNotFoundError(2, "No such file or directory", "_MAIN_7.toc")
        return "opened"

    assert _opened(flaky) == "opened" and len(calls) == 3

    def gone():
        raise FileNotFoundError(2, "No such file or directory", "MAIN_x.seg")

    with pytest.raises(FileNotFoundError):
        _opened(gone)
