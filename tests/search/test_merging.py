"""Whoosh segment merging (search/index.py, ``merge_tiered``): small commits are merged a
tier at a time, never past the cap, and a bulk load merges nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from search import index as search_index
from search.index import SearchIndex
from search.query import search
from tests.search.test_search import small


def _segments(index: SearchIndex) -> list[int]:
    return sorted(s.doc_count_all() for s in index.ix._segments())


def _commits(index: SearchIndex, n: int, per: int = 2, *, first: int = 0, **kw) -> None:
    for c in range(first, first + n):
        index.update(
            [small(f"c{c}-{i}", f"Kế hoạch cải cách hành chính số {c}-{i}") for i in range(per)],
            **kw,
        )


def test_ten_small_segments_become_one(tmp_path: Path):
    index = SearchIndex(tmp_path / "ix", procs=1)
    _commits(index, 10)
    assert _segments(index) == [2] * 10  # the merge is due at the next commit
    _commits(index, 2, first=10)
    # commit 11 merged the ten (a tier of 1-9 documents) into its own new segment
    assert _segments(index) == [2, 22]
    assert search(index, "cai cach hanh chinh", per_page=50).total == 24
    index.close()


def test_no_merge_past_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(search_index, "MAX_MERGED_DOCS", 15)  # ten segments of 2 make 20
    index = SearchIndex(tmp_path / "ix", procs=1)
    _commits(index, 12)
    assert _segments(index) == [2] * 12
    index.close()


def test_bulk_load_merges_nothing_and_the_next_commits_merge_small_ones(tmp_path: Path):
    index = SearchIndex(tmp_path / "ix", procs=1, batch_size=3)
    _commits(index, 12, bulk=True)
    assert _segments(index) == [2] * 12  # one commit a list: bulk batches are larger
    _commits(index, 1, first=12)
    assert _segments(index) == [2, 2, 22]  # ten of the twelve merged with the new one
    assert search(index, "cai cach hanh chinh", per_page=50).total == 26
    index.close()


def test_deleting_merges_by_the_same_policy(tmp_path: Path):
    index = SearchIndex(tmp_path / "ix", procs=1)
    _commits(index, 10)
    assert index.delete(["c0-0"]) == 1
    assert _segments(index) == [19]  # the deletion's commit made the due merge, without it
    assert index.doc_count() == 19
    index.close()
