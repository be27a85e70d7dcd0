"""Searching the archive: a small query language, filters, facets, sorting and snippets.

Query language (parsed here, not by Whoosh's QueryParser):

* bare words are AND-ed: ``cải cách hành chính``; a word without accents matches every
  accented spelling (``cai cach`` finds ``cải cách``), a word with accents matches the folded
  word too but exact-accent matches rank first;
* ``"quoted phrases"`` must appear in that order, adjacent (unbalanced quotes run to the end);
* document numbers are one term whatever the spelling: ``139/KH-UBND``, ``139 /kh-ubnd``,
  ``07/2022/QD-UBND``;
* ``-word`` or ``-"a phrase"`` excludes (an accented excluded word excludes that spelling only);
* an empty query (or only exclusions) lists everything that passes the filters.

How a query runs (see docs/benchmarks.md, "Web application" and "Search backends", for the
measurements): the query becomes :class:`Clause` s; each segment's posting lists are read
whole as numpy arrays (:mod:`search.postings`, from the raw blocks of :mod:`search.blocks`),
the match set is an intersection of sorted document numbers (phrases checked on the
positions of the documents left), and the BM25F scores are summed term by term into a dense
array of the segment's documents — the same formula, parameters and statistics as Whoosh's
``BM25F``, operation for operation, so a page ranks as :func:`build_query` run by Whoosh
would (tests/search check it). The loops over postings are compiled (:mod:`search.kernels`).
Filters are boolean arrays, facet counts one pass over integer-coded column values, date
sorting a rank array: all computed once per searcher. Totals and facets count every match exactly. Only the hits of
the page get stored fields and a snippet. The per-segment work (:func:`evaluate`) of a big
index is split between worker processes (:mod:`search.shards`), whose parts add up
(:func:`merge_parts`) to the page one process finds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import numpy as np
from whoosh import query as Q
from whoosh.matching import IntersectionMatcher, Matcher, NullMatcher, WrappingMatcher
from whoosh.query.spans import Span, SpanWrappingMatcher
from whoosh.searching import Searcher
from whoosh.util import make_binary_tree
from whoosh.util.numeric import length_to_byte
from whoosh.util.times import datetime_to_long

from archive.text import nfc
from search import kernels, postings
from search.analysis import EXACT_PREFIX, PAIR_SEPARATOR, QueryToken, analyze_query, pair_terms
from search.index import SearchIndex, field_lengths, kind_slug, local_naive, parse_pub
from search.snippets import snippet

__all__ = ["Clause", "Hit", "ParsedQuery", "Part", "SearchResult", "build_query", "evaluate",
           "merge_parts", "parse_query", "search", "search_ids"]  # fmt: skip

_PAIRS = "pairs"  # the field of word pairs (search.index, search.analysis.PairAnalyzer)
EXACT_BOOST = 4.0  # per matched accented word; large enough that exact spellings rank first
SORTS = ("relevance", "newest", "oldest")
TYPES = ("article", "document")
#: search_ids() ranks its ids (as the result pages) up to this many matches; beyond, it
#: returns them unscored in index order (an export that large is read in database order).
RANK_IDS_LIMIT = 2000
_QUERY_PART = re.compile(r'(?:(?<=\s)|^)(-?)"([^"]*)"?|(?:(?<=\s)|^)-(\S+)')


@dataclass
class Hit:
    id: str
    title: str
    portal: str
    url: str
    published: datetime | date | None
    topics: list[str]
    score: float | None
    snippet: str
    type: str = "article"  # or "document": an attachment, id "doc:<sha256>"
    doc_kinds: list[str] = field(default_factory=list)  # kind slugs ("ke-hoach")


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    page: int = 1
    per_page: int = 10
    query: str = ""


# --- the parsed query -------------------------------------------------------------------------
#
# Matching is decided on the "body" field alone (it also holds the title, lead, unit and cited
# numbers) with the FOLDED forms: one term per word, one phrase per quoted phrase. Everything
# that only ranks — title matches, exact-accent matches — is optional: it adds to the score
# of a document the required clauses matched, and never matches on its own.


@dataclass(frozen=True)
class Clause:
    """One word (or one phrase: adjacent, in order) in one field, with its score boost."""

    field: str
    words: tuple[str, ...]
    boost: float = 1.0

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1

    def whoosh(self) -> Q.Query:
        """The equivalent Whoosh query (what :func:`build_query` returns)."""
        if self.is_phrase:
            return FastPhrase(self.field, list(self.words), boost=self.boost)
        return Q.Term(self.field, self.words[0], boost=self.boost)


@dataclass
class ParsedQuery:
    """A query as clauses: all ``required`` must match and none of ``excluded``; the score
    sums the required and the ``optional`` clauses that match (BM25F per word)."""

    required: list[Clause] = field(default_factory=list)
    optional: list[Clause] = field(default_factory=list)
    excluded: list[Clause] = field(default_factory=list)

    def highlight_words(self, fieldname: str = "body") -> frozenset[str]:
        return frozenset(
            w for c in self.required + self.optional if c.field == fieldname for w in c.words
        )


def _clauses(toks: list[QueryToken]) -> tuple[Clause, list[Clause]]:
    """(the required clause, the scoring-only clauses) of a word or phrase: the title
    (boosted by the field) and the exact spellings."""
    folded = tuple(t.folded for t in toks)
    optional = [Clause("title", folded)]
    for t in toks:
        if t.exact:
            optional.append(Clause("body", (t.exact,), EXACT_BOOST))
            optional.append(Clause("title", (t.exact,), EXACT_BOOST))
    return Clause("body", folded), optional


def parse_query(text: str) -> ParsedQuery | None:
    """``text`` as clauses, or None when it has nothing to match on (empty, or only
    punctuation)."""
    parsed = ParsedQuery()

    def add(toks: list[QueryToken], negative: bool) -> None:
        if not toks:
            return
        if negative:
            # its exact spelling when it has accents, else folded
            parsed.excluded.append(Clause("body", tuple(t.exact or t.folded for t in toks)))
        else:
            required, optional = _clauses(toks)
            parsed.required.append(required)
            parsed.optional.extend(optional)

    text = nfc(text)
    rest: list[str] = []
    last = 0
    for m in _QUERY_PART.finditer(text):
        rest.append(text[last : m.start()])
        last = m.end()
        if m.group(3) is not None:  # -word
            add(analyze_query(m.group(3)), negative=True)
        else:  # "phrase" or -"phrase"
            add(analyze_query(m.group(2) or ""), negative=bool(m.group(1)))
    rest.append(text[last:])
    for tok in analyze_query(" ".join(rest)):
        add([tok], negative=False)
    if not parsed.required and not parsed.excluded:
        return None
    return parsed


# --- the same query for Whoosh ----------------------------------------------------------------
#
# search() does not run these; they are the reference its matching and scoring are checked
# against (tests/search), and a way to use the query language with Whoosh's own API.


class _PhraseMatcher(SpanWrappingMatcher):
    """Whoosh's phrase matcher computes Span objects pairwise in Python for every candidate;
    this one intersects position sets: start positions p with word i at p + i for every i."""

    def __init__(self, child: Matcher, size: int) -> None:
        self._size = size
        self._leaves = list(child.term_matchers())
        super().__init__(child)

    def copy(self) -> _PhraseMatcher:
        m = _PhraseMatcher(self.child.copy(), self._size)
        m._spans = self._spans
        return m

    def _replacement(self, newchild: Matcher) -> _PhraseMatcher:
        return _PhraseMatcher(newchild, self._size)

    def _get_spans(self) -> list[Span]:
        leaves = self._leaves
        if len(leaves) != self._size:
            return []
        starts = set(leaves[0].value_as("positions"))
        for offset in range(1, len(leaves)):
            starts.intersection_update([p - offset for p in leaves[offset].value_as("positions")])
            if not starts:
                return []
        first = min(starts)
        return [Span(first, first + self._size - 1)]


class FastPhrase(Q.Phrase):
    """``Phrase`` (slop 1: adjacent words in order) with :class:`_PhraseMatcher`."""

    def matcher(self, searcher, context=None):  # noqa: ANN001, ANN201 - Whoosh API
        field = searcher.schema[self.fieldname]
        reader = searcher.reader()
        terms = []
        for word in self.words:
            if (self.fieldname, field.to_bytes(word)) not in reader:
                return NullMatcher()
            terms.append(Q.Term(self.fieldname, word).matcher(searcher, context))
        m = _PhraseMatcher(make_binary_tree(IntersectionMatcher, terms), len(terms))
        if self.boost != 1.0:
            return WrappingMatcher(m, boost=self.boost)
        return m


def _union(parts: list[Q.Query]) -> Q.Query:
    if len(parts) == 1:
        return parts[0]
    q = Q.Or(parts)
    q.matcher_type = Q.Or.DEFAULT_MATCHER  # never preload whole posting lists (ArrayUnion)
    return q


def build_query(text: str) -> Q.Query | None:
    """The scored Whoosh query for ``text``, or None when it has nothing to match on: the
    required clauses AND-ed, the optional ones in an ``AndMaybe``, the excluded in an
    ``AndNot``."""
    parsed = parse_query(text)
    if parsed is None:
        return None
    if parsed.required:
        parts = [c.whoosh() for c in parsed.required]
        scored: Q.Query = parts[0] if len(parts) == 1 else Q.And(parts)
        if parsed.optional:
            scored = Q.AndMaybe(scored, _union([c.whoosh() for c in parsed.optional]))
    else:
        scored = Q.Every()
    if parsed.excluded:
        scored = Q.AndNot(scored, _union([c.whoosh() for c in parsed.excluded]))
    return scored


# --- per-searcher data ------------------------------------------------------------------------
#
# Column values read once per searcher (a searcher sees one unchanging set of segments; the
# index gives out a new one after a commit): facets, filters and date sorting are then one
# list lookup per document. ~1 s to load at 100,000 articles, then nothing.

_FACET_COLUMNS = {
    "type": "type",
    "portal": "portal",
    "topic": "topicset",
    "doc_kind": "doc_kindset",
    "year": "year",
}
_MULTI_VALUED = {"topic", "doc_kind"}  # space-separated sets: each member counts


class _SearcherData:
    """What a searcher's queries share, computed once per searcher: column values (as
    Python values and as integer codes), the date order, the BM25 parameters."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self._columns: dict[str, list[Any]] = {}
        self._codes: dict[str, tuple[np.ndarray, list[Any]]] = {}
        self._ranks: dict[bool, np.ndarray] = {}
        self._params: dict[str, tuple[float, float, float]] = {}
        self._norms: dict[str, np.ndarray] = {}
        self._dates: tuple[np.ndarray, np.ndarray] | None = None
        self._facets: tuple[np.ndarray, list[tuple[str, list[Any], int]]] | None = None
        self._terms: dict[str, frozenset[str]] = {}
        self.leaves = [(s.reader(), offset) for s, offset in searcher.leaf_searchers()]

    @classmethod
    def of(cls, searcher: Searcher) -> _SearcherData:
        data = getattr(searcher, "_portal_archive_data", None)
        if data is None:
            data = searcher._portal_archive_data = cls(searcher)  # type: ignore[attr-defined]
        return data

    def column(self, name: str) -> list[Any]:
        """Every document's value of a sortable field (text decoded, one string object per
        distinct value; dates as the long integers Whoosh stores)."""
        values = self._columns.get(name)
        if values is None:
            texts: dict[bytes, str] = {}
            values = []
            for v in self.searcher.reader().column_reader(name, translate=False):
                if isinstance(v, bytes):
                    t = texts.get(v)
                    v = texts[v] = v.decode("utf-8") if t is None else t
                values.append(v)
            self._columns[name] = values
        return values

    def codes(self, name: str) -> tuple[np.ndarray, list[Any]]:
        """A column as integer codes (int32, one per document) and the value of each code:
        facet counts are a ``bincount`` of the matches' codes."""
        coded = self._codes.get(name)
        if coded is None:
            values = self.column(name)
            labels: dict[Any, int] = {}
            codes = np.fromiter(
                (labels.setdefault(v, len(labels)) for v in values),
                dtype=np.int32,
                count=len(values),
            )
            coded = self._codes[name] = (codes, list(labels))
        return coded

    def facet_codes(self) -> tuple[np.ndarray, list[tuple[str, list[Any], int]]]:
        """Every facet column's codes side by side (documents x facets, int32), each
        offset by the codes of the columns before it, and (facet, labels, offset) per
        column: :func:`search.kernels.count_codes` counts them all in one pass."""
        if self._facets is None:
            columns, parts, at = [], [], 0
            for name, column in _FACET_COLUMNS.items():
                codes, labels = self.codes(column)
                columns.append((name, labels, at))
                parts.append(codes + np.int32(at))
                at += len(labels)
            self._facets = (np.ascontiguousarray(np.stack(parts, axis=1)), columns)
        return self._facets

    def dates(self) -> tuple[np.ndarray, np.ndarray]:
        """(dated, published): whether each document has a publication date, and the date
        as Whoosh's long integer (0 when it has none); computed once per searcher."""
        if self._dates is not None:
            return self._dates
        codes, labels = self.codes("dated")
        dated = np.array([v == "1" for v in labels], dtype=bool)[codes]
        # an undated document's value is the column's default (2**64 - 1 as Whoosh stores
        # dates unsigned): 0 here, never read as a date
        top = 1 << 63
        published = np.array(
            [v if v is not None and v < top else 0 for v in self.column("published")],
            dtype=np.int64,
        )
        self._dates = (dated, published)
        return self._dates

    def terms(self, fieldname: str) -> frozenset[str]:
        """Every term of a field in the index (for keyword fields with few distinct terms)."""
        found = self._terms.get(fieldname)
        if found is None:
            found = self._terms[fieldname] = frozenset(
                t.decode("utf-8") if isinstance(t, bytes) else t
                for t in self.searcher.reader().lexicon(fieldname)
            )
        return found

    def bm25_params(self, fieldname: str) -> tuple[float, float, float]:
        """(K1, B, average field length) of Whoosh's BM25F for the field."""
        params = self._params.get(fieldname)
        if params is None:
            weighting = self.searcher.weighting
            b = weighting._field_B.get(fieldname, weighting.B)
            avgfl = self.searcher.avg_field_length(fieldname) or 1
            params = self._params[fieldname] = (weighting.K1, b, avgfl)
        return params

    def bm25_norms(self, fieldname: str) -> np.ndarray:
        """length byte -> ``K1 * ((1 - B) + B * fl / avgfl)``, the length part of the BM25
        denominator, as ``whoosh.scoring.bm25`` computes it."""
        norms = self._norms.get(fieldname)
        if norms is None:
            k1, b, avgfl = self.bm25_params(fieldname)
            norms = self._norms[fieldname] = k1 * ((1 - b) + b * _LENGTHS / avgfl)
        return norms

    def date_rank(self, newest: bool) -> np.ndarray:
        """docnum -> its place in date order: dated documents first (newest or oldest
        first), undated ones last either way; ties in index order."""
        rank = self._ranks.get(newest)
        if rank is None:
            dated, published = self.dates()
            n = len(dated)
            order = np.lexsort((np.arange(n), -published if newest else published, ~dated))
            rank = np.empty(n, dtype=np.int64)
            rank[order] = np.arange(n)
            self._ranks[newest] = rank
        return rank


def _mask(n: int, ids: np.ndarray) -> np.ndarray:
    """A boolean array of ``n`` documents, true at ``ids``."""
    mask = np.zeros(n, dtype=bool)
    mask[ids] = True
    return mask


def _deleted(reader: Any) -> np.ndarray | None:
    if not reader.has_deletions():
        return None
    return np.fromiter(reader.deleted_docs_set, dtype=np.int64)


# --- filters ----------------------------------------------------------------------------------


def _allowed(
    data: _SearcherData,
    portal: str | list[str] | None,
    topic: str | None,
    date_from: date | None,
    date_to: date | None,
    type_: str | None = None,
    doc_kind: str | list[str] | None = None,
    year: int | list[int] | None = None,
    units: Collection[str] | None = None,
    leaves: Sequence[tuple[Any, int]] | None = None,
) -> list[np.ndarray] | None:
    """Per leaf segment (``leaves``, default all of the searcher's), a boolean array of its
    documents, true for those every filter lets through; None when there is no filter.
    ``units``: entries linked to any of these unit keys (an empty collection lets nothing
    through)."""
    keyword: list[tuple[str, list[str]]] = []
    if units is not None:
        # a province covers ~700 unit keys, most never linked: look up only those indexed
        present = data.terms("units")
        keyword.append(("units", sorted(k for k in units if k in present)))
    if portal:
        keyword.append(("portal", [portal] if isinstance(portal, str) else list(portal)))
    if topic:
        keyword.append(("topics", [topic.lower()]))
    if type_:
        keyword.append(("type", [type_]))
    if doc_kind:
        kinds = [doc_kind] if isinstance(doc_kind, str) else list(doc_kind)
        keyword.append(("doc_kinds", [kind_slug(k) for k in kinds]))
    if year:
        keyword.append(("year", [str(y) for y in ([year] if isinstance(year, int) else year)]))
    if not keyword and not (date_from or date_to):
        return None
    in_dates = None
    if date_from or date_to:
        # the column, not Whoosh's DateRange (a union of ~100 range terms: 450 ms at 100k)
        dated, published = data.dates()
        in_dates = dated.copy()
        if date_from:
            in_dates &= published >= datetime_to_long(_day_start(date_from))
        if date_to:
            in_dates &= published <= datetime_to_long(_day_end(date_to))
    # the most selective first: each later filter only narrows the set
    keyword.sort(key=lambda kv: _doc_frequency(data, *kv))
    out: list[np.ndarray] = []
    for reader, offset in data.leaves if leaves is None else leaves:
        n = reader.doc_count_all()
        allowed = None if in_dates is None else in_dates[offset : offset + n].copy()
        for fieldname, values in keyword:
            found = np.zeros(n, dtype=bool)
            for value in values:
                found[postings.read(reader, fieldname, value).ids] = True
            allowed = found if allowed is None else allowed & found
            if not allowed.any():
                break
        assert allowed is not None
        deleted = _deleted(reader)  # postings leave them out; columns do not
        if deleted is not None:
            allowed[deleted] = False
        out.append(allowed)
    return out


def _doc_frequency(data: _SearcherData, fieldname: str, values: list[str]) -> int:
    return sum(data.searcher.doc_frequency(fieldname, v) for v in values)


def _day_start(d: date) -> datetime:
    return local_naive(d) if isinstance(d, datetime) else datetime.combine(d, time.min)


def _day_end(d: date) -> datetime:
    return local_naive(d) if isinstance(d, datetime) else datetime.combine(d, time.max)


# --- matching and scoring, one segment at a time -----------------------------------------------


class _Segment:
    """One segment's part of a query: its posting lists (read once), the documents that
    match, and their scores."""

    def __init__(self, reader: Any, offset: int, parsed: ParsedQuery | None) -> None:
        self.reader = reader
        self.offset = offset
        self.parsed = parsed
        self.size = reader.doc_count_all()
        self._postings: dict[tuple[str, str], postings.Postings] = {}
        # the terms whose positions are read: the words of phrases not checked on pairs, and
        # the pairs of phrases longer than two words
        self._positions: set[tuple[str, str]] = set()
        self._has_pairs = _PAIRS in reader.schema
        if parsed is not None:
            for c in parsed.required + parsed.optional + parsed.excluded:
                if not c.is_phrase:
                    continue
                if self._by_pairs(c):
                    if len(c.words) > 2:
                        self._positions.update((_PAIRS, t) for _, t in pair_terms(c.words))
                else:
                    self._positions.update((c.field, w) for w in c.words)

    def postings(self, fieldname: str, word: str) -> postings.Postings:
        key = (fieldname, word)
        p = self._postings.get(key)
        if p is None:
            p = postings.read(self.reader, fieldname, word, values=key in self._positions)
            self._postings[key] = p
        return p

    def _by_pairs(self, c: Clause) -> bool:
        """Whether phrase ``c`` is checked on word pairs: a phrase of folded words in the
        body, in an index that has them (schema 5 on)."""
        return (
            self._has_pairs
            and c.field == "body"
            and not any(w.startswith(EXACT_PREFIX) for w in c.words)
        )

    def _phrase(self, c: Clause, among: np.ndarray) -> np.ndarray:
        """The documents of ``among`` (sorted local docnums) where the phrase is."""
        if not self._by_pairs(c):
            words = [self.postings(c.field, w) for w in c.words]
            return postings.phrase_docs(words, among)
        pairs = pair_terms(c.words)
        lists = [self.postings(_PAIRS, term) for _, term in pairs]
        if len(pairs) == 1:  # two words: the pair's documents are the phrase's
            return kernels.intersect(among, lists[0].ids, True)
        return postings.phrase_docs(lists, among, [place for place, _ in pairs])

    def matches(self, allowed: np.ndarray | None) -> np.ndarray:
        """Local docnums (sorted) of the live documents that match; ``allowed``: a boolean
        array of the documents the filters let through (None: no filter)."""
        parsed = self.parsed
        required = parsed.required if parsed is not None else []
        n = self.size
        if not required:
            mask = np.ones(n, dtype=bool) if allowed is None else allowed.copy()
            deleted = _deleted(self.reader)
            if deleted is not None:
                mask[deleted] = False
            found = np.flatnonzero(mask)
        else:
            lists = []
            for c in required:
                if c.is_phrase and self._by_pairs(c):
                    # all the phrase's pairs (the positions are read for those that cover it
                    # only): a rare phrase of common words narrows the matches first, and few
                    # documents with every pair lack the phrase. Its words need no list of
                    # their own: a document with a pair has both words in the body.
                    lists += [
                        self.postings(_PAIRS, a + PAIR_SEPARATOR + b).ids
                        for a, b in zip(c.words, c.words[1:], strict=False)
                    ]
                else:
                    lists += [self.postings(c.field, w).ids for w in c.words]
            lists.sort(key=len)
            found = lists[0]
            if allowed is not None:
                found = found[allowed[found]]
            for ids in lists[1:]:
                if not len(found):
                    return found
                found = kernels.intersect(found, ids, True)
            for c in required:
                if c.is_phrase and len(found):
                    found = self._phrase(c, found)
        if parsed is not None:
            for c in parsed.excluded:
                if not len(found):
                    break
                if c.is_phrase:
                    found = kernels.intersect(found, self._phrase(c, found), False)
                else:
                    found = kernels.intersect(found, self.postings(c.field, c.words[0]).ids, False)
        return found

    def best(
        self, searcher: Searcher, found: np.ndarray, limit: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(BM25F scores, local docnums) of the ``limit`` best matches, best first (ties in
        index order). The score is Whoosh's ``BM25F`` for :func:`build_query`: per matching
        clause, per word, ``idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * fl / avgfl))`` with
        the collection's idf and average field length, times the clause's boost.

        Term at a time into a dense array of the segment's documents: each word's postings
        where its clause counts (the matches; an optional phrase: where it is) add their
        part to the totals in one compiled loop (:func:`search.kernels.add_bm25`)."""
        if self.parsed is None or not len(found):
            return np.zeros(min(limit, len(found))), found[:limit]
        data = _SearcherData.of(searcher)
        totals = np.zeros(self.size)
        for idf, boost, p, counted, fieldname in self._terms(searcher, found):
            lengths = np.frombuffer(self.length_bytes(fieldname), np.uint8)
            k1 = data.bm25_params(fieldname)[0]
            kernels.add_bm25(
                p.ids,
                p.weights,
                lengths,
                data.bm25_norms(fieldname),
                counted,
                idf,
                k1,
                boost,
                totals,
            )
        scores = totals[found]
        if len(found) > limit:
            # every match scoring at least the limit-th best, so that ties keep index order
            kth = np.partition(scores, len(scores) - limit)[len(scores) - limit]
            among = np.flatnonzero(scores >= kth)
            scores, found = scores[among], found[among]
        order = np.lexsort((found, -scores))[:limit]
        return scores[order], found[order]

    def _terms(
        self, searcher: Searcher, found: np.ndarray
    ) -> Iterator[tuple[float, float, postings.Postings, np.ndarray, str]]:
        """(idf, boost, postings, where it counts, field) of each scoring word: the boolean
        array of the documents where its clause counts (the matches; an optional phrase:
        the matches where it is)."""
        parsed = self.parsed
        assert parsed is not None
        is_match = _mask(self.size, found)
        clauses = [(c, False) for c in parsed.required] + [(c, True) for c in parsed.optional]
        for c, optional in clauses:
            words = [self.postings(c.field, w) for w in c.words]
            if any(not len(p.ids) for p in words):
                continue
            counted = is_match
            if optional and c.is_phrase:
                among = found
                for p in words:
                    among = kernels.intersect(among, p.ids, True)
                among = self._phrase(c, among)
                if not len(among):
                    continue
                counted = _mask(self.size, among)
            for word, p in zip(c.words, words, strict=True):
                yield searcher.idf(c.field, word), c.boost, p, counted, c.field

    def length_bytes(self, fieldname: str) -> bytes:
        """docnum -> the byte Whoosh stores for its length of ``fieldname``."""
        lengths = field_lengths(self.reader, fieldname)
        if lengths is None:  # not the codec patched in search.index: ask the reader (slow)
            length = self.reader.doc_field_length
            n = self.reader.doc_count_all()
            return bytes(length_to_byte(length(d, fieldname, 1)) for d in range(n))
        return lengths


def _field_length_table() -> np.ndarray:
    from whoosh.codec.whoosh3 import byte_to_length

    return np.array([byte_to_length(b) or 1 for b in range(256)], dtype=np.float64)


_LENGTHS = _field_length_table()


def _match(
    leaves: Sequence[tuple[Any, int]],
    parsed: ParsedQuery | None,
    allowed: list[np.ndarray] | None,
) -> list[tuple[_Segment, np.ndarray]]:
    """Each of ``leaves`` with its matching local docnums (``allowed``: see
    :func:`_allowed`)."""
    out = []
    for i, (reader, offset) in enumerate(leaves):
        seg = _Segment(reader, offset, parsed)
        out.append((seg, seg.matches(None if allowed is None else allowed[i])))
    return out


def _docnums(matched: list[tuple[_Segment, np.ndarray]]) -> np.ndarray:
    """Global docnums of every match, ascending."""
    parts = [found + seg.offset for seg, found in matched]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _top(
    searcher: Searcher,
    matched: list[tuple[_Segment, np.ndarray]],
    docnums: np.ndarray,
    sort: str,
    limit: int,
) -> list[tuple[int, float | None]]:
    """(global docnum, score or None) of the first ``limit`` matches in ``sort`` order."""
    parsed = matched[0][0].parsed if matched else None
    if sort == "relevance" and parsed is not None and parsed.required:
        scores, docs = [], []
        for seg, found in matched:
            if len(found):
                s, d = seg.best(searcher, found, limit)
                scores.append(s)
                docs.append(d + seg.offset)
        if not docs:
            return []
        all_scores, all_docs = np.concatenate(scores), np.concatenate(docs)
        order = np.lexsort((all_docs, -all_scores))[:limit]  # ties: index order, as Whoosh
        return list(zip(all_docs[order].tolist(), all_scores[order].tolist(), strict=True))
    if sort in ("newest", "oldest"):
        rank = _SearcherData.of(searcher).date_rank(sort == "newest")[docnums]
        if len(docnums) > limit:
            first = np.argpartition(rank, limit - 1)[:limit]  # ranks are distinct
        else:
            first = np.arange(len(docnums))
        first = first[np.argsort(rank[first])]
        return [(d, None) for d in docnums[first].tolist()]
    # only exclusions: every match scores the same, index order (as Whoosh's Every)
    return [(d, None) for d in docnums[:limit].tolist()]


# --- facets -----------------------------------------------------------------------------------


def _facet_counts(data: _SearcherData, docnums: np.ndarray) -> dict[str, Counter[str]]:
    """Per facet, how many of ``docnums`` have each value (unordered)."""
    out: dict[str, Counter[str]] = {}
    matrix, columns = data.facet_codes()
    every = kernels.count_codes(docnums, matrix, columns[-1][2] + len(columns[-1][1]))
    for name, labels, at in columns:
        per_code = every[at : at + len(labels)]
        counts: Counter[str] = Counter()
        for code in np.flatnonzero(per_code).tolist():
            key, n = labels[code], int(per_code[code])
            if name in _MULTI_VALUED:
                for t in key.split():
                    counts[t] += n
            elif key:
                counts[key] += n
        out[name] = counts
    return out


def _ordered_facets(counts: Mapping[str, Counter[str]]) -> dict[str, dict[str, int]]:
    """Facet counts as shown: years newest first, other values most frequent first."""
    out: dict[str, dict[str, int]] = {}
    for name in _FACET_COLUMNS:
        items = counts.get(name, Counter()).items()
        if name == "year":
            out[name] = dict(sorted(items, reverse=True))
        else:
            out[name] = dict(sorted(items, key=lambda kv: (-kv[1], kv[0])))
    return out


# --- search -----------------------------------------------------------------------------------


@dataclass
class Part:
    """What some of a searcher's segments give for a search: how many of their documents
    match, their first ``limit`` matches in the sort's order as (sort key, global docnum,
    score or None), and their facet counts (None: not asked). Parts of disjoint segments
    add up (:func:`merge_parts`): a search run over all segments at once, or split between
    processes (:mod:`search.shards`), gives the same page."""

    total: int
    top: list[tuple[Any, int, float | None]]
    facets: dict[str, Counter[str]] | None


def evaluate(
    searcher: Searcher,
    query: str,
    filters: Mapping[str, Any],
    sort: str,
    limit: int,
    facets: bool,
    leaves: Sequence[int] | None = None,
) -> Part:
    """:func:`search`'s matching, ranking and facet counting over the searcher's leaf
    segments numbered ``leaves`` (default all); ``filters``: :func:`_allowed`'s keyword
    arguments. ``sort`` as :func:`search` gives it (relevance only with a query)."""
    parsed = parse_query(query)
    data = _SearcherData.of(searcher)
    chosen = data.leaves if leaves is None else [data.leaves[i] for i in leaves]
    allowed = _allowed(data, **filters, leaves=chosen)
    if allowed is not None and not any(a.any() for a in allowed):
        return Part(0, [], {} if facets else None)
    matched = _match(chosen, parsed, allowed)
    docnums = _docnums(matched)
    top = _top(searcher, matched, docnums, sort, limit)
    if sort == "relevance" and parsed is not None and parsed.required:
        keyed = [((-score, d), d, score) for d, score in top]  # type: ignore[operator]
    elif sort in ("newest", "oldest"):
        rank = data.date_rank(sort == "newest")
        keyed = [(int(rank[d]), d, None) for d, _ in top]
    else:
        keyed = [(d, d, None) for d, _ in top]
    return Part(len(docnums), keyed, _facet_counts(data, docnums) if facets else None)


def merge_parts(parts: Sequence[Part], limit: int) -> Part:
    """The parts of disjoint segments as one: totals and facet counts added, the first
    ``limit`` matches of all in the sort's order (ties in index order, as each part)."""
    if len(parts) == 1:
        return parts[0]
    top = sorted((t for p in parts for t in p.top), key=lambda t: t[0])[:limit]
    facets: dict[str, Counter[str]] | None = None
    if all(p.facets is not None for p in parts):
        facets = {}
        for p in parts:
            assert p.facets is not None
            for name, counts in p.facets.items():
                facets.setdefault(name, Counter()).update(counts)
    return Part(sum(p.total for p in parts), top, facets)


def _check(sort: str, type_: str | None) -> None:
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}, not {sort!r}")
    if type_ is not None and type_ not in TYPES:
        raise ValueError(f"type must be one of {TYPES}, not {type_!r}")


def search(
    index: SearchIndex,
    query: str,
    *,
    portal: str | list[str] | None = None,
    topic: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    type: str | None = None,  # noqa: A002 - the facet's name
    doc_kind: str | list[str] | None = None,
    year: int | list[int] | None = None,
    units: Collection[str] | None = None,
    sort: str = "relevance",
    page: int = 1,
    per_page: int = 10,
    text_for: Callable[[str], str | None] | None = None,
    texts_for: Callable[[Sequence[str]], Mapping[str, str]] | None = None,
    facets: bool = True,
) -> SearchResult:
    """Search the index; see the module docstring for the query language.

    ``date_from``/``date_to`` filter on the publication date (Vietnamese local date),
    inclusive. ``type`` keeps articles or documents (attachments) only; ``doc_kind`` keeps
    documents of that kind ("Kế hoạch", "ke hoach" or "ke-hoach") and articles citing one;
    ``year`` the issue year of a document or the publication year of an article; ``units``
    the entries linked to any of these administrative-unit keys (issued by or naming them:
    give a unit's closure, :func:`archive.unit_links.resolve_unit_filter`).
    ``texts_for(ids)`` (one call for the page's hits) or ``text_for(id)`` supply the body
    text for the snippets; without them, or when the body has no match, the lead is used.
    Facets count every match (not only the page): type, portal, topic, document kind and
    year.
    """
    _check(sort, type)
    page = max(1, page)
    per_page = max(1, per_page)
    parsed = parse_query(query)
    if parsed is None and sort == "relevance":
        sort = "newest"
    searcher = index.searcher()
    if searcher.doc_count_all() == 0:  # an empty index's reader has no columns
        return SearchResult(total=0, hits=[], page=page, per_page=per_page, query=query,
                            facets=_ordered_facets({}) if facets else {})  # fmt: skip
    filters = dict(portal=portal, topic=topic, date_from=date_from, date_to=date_to,
                   type_=type, doc_kind=doc_kind, year=year, units=units)  # fmt: skip
    limit = page * per_page
    # a big index's segments split between processes (search.shards), else all here
    from search import shards

    part = shards.evaluate(index, searcher, query, filters, sort, limit, facets)
    if part is None:
        part = evaluate(searcher, query, filters, sort, limit, facets)
    shown = [(d, score) for _, d, score in part.top[(page - 1) * per_page : limit]]
    stored = [searcher.stored_fields(d) for d, _ in shown]
    ids = [s["id"] for s in stored]
    if texts_for is not None:
        bodies: Mapping[str, str] = texts_for(ids) if ids else {}
    elif text_for is not None:
        bodies = {i: t for i in ids if (t := text_for(i)) is not None}
    else:
        bodies = {}
    words = parsed.highlight_words() if parsed is not None else frozenset()
    hits: list[Hit] = []
    for (_, score), fields in zip(shown, stored, strict=True):
        topics = fields.get("topics", "")
        kinds = fields.get("doc_kinds", "")
        hits.append(
            Hit(
                id=fields["id"],
                title=fields.get("title", ""),
                portal=fields.get("portal", ""),
                url=fields.get("url", ""),
                published=parse_pub(fields.get("pub")),
                topics=topics.split() if topics else [],
                score=score if sort == "relevance" else None,
                snippet=snippet(bodies.get(fields["id"]), fields.get("lead", ""), words),
                type=fields.get("type", "article"),
                doc_kinds=kinds.split() if kinds else [],
            )
        )
    return SearchResult(
        total=part.total,
        hits=hits,
        facets=_ordered_facets(part.facets) if part.facets is not None else {},
        page=page,
        per_page=per_page,
        query=query,
    )


def search_ids(
    index: SearchIndex,
    query: str,
    *,
    portal: str | list[str] | None = None,
    topic: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    type: str | None = None,  # noqa: A002 - the facet's name
    doc_kind: str | list[str] | None = None,
    year: int | list[int] | None = None,
    units: Collection[str] | None = None,
    sort: str = "relevance",
    limit: int | None = None,
    rank_limit: int = RANK_IDS_LIMIT,
) -> list[str]:
    """The ids of every match of :func:`search` with the same arguments: no snippets, no
    facets, no stored fields (ids come from a column). In the result pages' order when they
    are at most ``rank_limit`` (or when sorted by date, which costs nothing); else unscored,
    in index order. ``limit`` keeps the first ids only."""
    _check(sort, type)
    parsed = parse_query(query)
    if parsed is None and sort == "relevance":
        sort = "newest"
    searcher = index.searcher()
    if searcher.doc_count_all() == 0:
        return []
    data = _SearcherData.of(searcher)
    allowed = _allowed(data, portal, topic, date_from, date_to, type, doc_kind, year, units)
    if allowed is not None and not any(a.any() for a in allowed):
        return []
    matched = _match(data.leaves, parsed, allowed)
    found = _docnums(matched)
    if sort != "relevance" or len(found) <= rank_limit:
        docnums = [d for d, _ in _top(searcher, matched, found, sort, len(found))]
    else:
        docnums = found.tolist()
    if limit is not None:
        docnums = docnums[:limit]
    ids = data.column("id")
    return [ids[d] for d in docnums]
