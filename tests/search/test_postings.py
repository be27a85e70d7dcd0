"""search.postings reads what Whoosh's own matchers read, from blocks of either pickle
protocol, and finds phrases as a brute-force scan of the positions does."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import search.index
from search import postings
from search.analysis import decode_positions
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


@pytest.fixture(params=[2, 4], ids=["protocol-2", "protocol-4"], scope="module")
def index(request, tmp_path_factory) -> SearchIndex:
    from whoosh.codec import whoosh3

    patch = pytest.MonkeyPatch()
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
            assert got.ids == [] and with_values.ids == []
            continue
        expected = _whoosh(reader, fieldname, word)
        assert got.ids == expected.ids
        assert got.weights == expected.weights
        assert with_values == expected


def test_read_keyword_fields(index: SearchIndex):
    for sub, _ in index.searcher().leaf_searchers():
        reader = sub.reader()
        got = postings.read(reader, "portal", "xa-thu-nghiem")
        assert got.ids == list(reader.all_doc_ids())


@pytest.mark.parametrize("phrase", ["cải cách", "cach hanh chinh", "tuyen truyen sap", "vị cải"])
def test_phrase_docs_is_a_positions_scan(index: SearchIndex, phrase: str):
    from search.analysis import analyze_query

    words = [t.folded for t in analyze_query(phrase)]
    found = 0
    for sub, _ in index.searcher().leaf_searchers():
        reader = sub.reader()
        lists = [postings.read(reader, "body", w, values=True) for w in words]
        candidates = set(lists[0].ids).intersection(*(p.ids for p in lists[1:]))
        expected = set()
        for d in candidates:
            at = [
                set(decode_positions(p.values[p.ids.index(d)]))  # type: ignore[index]
                for p in lists
            ]
            if any(all(s + i in at[i] for i in range(len(at))) for s in at[0]):
                expected.add(d)
        assert postings.phrase_docs(lists, candidates) == expected
        found += len(expected)
    assert found


def test_unknown_block_layout_falls_back(tmp_path: Path):
    # a block head the fast path does not recognise is read whole
    assert postings._head(b"\x80\x02(not a block", 0, 10) is None
    assert postings._head(b"", 0, 10) is None
