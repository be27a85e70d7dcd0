"""Phrases checked on word pairs (the ``pairs`` field, search.analysis.PairAnalyzer) find
exactly what Whoosh's phrase query finds on the words' positions, for phrases cut from the
real seed texts, phrases that are not there, and document numbers."""

from __future__ import annotations

import random

import pytest

import search.query as whoosh_query
from search.analysis import PairAnalyzer, analyze_query, pair_terms
from search.index import ENV_PAIRS, IndexDoc, SearchIndex
from search.query import build_query, parse_query
from tests.conftest import run_cli

from .test_search import SMALL_DOCS, seed_docs

PLAN = IndexDoc(
    id="plan",
    portal="xa-thu-nghiem",
    unit="",
    title="Kế hoạch số 139/KH-UBND ngày 29/3/2024",
    lead=None,
    body="Thực hiện Kế hoạch 07/2022/QĐ-UBND về cải cách hành chính năm 2024.",
    published=None,
    content_hash="p",
)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    ix = SearchIndex(tmp_path_factory.mktemp("ix"), procs=1)
    ix.update(seed_docs() + SMALL_DOCS + [PLAN])
    yield ix
    ix.close()


def _phrases() -> list[str]:
    """Runs of 2–7 words of the seed texts (as written, with accents or folded), each also
    with two words swapped (mostly not a phrase of any text)."""
    rng = random.Random(7)
    out = []
    for doc in seed_docs():
        words = [t.folded for t in analyze_query(doc.body)]
        for _ in range(25):
            n = rng.randint(2, 7)
            start = rng.randrange(len(words) - n)
            run = words[start : start + n]
            out.append(" ".join(run))
            swapped = list(run)
            i = rng.randrange(n - 1)
            swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
            out.append(" ".join(swapped))
    return out


PHRASES = _phrases()


def _whoosh(ix: SearchIndex, query: str) -> set[str]:
    searcher = ix.searcher()
    return {searcher.stored_fields(d)["id"] for d in searcher.docs_for_query(build_query(query))}


def _engine(ix: SearchIndex, query: str) -> set[str]:
    result = whoosh_query.search(ix, query, per_page=500, facets=False)
    assert result.total == len(result.hits)
    return {h.id for h in result.hits}


def test_seed_phrases_are_found_as_whoosh_finds_them(index: SearchIndex):
    found = missing = 0
    for phrase in PHRASES:
        query = f'"{phrase}"'
        expected = _whoosh(index, query)
        assert _engine(index, query) == expected, phrase
        # excluded, beside a word every seed text has
        assert _engine(index, f'và -"{phrase}"') == _whoosh(index, f'và -"{phrase}"'), phrase
        found += bool(expected)
        missing += not expected
    assert found > 100 and missing > 20  # both kinds were tried


@pytest.mark.parametrize(
    ("query", "in_plan"),
    [
        ('"kế hoạch số 139/KH-UBND"', True),
        ('"kế hoạch 139/KH-UBND"', False),  # "số" between
        ('"ke hoach so 139/kh-ubnd ngay 29"', True),
        ('"kế hoạch số 139"', True),  # the bare number is indexed beside the whole one
        ('"số 139 ngày"', True),
        ('"Kế hoạch 07/2022/QĐ-UBND về"', True),
        ('"ke hoach 07 ve cai cach"', True),
        ('"ke hoach 7/2022/qd-ubnd"', True),
        ('"2024 thực hiện"', True),  # across the title and the body, as the positions run on
        ('"hoach 139"', False),
        ('"139/KH-UBND 29"', False),
    ],
)
def test_phrases_with_document_numbers(index: SearchIndex, query: str, in_plan: bool):
    expected = _whoosh(index, query)
    assert _engine(index, query) == expected
    assert ("plan" in expected) is in_plan


def test_pairs_are_read_not_the_words_positions(index: SearchIndex):
    """The pairs are what the phrase is checked on: the words' positions are not read."""
    parsed = parse_query('"cải cách hành chính" -"thu tuc hanh chinh"')
    searcher = index.searcher()
    for sub, offset in searcher.leaf_searchers():
        seg = whoosh_query._Segment(sub.reader(), offset, parsed)
        assert ("pairs", "cai cach") in seg._positions
        assert ("pairs", "hanh chinh") in seg._positions
        assert ("pairs", "thu tuc") in seg._positions
        assert not any(field == "body" for field, _ in seg._positions)
        # the title's phrase only ranks; it is checked on the title's positions
        assert ("title", "cai") in seg._positions


def test_an_index_without_pairs_finds_the_same(index: SearchIndex, tmp_path, monkeypatch):
    """$PORTAL_ARCHIVE_PHRASE_PAIRS=off: a new index without the pairs field checks phrases
    on the words' positions, with the same results."""
    monkeypatch.setenv(ENV_PAIRS, "off")
    plain = SearchIndex(tmp_path / "ix", procs=1)
    try:
        assert not plain.has_pairs and "pairs" not in plain.ix.schema
        plain.update(seed_docs() + SMALL_DOCS + [PLAN])
        parsed = parse_query('"cải cách hành chính"')
        sub, offset = next(iter(plain.searcher().leaf_searchers()))
        seg = whoosh_query._Segment(sub.reader(), offset, parsed)
        assert ("body", "cai") in seg._positions
        for phrase in PHRASES[:60] + ["ke hoach so 139", "hoach 139"]:
            query = f'"{phrase}"'
            assert _engine(plain, query) == _engine(index, query), phrase
        monkeypatch.delenv(ENV_PAIRS)
        # the setting counts when an index is made: this one goes on without pairs
        plain.close()
        plain = SearchIndex(tmp_path / "ix", procs=1)
        assert not plain.has_pairs
        plain.update([PLAN])
    finally:
        plain.close()


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_bad_pairs_setting_is_one_clear_error(tmp_path, value: str):
    proc = run_cli("--data-dir", str(tmp_path), "index", env={ENV_PAIRS: value})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{ENV_PAIRS}='{value}': expected on or off" in proc.stderr


def test_accented_exclusion_is_checked_on_exact_positions(index: SearchIndex):
    # an excluded accented phrase excludes that spelling only: its exact forms have no pairs
    assert "accent-other" in _engine(index, 'trong -"đẩy mạnh cải cách"')
    assert "accent-exact" not in _engine(index, 'trong -"đẩy mạnh cải cách"')
    assert _engine(index, 'trong -"đẩy mạnh cải cách"') == _whoosh(
        index, 'trong -"đẩy mạnh cải cách"'
    )


def test_pair_analyzer_tokens():
    text = "Kế hoạch số 139/KH-UBND về CẢI CÁCH"
    lists = PairAnalyzer().position_lists(text)
    assert lists == {
        "ke hoach": [0],
        "hoach so": [1],
        "so 139/kh-ubnd": [2],
        "so 139": [2],
        "139/kh-ubnd ve": [3],
        "139 ve": [3],
        "ve cai": [4],
        "cai cach": [5],
    }
    tokens = [(t.text, t.pos) for t in PairAnalyzer()(text, positions=True)]
    assert sorted(tokens) == sorted((k, p) for k, ps in lists.items() for p in ps)
    # the tokens of another text with the same content are not mistaken for the last ones
    other = "".join(["cải ", "cách"])
    assert PairAnalyzer().position_lists(other) == {"cai cach": [0]}
    assert PairAnalyzer().position_lists("cải cách cải cách") == {
        "cai cach": [0, 2],
        "cach cai": [1],
    }


@pytest.mark.parametrize("n", range(2, 9))
def test_pair_terms_cover_every_word(n: int):
    words = [f"w{i}" for i in range(n)]
    pairs = pair_terms(words)
    covered = {i + k for i, _ in pairs for k in (0, 1)}
    assert covered == set(range(n))
    assert len(pairs) == n // 2 + (n % 2)
    for place, term in pairs:
        assert term == f"w{place} w{place + 1}"
