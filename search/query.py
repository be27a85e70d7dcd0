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
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time

from whoosh import query as Q
from whoosh import sorting
from whoosh.highlight import ContextFragmenter, Formatter, Highlighter, get_text
from whoosh.matching import IntersectionMatcher, Matcher, NullMatcher, WrappingMatcher
from whoosh.query.spans import Span, SpanWrappingMatcher
from whoosh.searching import Searcher
from whoosh.util import make_binary_tree

from archive.text import nfc
from search.analysis import QueryToken, analyze_query
from search.index import SearchIndex, kind_slug, local_naive, parse_pub

__all__ = ["Hit", "SearchResult", "build_query", "search"]

EXACT_BOOST = 4.0  # per matched accented word; large enough that exact spellings rank first
SORTS = ("relevance", "newest", "oldest")
TYPES = ("article", "document")
SNIPPET_CHARS = 240
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


# --- query building ---------------------------------------------------------------------------
#
# Matching is decided on the "body" field alone (it also holds the title, lead, unit and cited
# numbers) with the FOLDED forms: one term matcher per word, one phrase per quoted phrase.
# Everything that only ranks — title matches, exact-accent matches — goes into the optional
# side of an AndMaybe, which Whoosh evaluates only on documents the required side matched.


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


def _required(toks: list[QueryToken]) -> Q.Query:
    if len(toks) == 1:
        return Q.Term("body", toks[0].folded)
    return FastPhrase("body", [t.folded for t in toks])


def _optional(toks: list[QueryToken]) -> list[Q.Query]:
    """Scoring-only clauses: the title (boosted by the field) and the exact spellings."""
    out: list[Q.Query] = []
    if len(toks) == 1:
        out.append(Q.Term("title", toks[0].folded))
    else:
        out.append(FastPhrase("title", [t.folded for t in toks]))
    for t in toks:
        if t.exact:
            out.append(Q.Term("body", t.exact, boost=EXACT_BOOST))
            out.append(Q.Term("title", t.exact, boost=EXACT_BOOST))
    return out


def _excluded(toks: list[QueryToken]) -> Q.Query:
    """An excluded word or phrase: its exact spelling when it has accents, else folded."""
    words = [t.exact or t.folded for t in toks]
    return Q.Term("body", words[0]) if len(words) == 1 else FastPhrase("body", words)


def build_query(text: str) -> Q.Query | None:
    """The scored Whoosh query for ``text``, or None when it has nothing to match on."""
    built = _build(text)
    return None if built is None else built[0]


def _build(text: str) -> tuple[Q.Query, Q.Query] | None:
    """(scored query, match-only query): the second has no scoring-only clauses and is
    what totals and facet counts run."""
    required: list[Q.Query] = []
    optional: list[Q.Query] = []
    excluded: list[Q.Query] = []

    def add(toks: list[QueryToken], negative: bool) -> None:
        if not toks:
            return
        if negative:
            excluded.append(_excluded(toks))
        else:
            required.append(_required(toks))
            optional.extend(_optional(toks))

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

    if not required:
        if not excluded:
            return None
        match: Q.Query = Q.Every()
        scored = match
    else:
        match = required[0] if len(required) == 1 else Q.And(required)
        scored = Q.AndMaybe(match, _union(optional)) if optional else match
    if excluded:
        match = Q.AndNot(match, _union(excluded))
        scored = Q.AndNot(scored, _union(excluded))
    return scored, match


def _filter(
    portal: str | list[str] | None,
    topic: str | None,
    date_from: date | None,
    date_to: date | None,
    type_: str | None = None,
    doc_kind: str | list[str] | None = None,
    year: int | list[int] | None = None,
) -> Q.Query | None:
    parts: list[Q.Query] = []
    if portal:
        portals = [portal] if isinstance(portal, str) else list(portal)
        parts.append(Q.Or([Q.Term("portal", p) for p in portals]))
    if topic:
        parts.append(Q.Term("topics", topic.lower()))
    if type_:
        parts.append(Q.Term("type", type_))
    if doc_kind:
        kinds = [doc_kind] if isinstance(doc_kind, str) else list(doc_kind)
        parts.append(Q.Or([Q.Term("doc_kinds", kind_slug(k)) for k in kinds]))
    if year:
        years = [year] if isinstance(year, int) else list(year)
        parts.append(Q.Or([Q.Term("year", str(y)) for y in years]))
    if date_from or date_to:
        start = _day_start(date_from) if date_from else None
        end = _day_end(date_to) if date_to else None
        parts.append(Q.DateRange("published", start, end))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Q.And(parts)


def _day_start(d: date) -> datetime:
    return local_naive(d) if isinstance(d, datetime) else datetime.combine(d, time.min)


def _day_end(d: date) -> datetime:
    return local_naive(d) if isinstance(d, datetime) else datetime.combine(d, time.max)


# --- snippets ---------------------------------------------------------------------------------


class _BoldFormatter(Formatter):
    """``<b>match</b>``, everything else HTML-escaped; fragments joined with an ellipsis."""

    between = " … "

    def _text(self, text: str) -> str:
        return html.escape(text, quote=False)

    def format_token(self, text: str, token: object, replace: bool = False) -> str:
        return "<b>" + html.escape(get_text(text, token, replace), quote=False) + "</b>"


_HIGHLIGHTER = Highlighter(
    fragmenter=ContextFragmenter(maxchars=SNIPPET_CHARS, surround=60),
    formatter=_BoldFormatter(),
)


def _plain_snippet(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > SNIPPET_CHARS:
        text = text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    return html.escape(text, quote=False)


def _snippet(hit: object, lead: str, text_for: Callable[[str], str | None] | None) -> str:
    """Highlighted fragments of the body (from ``text_for``), else of the lead, else the
    start of the lead or body unhighlighted (e.g. when only the title matched)."""
    body = text_for(hit["id"]) if text_for is not None else None  # type: ignore[index]
    for text in (body, lead):
        if text:
            out = _HIGHLIGHTER.highlight_hit(hit, "body", text=nfc(text), top=2)
            if out:
                return out
    return _plain_snippet(nfc(lead or body or ""))


# --- facets -----------------------------------------------------------------------------------
#
# Counting runs on the match-only query's document set (no scoring, no stored fields) and on
# column values loaded once per searcher: one list lookup per matched document and facet.

_FACET_COLUMNS = {
    "type": "type",
    "portal": "portal",
    "topic": "topicset",
    "doc_kind": "doc_kindset",
    "year": "year",
}
_MULTI_VALUED = {"topic", "doc_kind"}  # space-separated sets: each member counts


def _column_values(searcher: Searcher) -> dict[str, list[str]]:
    cache = getattr(searcher, "_portal_archive_columns", None)
    if cache is None:
        reader = searcher.reader()
        cache = {}
        for name, column in _FACET_COLUMNS.items():
            cr = reader.column_reader(column)
            cache[name] = [v.decode("utf-8") if isinstance(v, bytes) else v for v in cr]
        searcher._portal_archive_columns = cache  # type: ignore[attr-defined]
    return cache


def _facet_counts(searcher: Searcher, docnums: list[int]) -> dict[str, dict[str, int]]:
    columns = _column_values(searcher)
    out: dict[str, dict[str, int]] = {}
    for name, values in columns.items():
        raw = Counter(map(values.__getitem__, docnums))
        counts: Counter[str] = Counter()
        for key, n in raw.items():
            if name in _MULTI_VALUED:
                for t in key.split():
                    counts[t] += n
            elif key:
                counts[key] += n
        if name == "year":
            out[name] = dict(sorted(counts.items(), reverse=True))
        else:
            out[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


# --- search -----------------------------------------------------------------------------------


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
    sort: str = "relevance",
    page: int = 1,
    per_page: int = 10,
    text_for: Callable[[str], str | None] | None = None,
    facets: bool = True,
) -> SearchResult:
    """Search the index; see the module docstring for the query language.

    ``date_from``/``date_to`` filter on the publication date (Vietnamese local date),
    inclusive. ``type`` keeps articles or documents (attachments) only; ``doc_kind`` keeps
    documents of that kind ("Kế hoạch", "ke hoach" or "ke-hoach") and articles citing one;
    ``year`` the issue year of a document or the publication year of an article.
    ``text_for(id)`` supplies the body text for the snippet; without it, or when the body has
    no match, the lead is used. Facets count every match (not only the page): type, portal,
    topic, document kind and year.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}, not {sort!r}")
    if type is not None and type not in TYPES:
        raise ValueError(f"type must be one of {TYPES}, not {type!r}")
    page = max(1, page)
    per_page = max(1, per_page)
    built = _build(query)
    filt = _filter(portal, topic, date_from, date_to, type, doc_kind, year)
    if built is None:
        q = match = Q.Every()
        if sort == "relevance":
            sort = "newest"
    else:
        q, match = built
    kwargs: dict[str, object] = {}
    if sort != "relevance":
        kwargs["sortedby"] = sorting.MultiFacet(
            [
                sorting.FieldFacet("dated", reverse=True),
                sorting.FieldFacet("published", reverse=sort == "newest"),
            ]
        )
    searcher = index.searcher()
    allowed: set[int] | None = None
    if filt is not None and searcher.doc_count_all():
        # evaluated once, used by the top-N search and by the count
        allowed = set(searcher.docs_for_query(filt))
    if searcher.doc_count_all() == 0 or allowed == set():
        # An empty index's reader has no columns (facets would fail): nothing can match.
        # Nor can anything when the filters exclude every document (and Whoosh would take
        # an empty filter set for no filter at all).
        return SearchResult(
            total=0,
            hits=[],
            facets={k: {} for k in _FACET_COLUMNS} if facets else {},
            page=page,
            per_page=per_page,
            query=query,
        )
    if allowed is not None:
        kwargs["filter"] = allowed
    results = searcher.search(q, limit=page * per_page, **kwargs)
    # Count the match-only query (no scoring) rather than len(results): Whoosh re-runs the
    # query WITHOUT the filter when its collector skipped blocks.
    if isinstance(match, Q.Every):
        docnums = sorted(allowed) if allowed is not None else list(searcher.reader().all_doc_ids())
    else:
        docnums = list(searcher.docs_for_query(match))
        if allowed is not None:
            docnums = [d for d in docnums if d in allowed]
    total = len(docnums)
    hits: list[Hit] = []
    for hit in results[(page - 1) * per_page : page * per_page]:
        stored = hit.fields()
        topics = stored.get("topics", "")
        kinds = stored.get("doc_kinds", "")
        hits.append(
            Hit(
                id=stored["id"],
                title=stored.get("title", ""),
                portal=stored.get("portal", ""),
                url=stored.get("url", ""),
                published=parse_pub(stored.get("pub")),
                topics=topics.split() if topics else [],
                score=hit.score if sort == "relevance" else None,
                snippet=_snippet(hit, stored.get("lead", ""), text_for),
                type=stored.get("type", "article"),
                doc_kinds=kinds.split() if kinds else [],
            )
        )
    return SearchResult(
        total=total,
        hits=hits,
        facets=_facet_counts(searcher, docnums) if facets else {},
        page=page,
        per_page=per_page,
        query=query,
    )
