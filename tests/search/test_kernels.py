"""search.kernels: the compiled loops give what numpy's passes gave, bit for bit for the
scores, and the phrases a brute-force scan of the positions finds."""

from __future__ import annotations

import numpy as np
import pytest

from search import kernels, postings


def _numpy_bm25(ids, tf, lengths, norms, counted, idf, k1, boost, totals):  # noqa: ANN001
    """The numpy passes search.query used before the kernel (the reference)."""
    keep = counted[ids]
    ids, tf = ids[keep], tf[keep].astype(np.float64)  # as read_head gave them before
    norm = norms[lengths[ids]]
    part = idf * ((tf * (k1 + 1)) / (tf + norm))
    totals[ids] += part * boost if boost != 1.0 else part


@pytest.mark.parametrize("boost", [1.0, 4.0])
@pytest.mark.parametrize("seed", range(5))
def test_add_bm25_is_numpy_bit_for_bit(seed: int, boost: float):
    rng = np.random.default_rng(seed)
    n = 5_000
    lengths = rng.integers(0, 256, n).astype(np.uint8)
    norms = rng.random(256) * 3 + 0.1
    counted = rng.random(n) < 0.7
    want, got = np.zeros(n), np.zeros(n)
    for _ in range(4):  # several words added into the same totals, in the same order
        ids = np.sort(rng.choice(n, rng.integers(1, n), replace=False)).astype(np.int64)
        # term frequencies as raw blocks store them (uint8), or float weights
        tf = rng.integers(1, 40, len(ids)).astype(np.uint8 if seed % 2 else np.float32)
        idf = float(rng.random() * 5 + 1)
        _numpy_bm25(ids, tf, lengths, norms, counted, idf, 1.2, boost, want)
        kernels.add_bm25(ids, tf, lengths, norms, counted, idf, 1.2, boost, got)
    assert got.tobytes() == want.tobytes()
    assert np.count_nonzero(got) > n // 2


def test_running_sum():
    deltas = np.array([3, 1, 255, 2], dtype=np.uint8)
    out = np.full(7, -1, dtype=np.int64)
    kernels.running_sum(deltas, out, 2)
    assert out.tolist() == [-1, -1, 3, 4, 259, 261, -1]


def _postings(rng: np.random.Generator, n_docs: int, vocab: int, length: int) -> dict:
    """Random documents of ``vocab`` words as per-word Postings with positions (the
    positions as uint16, as raw blocks store them)."""
    texts = [rng.integers(0, vocab, rng.integers(1, length)) for _ in range(n_docs)]
    out = {}
    for w in range(vocab):
        ids, counts, flat = [], [], []
        for d, text in enumerate(texts):
            at = np.flatnonzero(text == w)
            if len(at):
                ids.append(d)
                counts.append(len(at))
                flat.extend(at.tolist())
        out[w] = postings.Postings(
            np.array(ids, dtype=np.int64),
            np.array(counts, dtype=np.float64),
            np.array(counts, dtype=np.int64),
            np.array(flat, dtype=np.uint16),
        )
    return {"texts": texts, "lists": out}


def _scan(texts: list[np.ndarray], words: list[int], places: list[int]) -> list[int]:
    docs = []
    for d, text in enumerate(texts):
        for s in range(-max(places), len(text)):
            if all(
                0 <= s + p < len(text) and text[s + p] == w
                for w, p in zip(words, places, strict=True)
            ):
                docs.append(d)
                break
    return docs


@pytest.mark.parametrize("seed", range(6))
def test_phrase_docs_is_a_scan(seed: int):
    rng = np.random.default_rng(seed)
    data = _postings(rng, 300, 4, 60)  # 4 words: phrases are frequent, words repeat
    texts, lists = data["texts"], data["lists"]
    checked = 0
    for _ in range(40):
        size = int(rng.integers(2, 5))
        words = rng.integers(0, 4, size).tolist()
        # adjacent words, or word pairs' places (0, 2, …, the last pair overlapping)
        places = (
            list(range(size))
            if rng.random() < 0.5
            else sorted(set(rng.choice(8, size, replace=False).tolist()))
        )
        expected = _scan(texts, words, places)
        every = np.arange(len(texts), dtype=np.int64)
        got = postings.phrase_docs([lists[w] for w in words], every, places)
        assert got.tolist() == expected, (words, places)
        # among fewer candidates: those only
        some = every[::3]
        got = postings.phrase_docs([lists[w] for w in words], some, places)
        assert got.tolist() == [d for d in expected if d % 3 == 0]
        checked += len(expected)
    assert checked


def test_phrase_docs_of_nothing():
    empty = postings.EMPTY._replace(counts=np.zeros(0, np.int64), positions=np.zeros(0, np.int64))
    some = postings.Postings(
        np.array([1, 4]), np.array([1.0, 2.0]), np.array([1, 2]), np.array([3, 0, 5])
    )
    cands = np.array([1, 2, 4], dtype=np.int64)
    assert postings.phrase_docs([empty, some], cands).tolist() == []
    assert postings.phrase_docs([some, some], np.zeros(0, np.int64)).tolist() == []
    # "w w" at 4: positions 0 and 5 are not adjacent; in doc 1 one position only
    assert postings.phrase_docs([some, some], cands).tolist() == []
    assert postings.phrase_docs([some], cands).tolist() == [1, 4]


@pytest.mark.parametrize("seed", range(4))
def test_intersect_is_numpy(seed: int):
    rng = np.random.default_rng(seed)
    found = np.unique(rng.integers(0, 3_000, 1_500)).astype(np.int64)
    ids = np.unique(rng.integers(0, 3_000, int(rng.integers(0, 2_500)))).astype(np.int64)
    inside = np.isin(found, ids)
    assert kernels.intersect(found, ids, True).tolist() == found[inside].tolist()
    assert kernels.intersect(found, ids, False).tolist() == found[~inside].tolist()
    assert kernels.intersect(found[:0], ids, True).tolist() == []
    assert kernels.intersect(found, ids[:0], False).tolist() == found.tolist()


def test_count_codes_is_bincount():
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 5, 1_000), rng.integers(0, 3, 1_000)
    codes = np.ascontiguousarray(np.stack([a, b + 5], axis=1).astype(np.int32))
    docnums = np.sort(rng.choice(1_000, 400, replace=False)).astype(np.int64)
    counts = kernels.count_codes(docnums, codes, 8)
    assert counts[:5].tolist() == np.bincount(a[docnums], minlength=5).tolist()
    assert counts[5:].tolist() == np.bincount(b[docnums], minlength=3).tolist()


def test_warm_compiles_every_argument_type():
    from search import warm

    assert warm.warm() > 0
    # ids of 1, 2 and 4 bytes; weights uint8, float32, float64: each read-only (read in
    # place from a block) and writable
    assert len(kernels.running_sum.signatures) >= 6
    assert len(kernels.add_bm25.signatures) >= 6
    assert len(kernels.phrase_docs.signatures) >= 3  # positions of 16, 32 and 64 bits
    assert kernels.intersect.signatures
    assert kernels.count_codes.signatures
