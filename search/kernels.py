"""Compiled loops (numba) for what a query does per posting: summing a block's id deltas,
intersecting sorted document numbers, adding a word's BM25 part to the scores, checking a
phrase on positions, counting the facets.

Done with numpy, each of these is several passes over a posting list, each pass writing a
temporary array: a word's scores took a gather of the matches, two of the lengths and norms,
four arithmetic passes and a scatter, ~27 ns a posting; here one loop does it in ~3 ns. A
phrase took a ``repeat`` of the ids per position, a key array and a binary search per
position; here a document at a time, until its first full match. At 1,000,000 articles a
seven-word query reads ~18 million postings, which is the difference between seconds and a
fraction of one.

The arithmetic is the same as numpy's, operation for operation and in the same order
(``fastmath`` off), so the scores are bit for bit those of Whoosh's ``BM25F``
(tests/search/test_kernels.py checks both against numpy; tests/search checks the ranking
against Whoosh). Compiled on first use and cached beside this file (``cache=True``; numba
falls back to a user cache directory where that is not writable; not cached at all when
imported from a zip, as Scrapyd runs the project from an egg).
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit

__all__ = ["add_bm25", "count_codes", "intersect", "phrase_docs", "running_sum"]

# Cached beside this file; a module imported from a zip (a Scrapyd egg) has no file there, and
# numba refuses to cache it: compiled on first use in each process instead.
_JIT = {"cache": os.path.isfile(__file__), "nogil": True, "error_model": "numpy"}


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
    posting ``(d, tf)`` whose document is ``counted``: Whoosh's ``bm25`` expression.

    Without a branch: every posting's part is computed and added times 1 or 0 (exact: a
    part times 1.0 is itself, a total plus 0.0 unchanged). Where about half the postings
    count (a phrase among common words) the branch was mispredicted often enough to more
    than double the loop's time."""
    k = k1 + 1
    for j in range(ids.shape[0]):
        d = ids[j]
        t = np.float64(tf[j])
        part = idf * ((t * k) / (t + norms[lengths[d]]))
        if boost != 1.0:
            part = part * boost
        totals[d] += part * counted[d]


@njit(**_JIT)
def phrase_docs(candidates, ids, id_off, pstart, positions, places):  # noqa: ANN001, ANN201
    """The documents of ``candidates`` (sorted docnums) where each word ``w`` is at start +
    ``places[w]`` for some start: a document at a time, word 0's positions giving the starts
    (the rarest word first), each other word's sorted positions in the document binary
    searched, the document taken at its first full match.

    The words are packed: word ``w``'s document numbers are ``ids[id_off[w]:id_off[w + 1]]``,
    and its posting ``j`` (an index of ``ids``) has the positions
    ``positions[pstart[j + w]:pstart[j + w + 1]]``."""
    words = places.shape[0]
    cursor = id_off[:words].copy()
    out = np.empty(candidates.shape[0], dtype=np.int64)
    n = 0
    for c in range(candidates.shape[0]):
        d = candidates[c]
        present = True
        for w in range(words):
            j, end = cursor[w], id_off[w + 1]
            while j < end and ids[j] < d:
                j += 1
            cursor[w] = j
            if j == end or ids[j] != d:
                present = False
                break
        if not present:
            continue
        j0 = cursor[0]
        for q in range(pstart[j0], pstart[j0 + 1]):
            start = positions[q] - places[0]
            every = True
            for w in range(1, words):
                j = cursor[w]
                lo, hi = pstart[j + w], pstart[j + w + 1]
                want = start + places[w]
                end = hi
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if positions[mid] < want:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo == end or positions[lo] != want:
                    every = False
                    break
            if every:
                out[n] = d
                n += 1
                break
    return out[:n]


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
