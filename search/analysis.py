"""A lean Whoosh analyzer for Vietnamese.

The analyzer runs once per token of every indexed article, so it is the hot path of indexing
(see /work/shared/PERFORMANCE.md). It does the whole text at once — NFC, lower-case, canonical
tone placement (length-preserving), folding (a one-to-one ``str.translate`` table) — then makes
ONE regex pass over the folded text and slices the exact form out of the canonical text with
the same offsets. One :class:`whoosh.analysis.Token` is reused for every token.

Tokens
------
* Syllables/words: maximal runs of letters and digits. No stop words, no minimum length
  (``mức độ 3`` keeps the ``3``).
* For every word the FOLDED form is emitted (``cải`` -> ``cai``, ``ĐVHC`` -> ``dvhc``). When the
  exact form (lower-case, canonical tones, accents kept) differs, it is emitted too, at the SAME
  position, prefixed with :data:`EXACT_PREFIX` (``=cải``). Folded tokens never contain that
  character, so the two vocabularies cannot collide. A diacritic-free query searches folded
  tokens only; an accented query searches both, and the exact term is boosted so exact-accent
  matches rank first. Phrases work on either form because both sit at the same positions.
* Document numbers (số hiệu) become ONE token in a normalised form: folded, lower-case, no
  blanks, ``.`` -> ``-``, leading zeros of the number dropped: ``139/KH-UBND``, ``139 /kh-ubnd``,
  ``139/KH.UBND`` -> ``139/kh-ubnd``; ``07/2022/QĐ-UBND`` and ``7/2022/QD-UBND`` ->
  ``7/2022/qd-ubnd``; ``37-NQ/TW`` -> ``37-nq/tw``. When indexing, the bare number (``139``) is
  also emitted at the same position, so ``kế hoạch 139`` finds ``Kế hoạch 139/KH-UBND``; queries
  (``mode="query"``) do not emit it, so a number query matches the whole number only.
"""

from __future__ import annotations

import re
import sys
from array import array as _array
from collections.abc import Iterator
from dataclasses import dataclass

from whoosh.analysis import Token, Tokenizer
from whoosh.formats import Positions

from archive.text import FOLD_SAME_LENGTH, canonical_tones_nfc, nfc

__all__ = [
    "EXACT_PREFIX",
    "PAIR_SEPARATOR",
    "PairAnalyzer",
    "QueryToken",
    "VietnameseAnalyzer",
    "VietnamesePositions",
    "analyze_query",
    "decode_positions",
    "encode_positions",
    "normalise_doc_number",
    "pair_terms",
]

EXACT_PREFIX = "="
"""Marks an exact-form (accented) token; never part of a folded token."""

PAIR_SEPARATOR = " "
"""Joins the two folded words of a word-pair term (:class:`PairAnalyzer`); never part of a
token."""

# The token pattern uses only character CLASSES (digits, letters, blanks) and fixed
# punctuation, and the folding table maps letters to letters one-for-one, so the pattern finds
# the same spans in the canonical text and in the folded text: the indexing fast path runs
# findall() on both and zips them instead of slicing match objects.
_LETTER = r"[^\W\d_]"
_CODE = rf"{_LETTER}[^\W_]*"  # KH, UBND, UBTVQH15, TTg (Đ folds to d)
_WS = r"[ \t]?"  # writers put a blank on either side of a slash: "139 /KH-UBND"
_HYPHEN = r"-(?:\r?\n)?"  # line breaks inside a number fall after a hyphen
_DOCNUM = (
    # 35/2023/UBTVQH15, 07/2022/QĐ-UBND, 13/2024/NĐ-CP
    rf"\d+{_WS}/{_WS}\d{{4}}{_WS}/{_WS}{_CODE}(?:(?:{_HYPHEN}|\.){_CODE})*"
    # 139/KH-UBND, 123/UBND-VP, 139/KH.UBND (at least one hyphen or dot: "3/ha" is no number)
    rf"|\d+{_WS}/{_WS}{_CODE}(?:(?:{_HYPHEN}|\.){_CODE})+"
    # 37-NQ/TW, 48-KL/TW (Party documents)
    rf"|\d+-{_CODE}{_WS}/{_WS}{_CODE}"
)
_TOKEN_RE = re.compile(rf"(?<![^\W_])({_DOCNUM})(?![^\W_])|([^\W_]+)")
_TOKEN_FINDALL = re.compile(rf"(?<![^\W_])(?:{_DOCNUM})(?![^\W_])|[^\W_]+").findall
_DOCNUM_CLEAN = re.compile(r"\s+")
_LEADING_NUMBER = re.compile(r"\d+")


def _normalise_folded_doc_number(s: str) -> tuple[str, str]:
    """(normalised number, bare number as written) for a docnum matched in folded text."""
    s = _DOCNUM_CLEAN.sub("", s).replace(".", "-")
    bare = _LEADING_NUMBER.match(s).group()  # type: ignore[union-attr]
    stripped = bare.lstrip("0") or "0"
    return stripped + s[len(bare) :], bare


def _prepare(value: str) -> tuple[str, str]:
    """(canonical lower-case text, folded text), both with the offsets of NFC ``value``."""
    low = value.lower()
    if len(low) != len(value):  # e.g. "İ" lower-cases to two characters; keep offsets exact
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in value)
    canon = canonical_tones_nfc(low)
    return canon, canon.translate(FOLD_SAME_LENGTH)


def normalise_doc_number(s: str) -> str | None:
    """The index form of a document number (``07/2022/QĐ-UBND`` -> ``7/2022/qd-ubnd``), or
    None when ``s`` is not one."""
    _, folded = _prepare(nfc(s.strip()))
    m = _TOKEN_RE.fullmatch(folded)
    if m is None or m.lastindex != 1:
        return None
    return _normalise_folded_doc_number(m.group())[0]


class _Stateless(Tokenizer):
    """An analyzer the schema pickles into the index: no state, so any two are equal."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))


class VietnameseAnalyzer(_Stateless):
    """Whoosh analyzer: folded + exact syllables, whole document numbers (see module doc).

    The schema pickles this object into the index, so it carries no state: all patterns are
    module globals. Bump ``version`` when the token stream changes; indexes must be rebuilt.
    """

    version = 1

    def __init__(self) -> None:
        self.built_version = self.version  # pickled with the schema: which stream built it

    def __call__(  # noqa: C901 - one tight loop on purpose
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        value = nfc(value)
        canon, folded = _prepare(value)
        if not tokenize:
            t.original = t.text = folded
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar = start_char
                t.endchar = start_char + len(value)
            yield t
            return
        index_mode = mode != "query"
        prefix = EXACT_PREFIX
        pos = start_pos
        for m in _TOKEN_RE.finditer(folded):
            start, end = m.span()
            if chars:
                t.startchar = start_char + start
                t.endchar = start_char + end
            if positions:
                t.pos = pos
            pos += 1
            if m.lastindex == 1:
                number, bare = _normalise_folded_doc_number(m.group())
                t.text = number
                if keeporiginal:
                    t.original = value[start:end]
                yield t
                if index_mode:
                    t.text = bare
                    yield t
                continue
            text = m.group()
            if keeporiginal:
                t.original = value[start:end]
            t.text = text
            yield t
            exact = canon[start:end]
            if exact != text:
                t.text = prefix + exact
                yield t

    def position_lists(self, value: str, start_pos: int = 0) -> dict[str, list[int]]:
        """Indexing fast path: term -> positions for ``value``, the same terms and positions
        as ``__call__(value, positions=True)`` without Token objects or match objects."""
        folded_tokens, canon_tokens = _token_lists(value)
        poses: dict[str, list[int]] = {}
        get = poses.get
        prefix = EXACT_PREFIX
        pos = start_pos
        for f, c in zip(folded_tokens, canon_tokens, strict=True):
            if "/" in f:  # a document number (words never contain "/")
                f, c = _normalise_folded_doc_number(f)  # c: the bare number
            elif f == c:
                lst = get(f)
                if lst is None:
                    poses[f] = [pos]
                else:
                    lst.append(pos)
                pos += 1
                continue
            else:
                c = prefix + c
            lst = get(f)
            if lst is None:
                poses[f] = [pos]
            else:
                lst.append(pos)
            lst = get(c)
            if lst is None:
                poses[c] = [pos]
            else:
                lst.append(pos)
            pos += 1
        return poses


# The token lists of the last text analysed: the body field and its word pairs are the same
# text, analysed one after the other for each document (Whoosh indexes a document's fields in
# name order), so the pairs reuse the body's tokens. A tuple, replaced whole: thread-safe.
_last_tokens: tuple[str | None, tuple[list[str], list[str]]] = (None, ([], []))


def _token_lists(value: str) -> tuple[list[str], list[str]]:
    """(folded tokens, canonical tokens) of ``value``, as matched by the token pattern."""
    global _last_tokens
    last, tokens = _last_tokens
    if last is value:
        return tokens
    canon, folded = _prepare(nfc(value))
    tokens = (_TOKEN_FINDALL(folded), _TOKEN_FINDALL(canon))
    _last_tokens = (value, tokens)
    return tokens


class PairAnalyzer(_Stateless):
    """The word pairs of a text, for phrase queries: one term per two adjacent folded words
    (``cai cach``), at the position of the first. A phrase of two words is then one posting
    list, and a longer phrase is checked on the positions of half as many, rarer terms
    (``"a b c d"``: ``a b`` at p and ``c d`` at p + 2), where the words' positions would be
    read for every document that has all the words (Elasticsearch's ``index_phrases`` is the
    same idea). A document number pairs by its whole form and by its bare number, as both are
    indexed at its position; exact (accented) forms are not paired: a phrase of exact forms
    is checked on the words' positions.

    Used by the ``pairs`` field (search.index) through :meth:`position_lists`, which reuses
    the tokens the body field's :class:`VietnameseAnalyzer` just made of the same text. A
    change to the pairs bumps ``search.index.SCHEMA_VERSION`` (indexes are rebuilt).
    """

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            yield t
            return
        at = sorted(
            (pos, term) for term, poses in self.position_lists(value, start_pos).items()
            for pos in poses
        )  # fmt: skip
        for pos, term in at:
            t.original = t.text = term
            t.boost = 1.0
            if positions:
                t.pos = pos
            yield t

    def position_lists(self, value: str, start_pos: int = 0) -> dict[str, list[int]]:
        """Pair term -> positions (of its first word) in ``value``."""
        poses: dict[str, list[int]] = {}
        get = poses.get
        sep = PAIR_SEPARATOR
        prev: str | None = None
        prev_bare: str | None = None  # the bare number of a document number just before
        pos = start_pos - 1  # the position of prev
        for f in _token_lists(value)[0]:
            bare = None
            if "/" in f:  # a document number: paired by its whole form and its bare number
                f, bare = _normalise_folded_doc_number(f)
            if prev is not None:
                terms = [prev + sep + f]
                if bare is not None:
                    terms.append(prev + sep + bare)
                if prev_bare is not None:
                    terms.append(prev_bare + sep + f)
                    if bare is not None:
                        terms.append(prev_bare + sep + bare)
                for term in terms:
                    lst = get(term)
                    if lst is None:
                        poses[term] = [pos]
                    else:
                        lst.append(pos)
            prev, prev_bare = f, bare
            pos += 1
        return poses


def pair_terms(words: tuple[str, ...] | list[str]) -> list[tuple[int, str]]:
    """(place, pair term) of the word pairs that cover a phrase of folded ``words`` (two or
    more): the pairs at places 0, 2, 4, …, and the last pair when the length is odd, so that
    every word is in one. The phrase is where each pair is at its place."""
    n = len(words)
    places = list(range(0, n - 1, 2))
    if places[-1] != n - 2:
        places.append(n - 2)
    return [(i, words[i] + PAIR_SEPARATOR + words[i + 1]) for i in places]


# A posting's positions are stored as a raw array of 32-bit little-endian integers (absolute
# positions; the count is the length / 4), not as Whoosh's count + pickled deltas: a phrase
# query decodes the positions of every candidate document, and search.postings joins the
# values of thousands of postings and decodes them with ONE memoryview cast, where the pickle
# needed a loads() and a running sum per posting (~1.5 µs; 100,000 candidates at 100,000
# articles). Sizes are alike: 8 bytes for a single position (pickle: 14), 4 per position after.

_LITTLE_ENDIAN = sys.byteorder == "little"
assert _array("I").itemsize == 4


def encode_positions(poslist: list[int]) -> bytes:
    """The stored value for a posting with these (ascending) positions."""
    arr = _array("I", poslist)
    if not _LITTLE_ENDIAN:
        arr.byteswap()
    return arr.tobytes()


def decode_positions(value: bytes) -> list[int]:
    """The positions in a stored value; several values joined decode as one list."""
    if _LITTLE_ENDIAN:
        return memoryview(value).cast("I").tolist()
    arr = _array("I")
    arr.frombytes(value)
    arr.byteswap()
    return arr.tolist()


# Most terms occur once in an article: their value depends on the position alone.
_SINGLE_POSITION = [encode_positions([p]) for p in range(4096)]


class VietnamesePositions(Positions):
    """``Positions`` (phrases, frequencies, weights) with raw 32-bit positions (see above),
    that asks :class:`VietnameseAnalyzer` for its term -> positions map directly: no Token
    generator, no per-token dict updates."""

    def word_values(self, value, analyzer, **kwargs):  # noqa: ANN001, ANN201 - Whoosh API
        fast = getattr(analyzer, "position_lists", None)
        if fast is None or not isinstance(value, str):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        fb = self.field_boost
        single = _SINGLE_POSITION
        limit = len(single)
        for w, poslist in fast(value, kwargs.get("start_pos", 0)).items():
            n = len(poslist)
            if n == 1 and poslist[0] < limit:
                yield (w, 1, fb, single[poslist[0]])
            else:
                yield (w, n, n * fb, encode_positions(poslist))

    def encode(self, poslist: list[int]) -> bytes:
        return encode_positions(poslist)

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return decode_positions(valuestring)

    def decode_frequency(self, valuestring: bytes) -> int:
        return len(valuestring) >> 2


@dataclass(frozen=True, slots=True)
class QueryToken:
    """One query word: its folded form, its exact form (prefixed) when it has accents, and
    whether it is a whole document number."""

    folded: str
    exact: str | None
    doc_number: bool = False


_ANALYZER = VietnameseAnalyzer()


def analyze_query(text: str) -> list[QueryToken]:
    """Split query text into :class:`QueryToken` s with the index's own analyzer."""
    out: list[QueryToken] = []
    current: list[str] = []
    last_pos = -1
    for t in _ANALYZER(text, positions=True, mode="query"):
        if t.pos != last_pos:
            if current:
                out.append(_query_token(current))
            current = []
            last_pos = t.pos
        current.append(t.text)
    if current:
        out.append(_query_token(current))
    return out


def _query_token(texts: list[str]) -> QueryToken:
    folded = texts[0]
    exact = texts[1] if len(texts) > 1 else None
    is_number = "/" in folded
    return QueryToken(folded, exact, is_number)
