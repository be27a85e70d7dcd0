from __future__ import annotations

import unicodedata

import pytest

from archive.text import (
    canonical_tones,
    canonical_tones_nfc,
    clean,
    clean_paragraphs,
    fold,
    fold_lower,
    nfc,
    search_form,
)


def nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


@pytest.mark.parametrize(
    ("new_style", "traditional"),
    [
        ("hoà", "hòa"),
        ("hoá", "hóa"),
        ("hoạ", "họa"),
        ("khoẻ", "khỏe"),
        ("thuỷ", "thủy"),
        ("huỷ", "hủy"),
        ("tuý", "túy"),
        ("Hoà", "Hòa"),
        ("HOÀ", "HÒA"),
        ("THUỶ", "THỦY"),
        ("Uỷ ban", "Ủy ban"),
        ("Văn hoá", "Văn hóa"),
        ("hoà bình, khoẻ mạnh.", "hòa bình, khỏe mạnh."),
    ],
)
def test_canonical_tones_maps_both_placements_to_traditional(new_style: str, traditional: str):
    assert canonical_tones(new_style) == traditional
    assert canonical_tones(traditional) == traditional


@pytest.mark.parametrize(
    "word",
    ["hoàn", "hoạch", "thuyền", "quyết", "huỳnh", "khuỷu", "ngoáy", "khoái", "quý", "Quý", "quỳ"],
)
def test_canonical_tones_leaves_unambiguous_syllables_alone(word: str):
    assert canonical_tones(word) == word


def test_canonical_tones_fixes_tone_on_the_u_of_qu():
    assert canonical_tones("qúy") == "quý"
    assert canonical_tones("QÚY") == "QUÝ"


def test_canonical_tones_accepts_nfd_and_returns_nfc():
    out = canonical_tones(nfd("Thuỷ lợi hoà hợp"))
    assert out == "Thủy lợi hòa hợp"
    assert unicodedata.is_normalized("NFC", out)


def test_canonical_tones_nfc_keeps_length():
    s = "hoà khoẻ thuỷ quý hoàn " * 3
    assert len(canonical_tones_nfc(s)) == len(s)


def test_search_form_lower_cases_and_canonicalises():
    assert search_form("HOÀ Bình") == "hòa bình"


def test_fold_removes_all_marks_and_maps_d_bar_keeping_case():
    assert fold("Cải cách hành chính") == "Cai cach hanh chinh"
    assert fold("ĐVHC đơn vị Đường") == "DVHC don vi Duong"
    assert fold("ươ ƯƠ ă Â ê ô ơ ư") == "uo UO a A e o o u"
    assert fold_lower("ĐVHC Thủy") == "dvhc thuy"


def test_fold_handles_nfd_input():
    assert fold(nfd("Đắk Lắk thuỷ")) == "Dak Lak thuy"
    assert fold_lower(nfd("ĐẮK")) == "dak"


def test_fold_is_the_same_for_both_tone_placements():
    assert fold("hoà") == fold("hòa") == "hoa"


def test_nfc():
    assert nfc(nfd("Hà Nội")) == "Hà Nội"
    assert nfc("ascii") == "ascii"


def test_clean_collapses_whitespace_including_nbsp_and_drops_invisibles():
    assert clean("  Kế\u00a0\u00a0hoạch\t số\n139\u200b ") == "Kế hoạch số 139"
    assert clean(nfd(" Hà\u00a0Nội ")) == "Hà Nội"


def test_clean_paragraphs_keeps_one_newline_between_paragraphs():
    text = "  Đoạn   một\u00a0 \r\n\r\n\n Đoạn\thai \n  \n"
    assert clean_paragraphs(text) == "Đoạn một\nĐoạn hai"
    assert clean_paragraphs(text, sep="\n\n") == "Đoạn một\n\nĐoạn hai"
