"""PostgreSQL full-text search: the scale-out search backend (see :mod:`search.backend`).

Entries live in ``search_entries`` (archive/models.py, migration 0004) in the archive's own
database: facets and filters as columns and GIN-indexed arrays, the terms as a GIN-indexed
``tsvector``.

Same tokens as Whoosh, by construction
--------------------------------------
The ``tsvector`` is not made by PostgreSQL's parser: it is written out in Python from
:meth:`search.analysis.VietnameseAnalyzer.position_lists`, the very term -> positions map
the Whoosh index stores, and cast (``'cai':1A '=cải':1A '139/kh-ubnd':7 '139':7``). So:

* every word has its folded lexeme (``cai``, ``dvhc``: tones, vowel marks and đ folded, tone
  placement canonical), and its exact spelling (``=cải``) at the SAME position, which only
  ranks; a folded query matches every spelling, phrases match on either form;
* document numbers (``139/KH-UBND``, ``07/2022/QĐ-UBND``, ``37-NQ/TW``) are one lexeme in
  the analyzer's normal form, with the bare number at the same position.

PostgreSQL's own parser with ``unaccent`` would fold đ and the Vietnamese vowels the same
way, but it splits differently where it matters (``139/KH-UBND`` becomes a file path or
several words; ``kế-hoạch`` the compound plus its parts, shifting every later position), it
cannot put two lexemes at one position (the exact form, the bare number), and it does not
canonicalise tone placement (``hoà``/``hòa`` exact forms). Writing the vector in Python
keeps one analyzer for both backends; PostgreSQL only stores, indexes and matches it.

Titles: the entry's text is title + lead + body + unit + cited numbers, as Whoosh's body
field; the title's positions carry weight ``A`` (the rest ``D``), which ``ts_rank``
counts 10x: Whoosh's separate title field with its boost.

Queries: :func:`search.query.parse_query` (the same parser) gives clauses of folded words
and phrases; they become a ``tsquery`` written out the same way (``&``, ``<->`` for phrases,
``!`` for exclusions) and matched against the GIN index. Relevance: the number of the
query's accented words found with that exact spelling first (so exact-accent matches rank
first, as the domain asks), then ``ts_rank`` of the folded words (term frequencies, title
weighted, divided by the entry's length): not Whoosh's BM25F, so orders within equal exact
counts differ. (``ts_rank_cd``, cover density, cost 4x as much per match on 8-word queries
over 10,000 generated articles: 455 against 112 ms.) Snippets are made in Python from the text the caller supplies, exactly as for
Whoosh (:func:`search.query._snippet`), not with ``ts_headline``: the same ``<b>`` marks on
the same words, folded or exact, and document numbers.

Limits of ``tsvector``: positions stop at 16,383 and a lexeme keeps 256 of them; a word
beyond the 16,383rd is still found (it is stored without a position) but a phrase there is
not. Whoosh has no such limit (long attachments: a 2,000,000-character document).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from search.analysis import VietnameseAnalyzer
from search.backend import SearchBackend
from search.index import IndexDoc, kind_slug, local_naive, parse_pub
from search.query import (
    EXACT_BOOST,
    RANK_IDS_LIMIT,
    Clause,
    Hit,
    ParsedQuery,
    SearchResult,
    _check,
    _day_end,
    _day_start,
    parse_query,
)
from search.snippets import snippet

if TYPE_CHECKING:
    from archive.store import Archive
    from search.sync import SyncReport

__all__ = ["PostgresBackend", "terms_literal", "tsquery_literal"]

MAX_POSITION = 16_383  # tsvector positions are 1..16383
MAX_POSITIONS = 256  # per lexeme
BATCH = 500
#: ``ts_rank`` weights of D, C, B, A: the title (A) counts 10x the body (D).
RANK_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"
#: ts_rank normalisation: 2 divides by the length (as BM25, a short entry that is all
#: about the words beats a long one that mentions them), 32 maps the rank into [0, 1), so
#: that the exact-spelling count before it stays the first key of one number.
RANK_NORMALISATION = 2 | 32
_FACETS = ("type", "portal", "topic", "doc_kind", "year")
#: Up to this many accented query words, each is checked with its own ``@@``; beyond, all
#: at once with ``ts_delete`` (see ``_order``).
EXACT_CHECKS_MAX = 3
# Any 64-bit number, the same in every process: the key of the indexer's advisory lock.
_LOCK_KEY = 0x706F7274616C5F73  # "portal_s"

_ANALYZER = VietnameseAnalyzer()


# --- writing: the tsvector of an entry -------------------------------------------------------


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _entry_text(doc: IndexDoc) -> str:
    """What Whoosh's body field holds (search/index.py ``_fields``)."""
    parts = [doc.title, doc.lead or "", doc.body, doc.unit, " ".join(doc.doc_numbers), doc.extra]
    return "\n".join(p for p in parts if p)


def terms_literal(doc: IndexDoc) -> str:
    """The entry's ``tsvector`` as text: the analyzer's terms and positions (1-based), the
    title's positions weighted ``A``."""
    title_positions = _ANALYZER.position_lists(doc.title) if doc.title else {}
    in_title = 1 + max((p for ps in title_positions.values() for p in ps), default=-1)
    out = []
    for term, positions in _ANALYZER.position_lists(_entry_text(doc)).items():
        kept = [p + 1 for p in positions if p < MAX_POSITION][:MAX_POSITIONS]
        if not kept:  # beyond the last position PostgreSQL keeps: found as a word only
            out.append(_quote(term))
            continue
        marks = ",".join(f"{p}A" if p <= in_title else str(p) for p in kept)
        out.append(f"{_quote(term)}:{marks}")
    return " ".join(out)


def _row(doc: IndexDoc) -> dict[str, Any]:
    topics = sorted({t.strip().lower() for t in doc.topics if t.strip()})
    kinds = sorted({kind_slug(k) for k in doc.doc_kinds if k.strip()})
    year = doc.year if doc.year is not None else (doc.published.year if doc.published else None)
    return {
        "id": doc.id,
        "type": doc.type,
        "portal": doc.portal,
        "topics": topics,
        "doc_kinds": kinds,
        "units": sorted(set(doc.units)),
        "year": year,
        "published": local_naive(doc.published) if doc.published is not None else None,
        "pub": doc.published.isoformat() if doc.published is not None else "",
        "state": doc.content_hash,
        "title": doc.title,
        "lead": doc.lead or "",
        "url": doc.url,
        "terms": terms_literal(doc),
    }


_UPSERT = text(
    """
    INSERT INTO search_entries
        (id, type, portal, topics, doc_kinds, units, year, published, pub, state,
         title, lead, url, terms)
    VALUES (:id, :type, :portal, :topics, :doc_kinds, :units, :year, :published, :pub,
            :state, :title, :lead, :url, CAST(:terms AS tsvector))
    ON CONFLICT (id) DO UPDATE SET
        type = excluded.type, portal = excluded.portal, topics = excluded.topics,
        doc_kinds = excluded.doc_kinds, units = excluded.units, year = excluded.year,
        published = excluded.published, pub = excluded.pub, state = excluded.state,
        title = excluded.title, lead = excluded.lead, url = excluded.url,
        terms = excluded.terms
    """
)


# --- reading: the tsquery of a parsed query --------------------------------------------------


def _clause_query(c: Clause) -> str:
    if c.is_phrase:
        return "(" + " <-> ".join(_quote(w) for w in c.words) + ")"
    return _quote(c.words[0])


def tsquery_literal(parsed: ParsedQuery) -> str | None:
    """What an entry must match: every required clause and none of the excluded; None
    when there is no required clause (then only the exclusions filter)."""
    if not parsed.required:
        return None
    parts = [_clause_query(c) for c in parsed.required]
    parts += ["!" + _clause_query(c) for c in parsed.excluded]
    return " & ".join(parts)


def _exclusions(parsed: ParsedQuery) -> str | None:
    if not parsed.excluded:
        return None
    return " | ".join(_clause_query(c) for c in parsed.excluded)


def _exact_words(parsed: ParsedQuery) -> list[str]:
    """The exact (accented) spellings of the query's words, once each."""
    words = (c.words[0] for c in parsed.optional if c.field == "body" and c.boost == EXACT_BOOST)
    return list(dict.fromkeys(words))


def _rank_query(parsed: ParsedQuery) -> str:
    """Every required word and phrase, any of them: what ``ts_rank`` looks for."""
    return " | ".join(_clause_query(c) for c in parsed.required)


# --- the backend -----------------------------------------------------------------------------


class PostgresBackend(SearchBackend):
    """Search entries in a PostgreSQL database at the head revision (see module doc)."""

    name = "postgres"

    def __init__(self, engine: Engine, *, owns_engine: bool = False) -> None:
        if engine.dialect.name != "postgresql":
            from search.backend import SearchBackendError

            raise SearchBackendError(
                f"the postgres search backend needs PostgreSQL, not {engine.dialect.name}"
            )
        self.engine = engine
        self._owns_engine = owns_engine

    # --- writing ---------------------------------------------------------------------------

    def update(
        self,
        docs: Iterable[IndexDoc],
        *,
        progress: Callable[[int], None] | None = None,
        bulk: bool = False,
    ) -> int:
        """Add or replace entries by id (the last of one id wins); one transaction per
        batch of :data:`BATCH`, ``progress`` told the running count after each. ``bulk``
        changes nothing here (GIN's pending list takes the rows either way)."""
        done = 0
        for chunk in _chunks(docs, BATCH):
            rows = list({d.id: _row(d) for d in chunk}.values())
            with self.engine.begin() as conn:
                conn.execute(_UPSERT, rows)
            done += len(rows)
            if progress is not None:
                progress(done)
        return done

    def delete(self, ids: Iterable[str]) -> int:
        wanted = [i for i in dict.fromkeys(ids) if i]
        if not wanted:
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(
                text("DELETE FROM search_entries WHERE id = ANY(:ids)"), {"ids": wanted}
            )
        return result.rowcount

    def clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("TRUNCATE search_entries"))

    @contextmanager
    def writer_lock(self, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """One indexer at a time, across machines: a session advisory lock, held on a
        connection of its own for the whole sync (released if the holder dies)."""
        with self.engine.connect() as conn:
            told = False
            while not conn.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}
            ).scalar():
                conn.rollback()
                if on_wait and not told:
                    on_wait("waiting for the search index, being updated by another process")
                    told = True
                time.sleep(0.2)
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                conn.commit()

    def sync(
        self,
        archive: Archive,
        *,
        rebuild: bool = False,
        progress: Callable[[int, int], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> SyncReport:
        from search.sync import _sync_index

        with self.writer_lock(on_wait):
            if rebuild:
                self.clear()
            return _sync_index(archive, self, rebuild=rebuild, progress=progress)

    # --- reading ---------------------------------------------------------------------------

    def indexed_states(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(text("SELECT id, state FROM search_entries")).all())

    indexed_hashes = indexed_states  # what search.sync asks an index for

    def doc_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM search_entries")).scalar_one()

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def search(
        self,
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
        """:func:`search.query.search` on PostgreSQL: one statement matches (and scores)
        once and gives the page's ids, the total and the facets; one more reads the page's
        fields."""
        _check(sort, type)
        page, per_page = max(1, page), max(1, per_page)
        parsed = parse_query(query)
        if parsed is None and sort == "relevance":
            sort = "newest"
        where, params = _where(parsed, portal, topic, date_from, date_to, type, doc_kind,
                               year, units)  # fmt: skip
        order, score = _order(parsed, sort, params)
        params = {**params, "limit": per_page, "offset": (page - 1) * per_page}
        with self.engine.connect() as conn:
            found = conn.execute(text(_search_sql(where, order, score, facets)), params).all()
            total, counts, page_ids, scores = _read_search_rows(found, facets)
            rows = []
            if page_ids:
                by_id = {
                    r.id: r
                    for r in conn.execute(
                        text(
                            "SELECT id, title, portal, url, pub, topics, type, doc_kinds, lead"
                            " FROM search_entries WHERE id = ANY(:ids)"
                        ),
                        {"ids": page_ids},
                    )
                }
                rows = [by_id[i] for i in page_ids if i in by_id]
        ids = [r.id for r in rows]
        if texts_for is not None:
            bodies: Mapping[str, str] = texts_for(ids) if ids else {}
        elif text_for is not None:
            bodies = {i: t for i in ids if (t := text_for(i)) is not None}
        else:
            bodies = {}
        words = parsed.highlight_words() if parsed is not None else frozenset()
        hits = [
            Hit(
                id=r.id,
                title=r.title,
                portal=r.portal,
                url=r.url,
                published=parse_pub(r.pub),
                topics=list(r.topics),
                score=scores.get(r.id) if sort == "relevance" else None,
                snippet=snippet(bodies.get(r.id), r.lead, words),
                type=r.type,
                doc_kinds=list(r.doc_kinds),
            )
            for r in rows
        ]
        return SearchResult(total=total, hits=hits, facets=counts, page=page,
                            per_page=per_page, query=query)  # fmt: skip

    def search_ids(
        self,
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
        """:func:`search.query.search_ids` on PostgreSQL: ranked as the pages up to
        ``rank_limit`` matches (or by date), else unscored, by id."""
        _check(sort, type)
        parsed = parse_query(query)
        if parsed is None and sort == "relevance":
            sort = "newest"
        where, params = _where(parsed, portal, topic, date_from, date_to, type, doc_kind,
                               year, units)  # fmt: skip
        params["limit"] = limit
        with self.engine.connect() as conn:
            if sort == "relevance":
                n = conn.execute(
                    text(f"SELECT count(*) FROM search_entries WHERE {where}"), params
                ).scalar_one()
                if n > rank_limit:
                    return list(
                        conn.execute(
                            text(
                                f"SELECT id FROM search_entries WHERE {where}"
                                " ORDER BY id LIMIT :limit"
                            ),
                            params,
                        ).scalars()
                    )
            order, score = _order(parsed, sort, params)
            return list(
                conn.execute(
                    text(
                        f"SELECT id, {score} AS score FROM search_entries WHERE {where}"
                        f" ORDER BY {order} LIMIT :limit"
                    ),
                    params,
                ).scalars()
            )


# --- SQL pieces ------------------------------------------------------------------------------


def _where(
    parsed: ParsedQuery | None,
    portal: str | list[str] | None,
    topic: str | None,
    date_from: date | None,
    date_to: date | None,
    type_: str | None,
    doc_kind: str | list[str] | None,
    year: int | list[int] | None,
    units: Collection[str] | None,
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause of the matches and its parameters."""
    conds: list[str] = []
    params: dict[str, Any] = {}
    if parsed is not None:
        match = tsquery_literal(parsed)
        if match is not None:
            conds.append("terms @@ CAST(:match AS tsquery)")
            params["match"] = match
        else:  # only exclusions
            conds.append("NOT terms @@ CAST(:excluded AS tsquery)")
            params["excluded"] = _exclusions(parsed)
    if units is not None:
        conds.append("units && CAST(:units AS text[])")
        params["units"] = sorted(set(units))
    if portal:
        conds.append("portal = ANY(:portals)")
        params["portals"] = [portal] if isinstance(portal, str) else list(portal)
    if topic:
        conds.append("topics @> CAST(:topic AS text[])")
        params["topic"] = [topic.lower()]
    if type_:
        conds.append("type = :type")
        params["type"] = type_
    if doc_kind:
        kinds = [doc_kind] if isinstance(doc_kind, str) else list(doc_kind)
        conds.append("doc_kinds && CAST(:kinds AS text[])")
        params["kinds"] = [kind_slug(k) for k in kinds]
    if year:
        conds.append("year = ANY(:years)")
        params["years"] = [year] if isinstance(year, int) else [int(y) for y in year]
    if date_from:
        conds.append("published >= :low")
        params["low"] = _day_start(date_from)
    if date_to:
        conds.append("published <= :high")
        params["high"] = _day_end(date_to)
    return (" AND ".join(conds) or "TRUE"), params


def _order(parsed: ParsedQuery | None, sort: str, params: dict[str, Any]) -> tuple[str, str]:
    """(ORDER BY, the score expression) for ``sort``; adds the score's parameters."""
    if sort == "newest":
        return "published IS NULL, published DESC, id", "NULL"
    if sort == "oldest":
        return "published IS NULL, published ASC, id", "NULL"
    if parsed is None or not parsed.required:
        return "id", "NULL"  # only exclusions: every match scores the same
    params["rank"] = _rank_query(parsed)
    score = (
        f"ts_rank(CAST('{RANK_WEIGHTS}' AS real[]), terms, CAST(:rank AS tsquery),"
        f" {RANK_NORMALISATION})"
    )
    exact = _exact_words(parsed)
    if len(exact) > EXACT_CHECKS_MAX:
        # how many of the exact spellings the entry has: the lexemes ts_delete removes (it
        # copies the vector once, where a @@ per word searches it once per word: 2.8x
        # slower at 8 words; at 1 to 3 words the copy costs more than the searches)
        params["exact"] = exact
        score += " + (length(terms) - length(ts_delete(terms, CAST(:exact AS text[]))))"
    else:
        for i, word in enumerate(exact):
            params[f"exact{i}"] = _quote(word)
            score += f" + (terms @@ CAST(:exact{i} AS tsquery))::int"
    return "score DESC, id", score


def _search_sql(where: str, order: str, score: str, facets: bool) -> str:
    """One statement: the matches scored once (a materialised CTE), then rows of
    (kind, key, n, score): ``hit`` rows (id, place, score) of the page, the ``total``, and
    with ``facets`` a row per facet value (name, value, count)."""
    parts = [
        f"""
        WITH m AS MATERIALIZED (
            SELECT id, type, portal, topics, doc_kinds, year, published, {score} AS score
            FROM search_entries WHERE {where}
        ), p AS (
            SELECT id, score, row_number() OVER (ORDER BY {order}) AS place FROM m
            ORDER BY {order} LIMIT :limit OFFSET :offset
        )
        SELECT 'hit' AS kind, id AS key, place AS n, score::float8 AS score FROM p
        UNION ALL SELECT 'total', NULL, count(*), NULL FROM m
        """
    ]
    if facets:
        parts.append(
            """
            UNION ALL SELECT 'type', type, count(*), NULL FROM m GROUP BY type
            UNION ALL SELECT 'portal', portal, count(*), NULL FROM m GROUP BY portal
            UNION ALL SELECT 'topic', t, count(*), NULL FROM m, unnest(m.topics) t GROUP BY t
            UNION ALL SELECT 'doc_kind', k, count(*), NULL FROM m, unnest(m.doc_kinds) k
                GROUP BY k
            UNION ALL SELECT 'year', year::text, count(*), NULL FROM m
                WHERE year IS NOT NULL GROUP BY year
            """
        )
    return "".join(parts)


def _read_search_rows(
    rows: Sequence[Any], facets: bool
) -> tuple[int, dict[str, dict[str, int]], list[str], dict[str, float]]:
    """(total, facet counts, the page's ids in order, their scores) from
    :func:`_search_sql`'s rows; facets ordered as Whoosh's (years newest first, others by
    count then value)."""
    total = 0
    hits: list[tuple[int, str]] = []
    scores: dict[str, float] = {}
    counts: dict[str, dict[str, int]] = {name: {} for name in _FACETS} if facets else {}
    for kind, key, n, score in rows:
        if kind == "hit":
            hits.append((n, key))
            if score is not None:
                scores[key] = float(score)
        elif kind == "total":
            total = n
        elif key:
            counts[kind][key] = n
    for name, found in counts.items():
        if name == "year":
            counts[name] = dict(sorted(found.items(), reverse=True))
        else:
            counts[name] = dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))
    return total, counts, [key for _n, key in sorted(hits)], scores


def _chunks(items: Iterable[IndexDoc], size: int) -> Iterator[list[IndexDoc]]:
    import itertools

    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
