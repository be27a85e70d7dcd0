from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from archive.text import nfc
from search.analysis import VietnameseAnalyzer
from search.query import parse_query
from search.snippets import BETWEEN, SNIPPET_CHARS, _query, highlight, snippet

SEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "seeds"
BOLD = re.compile(r"<b>(.*?)</b>")


def words(q: str) -> frozenset[str]:
    return parse_query(q).highlight_words()


def analyzer_matches(text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
    """The spans the index's analyzer makes of ``text`` whose terms are query terms: what
    the snippet must put in bold."""
    spans = set()
    for t in VietnameseAnalyzer()(text, positions=True, chars=True, removestops=False):
        if t.text in terms:
            spans.add((t.startchar, t.endchar))
    return sorted(spans)


def seed_texts() -> list[str]:
    return [nfc(p.read_text()) for p in sorted(SEEDS.glob("*.txt"))]


@pytest.mark.parametrize(
    "q",
    ["cai cach", "cải cách hành chính", "139/KH-UBND", "139", "ubnd", "kh", "2024", "của",
     '"đơn vị hành chính" tuyên truyền', "Đắk Lắk", "thanh xuan", "qd-ubnd", "7/2022/qđ-ubnd"],
)  # fmt: skip
def test_matches_are_the_analyzers_tokens(q: str):
    terms = words(q)
    for text in seed_texts():
        found = [(s, e) for s, e, _ in _query(terms).matches(text)]
        assert found == analyzer_matches(text, terms), q


def test_folded_and_exact_forms_any_case():
    text = "Cải cách, CÁI CÁCH và cai cach; cài cạch."
    out = highlight(text, words("cai cach"))
    assert BOLD.findall(out) == ["Cải", "cách", "CÁI", "CÁCH", "cai", "cach", "cài", "cạch"]
    # an exact term alone matches the accented spelling only, any case, any tone placement
    assert BOLD.findall(highlight(text, frozenset({"=cải"}))) == ["Cải"]
    assert BOLD.findall(highlight("Hoà Bình, HÒA BÌNH", frozenset({"=hòa"}))) == ["Hoà", "HÒA"]
    assert BOLD.findall(highlight("Đắk Lắk", words("dak lak"))) == ["Đắk", "Lắk"]


def test_document_numbers_whole_and_never_their_parts():
    text = "Kế hoạch số 139/KH-UBND ngày 29/3/2024 của UBND quận; 07/2022/QĐ-UBND."
    assert BOLD.findall(highlight(text, words("139/kh-ubnd"))) == ["139/KH-UBND"]
    # the index emits a number's bare form too
    assert BOLD.findall(highlight(text, frozenset({"139"}))) == ["139/KH-UBND"]
    # "UBND" is a word of its own once, and inside the numbers twice
    assert BOLD.findall(highlight(text, words("ubnd"))) == ["UBND"]
    assert BOLD.findall(highlight(text, words("7/2022/qd-ubnd"))) == ["07/2022/QĐ-UBND"]


def test_escapes_html_around_and_inside_matches():
    out = highlight("<script>alert(1)</script> lừa & đảo", words("lua dao"))
    assert "<script>" not in out
    assert out.startswith("&lt;script&gt;")
    assert "<b>lừa</b> &amp; <b>đảo</b>" in out


def test_fragments_are_whole_words_within_the_limit_and_in_text_order():
    filler = " ".join(f"từ{i}" for i in range(400))
    text = f"cải cách đầu. {filler} cải cách hành chính giữa. {filler} cải cuối. {filler}"
    out = highlight(text, words("cải cách hành chính"))
    parts = out.split(BETWEEN)
    assert len(parts) == 2
    plain = [BOLD.sub(r"\1", p) for p in parts]
    for p in plain:
        assert len(p) <= SNIPPET_CHARS
        assert p.split()[0] in text.split() and p.split()[-1] in text.split()  # no cut word
    # the two best (most matches of the most words), shown in text order
    assert plain[0].startswith("cải cách đầu.")
    assert "cải cách hành chính giữa." in plain[1]
    assert "cuối" not in out


def test_context_before_and_after_a_match():
    text = " ".join(f"w{i}" for i in range(100)) + " MATCH " + " ".join(f"v{i}" for i in range(99))
    plain = BOLD.sub(r"\1", highlight(text, frozenset({"match"})))
    before, after = plain.split("MATCH")
    assert 40 <= len(before) <= 61
    assert 40 <= len(after) <= 61
    assert plain.split()[0].startswith("w") and plain.split()[-1].startswith("v")


def test_nothing_matched_and_the_fallbacks():
    assert highlight("không có gì", words("cải cách")) == ""
    assert snippet("thân bài", "dẫn <b>", frozenset()) == "dẫn &lt;b&gt;"
    # the body first, else the lead, else (only the title matched) the plain lead
    assert snippet("cải cách", "dẫn có cải cách", words("cai")) == "<b>cải</b> cách"
    assert snippet("thân bài", "dẫn có cải cách", words("cai")) == "dẫn có <b>cải</b> cách"
    assert snippet("thân bài", "dẫn", words("cải")) == "dẫn"
    long = "chữ " * 200
    out = snippet(long, "", words("không"))
    assert out.endswith(" …") and len(out) <= SNIPPET_CHARS + 2


def test_nfd_text():
    text = unicodedata.normalize("NFD", "Dịch vụ công ở Đắk Lắk")
    assert BOLD.findall(highlight(text, words("Đắk Lắk"))) == ["Đắk", "Lắk"]
