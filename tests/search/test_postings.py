"""search.postings reads what Whoosh's own matchers read, from blocks of either pickle
protocol and of the raw layout (search/blocks.py), and finds phrases as a brute-force scan of
the positions does."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest

import search.index
from search import blocks, postings
from search.analysis import encode_positions
from search.index import IndexDoc, SearchIndex

WORDS = ["cải", "cách", "hành", "chính", "tuyên", "truyền", "sắp", "xếp", "đơn", "vị"]


def _docs(n: int) -> list[IndexDoc]:
    docs = []
    for i in range(n):
        # varied lengths and term frequencies; every 7th document without "tuyên"
        words = [WORDS[(i * 7 + k * (i % 5 + 1)) % len(WORDS)] for k in range(5 + i % 23)]
        if i % 7 == 0:
            words = [w for w in words if w != "tuyên"]
        docs.append(
            IndexDoc(
                id=f"d{i}",
                portal="xa-thu-nghiem",
                unit="",
                title=" ".join(words[:3]),
                lead=None,
                body=" ".join(words),
                published=date(2024, 1, 1 + i % 28),
                content_hash=str(i),
            )
        )
    return docs


@pytest.fixture(params=[2, 4, "raw"], ids=["protocol-2", "protocol-4", "raw"], scope="module")
def index(request, tmp_path_factory) -> SearchIndex:
    from whoosh.codec import whoosh3

    patch = pytest.MonkeyPatch()
    if request.param == "raw":
        patch.setattr(search.index, "_RAW_BLOCKS", True)
    else:
        patch.setattr(search.index, "_RAW_BLOCKS", False)
        patch.setattr(search.index, "_BLOCK_PROTOCOL", request.param)
    # small blocks: the common words' postings span many blocks, the last one short
    patch.setattr(whoosh3.W3Codec.__init__, "__defaults__", (64, 3, 1))
    try:
        ix = SearchIndex(tmp_path_factory.mktemp("ix"), procs=1)
        ix.update(_docs(700))
        ix.delete([f"d{i}" for i in range(0, 700, 11)])
        ix.update(_docs(30)[3:9])  # replaced: deletions in the first segment, a second one
    finally:
        patch.undo()
    yield ix
    ix.close()


def test_blocks_are_many(index: SearchIndex):
    reader = index.searcher().leaf_searchers()[0][0].reader()
    m = reader._terms.matcher("body", b"cai", reader.schema["body"].format)
    blocks = 1
    while not m._lastblock:
        m._goto(m._nextoffset)
        blocks += 1
    assert blocks >= 5


def test_positions_are_stored_uncompressed(index: SearchIndex):
    # raw blocks: read in place (values kind 2, not 3); the older layouts: zlib'd pickles
    reader = index.searcher().leaf_searchers()[0][0].reader()
    m = reader._terms.matcher("body", b"cai", reader.schema["body"].format)
    data = m._postfile.get(m._dataoffset, m._nextoffset - m._dataoffset)
    if blocks.is_raw(data):
        assert blocks._layout(data)[5] == 2
        assert blocks.positions(data)[1].dtype == np.dtype("<u2")
    else:
        assert data[:1] == b"\x78"


def _whoosh(reader, fieldname: str, word: str):
    m = reader.postings(fieldname, word)  # Whoosh's matcher, deleted documents filtered
    return postings._read_matcher(m, values=True)


@pytest.mark.parametrize("word", ["cai", "=cải", "tuyen", "=truyền", "d5", "missing"])
@pytest.mark.parametrize("fieldname", ["body", "title"])
def test_read_is_what_whoosh_reads(index: SearchIndex, fieldname: str, word: str):
    searcher = index.searcher()
    assert len(searcher.leaf_searchers()) == 2
    for sub, _ in searcher.leaf_searchers():
        reader = sub.reader()
        got = postings.read(reader, fieldname, word)
        with_values = postings.read(reader, fieldname, word, values=True)
        if (fieldname, word.encode()) not in reader:
            assert len(got.ids) == 0 and len(with_values.ids) == 0
            continue
        expected = _whoosh(reader, fieldname, word)
        assert got.ids.dtype == np.int64 and got.weights.dtype.kind in "uf"  # as stored
        assert got.ids.tolist() == expected.ids.tolist()
        assert got.weights.tolist() == expected.weights.tolist()
        assert with_values.ids.tolist() == expected.ids.tolist()
        assert with_values.weights.tolist() == expected.weights.tolist()
        assert with_values.counts.tolist() == expected.counts.tolist()
        assert with_values.positions.tolist() == expected.positions.tolist()


def test_raw_lists_walked_here_or_by_whoosh_read_the_same(index: SearchIndex, monkeypatch):
    """Raw blocks are walked by postings._read_raw; when a block's info is not as expected
    they are read block by block through the matcher instead, with the same result."""
    for sub, _ in index.searcher().leaf_searchers():
        reader = sub.reader()
        fast = postings.read(reader, "body", "cai", values=True)
        m = reader._terms.matcher("body", b"cai", reader.schema["body"].format)
        walked = postings._read_raw(m._postfile.get, m._startoffset, values=True)
        assert (walked is None) == (not _is_raw(reader))
        with monkeypatch.context() as patch:
            patch.setattr(postings, "_BLOCK_INFO", re.compile(rb"(?!)"))
            assert postings._read_raw(m._postfile.get, m._startoffset, values=True) is None
            slow = postings.read(reader, "body", "cai", values=True)
        for a, b in zip(fast, slow, strict=True):
            assert a.tolist() == b.tolist()


def test_raw_lists_are_read_in_place_of_the_memory_map(index: SearchIndex, monkeypatch):
    """Raw lists' weights and positions are views of the segment's memory map, not copies,
    and the same as copies (a list of one block: several are joined into one array)."""
    one_block = 0
    for sub, _ in index.searcher().leaf_searchers():
        reader = sub.reader()
        if not _is_raw(reader):
            continue
        for word in ("cai", "tuyen"):
            viewed = postings.read(reader, "body", word, values=True)
            with monkeypatch.context() as patch:
                patch.setattr(postings, "_IN_PLACE", False)
                copied = postings.read(reader, "body", word, values=True)
            for a, b in zip(viewed, copied, strict=True):
                assert a.tolist() == b.tolist()
            assert not isinstance(copied.positions.base, memoryview)
            if 0 < len(viewed.ids) <= 64:  # the fixture's blocks hold 64 postings
                one_block += 1
                assert isinstance(viewed.weights.base, memoryview)
                assert isinstance(viewed.positions.base, memoryview)
    assert one_block or not any(_is_raw(s.reader()) for s, _ in index.searcher().leaf_searchers())


def _is_raw(reader) -> bool:
    m = reader._terms.matcher("body", b"cai", reader.schema["body"].format)
    return blocks.is_raw(m._postfile.get(m._dataoffset, m._nextoffset - m._dataoffset))


def test_read_keyword_fields(index: SearchIndex):
    for sub, _ in index.searcher().leaf_searchers():
        reader = sub.reader()
        got = postings.read(reader, "portal", "xa-thu-nghiem")
        assert got.ids.tolist() == list(reader.all_doc_ids())


@pytest.mark.parametrize("phrase", ["cải cách", "cach hanh chinh", "tuyen truyen sap", "vị cải"])
def test_phrase_docs_is_a_positions_scan(index: SearchIndex, phrase: str):
    from search.analysis import analyze_query

    words = [t.folded for t in analyze_query(phrase)]
    found = 0
    for sub, _ in index.searcher().leaf_searchers():
        reader = sub.reader()
        lists = [postings.read(reader, "body", w, values=True) for w in words]
        candidates = set(lists[0].ids.tolist()).intersection(*(p.ids.tolist() for p in lists[1:]))
        expected = set()
        for d in candidates:
            at = []
            for p in lists:
                k = p.ids.tolist().index(d)
                start = int(p.counts[:k].sum())
                at.append(set(p.positions[start : start + p.counts[k]].tolist()))
            if any(all(s + i in at[i] for i in range(len(at))) for s in at[0]):
                expected.add(d)
        got = postings.phrase_docs(lists, np.array(sorted(candidates), dtype=np.int64))
        assert got.tolist() == sorted(expected)
        found += len(expected)
    assert found


def test_unknown_block_layout_falls_back(tmp_path: Path):
    # a block head the fast path does not recognise is read whole
    assert postings._head(b"\x80\x02(not a block", 0, 10) is None
    assert postings._head(b"", 0, 10) is None


def test_old_pickled_segments_merge_into_raw_blocks(tmp_path: Path):
    """An index written before the raw layout (pickled blocks) is searched as it is, and a
    merge of its segments with new ones writes raw blocks holding the same postings."""
    from whoosh.codec import whoosh3

    from search.query import search as run_search

    patch = pytest.MonkeyPatch()
    patch.setattr(search.index, "_RAW_BLOCKS", False)
    patch.setattr(whoosh3.W3Codec.__init__, "__defaults__", (64, 3, 1))
    try:
        ix = SearchIndex(tmp_path / "ix", procs=1)
        ix.update(_docs(400))
    finally:
        patch.undo()
    patch.setattr(whoosh3.W3Codec.__init__, "__defaults__", (64, 3, 1))
    try:
        ix.update(_docs(700)[400:])
        queries = ["cai cach", '"tuyên truyền"', "sắp xếp -đơn"]
        before = {q: run_search(ix, q, per_page=50) for q in queries}
        assert all(r.total for r in before.values())
        ix.ix.writer().commit(optimize=True)  # one segment: old and new blocks rewritten
    finally:
        patch.undo()
    ix.close()
    ix = SearchIndex(tmp_path / "ix", procs=1)
    (sub, _), *rest = ix.searcher().leaf_searchers()
    assert not rest
    reader = sub.reader()
    m = reader._terms.matcher("body", b"cai", reader.schema["body"].format)
    assert blocks.is_raw(m._postfile.get(m._dataoffset, m._nextoffset - m._dataoffset))
    for q in queries:
        after = run_search(ix, q, per_page=50)
        assert after.total == before[q].total
        assert [h.id for h in after.hits] == [h.id for h in before[q].hits]
        # a merge sums the field lengths from their one-byte encodings (Whoosh): the
        # average length, and so the scores, move by a little
        assert [h.score for h in after.hits] == pytest.approx(
            [h.score for h in before[q].hits], rel=0.01
        )
    ix.close()


@pytest.mark.parametrize(
    "weights",
    [[1.0] * 5, [2.5] * 5, [1.0, 3.0, 255.0, 7.0, 1.0], [0.5, 1.25, 3.0, 2.0, 1.0],
     [0.1, 1.0, 2.0, 3.0, 1e-300]],
    ids=["ones", "one-value", "uint8", "float32", "float64"],
)  # fmt: skip
@pytest.mark.parametrize("compression", [0, 3])
@pytest.mark.parametrize("values", ["pickle", "positions", "positions-32-bit"])
def test_raw_block_round_trip(weights: list[float], compression: int, values: str):
    ids = [3, 4, 70_000, 70_001, 2**31]
    deltas = [ids[0]] + [b - a for a, b in zip(ids, ids[1:], strict=False)]
    if values == "pickle":
        vals = tuple(bytes([i]) * (i + 1) for i in range(5))
    else:
        top = 70_000 if values == "positions-32-bit" else 9_000
        lists = [[0], [1, 5, 9], [top], list(range(300)), [2, top - 1]]
        vals = tuple(encode_positions(p) for p in lists)
    data = blocks.encode(deltas, weights, vals, compression, values != "pickle")
    assert blocks.is_raw(data)
    got_deltas, got_weights, got_values = blocks.whoosh_data(data)
    assert list(got_deltas) == deltas and got_values == vals
    if weights == [1.0] * 5:
        assert got_weights is None
    elif len(set(weights)) == 1:
        assert got_weights == weights[0]
    else:
        assert list(got_weights) == weights
    head_deltas, head_weights = blocks.read_head(data)
    assert head_deltas.tolist() == deltas
    assert np.broadcast_to(head_weights, 5).tolist() == weights
    assert blocks.values(data) == vals
    if values != "pickle":
        counts, flat = blocks.positions(data)
        assert counts.tolist() == [len(p) for p in lists]
        assert flat.tolist() == [x for p in lists for x in p]
    else:
        assert blocks.positions(data) is None
