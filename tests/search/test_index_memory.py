"""A searching process reads the index through its memory map: it does not copy the index
into its own memory (whoosh-reloaded's BufferFile did, on opening each part of a segment:
~11 GB per process at 1,000,000 articles)."""

from __future__ import annotations

import io
import pickle
import tracemalloc
from dataclasses import replace

from whoosh.filedb.structfile import BufferFile

from search.index import SearchIndex

from .test_search import SMALL_DOCS, seed_docs


def test_buffer_file_reads_its_view_without_copying_it():
    data = bytearray(pickle.dumps({"a": 1}) + b"line one\nline two\n" + bytes(30_000_000))
    tracemalloc.start()
    try:
        f = BufferFile(memoryview(data))
        _, peak = tracemalloc.get_traced_memory()
        assert peak < 1_000_000  # BytesIO(buf) allocated the 30 MB again
        assert f.read_pickle() == {"a": 1}  # read/readline through the file API
        assert f.file.readline() == b"line one\n"
        assert f.read(4) == b"line"
        f.seek(-3, io.SEEK_END)
        assert f.read() == b"\0\0\0" and f.tell() == len(data)
        f.seek(0)
        assert f.get(2, 3) == bytes(data[2:5])  # reads by position, as search.postings does
    finally:
        tracemalloc.stop()


def test_opening_a_searcher_does_not_copy_the_index(tmp_path):
    ix = SearchIndex(tmp_path / "ix", procs=1)
    docs = seed_docs() + SMALL_DOCS
    for i in range(30):  # ~3 MB of segments
        ix.update([replace(d, id=f"{d.id}#{i}") for d in docs])
    size = sum(p.stat().st_size for p in (tmp_path / "ix").glob("*.seg"))
    assert size > 3_000_000
    ix.close()
    ix = SearchIndex(tmp_path / "ix")
    tracemalloc.start()
    try:
        searcher = ix.searcher()
        assert searcher.doc_count() == 30 * len(docs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        ix.close()
    assert peak < size / 4, (peak, size)
