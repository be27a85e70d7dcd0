from __future__ import annotations

import pickle
import unicodedata
from collections import defaultdict
from pathlib import Path

import pytest

from archive.text import fold_lower, search_form
from search.analysis import (
    EXACT_PREFIX,
    VietnameseAnalyzer,
    analyze_query,
    normalise_doc_number,
)

# Unedited copies of shared/samples/seeds.
SEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "seeds"
ANA = VietnameseAnalyzer()


def tokens(text: str, mode: str = "index") -> list[tuple[str, int]]:
    return [(t.text, t.pos) for t in ANA(text, positions=True, mode=mode)]


def test_folded_and_exact_forms_share_a_position():
    assert tokens("Cải cách ĐVHC") == [
        ("cai", 0),
        (EXACT_PREFIX + "cải", 0),
        ("cach", 1),
        (EXACT_PREFIX + "cách", 1),
        ("dvhc", 2),
        (EXACT_PREFIX + "đvhc", 2),
    ]


def test_words_without_marks_get_one_token():
    assert tokens("UBND quan") == [("ubnd", 0), ("quan", 1)]


def test_exact_form_uses_canonical_tone_placement():
    assert tokens("hoà") == tokens("hòa") == [("hoa", 0), (EXACT_PREFIX + "hòa", 0)]
    assert tokens("THUỶ") == [("thuy", 0), (EXACT_PREFIX + "thủy", 0)]


def test_single_digits_and_short_words_are_kept():
    assert [t for t, _ in tokens("mức độ 3, ô 1")] == [
        "muc",
        "=mức",
        "do",
        "=độ",
        "3",
        "o",
        "=ô",
        "1",
    ]


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("139/KH-UBND", "139/kh-ubnd"),
        ("139/kh-ubnd", "139/kh-ubnd"),
        ("139 /KH-UBND", "139/kh-ubnd"),
        ("139/ KH-UBND", "139/kh-ubnd"),
        ("139/KH.UBND", "139/kh-ubnd"),
        ("139/KH-\nUBND", "139/kh-ubnd"),
        ("35/2023/UBTVQH15", "35/2023/ubtvqh15"),
        ("07/2022/QĐ-UBND", "7/2022/qd-ubnd"),
        ("7/2022/QD-UBND", "7/2022/qd-ubnd"),
        ("37-NQ/TW", "37-nq/tw"),
        ("48-KL/TW", "48-kl/tw"),
        ("123/UBND-VP", "123/ubnd-vp"),
        ("117/NQ-CP", "117/nq-cp"),
        ("10/2024/NQ-HĐND", "10/2024/nq-hdnd"),
        ("05/CT-TTg", "5/ct-ttg"),
    ],
)
def test_document_numbers_are_one_normalised_token(written: str, normalised: str):
    assert normalise_doc_number(written) == normalised
    toks = tokens(f"theo Kế hoạch số {written} ngày 29/3/2024")
    assert (normalised, 4) in toks
    # nothing of the number leaks out as separate words
    assert not any(t in {"kh", "ubnd", "ubtvqh15", "qd", "tw", "=qđ"} for t, _ in toks)


def test_bare_number_is_indexed_at_the_same_position_but_not_queried():
    assert tokens("số 139/KH-UBND") == [
        ("so", 0),
        ("=số", 0),
        ("139/kh-ubnd", 1),
        ("139", 1),
    ]
    assert [t.folded for t in analyze_query("139/KH-UBND")] == ["139/kh-ubnd"]


def test_dates_and_ranges_are_not_document_numbers():
    assert [t for t, _ in tokens("ngày 29/3/2024, giai đoạn 2023-2025, 50 tấn/ha")] == [
        "ngay",
        "=ngày",
        "29",
        "3",
        "2024",
        "giai",
        "doan",
        "=đoạn",
        "2023",
        "2025",
        "50",
        "tan",
        "=tấn",
        "ha",
    ]
    assert normalise_doc_number("29/3/2024") is None
    assert normalise_doc_number("Số: /KH-UBND") is None


def test_char_offsets_point_into_the_original_text():
    text = "Ủy ban nhân dân quận ban hành Kế hoạch 139 /KH-UBND về ĐVHC."
    seen = 0
    for t in ANA(text, chars=True, positions=True):
        piece = text[t.startchar : t.endchar]
        if t.text.startswith(EXACT_PREFIX):
            assert search_form(piece) == t.text[1:]
        elif "/" in t.text:
            assert piece == "139 /KH-UBND"
            assert normalise_doc_number(piece) == t.text
        elif t.text == "139":
            assert piece == "139 /KH-UBND"
        else:
            assert fold_lower(piece) == t.text
        seen += 1
    assert seen == 22


def test_nfd_input_gives_the_same_tokens_as_nfc():
    text = "Thủy lợi, hoà giải, Đắk Lắk, 07/2022/QĐ-UBND"
    assert tokens(unicodedata.normalize("NFD", text)) == tokens(text)


def test_query_tokens():
    toks = analyze_query("cải cach 139 /kh-ubnd")
    assert [(t.folded, t.exact, t.doc_number) for t in toks] == [
        ("cai", "=cải", False),
        ("cach", None, False),
        ("139/kh-ubnd", None, True),
    ]


def test_fast_path_matches_token_stream_on_seed_texts():
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    assert texts, "seed texts missing"
    for text in texts:
        ref: dict[str, list[int]] = defaultdict(list)
        for t in ANA(text, positions=True):
            ref[t.text].append(t.pos)
        assert ANA.position_lists(text) == dict(ref)


def test_seed_document_numbers_are_found():
    text = (SEEDS / "001_d71f2da037f574f8.txt").read_text(encoding="utf-8")
    terms = ANA.position_lists(text)
    for number in ("117/nq-cp", "217/kh-ubnd", "37-nq/tw", "48-kl/tw"):
        assert number in terms


def test_analyzer_pickles_and_compares_equal():
    assert pickle.loads(pickle.dumps(ANA)) == ANA


def test_fast_format_stores_what_whoosh_positions_stores():
    # the same terms, frequencies, weights and positions as Whoosh's Positions; the value
    # holds the positions as raw 32-bit integers (search.postings decodes many at once)
    from whoosh.formats import Positions

    from search.analysis import VietnamesePositions, decode_positions, encode_positions

    text = (SEEDS / "000_79a1da586a8a92eb.txt").read_text(encoding="utf-8")
    ours = sorted(VietnamesePositions(field_boost=2.5).word_values(text, ANA))
    whoosh = sorted(Positions(field_boost=2.5).word_values(text, ANA))
    assert [x[:3] for x in ours] == [x[:3] for x in whoosh]
    assert any(freq == 1 for _, freq, _, _ in ours) and any(freq > 1 for _, freq, _, _ in ours)
    fmt = VietnamesePositions(field_boost=2.5)
    for (_, freq, weight, value), (_, _, _, theirs) in zip(ours, whoosh, strict=True):
        assert fmt.decode_positions(value) == Positions().decode_positions(theirs)
        assert fmt.decode_frequency(value) == freq
        assert fmt.decode_weight(value) == weight
    assert fmt.combine([encode_positions([3, 9]), encode_positions([1, 9])]) == encode_positions(
        [1, 3, 9]
    )
    joined = encode_positions([5]) + encode_positions([70_000, 2**31])
    assert decode_positions(joined) == [5, 70_000, 2**31]
