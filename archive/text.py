"""Vietnamese text primitives shared by the extractor and the search analyzer.

Everything here is built for throughput: the translation tables and regular expressions are
built once at import, and the hot functions are single ``str.translate`` / ``re.sub`` passes
with no per-character Python loops.

Conventions
-----------
* Storage form is NFC. Every public function normalises its input to NFC first, so NFD text
  (copied from Word or macOS) behaves exactly like NFC text.
* Tone marks: Vietnamese has two placements in use for the open syllables ``oa``, ``oe`` and
  ``uy`` (``hòa``/``hoà``, ``khỏe``/``khoẻ``, ``thủy``/``thuỷ``). :func:`canonical_tones` maps
  both to the *traditional* placement (tone on the first vowel: ``hòa``, ``khỏe``, ``thủy``),
  which is what government documents (``Ủy ban``, ``Văn hóa``) overwhelmingly use, so the
  canonical form is usually the text as written. Syllables with a final consonant or a third
  vowel (``hoàn``, ``hoạch``, ``thuyền``, ``khuỷu``, ``ngoáy``) and ``qu`` + ``y`` (``quý``) are
  placed identically by both conventions and are left alone; the misspelling ``qúy`` is mapped
  to ``quý``.
* Folding removes every tone and vowel mark and maps ``đ``/``Đ`` to ``d``/``D`` (Unicode does not
  decompose ``đ``, so NFKD stripping misses it). Case is kept by :func:`fold`.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "canonical_tones",
    "clean",
    "clean_paragraphs",
    "fold",
    "fold_lower",
    "nfc",
    "search_form",
]

# --- normalisation -------------------------------------------------------------------------


def nfc(s: str) -> str:
    """Return ``s`` in Unicode NFC (the storage form); cheap when already NFC."""
    if s.isascii() or unicodedata.is_normalized("NFC", s):
        return s
    return unicodedata.normalize("NFC", s)


# Characters that render as nothing and break words or searches when left in: zero-width
# space/joiners, BOM, soft hyphen, word joiner. Deleted by clean().
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def clean(s: str) -> str:
    """NFC, drop invisible characters, collapse every whitespace run (NBSP, tabs, newlines
    included) to one space, strip."""
    return " ".join(nfc(s).translate(_INVISIBLE).split())


_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")


def clean_paragraphs(s: str, sep: str = "\n") -> str:
    """Like :func:`clean` but keeps paragraphs: every non-blank line becomes one cleaned
    paragraph, paragraphs are joined with ``sep``; blank lines are dropped."""
    text = _LINE_BREAKS.sub("\n", nfc(s).translate(_INVISIBLE))
    out = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        if line:
            out.append(line)
    return sep.join(out)


# --- folding -------------------------------------------------------------------------------


def _build_fold_tables() -> tuple[dict[int, int | None], dict[int, int]]:
    same_len: dict[int, int] = {}
    ranges = (range(0x00C0, 0x0250), range(0x1E00, 0x1F00))
    for rng in ranges:
        for cp in rng:
            decomposed = unicodedata.normalize("NFD", chr(cp))
            base = decomposed[0]
            if len(decomposed) > 1 and base.isascii() and base.isalpha():
                same_len[cp] = ord(base)
    same_len[ord("đ")] = ord("d")
    same_len[ord("Đ")] = ord("D")
    same_len[ord("ð")] = ord("d")  # Icelandic eth, a common look-alike typed for đ
    same_len[ord("Ð")] = ord("D")
    deleting: dict[int, int | None] = dict(same_len)
    for cp in range(0x0300, 0x0370):  # stray combining marks left after NFC
        deleting[cp] = None
    return deleting, same_len


_FOLD, FOLD_SAME_LENGTH = _build_fold_tables()
"""``FOLD_SAME_LENGTH`` maps one character to one character, so offsets computed on the folded
text are valid in the original (the analyzer relies on it)."""


def fold(s: str) -> str:
    """Remove all tone and vowel marks and map đ/Đ to d/D, keeping case: ``Đường`` -> ``Duong``."""
    return nfc(s).translate(_FOLD)


def fold_lower(s: str) -> str:
    """:func:`fold` then lower-case: ``ĐVHC`` -> ``dvhc``."""
    return nfc(s).lower().translate(_FOLD)


# --- tone placement -------------------------------------------------------------------------

_TONES = "\u0300\u0301\u0309\u0303\u0323"  # huyền, sắc, hỏi, ngã, nặng


def _toned(base: str, mark: str) -> str:
    return unicodedata.normalize("NFC", base + mark)


def _build_tone_map() -> tuple[dict[str, str], re.Pattern[str]]:
    mapping: dict[str, str] = {}
    # New placement (tone on the second vowel of an open oa/oe/uy) -> traditional placement.
    for first, seconds in (("o", "ae"), ("u", "y")):
        for f in (first, first.upper()):
            for s in seconds + seconds.upper():
                for mark in _TONES:
                    mapping[f + _toned(s, mark)] = _toned(f, mark) + s
    # "qúy" (tone on the u of qu) -> "quý"
    for q in "qQ":
        for u in "uU":
            for y in "yY":
                for mark in _TONES:
                    mapping[q + _toned(u, mark) + y] = q + u + _toned(y, mark)
    oa_class = "".join(sorted({k[1] for k in mapping if k[0] in "oO"}))
    uy_class = "".join(sorted({k[1] for k in mapping if k[0] in "uU"}))
    qu_class = "".join(sorted({k[1] for k in mapping if k[0] in "qQ"}))
    not_letter_after = r"(?![^\W\d_])"
    pattern = re.compile(
        rf"(?:[oO][{oa_class}]|(?<![qQ])[uU][{uy_class}]){not_letter_after}"
        rf"|[qQ][{qu_class}][yY]{not_letter_after}"
    )
    return mapping, pattern


_TONE_MAP, _TONE_RE = _build_tone_map()
_tone_sub = _TONE_RE.sub
_tone_get = _TONE_MAP.__getitem__


def _tone_repl(m: re.Match[str]) -> str:
    return _tone_get(m.group())


def canonical_tones_nfc(s: str) -> str:
    """:func:`canonical_tones` for text already in NFC; keeps the length (offsets stay valid)."""
    return _tone_sub(_tone_repl, s)


def canonical_tones(s: str) -> str:
    """Put tone marks in the traditional place (``hoà`` -> ``hòa``, ``thuỷ`` -> ``thủy``,
    ``khoẻ`` -> ``khỏe``, ``Hoà`` -> ``Hòa``); case is kept, other syllables are unchanged."""
    return _tone_sub(_tone_repl, nfc(s))


def search_form(s: str) -> str:
    """The exact form the search analyzer indexes: NFC, lower-case, canonical tones."""
    return _tone_sub(_tone_repl, nfc(s).lower())
