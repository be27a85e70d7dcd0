"""Search-result snippets: the query's words in bold, in the passages that hold most of them.

Whoosh's highlighter re-analyses every body of a result page (a Token object per word, then a
fragmenter and a merge over every token): ~2 ms for an article of 700 words, ~45 ms of every
search page of 20 hits, whatever the size of the archive. Here the matches are found by one
regular expression over the NFC text, made per query: each folded letter of a query word
becomes the class of every character that folds to it in either case (``a`` ->
``[aàáảãạăằ…AÀ…]``), so neither the text's lower-casing, tone placement nor folding is
computed. Only the matches are then folded and checked, and only the text around them is
looked at.

A match is what the analyzer (:mod:`search.analysis`) would have matched:

* a word whose folded form is a folded query term, or whose exact form (lower-case,
  canonical tones) is an exact one (``=cải``);
* a whole document number whose normalised form, or bare number, is a query term; a word
  inside a document number (the ``ubnd`` of ``139/KH-UBND``) is not a match, as it is not a
  token there.

A fragment is what Whoosh's ``ContextFragmenter(maxchars=240, surround=60)`` makes: about
60 characters of whole words before the first match and after the last, matches less than 60
characters apart in one fragment of at most 240 characters. The two fragments with the most
matches of the most different words are shown, in text order, joined by " … ".
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from functools import lru_cache

from archive.text import FOLD_SAME_LENGTH, canonical_tones_nfc, nfc
from search.analysis import _DOCNUM, EXACT_PREFIX, _normalise_folded_doc_number

__all__ = ["SNIPPET_CHARS", "highlight", "snippet"]

SNIPPET_CHARS = 240
"""The longest fragment, and the length of a plain snippet."""
SURROUND = 60
"""Characters of context before the first match and after the last match of a fragment."""
FRAGMENTS = 2
CHARLIMIT = 2**15
"""Matches beyond this character are not looked for (Whoosh's highlighter's limit)."""
BETWEEN = " … "

_WORD = r"[^\W_]"
_DOCNUM_RE = re.compile(rf"(?<!{_WORD})(?:{_DOCNUM})(?!{_WORD})")
_WORD_START = re.compile(rf"(?<!{_WORD}){_WORD}")
_WORD_END = re.compile(rf"{_WORD}(?!{_WORD})")
_PLAIN_WORD = re.compile(rf"{_WORD}+")


def _letter_classes() -> dict[str, str]:
    """Folded letter -> regex class of every character that lower-cases and folds to it."""
    variants: dict[str, set[str]] = {}
    candidates = {chr(c) for c in range(0x20, 0x7F)} | {chr(c) for c in FOLD_SAME_LENGTH}
    for ch in list(candidates):
        candidates.add(ch.upper())
    for ch in candidates:
        low = ch.lower()
        if len(low) == 1 and ch.isalnum():
            folded = low.translate(FOLD_SAME_LENGTH)
            variants.setdefault(folded, set()).add(ch)
    return {k: "[" + "".join(sorted(v)) + "]" for k, v in variants.items()}


_CLASSES = _letter_classes()


def _pattern(folded: str) -> str:
    return "".join(_CLASSES.get(c) or re.escape(c) for c in folded)


class _Query:
    """The highlighting form of one query's terms: a regex over NFC text and the term sets."""

    def __init__(self, words: frozenset[str]) -> None:
        self.words = words
        exact = {w[len(EXACT_PREFIX) :] for w in words if w.startswith(EXACT_PREFIX)}
        plain = {w for w in words if not w.startswith(EXACT_PREFIX) and _PLAIN_WORD.fullmatch(w)}
        self.docnums = {w for w in words if not w.startswith(EXACT_PREFIX)} - plain
        # a bare number (``139``) matches a document number's too, as the index emits it
        self.bare = {w for w in plain if w.isdigit()}
        alternatives = plain | {e.translate(FOLD_SAME_LENGTH) for e in exact}
        alternatives = {a for a in alternatives if _PLAIN_WORD.fullmatch(a)}
        self.word_re = None
        if alternatives:
            body = "|".join(_pattern(a) for a in sorted(alternatives, key=lambda a: (-len(a), a)))
            self.word_re = re.compile(rf"(?<!{_WORD})(?:{body})(?!{_WORD})")

    def matched_word(self, word: str) -> str | None:
        """The folded form of ``word`` if it matches a query term."""
        low = word.lower()
        folded = low.translate(FOLD_SAME_LENGTH)
        if folded in self.words:
            return folded
        if EXACT_PREFIX + canonical_tones_nfc(low) in self.words:
            return folded
        return None

    def matches(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, folded term) of every match in ``text`` (NFC), in text order."""
        limit = text[:CHARLIMIT]
        numbers: list[tuple[int, int]] = []
        found: list[tuple[int, int, str]] = []
        if "/" in limit:
            for m in _DOCNUM_RE.finditer(limit):
                start, end = m.span()
                numbers.append((start, end))
                folded = m.group().lower().translate(FOLD_SAME_LENGTH)
                number, bare = _normalise_folded_doc_number(folded)
                if number in self.docnums or bare in self.bare:
                    found.append((start, end, number))
        if self.word_re is not None:
            starts = [s for s, _ in numbers]
            for m in self.word_re.finditer(limit):
                start, end = m.span()
                i = bisect_right(starts, start) - 1
                if i >= 0 and start < numbers[i][1]:
                    continue  # inside a document number: not a token of its own
                term = self.matched_word(m.group())
                if term is not None:
                    found.append((start, end, term))
            if numbers:
                found.sort()
        return found


@lru_cache(maxsize=256)
def _query(words: frozenset[str]) -> _Query:
    return _Query(words)


def _fragments(text: str, found: list[tuple[int, int, str]]) -> list[tuple[int, int, list]]:
    """Group matches into fragments: (start, end, matches), in text order, not overlapping."""
    out = []
    i, n, floor = 0, len(found), 0
    while i < n:
        first = found[i]
        # whole words from SURROUND characters before the first match (not before the
        # previous fragment's end); from the text's start when that is as near
        begin = max(floor, first[0] - SURROUND)
        m = _WORD_START.search(text, begin, first[0] + 1)
        start = 0 if begin == 0 else m.start() if m else first[0]
        last_allowed = start + SNIPPET_CHARS
        group = [first]
        i += 1
        while (
            i < n
            and found[i][0] - group[-1][1] <= SURROUND
            and found[i][1] + SURROUND <= last_allowed
        ):
            group.append(found[i])
            i += 1
        # whole words up to SURROUND characters after the last match, within the limit and
        # before the next fragment's first match
        stop = min(group[-1][1] + SURROUND, last_allowed)
        if i < n:
            stop = min(stop, found[i][0])
        end = group[-1][1]
        for m in _WORD_END.finditer(text, end):
            if m.end() > stop:
                break
            end = m.end()
        out.append((start, end, group))
        floor = end
    return out


def _format(text: str, start: int, end: int, group: list[tuple[int, int, str]]) -> str:
    parts, at = [], start
    for s, e, _ in group:
        parts.append(html.escape(text[at:s], quote=False))
        parts.append("<b>" + html.escape(text[s:e], quote=False) + "</b>")
        at = e
    parts.append(html.escape(text[at:end], quote=False))
    return "".join(parts)


def highlight(text: str, words: frozenset[str], top: int = FRAGMENTS) -> str:
    """The ``top`` best fragments of ``text`` with the matches of ``words`` (index terms,
    as :meth:`search.query.ParsedQuery.highlight_words` gives them) in ``<b>``, the rest
    HTML-escaped; "" when nothing matches."""
    text = nfc(text)
    found = _query(words).matches(text)
    if not found:
        return ""
    frags = _fragments(text, found)
    # Whoosh's BasicFragmentScorer: matches × 100 × different words; earlier first on a tie
    ranked = sorted(
        range(len(frags)),
        key=lambda k: (-len(frags[k][2]) * 100 * len({t for *_, t in frags[k][2]}), k),
    )
    best = sorted(ranked[:top])
    return BETWEEN.join(_format(text, *frags[k]) for k in best)


def _plain(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > SNIPPET_CHARS:
        text = text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    return html.escape(text, quote=False)


def snippet(body: str | None, lead: str, words: frozenset[str]) -> str:
    """Highlighted fragments of the body, else of the lead, else the start of the lead or
    body unhighlighted (e.g. when only the title matched)."""
    if words:
        for text in (body, lead):
            if text:
                out = highlight(text, words)
                if out:
                    return out
    return _plain(nfc(lead or body or ""))
