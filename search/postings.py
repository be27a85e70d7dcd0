"""Whole posting lists read in bulk from Whoosh segments as numpy arrays, and phrase checks
on them.

Why not Whoosh's matchers: they advance one posting at a time through several Python layers
(an ``And`` of terms, an ``AndMaybe`` for the ranking clauses, a phrase wrapper), about 3 µs
per posting and matcher; at 100,000 articles a seven-word query took 7.8 s, a phrase 3–4 s
(bench/bench_web.py, docs/benchmarks.md). Reading a term's whole posting list block by block
into arrays is one C-level pass per block instead.

Blocks written by :mod:`search.index` are in the raw layout of :mod:`search.blocks`: the ids
and weights are read by ``np.frombuffer`` from the head of the block, and the positions after
them (inflated first in blocks written before they were stored uncompressed) only for the words
of a phrase.

Blocks of indexes written before are Whoosh's zlib-compressed pickles of ``(ids, weights,
values)`` (protocol 2, or 4 as search.index wrote them): :func:`read` decompresses and
unpickles only the ids and weights at the head of such a block unless ``values=True``
(:func:`_head`; 20–40 ms per posting list of 100,000 documents against ~145 ms for whole
blocks). Each block also costs a fixed ~30 µs (its header, a zlib object), so
:mod:`search.index` writes 16,384 postings per block instead of Whoosh's 128.

Anything unexpected (another Whoosh version, another codec, an inlined posting list, a block
layout the fast path does not know) falls back to Whoosh's own reading, with the same result.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from pickle import loads
from typing import Any, NamedTuple

import numpy as np
import whoosh
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3LeafMatcher, W3TermsReader
from whoosh.reading import TermNotFound

from search import blocks, kernels

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
    documents left out, int64), term weights (float64, or as a raw block stores them: uint8
    term frequencies, float32), and when asked for, each posting's
    number of positions (int64) and all the positions in posting order (unsigned integers
    as stored, or int64)."""

    ids: np.ndarray
    weights: np.ndarray
    counts: np.ndarray | None = None
    positions: np.ndarray | None = None


_NONE = np.zeros(0, dtype=np.int64)
EMPTY = Postings(_NONE, np.zeros(0, dtype=np.float64), _NONE, _NONE)


def read(reader: Any, fieldname: str, text: str, *, values: bool = False) -> Postings:
    """The postings of ``text`` in ``fieldname`` of one segment reader (a leaf reader);
    ``values``: with their positions (a field with positions only)."""
    field = reader.schema[fieldname]
    btext = field.to_bytes(text)
    terms = getattr(reader, "_terms", None)
    out = None
    if _FAST and type(terms) is W3TermsReader:
        # one look-up of the term, and its blocks walked without a matcher (which would
        # unpickle the first block's info): ~10 µs a term, at 1,000,000 articles a
        # seven-word query reads ~1,300 posting lists
        try:
            info = terms.term_info(fieldname, btext)
        except TermNotFound:
            return EMPTY
        if not info.is_inlined():
            out = _read_raw(_getter(terms._postfile), info.extent()[0], values)
    elif (fieldname, btext) not in reader:
        return EMPTY
    if out is None:
        m = reader._terms.matcher(fieldname, btext, field.format)
        if _FAST and type(m) is W3LeafMatcher and not m._byteids:
            out = _read_blocks(m, values)
        else:
            out = _read_matcher(m, values)
    if reader.has_deletions():
        deleted = np.fromiter(reader.deleted_docs_set, dtype=np.int64)
        keep = ~np.isin(out.ids, deleted)
        if not keep.all():
            counts = positions = None
            if out.counts is not None:
                counts = out.counts[keep]
                positions = out.positions[np.repeat(keep, out.counts)]
            out = Postings(out.ids[keep], out.weights[keep], counts, positions)
    return out


def _positions(values: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(counts, positions) from stored values (raw 32-bit positions, search.analysis)."""
    counts = np.fromiter(map(len, values), dtype=np.int64, count=len(values)) >> 2
    flat = np.frombuffer(b"".join(values), dtype="<u4").astype(np.int64)
    return counts, flat


def _read_matcher(m: Any, values: bool) -> Postings:
    """Through Whoosh's matcher API: slow, for what the fast path does not know."""
    ids: list[int] = []
    weights: list[float] = []
    vals: list[bytes] = []
    while m.is_active():
        ids.append(m.id())
        weights.append(m.weight())
        if values:
            vals.append(m.value())
        m.next()
    counts, flat = _positions(vals) if values else (None, None)
    return Postings(
        np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float64), counts, flat
    )


# A block on disk: its length (big-endian int, negative for a term's last block), Whoosh's
# info tuple pickled with protocol 2 (ints, one float: MARK … TUPLE, a memo op, STOP), then
# the data.
_BLOCK_LENGTH = struct.Struct("!i")
_PEEK = 96  # bytes enough for a block's info (~40) and its data's header (9)
_BLOCK_INFO = re.compile(rb"\x80\x02\((?:K.|M..|J....|G.{8}|N|\x88|\x89)*t(?:q.)?\.", re.S)


def _getter(postfile: Any) -> Callable[[int, int], Any]:
    """``get(offset, length)`` of a postings file: a view of its memory map where it is
    one (a segment's part, search.index's BufferFile), so that numpy reads the ids, weights
    and positions in place; else the file's own ``get``, which copies."""
    buf = getattr(postfile, "_buf", None) if _IN_PLACE else None
    if type(buf) is not memoryview:
        return postfile.get

    def view(offset: int, length: int) -> memoryview:
        return buf[offset : offset + length]

    return view


#: False: posting lists are copied out of the memory map (the tests compare both ways)
_IN_PLACE = True


def _read_raw(get: Any, start: int, values: bool) -> Postings | None:
    """The posting list at ``start`` in the postings file (``get(offset, length)``) when its
    blocks are raw: walked from their lengths (Whoosh's matcher unpickles each block's info
    tuple), the weights as stored. None when a block is not raw or its info not as
    expected."""
    if get(start, 4) != WHOOSH3_HEADER_MAGIC:
        return None
    chunks = []
    pos, last = start + 4, False
    while not last:
        length = _BLOCK_LENGTH.unpack(get(pos, 4))[0]
        if length < 0:
            last, length = True, -length
        # the block's info and the head of its data first: without values, only the ids
        # and weights are copied out of the file, not the positions after them
        peek = get(pos + 4, min(length, _PEEK))
        info = _BLOCK_INFO.match(peek)
        if info is None or not blocks.is_raw(peek[info.end() : info.end() + 2]):
            return None
        size = length - info.end()
        if not values:
            size = min(size, blocks.head_size(peek[info.end() :]) or size)
        chunks.append(get(pos + 4 + info.end(), size))
        pos += 4 + length
    parts = [_raw_block(data, values) for data in chunks]
    # each block's ids are deltas from 0: summed into one array by a compiled loop
    ids = np.empty(sum(len(p.ids) for p in parts), dtype=np.int64)
    at = 0
    for p in parts:
        kernels.running_sum(p.ids, ids, at)
        at += len(p.ids)
    if len(parts) == 1:  # a list of one block: its arrays as read
        return Postings(ids, parts[0].weights, parts[0].counts, parts[0].positions)
    return Postings(
        ids,
        np.concatenate([p.weights for p in parts]),
        np.concatenate([p.counts for p in parts]) if values else None,
        np.concatenate([p.positions for p in parts]) if values else None,
    )


def _raw_block(data: bytes, values: bool) -> Postings:
    """One raw block as arrays: its id deltas (not yet summed), weights, and with
    ``values`` its positions."""
    deltas, weights = blocks.read_head(data)
    if isinstance(weights, float):
        weights = np.full(len(deltas), weights)
    if not values:
        return Postings(deltas, weights)
    counts, flat = blocks.positions(data) or _positions(list(blocks.values(data)))
    return Postings(deltas, weights, counts, flat)


def _read_blocks(m: W3LeafMatcher, values: bool) -> Postings:
    deltas: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    flats: list[np.ndarray] = []
    get = m._postfile.get
    while True:
        n = m._blocklength
        data = get(m._dataoffset, m._nextoffset - m._dataoffset)
        if blocks.is_raw(data):
            block = _raw_block(data, values)
            block_ids, block_weights = block.ids, block.weights
            if values:
                counts.append(block.counts)
                flats.append(block.positions)
        else:  # a block of an index written before: a (compressed) pickle
            head = None if values or n <= 3 else _head(data, m._compression, n)
            if head is None:
                if m._compression:
                    data = zlib.decompress(data)
                block_ids, block_weights, block_values = loads(data)
                if values:
                    c, f = _positions(list(block_values))
                    counts.append(c)
                    flats.append(f)
            else:
                block_ids, block_weights = head
            block_ids = np.asarray(block_ids, dtype=np.int64)
        deltas.append(np.cumsum(block_ids, dtype=np.int64))  # delta-encoded from 0 per block
        if block_weights is None or isinstance(block_weights, float):
            weights.append(np.full(n, 1.0 if block_weights is None else block_weights))
        else:
            weights.append(np.asarray(block_weights, dtype=np.float64))
        if m._lastblock:
            return Postings(
                np.concatenate(deltas),
                np.concatenate(weights),
                np.concatenate(counts) if values else None,
                np.concatenate(flats) if values else None,
            )
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
# A phrase match is a start position in a document (where the phrase would begin: a word's
# position minus its place in the phrase) that every word has. The words' postings are packed
# into flat arrays, the rarest word first, and search.kernels.phrase_docs checks a document at
# a time: the rarest word's positions give the starts, the others' sorted positions are
# binary searched, and a document is taken at its first full match.


#: The position arrays search.kernels.phrase_docs is compiled for (search.warm): as stored in
#: raw blocks (uint16, uint32), as unpacked from older blocks (int64).
_POSITION_TYPES = (np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.int64))


def phrase_docs(
    words: list[Postings], candidates: np.ndarray, places: list[int] | None = None
) -> np.ndarray:
    """The documents among ``candidates`` (sorted local docnums) where the words occur
    adjacent and in order, sorted; ``places``: where each of ``words`` is in the phrase
    (default: one after the other; the word pairs of a phrase are at 0, 2, …).

    Every posting list must have been read with ``values=True``. The word with the fewest
    positions goes first.
    """
    if places is None:
        places = list(range(len(words)))
    if not len(candidates) or any(not len(p.ids) for p in words):
        return _NONE
    order = sorted(range(len(words)), key=lambda i: float(words[i].weights.sum()))
    packed = [words[i] for i in order]
    sizes = [len(p.ids) for p in packed]
    id_off = np.zeros(len(packed) + 1, dtype=np.int64)
    id_off[1:] = np.cumsum(sizes)
    # each word's posting starts, after a 0: the running sum of [0, counts of word 0, 0,
    # counts of word 1, ...] is word 0's starts from 0, then word 1's from where word 0's
    # positions end, ...
    assert all(p.counts is not None and p.positions is not None for p in packed)
    zero = np.zeros(1, dtype=np.int64)
    counts = [part for p in packed for part in (zero, p.counts)]
    pstart = np.cumsum(np.concatenate(counts, dtype=np.int64))  # type: ignore[arg-type]
    # positions as stored (16 or 32 bits: a quarter or half of int64's memory to write)
    flat = [p.positions for p in packed]
    kind = np.result_type(*flat)  # type: ignore[arg-type]
    return kernels.phrase_docs(
        np.asarray(candidates, dtype=np.int64),
        np.concatenate([p.ids for p in packed]),
        id_off,
        pstart,
        np.concatenate(flat, dtype=kind if kind in _POSITION_TYPES else np.int64),  # type: ignore[arg-type]
        np.array([places[i] for i in order], dtype=np.int64),
    )
