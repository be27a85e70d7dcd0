"""The extraction corpus and its quality gate.

Every page under tests/fixtures/pages/<family>/ has its hand-annotated expected output beside
it (``<name>.expected.json``). One parametrised test per field scores that field over the
whole corpus and fails below the floor pinned in tests/fixtures/pages/gate.toml.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path

import pytest

from archive.dates import to_iso
from archive.legacy import decode_html_bytes
from scraper.extract import clean_url, extract

PAGES = Path(__file__).parent / "fixtures" / "pages"
GATE = tomllib.loads((PAGES / "gate.toml").read_text(encoding="utf-8"))["floors"]
#: Issue 3's targets: no floor may sit below them.
TARGETS = {
    "articles_found": 1.0,
    "non_articles_rejected": 1.0,
    "title": 1.0,
    "published": 1.0,
    "body": 0.99,
    "attachments": 0.99,
    "doc_refs_recall": 0.98,
    "doc_refs_precision": 0.98,
    "topics": 0.95,
}


def corpus() -> list[Path]:
    return sorted(p for p in PAGES.glob("*/*.expected.json") if not p.parent.name.startswith("_"))


def decode(raw: bytes) -> str:
    return decode_html_bytes(raw)[0]


def squash(text: str | None) -> str:
    return " ".join((text or "").split())


@cache
def results() -> list[tuple[str, dict, object]]:
    out = []
    for path in corpus():
        expected = json.loads(path.read_text(encoding="utf-8"))
        html_path = path.with_name(path.name.replace(".expected.json", ".html"))
        page = extract(decode(html_path.read_bytes()), expected["capture"]["url"])
        out.append((f"{path.parent.name}/{html_path.name}", expected, page))
    return out


def _body_ok(exp: dict, got) -> bool:
    body = squash(got.body)
    if exp.get("body"):
        lines = [line for line in exp["body"].splitlines() if line.strip()]
        first, last = squash(lines[0])[:120], squash(lines[-1])[-120:]
    else:
        first, last = squash(exp["body_first"]), squash(exp["body_last"])
    markers = [m for m in exp.get("boilerplate", []) if m in body]
    return body.startswith(first) and body.endswith(last) and not markers


def score(field: str) -> tuple[float, list[str]]:
    """(share of pages right, descriptions of the wrong ones) for one field."""
    right = total = 0
    wrong: list[str] = []
    found = expected_n = got_n = 0
    for name, exp, got in results():
        article = exp["kind"] == "article"
        if field == "articles_found" and article:
            ok = got.kind == "article"
        elif field == "non_articles_rejected" and not article:
            ok = got.kind != "article"
        elif field in ("listing_links", "next_page") and exp["kind"] == "listing":
            if field == "listing_links":
                ok = {clean_url(u) for u in exp["article_links"]} <= set(got.article_links)
            else:
                ok = (clean_url(exp["next_page"]) if exp["next_page"] else None) == got.next_page
        elif field in ("doc_refs_recall", "doc_refs_precision") and article:
            want = {r["number"] for r in exp["doc_refs"]}
            have = {r["number"] for r in got.doc_refs}
            found += len(want & have)
            expected_n += len(want)
            got_n += len(have)
            if want != have:
                wrong.append(f"{name}: missing {sorted(want - have)} extra {sorted(have - want)}")
            continue
        elif article and field in ("title", "author", "lead"):
            ok = squash(getattr(got, field)) == squash(exp[field])
        elif article and field == "published":
            ok = to_iso(got.published) == exp["published"]
        elif article and field == "body":
            ok = _body_ok(exp, got)
        elif article and field == "attachments":
            key = lambda a: (a["url"], squash(a["title"]))  # noqa: E731
            ok = sorted(map(key, got.attachments)) == sorted(map(key, exp["attachments"]))
        elif article and field == "topics":
            ok = sorted(got.topics) == sorted(exp["topics"])
        else:
            continue
        total += 1
        right += ok
        if not ok:
            value = (
                got.kind
                if field in ("articles_found", "non_articles_rejected")
                else (getattr(got, field, None))
            )
            wrong.append(f"{name}: got {str(value)[:160]!r}")
    if field == "doc_refs_recall":
        return (found / expected_n if expected_n else 1.0), wrong
    if field == "doc_refs_precision":
        return (found / got_n if got_n else 1.0), wrong
    return (right / total if total else 1.0), wrong


def test_corpus_size():
    """At least 60 article and 15 other pages, over at least six software families."""
    kinds = [json.loads(p.read_text(encoding="utf-8"))["kind"] for p in corpus()]
    assert kinds.count("article") >= 60
    assert len(kinds) - kinds.count("article") >= 15
    families = {p.parent.name for p in corpus()} - {"real"}
    assert len(families) >= 6, families


@pytest.mark.parametrize("field", sorted(GATE))
def test_field_meets_its_floor(field):
    value, wrong = score(field)
    assert value >= GATE[field], f"{field} {value:.3f} < floor {GATE[field]}:\n" + "\n".join(wrong)


def test_floors_not_below_targets():
    assert {f: GATE[f] for f in TARGETS if GATE[f] < TARGETS[f]} == {}
