"""Whole posting lists read in bulk from Whoosh segments, and phrase checks on them.

Why not Whoosh's matchers: they advance one posting at a time through several Python layers
(an ``And`` of terms, an ``AndMaybe`` for the ranking clauses, a phrase wrapper), about 3 µs
per posting and matcher; at 100,000 articles a seven-word query took 7.8 s, a phrase 3–4 s
(bench/bench_web.py, docs/benchmarks.md). Reading a term's whole posting list block by block
and working on Python sets and lists is one C-level pass per block instead.

Whoosh 2.7.5's posting block (``whoosh.codec.whoosh3``) is a zlib-compressed pickle of
``(ids, weights, values)``: delta-encoded document numbers, term frequencies (``None`` when
all are 1) and, for fields with positions, each posting's encoded positions. Two costs
dominate reading it, and both are avoided here:

* the values are most of a block's bytes, and a query needs them only for the words of a
  phrase: :func:`read` decompresses and unpickles only the ids and weights at the head of the
  block unless ``values=True`` (measured on the 100,000-article index: 20–40 ms per posting
  list of 100,000 documents against ~145 ms for whole blocks);
* Whoosh pickles blocks with protocol 2, in which every ``bytes`` value is rebuilt by a call
  to ``_codecs.encode`` (~1.2 µs per posting); :mod:`search.index` makes the writer use
  protocol 4 (native bytes: ~0.1 µs per posting). Blocks of either protocol are read.

Each block also costs a fixed ~30 µs (its header, a zlib object, a loads() call), so
:mod:`search.index` writes 1,024 postings per block instead of Whoosh's 128.

Anything unexpected (another Whoosh version, another codec, an inlined posting list, a block
layout the fast path does not know) falls back to Whoosh's own reading, with the same result.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from itertools import accumulate, chain, compress, repeat
from operator import add, floordiv, mul, rshift, sub
from pickle import loads
from typing import Any, NamedTuple

import whoosh
from whoosh.codec.whoosh3 import W3LeafMatcher

from search.analysis import decode_positions

__all__ = ["Postings", "phrase_docs", "read"]

_FAST = whoosh.__version__ == (2, 7, 5)

# The head of a block's pickle: protocol header, optional protocol-4 frame, the ids tuple
# (MARK, one BININT1/BININT2/BININT per id, TUPLE) and its memo op. Each opcode's first byte
# fixes its length, so the repetition cannot match a wrong parse of valid data.
_HEAD = re.compile(
    rb"\x80[\x02-\x05](?:\x95[\x00-\xff]{8})?\((?:K.|M..|J....)*t(?:q.|r....|\x94)?", re.S
)
_MEMO = {0x71: 2, 0x72: 5, 0x94: 1}  # BINPUT, LONG_BINPUT, MEMOIZE


class Postings(NamedTuple):
    """One term's postings in one segment: local document numbers (ascending, deleted
    documents left out), term weights, and the encoded positions when asked for."""

    ids: list[int]
    weights: list[float]
    values: list[bytes] | None = None


EMPTY = Postings([], [], [])


def read(reader: Any, fieldname: str, text: str, *, values: bool = False) -> Postings:
    """The postings of ``text`` in ``fieldname`` of one segment reader (a leaf reader)."""
    field = reader.schema[fieldname]
    btext = field.to_bytes(text)
    if (fieldname, btext) not in reader:
        return EMPTY
    m = reader._terms.matcher(fieldname, btext, field.format)
    if _FAST and type(m) is W3LeafMatcher and not m._byteids:
        out = _read_blocks(m, values)
    else:
        out = _read_matcher(m, values)
    deleted = reader.deleted_docs_set if reader.has_deletions() else None
    if deleted:
        keep = [i for i, d in enumerate(out.ids) if d not in deleted]
        out = Postings(
            [out.ids[i] for i in keep],
            [out.weights[i] for i in keep],
            None if out.values is None else [out.values[i] for i in keep],
        )
    return out


def _read_matcher(m: Any, values: bool) -> Postings:
    """Through Whoosh's matcher API: slow, for what the fast path does not know."""
    ids: list[int] = []
    weights: list[float] = []
    vals: list[bytes] | None = [] if values else None
    while m.is_active():
        ids.append(m.id())
        weights.append(m.weight())
        if vals is not None:
            vals.append(m.value())
        m.next()
    return Postings(ids, weights, vals)


def _read_blocks(m: W3LeafMatcher, values: bool) -> Postings:
    ids: list[int] = []
    weights: list[float] = []
    vals: list[bytes] | None = [] if values else None
    get = m._postfile.get
    while True:
        n = m._blocklength
        data = get(m._dataoffset, m._nextoffset - m._dataoffset)
        head = None if values or n <= 3 else _head(data, m._compression, n)
        if head is None:
            if m._compression:
                data = zlib.decompress(data)
            block_ids, block_weights, block_values = loads(data)
            if vals is not None:
                vals.extend(block_values)
        else:
            block_ids, block_weights = head
        ids.extend(accumulate(block_ids))  # delta-encoded within the block, from 0
        if block_weights is None:
            weights.extend([1.0] * n)
        elif isinstance(block_weights, float):
            weights.extend([block_weights] * n)
        else:
            weights.extend(block_weights)
        if m._lastblock:
            return Postings(ids, weights, vals)
        m._goto(m._nextoffset)


def _head(data: bytes, compression: int, n: int) -> tuple[tuple, Any] | None:
    """(ids, weights) of a block from the head of its pickle, or None when the layout is
    not the expected one (the caller then unpickles the whole block)."""
    if compression:
        # ids: at most 5 bytes each (BININT), weights 9 (BINFLOAT), plus the framing ops
        data = zlib.decompressobj().decompress(data, 14 * n + 32)
    m = _HEAD.match(data)
    if m is None:
        return None
    i = m.end()
    if i >= len(data):
        return None
    op = data[i]
    if op == 0x4E:  # NONE: every weight is 1
        j = i + 1
    elif op == 0x47:  # BINFLOAT: one weight for all
        j = i + 9
    elif op == 0x28:  # MARK, n BINFLOATs, TUPLE, memo
        j = i + 1 + 9 * n
        if j >= len(data) or data[j] != 0x74:
            return None
        j += 1
        if j < len(data) and data[j] in _MEMO:
            j += _MEMO[data[j]]
    else:
        return None
    start = 11 if data[2] == 0x95 else 2  # the frame's length no longer holds: drop it
    try:
        ids, weights = loads(data[:2] + data[start:j] + b"\x86.")
    except Exception:  # noqa: BLE001 - any surprise: read the whole block instead
        return None
    if len(ids) != n:
        return None
    return ids, weights


# --- phrases ------------------------------------------------------------------------------------
#
# A phrase match is a set intersection of integer keys ``doc * _STRIDE + start`` (start: where
# the phrase would begin, the word's position minus its place in the phrase). The keys of one
# word are made with C-level iterators only: the stored values (raw 32-bit positions, see
# search.analysis) of every document still in the running are joined and decoded as ONE list,
# and each document's base key is repeated once per position. ~0.1 µs per position, against
# ~2.5 µs per document and word for a loads(), a running sum and a Python loop each.

_STRIDE = 1 << 32  # more positions than any document has


def phrase_docs(words: list[Postings], candidates: set[int]) -> set[int]:
    """The documents among ``candidates`` where the words occur adjacent and in order.

    Every posting list must have been read with ``values=True``. The word with the fewest
    positions goes first; each later one is decoded only for the documents still in the
    running. (Choosing the first pair by how often it is adjacent in a sample of the
    candidates saved nothing measurable on the 100,000-article bench: the first two words
    are decoded for every candidate either way.)
    """
    alive = candidates
    starts: set[int] | None = None
    for i in sorted(range(len(words)), key=lambda i: sum(words[i].weights)):
        keys = _keys(words[i], i, alive)
        starts = set(keys) if starts is None else starts.intersection(keys)
        if not starts:
            return set()
        # A start below 0 (word i at a position < i) lands at the top of the previous
        # document's key range, beyond any position it has: it never meets a start of
        # another word, and the first word's starts are never below 0.
        alive = set(map(floordiv, starts, repeat(_STRIDE)))
    return alive


def _keys(p: Postings, i: int, docs: set[int]) -> Iterator[int]:
    """``doc * _STRIDE + position - i`` for every position of the word in ``docs``."""
    assert p.values is not None
    keep = list(map(docs.__contains__, p.ids))
    values = list(compress(p.values, keep))
    bases = map(sub, map(mul, compress(p.ids, keep), repeat(_STRIDE)), repeat(i))
    counts = map(rshift, map(len, values), repeat(2))
    return map(
        add,
        decode_positions(b"".join(values)),
        chain.from_iterable(map(repeat, bases, counts)),
    )
