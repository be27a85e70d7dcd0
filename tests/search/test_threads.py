"""Segments searched by a pool of threads ($PORTAL_ARCHIVE_SEARCH_THREADS): the same results
as one after the other, and a bad setting is one clear error."""

from __future__ import annotations

import pytest

import search.query as whoosh_query
from search.index import IndexSettingError, SearchIndex
from search.query import ENV_THREADS, search, search_threads
from tests.conftest import run_cli

from .test_search import seed_docs, small

QUERIES = [
    ("cải cách hành chính", {}),
    ('"cai cach hanh chinh"', {}),
    ('"sắp xếp đơn vị" hành chính -"cải cách"', {}),
    ("kế hoạch", {"sort": "newest"}),
    ("", {"portal": "xa-thu-nghiem"}),
    ("cai cach", {"page": 2, "per_page": 5}),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> SearchIndex:
    ix = SearchIndex(tmp_path_factory.mktemp("ix"), procs=1)
    docs = seed_docs()
    # several commits: several segments (the tier merge waits for ten small ones)
    for start in range(0, len(docs), max(1, len(docs) // 5)):
        ix.update(docs[start : start + max(1, len(docs) // 5)])
    ix.update([small(f"extra-{i}", "Kế hoạch cải cách hành chính năm 2025") for i in range(7)])
    assert len(ix.searcher().leaf_searchers()) >= 4
    yield ix
    ix.close()


def _run(index: SearchIndex, monkeypatch, threads: str) -> list:
    monkeypatch.setenv(ENV_THREADS, threads)
    out = []
    for q, kw in QUERIES:
        r = search(index, q, **kw)
        out.append((r.total, [(h.id, h.score, h.snippet) for h in r.hits], r.facets))
    return out


def test_threads_find_and_rank_what_one_thread_does(index: SearchIndex, monkeypatch):
    calls = []
    real = whoosh_query.ThreadPoolExecutor.map

    def counted(self, fn, *its, **kw):
        calls.append(1)
        return real(self, fn, *its, **kw)

    monkeypatch.setattr(whoosh_query.ThreadPoolExecutor, "map", counted)
    one = _run(index, monkeypatch, "1")
    assert not calls
    three = _run(index, monkeypatch, "3")
    assert calls  # the pool did the work
    assert three == one
    assert all(total for total, _, _ in one[:4])


@pytest.mark.parametrize("value", ["0", "many", "-2", "1.5"])
def test_a_bad_threads_setting_is_one_clear_error(value: str):
    with pytest.raises(IndexSettingError, match="whole number of threads"):
        search_threads({ENV_THREADS: value})


def test_threads_default_to_the_cpus():
    assert 1 <= search_threads({}) <= 8
    assert search_threads({ENV_THREADS: " 4 "}) == 4


def test_a_bad_threads_setting_from_the_cli(tmp_path):
    ix = SearchIndex(tmp_path / "index", procs=1)
    ix.update([small("a", "cải cách hành chính")])
    ix.close()
    proc = run_cli("--data-dir", str(tmp_path), "search", "cai cach", env={ENV_THREADS: "x"})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{ENV_THREADS}='x': give a whole number of threads" in proc.stderr
