"""A big index's segments split between worker processes (search/shards.py) give the page,
totals and facets one process gives, for every kind of query; a dead worker, a commit in
between and concurrent queries leave the results right."""

from __future__ import annotations

import logging
import random
import threading
from datetime import date

import pytest

from search import shards
from search.backend import SearchBackendError
from search.index import IndexDoc, SearchIndex
from search.query import search

from .test_search import seed_docs

PORTALS = ["xa-an-binh", "xa-phu-loc", "quan-thanh-xuan"]
NUMBERS = ["139/KH-UBND", "07/2022/QĐ-UBND", "59-KL/TW", "123/UBND-VP"]


def _docs(n: int, start: int = 0) -> list[IndexDoc]:
    """Articles cut from the real seed texts: runs of their sentences, with portals, topics,
    dates and cited documents spread among them."""
    sentences = [s.strip() for d in seed_docs() for s in d.body.split(".") if len(s) > 40]
    rng = random.Random(start)
    out = []
    for i in range(start, start + n):
        k = rng.randrange(len(sentences) - 8)
        body = ". ".join(sentences[k : k + rng.randint(2, 8)])
        out.append(
            IndexDoc(
                id=f"a{i}",
                portal=PORTALS[i % 3],
                unit="",
                title=sentences[rng.randrange(len(sentences))][:90],
                lead=None,
                body=body,
                published=None if i % 17 == 0 else date(2019 + i % 6, 1 + i % 12, 1 + i % 28),
                topics=[["cchc"], ["dvhc"], ["cchc", "dvhc"], []][i % 4],
                doc_numbers=[NUMBERS[i % 4]] if i % 3 == 0 else [],
                type="document" if i % 10 == 0 else "article",
                doc_kinds=["Kế hoạch"] if i % 5 == 0 else [],
                content_hash=str(i),
            )
        )
    return out


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    ix = SearchIndex(tmp_path_factory.mktemp("ix"), procs=1)
    for batch in range(4):  # four commits: four segments of different sizes
        ix.update(_docs(60 + 25 * batch, start=1000 * batch))
    ix.delete([f"a{i}" for i in range(0, 60, 7)])  # deletions in the first
    assert len(ix.searcher().leaf_searchers()) == 4
    yield ix
    ix.close()
    shards.close_pools()


def _page(index: SearchIndex, monkeypatch, workers: str, query: str, **kw):
    monkeypatch.setenv(shards.ENV_WORKERS, workers)
    r = search(index, query, per_page=kw.pop("per_page", 7), **kw)
    return (
        r.total,
        [(h.id, h.score) for h in r.hits],
        [(k, list(v.items())) for k, v in r.facets.items()],
    )


CASES = [
    ("cải cách hành chính", {}),
    ("cai cach", {}),
    ("sắp xếp đơn vị hành chính", {}),
    ('"đơn vị hành chính"', {}),
    ('"cai cach hanh chinh" tuyên truyền', {}),
    ("139/KH-UBND", {}),
    ("hành chính -tuyên", {}),
    ("khủng long", {}),
    ("của", {"page": 3}),
    ("hành chính", {"portal": "xa-phu-loc", "topic": "dvhc"}),
    ("kế hoạch", {"year": 2021}),
    ("cải cách", {"date_from": date(2020, 1, 1), "date_to": date(2022, 6, 30)}),
    ("cải cách", {"doc_kind": "ke-hoach"}),
    ("cải cách", {"type": "document"}),
    ("", {"sort": "newest"}),
    ("", {"sort": "oldest", "page": 2}),
    ("hành chính", {"sort": "newest"}),
    ("-cải", {}),
    ("cải cách", {"portal": "khong-co"}),
    ("cải cách", {"facets": False}),
]


@pytest.mark.parametrize(("query", "kw"), CASES)
def test_workers_give_the_page_one_process_gives(index, monkeypatch, query, kw):
    alone = _page(index, monkeypatch, "0", query, **kw)
    before = shards.pool_for(index.path, 2).answered
    split = _page(index, monkeypatch, "2", query, **kw)
    assert split == alone
    assert shards.pool_for(index.path, 2).answered == before + 1  # the workers answered it


def test_workers_see_a_commit_and_a_deletion(index, monkeypatch):
    first = _page(index, monkeypatch, "2", "cải cách")
    index.update(_docs(40, start=5000))
    index.delete(["a1001", "a1002"])
    alone = _page(index, monkeypatch, "0", "cải cách")
    split = _page(index, monkeypatch, "2", "cải cách")
    assert split == alone and split[0] != first[0]


def test_concurrent_queries_are_right(index, monkeypatch):
    """One query uses the workers; one running meanwhile searches in its own thread."""
    monkeypatch.setenv(shards.ENV_WORKERS, "2")
    want = {q: _page(index, monkeypatch, "0", q) for q, _ in CASES[:6]}
    monkeypatch.setenv(shards.ENV_WORKERS, "2")
    got: dict[str, object] = {}
    start = threading.Barrier(3)

    def run(queries):
        start.wait()
        for q in queries:
            r = search(index, q, per_page=7)
            got[q] = (r.total, [(h.id, h.score) for h in r.hits],
                      [(k, list(v.items())) for k, v in r.facets.items()])  # fmt: skip

    threads = [threading.Thread(target=run, args=(list(want)[i::3],)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == want


def test_a_dead_worker_leaves_the_search_to_the_caller(tmp_path, monkeypatch, caplog):
    ix = SearchIndex(tmp_path / "ix", procs=1)
    for batch in range(2):
        ix.update(_docs(30, start=100 * batch))
    try:
        alone = _page(ix, monkeypatch, "0", "hành chính")
        assert _page(ix, monkeypatch, "2", "hành chính") == alone
        pool = shards.pool_for(ix.path, 2)
        assert pool is not None and pool.answered == 1
        pool._procs[0].kill()
        pool._procs[0].wait()
        with caplog.at_level(logging.WARNING, logger="search.shards"):
            assert _page(ix, monkeypatch, "2", "hành chính") == alone
        assert "search workers stopped" in caplog.text
        assert pool.broken and shards.pool_for(ix.path, 2) is None  # not trusted again
        assert _page(ix, monkeypatch, "2", "cải cách") == _page(ix, monkeypatch, "0", "cải cách")
    finally:
        ix.close()
        shards.close_pools()


def test_how_many_workers(monkeypatch):
    monkeypatch.setattr(shards.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert shards.workers_wanted(199_999, 40, {}) == 0  # auto: a small index searches alone
    assert shards.workers_wanted(200_000, 40, {}) == 2
    assert shards.workers_wanted(1_000_000, 1, {}) == 0  # one segment: nothing to split
    assert shards.workers_wanted(50, 40, {shards.ENV_WORKERS: "3"}) == 3
    assert shards.workers_wanted(50, 2, {shards.ENV_WORKERS: "3"}) == 2
    for off in ("0", "1", "off"):
        assert shards.workers_wanted(10**6, 40, {shards.ENV_WORKERS: off}) == 0
    for bad in ("many", "-2"):
        with pytest.raises(SearchBackendError, match="expected auto, off or a number"):
            shards.workers_wanted(10**6, 40, {shards.ENV_WORKERS: bad})


def test_segments_are_dealt_by_size_neighbours_apart():
    # a bulk load's segments of about one size alternate, whatever their exact sizes
    assert shards.split([25_000, 24_000, 24_900, 24_100], 2) == [[0, 2], [1, 3]]
    assert shards.split([24_500] * 7, 3) == [[0, 3, 6], [1, 4], [2, 5]]
    # sizes balanced: one big segment against four a quarter of its size
    assert shards.split([100_000, 25_000, 25_000, 25_000, 25_000], 2) == [[0], [1, 2, 3, 4]]
    assert shards.split([40, 25, 25, 10], 2) == [[0, 3], [1, 2]]
    assert shards.split([7], 2) == [[0]]
