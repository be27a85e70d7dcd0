"""The posting block layout :mod:`search.index` writes: raw arrays instead of a pickle.

Whoosh 2.7.5 stores each block of a posting list as a zlib-compressed pickle of ``(ids,
weights, values)``. Unpickling a block builds one Python object per posting; reading the ids
and weights of 100,000 postings that way costs 37–47 ms even when the values are skipped
(:mod:`search.postings`), and inflating a compressed head still ~4 ms: at 1,000,000 articles
that is most of a search's time budget. Here the ids and weights are small uncompressed
little-endian arrays at the head of the block, which numpy reads in place, and so are the
values when they are a posting's positions (needed for phrases only; written uncompressed
since zlib shrank them by only 1.4x and inflated them at ~70 MB/s, blocks of indexes
written before have them compressed); other values are pickled and compressed::

    0xA7 'P'            2 bytes; never the first byte of a pickle (0x80) or a zlib stream (0x78)
    id_size             1 byte: 1, 2 or 4, the width of each id delta
    weight_kind         1 byte: 0 every weight 1.0, 1 one float64 for all, 2 uint8 (every
                        weight a whole number below 256: term frequencies), 3 float32 (every
                        weight one exactly), 4 float64
    n                   4 bytes, little-endian: the number of postings
    values_kind         1 byte: 0 a pickle, 2 positions; +1 when zlib-compressed
    ids                 n unsigned id_size-byte integers: delta-encoded from 0, as Whoosh's
    weights             nothing, one float64, or n uint8, float32 or float64
    values              the rest, compressed when values_kind says so: for a field with
                        positions (search.analysis.VietnamesePositions), the positions as
                        arrays: position_size (1 byte: 2 or 4), count_size (1 byte: 1, 2
                        or 4), n counts (positions per posting), then every posting's
                        positions in order; for other fields Whoosh's minified values,
                        pickled (protocol 4)

An id delta takes 1–2 bytes and a weight 1 byte for almost every posting, about what the
compressed pickle took. Whoosh's own matchers read these blocks through :func:`whoosh_data`
(patched into ``W3LeafMatcher`` by :mod:`search.index`), and blocks written before, as
compressed pickles, are still read, so an index of older segments is searched and merged as
it is.
"""

from __future__ import annotations

import pickle
import struct
import sys
import zlib
from array import array
from typing import Any

import numpy as np

__all__ = ["MAGIC", "encode", "head_size", "is_raw", "positions", "read_head", "values",
           "whoosh_data"]  # fmt: skip

MAGIC = b"\xa7P"
_HEADER = struct.Struct("<2sBBIB")
_ID_TYPES = {1: ("B", "<u1"), 2: ("H", "<u2"), 4: ("I", "<u4")}
_WEIGHT_TYPES = {2: ("B", "<u1", 1), 3: ("f", "<f4", 4), 4: ("d", "<f8", 8)}
_SWAP = sys.byteorder != "little"


def _array(typecode: str, values: Any) -> bytes:
    a = array(typecode, values)
    if _SWAP:  # pragma: no cover - little-endian on disk, whatever the machine
        a.byteswap()
    return a.tobytes()


def _width(top: int, sizes: tuple[int, ...]) -> int:
    return next(size for size in sizes if top < 1 << (8 * size))


def encode(
    deltas: list[int], weights: Any, values: Any, compression: int, positions: bool = False
) -> bytes:
    """A block's bytes from its id deltas, weights and minified values; the values are
    compressed at zlib level ``compression`` (0: not). ``positions``: the values are each
    posting's positions as raw little-endian 32-bit arrays (search.analysis)."""
    n = len(deltas)
    size = _width(max(deltas, default=0), (1, 2, 4))
    if all(w == 1.0 for w in weights):
        kind, wbytes = 0, b""
    elif all(w == weights[0] for w in weights):
        kind, wbytes = 1, struct.pack("<d", weights[0])
    elif all(w == int(w) and 0 <= w < 256 for w in weights):
        kind, wbytes = 2, _array("B", map(int, weights))
    elif all(a == b for a, b in zip(array("f", weights), weights, strict=True)):
        kind, wbytes = 3, _array("f", weights)
    else:
        kind, wbytes = 4, _array("d", weights)
    if positions:
        counts = [len(v) >> 2 for v in values]
        flat = np.frombuffer(b"".join(values), dtype="<u4")
        psize = _width(int(flat.max(initial=0)), (2, 4))
        csize = _width(max(counts, default=0), (1, 2, 4))
        vbytes = (
            bytes((psize, csize))
            + np.asarray(counts, dtype=f"<u{csize}").tobytes()
            + flat.astype(f"<u{psize}").tobytes()
        )
        vkind = 2
    else:
        vbytes, vkind = pickle.dumps(values, 4), 0
    if compression:
        vbytes, vkind = zlib.compress(vbytes, compression), vkind + 1
    head = _HEADER.pack(MAGIC, size, kind, n, vkind)
    return head + _array(_ID_TYPES[size][0], deltas) + wbytes + vbytes


def is_raw(data: bytes) -> bool:
    return data[:2] == MAGIC


def _layout(data: bytes) -> tuple[int, int, int, int, int, int]:
    """(n, id_size, weight_kind, where the weights start, where the values start, the
    values' kind)."""
    magic, size, kind, n, vkind = _HEADER.unpack_from(data)
    weights_at = _HEADER.size + n * size
    values_at = weights_at + (0 if kind == 0 else 8 if kind == 1 else n * _WEIGHT_TYPES[kind][2])
    return n, size, kind, weights_at, values_at, vkind


def head_size(data: bytes) -> int | None:
    """How many bytes of a raw block's data its header, ids and weights take (what
    :func:`read_head` reads), from the data's first bytes; None when fewer than a header."""
    if len(data) < _HEADER.size:
        return None
    return _layout(data)[4]


def whoosh_data(data: bytes) -> tuple[Any, Any, Any]:
    """``(ids, weights, values)`` as Whoosh's unpickled block tuple has them (deltas; None,
    one float or a sequence of weights; the minified values)."""
    n, size, kind, weights_at, values_at, vkind = _layout(data)
    deltas = array(_ID_TYPES[size][0], data[_HEADER.size : weights_at])
    if _SWAP:  # pragma: no cover
        deltas.byteswap()
    if kind == 0:
        weights: Any = None
    elif kind == 1:
        weights = struct.unpack_from("<d", data, weights_at)[0]
    else:
        raw = np.frombuffer(data, dtype=_WEIGHT_TYPES[kind][1], count=n, offset=weights_at)
        weights = array("f" if kind < 4 else "d")
        weights.frombytes(raw.astype("=f4" if kind < 4 else "=f8").tobytes())
    return deltas, weights, values(data)


def read_head(data: bytes) -> tuple[np.ndarray, np.ndarray | float]:
    """The id deltas (unsigned integers) and weights (an array as stored: uint8 term
    frequencies, float32 or float64; or one float for all) of a raw block, read in place."""
    n, size, kind, weights_at, _values_at, _vkind = _layout(data)
    deltas = np.frombuffer(data, dtype=_ID_TYPES[size][1], count=n, offset=_HEADER.size)
    if kind == 0:
        return deltas, 1.0
    if kind == 1:
        return deltas, struct.unpack_from("<d", data, weights_at)[0]
    return deltas, np.frombuffer(data, dtype=_WEIGHT_TYPES[kind][1], count=n, offset=weights_at)


def _values_bytes(data: bytes) -> tuple[bytes, int]:
    n, size, kind, weights_at, values_at, vkind = _layout(data)
    vbytes = data[values_at:]
    return (zlib.decompress(vbytes) if vkind & 1 else vbytes), vkind & ~1


def positions(data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """(counts, positions) of a raw block of a field with positions: each posting's number
    of positions (int64), and all the positions in posting order (unsigned, as stored: read
    in place when the block is not compressed); None for a block whose values are not
    positions."""
    vbytes, vkind = _values_bytes(data)
    if vkind != 2:
        return None
    n = _HEADER.unpack_from(data)[3]
    psize, csize = vbytes[0], vbytes[1]
    counts = np.frombuffer(vbytes, dtype=f"<u{csize}", count=n, offset=2).astype(np.int64)
    flat = np.frombuffer(vbytes, dtype=f"<u{psize}", offset=2 + n * csize)
    return counts, flat


def values(data: bytes) -> Any:
    """A raw block's minified values, as Whoosh has them (positions: a tuple of each
    posting's raw 32-bit positions)."""
    vbytes, vkind = _values_bytes(data)
    if vkind != 2:
        return pickle.loads(vbytes)
    counts, flat = positions(data)  # type: ignore[misc]
    raw = flat.astype("<u4").tobytes()
    ends = np.cumsum(counts * 4).tolist()
    return tuple(raw[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True))
