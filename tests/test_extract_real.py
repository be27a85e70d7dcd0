"""The extractor on the real Liferay pages of sotttt.hanoi.gov.vn (unedited copies of
shared/samples/real/, annotated in gold.jsonl and listing_gold.jsonl)."""

from __future__ import annotations

import json

import pytest

from scraper.extract import extract
from tests.conftest import FIXTURES, run_cli

REAL = FIXTURES / "pages" / "real"
GOLD = [json.loads(line) for line in (REAL / "gold.jsonl").read_text().splitlines() if line]
LISTINGS = [
    json.loads(line) for line in (REAL / "listing_gold.jsonl").read_text().splitlines() if line
]


def _page(name: str) -> str:
    return (REAL / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module", params=GOLD, ids=lambda g: g["file"][:40])
def gold(request):
    g = request.param
    return g, extract(_page(g["file"]), g["url"])


def test_gold_kind(gold):
    assert gold[1].kind == "article"


def test_gold_title(gold):
    g, ex = gold
    assert ex.title == g["title"]


def test_gold_published(gold):
    g, ex = gold
    assert ex.published.isoformat().startswith(g["published"])
    assert ex.published.utcoffset().total_seconds() == 7 * 3600


def test_gold_body_first_and_last_sentence(gold):
    g, ex = gold
    assert ex.body.startswith(g["body_first_sentence"])
    assert ex.body.rstrip().endswith(g["body_last_sentence"])


def test_gold_attachments_empty(gold):
    g, ex = gold
    assert ex.attachments == g["attachments"]


def test_gold_author(gold):
    g, ex = gold
    # The CMS author field wins; an in-body writer credit is not part of the body.
    assert ex.author == g["author"]
    assert "Bich Thao" not in ex.body.splitlines()[-1]


def test_gold_lead_outside_body_div_is_kept(gold):
    g, ex = gold
    assert ex.lead and g["body_first_sentence"].startswith(ex.lead[:50])


def test_gold_views():
    g = GOLD[0]
    assert extract(_page(g["file"]), g["url"]).views == 107


def test_gold_boilerplate_left_out(gold):
    _, ex = gold
    for noise in ("Các tin khác", "Truy cập nội dung luôn", "HaNoi Info", "Gallery"):
        assert noise not in ex.body


@pytest.mark.parametrize("g", LISTINGS, ids=lambda g: g["file"][:50])
def test_real_listing_pages_are_listings(g):
    ex = extract(_page(g["file"]), g["url"])
    assert ex.kind == "listing"
    urls = [u for u in g["all_item_urls"] if u]
    # HTTrack rewrote links to local files; compare the view_content ids.
    ids = {u.split("/view_content/")[1].split("-")[0] for u in urls}
    found = {
        u.split("/view_content/")[1].split("-")[0]
        for u in ex.article_links
        if "/view_content/" in u
    }
    assert ids <= found


def test_real_homepage_is_not_an_article():
    ex = extract(_page("sotttt.hanoi.gov.vn__homepage.html"), "https://sotttt.hanoi.gov.vn/")
    assert ex.kind == "other"


def test_real_soft_404_is_not_found():
    ex = extract(
        _page("sotttt.hanoi.gov.vn__soft404-missing-resource.html"),
        "https://sotttt.hanoi.gov.vn/users/admin/2008/06/n2563/20080613_a1.jpg",
    )
    assert ex.kind == "not_found"


def test_extract_cli_prints_one_json_object():
    g = GOLD[0]
    proc = run_cli("extract", str(REAL / g["file"]), "--url", g["url"], "--json", check=True)
    data = json.loads(proc.stdout)
    assert set(data) == {
        "kind",
        "url",
        "canonical_url",
        "title",
        "published",
        "author",
        "views",
        "lead",
        "body",
        "attachments",
        "doc_refs",
        "topics",
    }
    assert data["kind"] == "article"
    assert data["published"] == "2019-03-18T15:06:00+07:00"


def test_extract_cli_bad_input_is_a_clear_error(tmp_path):
    proc = run_cli("extract", str(tmp_path / "missing.html"), "--url", "https://x.gov.vn/a")
    assert proc.returncode == 2
    assert "no such file" in proc.stderr and "Traceback" not in proc.stderr
