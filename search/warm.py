"""Compile the search kernels (search/kernels.py) ahead of the first search.

numba compiles a kernel for each combination of argument types on its first call (~1 s
each, ~5 s for a first search) and caches the result on disk. ``make install`` runs this
once, on a small index in a temporary directory with queries of every kind, so that the
first search of a server or of ``portal-archive search`` only loads them (~0.1 s each)::

    python -m search.warm
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from search import kernels

QUERIES = [
    "cải cách hành chính",  # words, exact spellings, titles
    '"cai cach hanh chinh"',  # a phrase on word pairs
    '"cải cách"',  # two words: one pair
    "tuyên truyền -đvhc",  # an excluded word
    'kế hoạch -"đơn vị hành chính"',  # an excluded phrase (exact spellings: positions)
    "139/KH-UBND",
]


def _kinds(values: list[int], dtypes: tuple[str, ...]) -> list[np.ndarray]:
    """``values`` as each dtype, read-only (``np.frombuffer`` of a block, a type of its
    own to numba) and writable (concatenated from several blocks)."""
    out = []
    for dtype in dtypes:
        a = np.array(values, dtype=dtype)
        out += [a, np.frombuffer(a.tobytes(), dtype=dtype)]
    return out


def _every_type() -> None:
    """Each kernel with each type of array a segment can give it: id deltas of 1, 2 or 4
    bytes, weights as uint8, float32 or float64, each read-only or not. The small index
    does not have them all."""
    ids = np.array([0, 2, 3], dtype=np.int64)
    lengths = np.frombuffer(bytes(4), dtype=np.uint8)
    norms, counted, totals = np.ones(256), np.ones(4, dtype=bool), np.zeros(4)
    for deltas in _kinds([0, 2, 1], ("<u1", "<u2", "<u4")):
        kernels.running_sum(deltas, np.empty(3, dtype=np.int64), 0)
    for tf in _kinds([1, 2, 1], ("<u1", "<f4", "<f8")):
        kernels.add_bm25(ids, tf, lengths, norms, counted, 1.0, 1.2, 1.0, totals)
    # a phrase's words are packed into int64 arrays, the positions as stored (16 or 32
    # bits) or int64 (search.postings._POSITION_TYPES)
    two = np.array([0, 2, 3, 0, 2, 3], dtype=np.int64)
    id_off = np.array([0, 3, 6], dtype=np.int64)
    pstart = np.array([0, 1, 3, 4, 5, 7, 8], dtype=np.int64)
    for dtype in ("<u2", "<u4", "<i8"):
        positions = np.array([0, 1, 4, 2, 1, 2, 5, 3], dtype=dtype)
        places = np.array([0, 1], dtype=np.int64)
        kernels.phrase_docs(ids, two, id_off, pstart, positions, places)
    kernels.intersect(ids, ids, True)


def warm() -> float:
    """Search a throwaway index with every kind of query, and call each kernel with each
    type of array; the seconds it took."""
    from search.backend import WhooshBackend
    from search.index import IndexDoc, SearchIndex

    started = time.perf_counter()
    _every_type()
    words = (
        "Kế hoạch số 139/KH-UBND về cải cách hành chính và tuyên truyền sắp xếp đơn vị hành chính"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        index = SearchIndex(path, procs=1)
        index.update(
            [
                IndexDoc(
                    id=f"w{i}",
                    portal="xa-mau",
                    unit="",
                    title=" ".join(words.split()[i % 5 :][:6]),
                    lead=None,
                    body=" ".join(words.split()[i % 7 :] * (1 + i % 3)),
                    published=date(2024, 1, 1 + i),
                    topics=["cchc"] if i % 2 else ["dvhc"],
                    doc_numbers=["139/KH-UBND"] if i % 3 == 0 else [],
                )
                for i in range(20)
            ]
        )
        backend = WhooshBackend(path, index)
        try:
            for q in QUERIES:
                backend.search(q, per_page=5)
                backend.search(q, per_page=5, portal="xa-mau", sort="newest")
        finally:
            backend.close()
    return time.perf_counter() - started


def main() -> int:
    took = warm()
    print(f"search kernels compiled and cached ({took:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
