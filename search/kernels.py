"""Compiled loops (numba) for what a query does per posting: adding a word's BM25 part to
the scores, and checking a phrase on positions.

Done with numpy, each of these is several passes over a posting list, each pass writing a
temporary array: a word's scores took a gather of the matches, two of the lengths and norms,
four arithmetic passes and a scatter, ~27 ns a posting; here one loop does it in ~3 ns. A
phrase took a ``repeat`` of the ids per position, a key array and a binary search per
position; here a merge of sorted arrays. At 1,000,000 articles a seven-word query reads ~18
million postings, which is the difference between seconds and a fraction of one.

The arithmetic is the same as numpy's, operation for operation and in the same order
(``fastmath`` off), so the scores are bit for bit those of Whoosh's ``BM25F``
(tests/search/test_kernels.py checks both against numpy; tests/search checks the ranking
against Whoosh). Compiled on first use and cached beside this file (``cache=True``; numba
falls back to a user cache directory where that is not writable).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "add_bm25",
    "count_codes",
    "intersect",
    "phrase_docs_first",
    "phrase_narrow",
    "running_sum",
]

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_JIT)
def running_sum(deltas, out, at):  # noqa: ANN001, ANN201
    """``out[at:at + len(deltas)]`` = the running sum of ``deltas`` (a block's document
    numbers from their deltas; numpy's ``cumsum`` into int64 took ~8 ns a posting)."""
    total = 0
    for j in range(deltas.shape[0]):
        total += deltas[j]
        out[at + j] = total


@njit(**_JIT)
def add_bm25(ids, tf, lengths, norms, counted, idf, k1, boost, totals):  # noqa: ANN001, ANN201
    """``totals[d] += idf * ((tf * (k1 + 1)) / (tf + norms[lengths[d]])) [* boost]`` for each
    posting ``(d, tf)`` whose document is ``counted``: Whoosh's ``bm25`` expression."""
    k = k1 + 1
    for j in range(ids.shape[0]):
        d = ids[j]
        if counted[d]:
            t = np.float64(tf[j])
            part = idf * ((t * k) / (t + norms[lengths[d]]))
            if boost != 1.0:
                part = part * boost
            totals[d] += part


@njit(**_JIT)
def phrase_docs_first(candidates, ids, counts, positions, place):  # noqa: ANN001, ANN201
    """(docs, starts): for each of ``candidates`` (sorted docnums) that has the word, each
    start its positions give the phrase (position minus the word's ``place`` in it), in
    document then position order."""
    n = 0
    j = 0
    for c in range(candidates.shape[0]):  # first the size
        d = candidates[c]
        while j < ids.shape[0] and ids[j] < d:
            j += 1
        if j < ids.shape[0] and ids[j] == d:
            n += counts[j]
    docs = np.empty(n, dtype=np.int64)
    starts = np.empty(n, dtype=np.int64)
    k = 0
    j = 0
    at = 0  # where posting j's positions begin
    for c in range(candidates.shape[0]):
        d = candidates[c]
        while j < ids.shape[0] and ids[j] < d:
            at += counts[j]
            j += 1
        if j < ids.shape[0] and ids[j] == d:
            for q in range(at, at + counts[j]):
                docs[k] = d
                starts[k] = positions[q] - place
                k += 1
    return docs, starts


@njit(**_JIT)
def phrase_narrow(docs, starts, ids, counts, positions, place):  # noqa: ANN001, ANN201
    """The (docs, starts) of the phrase, from :func:`phrase_docs_first`'s or an earlier
    narrowing, that also have this word at ``start + place``: a merge of the sorted starts
    with the word's sorted positions in each document."""
    keep = np.zeros(docs.shape[0], dtype=np.bool_)
    j = 0
    at = 0
    i = 0
    while i < docs.shape[0]:
        d = docs[i]
        end = i  # the run of starts in document d
        while end < docs.shape[0] and docs[end] == d:
            end += 1
        while j < ids.shape[0] and ids[j] < d:
            at += counts[j]
            j += 1
        if j < ids.shape[0] and ids[j] == d:
            q, last = at, at + counts[j]
            for s in range(i, end):
                want = starts[s] + place
                while q < last and positions[q] < want:
                    q += 1
                if q == last:
                    break
                if positions[q] == want:
                    keep[s] = True
        i = end
    return docs[keep], starts[keep]


@njit(**_JIT)
def intersect(found, ids, keep):  # noqa: ANN001, ANN201
    """The documents of ``found`` that are (``keep``) or are not in ``ids`` (both sorted):
    a merge, instead of a boolean array of the segment's documents per word."""
    out = np.empty(found.shape[0], dtype=np.int64)
    n = 0
    j = 0
    for i in range(found.shape[0]):
        d = found[i]
        while j < ids.shape[0] and ids[j] < d:
            j += 1
        if (j < ids.shape[0] and ids[j] == d) == keep:
            out[n] = d
            n += 1
    return out[:n]


@njit(**_JIT)
def count_codes(docnums, codes, size):  # noqa: ANN001, ANN201
    """Per column of ``codes`` (documents x facet columns, each value offset into one
    range of ``size`` codes), how many of ``docnums`` have each code: every facet's counts
    in one pass over the matches."""
    counts = np.zeros(size, dtype=np.int64)
    for i in range(docnums.shape[0]):
        row = codes[docnums[i]]
        for c in range(row.shape[0]):
            counts[row[c]] += 1
    return counts
