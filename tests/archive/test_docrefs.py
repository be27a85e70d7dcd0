"""Document references: numbers, kinds, dates and issuers as cited in article text.

Seed expectations were written by reading the seed texts, not from the function's output.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import pytest

from archive.docrefs import DocRef, extract_doc_refs, kind_for_code, normalise_number

# Unedited copies of shared/samples/seeds.
SEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "seeds"


def seed(prefix: str) -> str:
    paths = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    assert paths, f"seed {prefix} missing under {SEEDS}"
    return paths[0].read_text(encoding="utf-8")


# --- seeds ------------------------------------------------------------------------------


def test_seed_000_thanh_xuan_plan() -> None:
    assert extract_doc_refs(seed("000")) == [
        DocRef("139/KH-UBND", "Kế hoạch", date(2024, 3, 29), "UBND quận Thanh Xuân"),
    ]


def test_seed_001_plan_document() -> None:
    refs = extract_doc_refs(seed("001"))
    assert refs == [
        DocRef("117/NQ-CP", "Nghị quyết", date(2023, 7, 30), "Chính phủ"),
        DocRef("217/KH-UBND", "Kế hoạch", date(2023, 8, 23), "UBND thành phố Hà Nội"),
        # First cited "của UBND quận", later "của UBND quận Thanh Xuân": the first wins.
        DocRef("200/KH-UBND", "Kế hoạch", date(2023, 8, 30), "UBND quận"),
        DocRef("37-NQ/TW", "Nghị quyết", date(2018, 12, 24), "Bộ Chính trị"),
        DocRef("48-KL/TW", "Kết luận", date(2023, 1, 30), "Bộ Chính trị"),
        DocRef("595/NQ-UBTVQH15", "Nghị quyết", date(2022, 9, 12), "Ủy ban Thường vụ Quốc hội"),
        # "của" and the issuer are split by a page break in the document.
        DocRef("35/2023/UBTVQH15", "Nghị quyết", date(2023, 7, 12), "Ủy ban Thường vụ Quốc hội"),
    ]
    # The draft's own blank number "Số: /KH-UBND" is not a reference.
    assert all(r.number != "/KH-UBND" and not r.number.startswith("/") for r in refs)


def test_seed_002_phu_loc_plan() -> None:
    assert extract_doc_refs(seed("002")) == [
        DocRef("131/KH-UBND", "Kế hoạch", date(2022, 5, 24), "UBND huyện"),
        DocRef("170/KH-UBND", "Kế hoạch", date(2022, 4, 25), "UBND tỉnh"),
        DocRef("76/NQ-CP", "Nghị quyết", date(2021, 7, 15), "Chính phủ"),
        DocRef("5843/KH-UBND", "Kế hoạch", date(2021, 12, 17), "UBND huyện"),
    ]


def test_seed_003_day_month_takes_default_year() -> None:
    text = seed("003")
    assert extract_doc_refs(text, default_year=2017) == [
        DocRef("106/KH-UBND", "Kế hoạch", date(2017, 4, 21), "UBND quận Hai Bà Trưng"),
    ]
    assert extract_doc_refs(text)[0].date is None


def test_seed_004_cites_no_number() -> None:
    assert extract_doc_refs(seed("004")) == []


# --- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("139/KH-UBND", "139/KH-UBND"),
        ("139 /KH-UBND", "139/KH-UBND"),
        ("139/ KH-UBND", "139/KH-UBND"),
        ("139/KH.UBND", "139/KH-UBND"),
        ("139/kh-ubnd", "139/KH-UBND"),
        ("139/KH-\nUBND", "139/KH-UBND"),
        ("139\u00a0/KH–UBND", "139/KH-UBND"),
        ("07/2022/QD-UBND", "07/2022/QĐ-UBND"),
        ("07/2022/qđ-ubnd", "07/2022/QĐ-UBND"),
        ("15/2020/ND-CP", "15/2020/NĐ-CP"),
        ("12/DA-UBND", "12/ĐA-UBND"),
        ("3/NQ-HDND", "3/NQ-HĐND"),
        ("123/QĐ-TTG", "123/QĐ-TTg"),
        ("12/TTR-UBND", "12/TTr-UBND"),
        ("37-NQ/TW", "37-NQ/TW"),
        ("No.42/2013/QH13", "42/2013/QH13"),
        ("35/2023/UBTVQH15", "35/2023/UBTVQH15"),
    ],
)
def test_normalise_number(raw: str, expected: str) -> None:
    assert normalise_number(raw) == expected


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("139/KH-UBND", "Kế hoạch"),
        ("117/NQ-CP", "Nghị quyết"),
        ("07/2022/QĐ-UBND", "Quyết định"),
        ("07/2022/QD-UBND", "Quyết định"),
        ("05-CT/TW", "Chỉ thị"),
        ("48-KL/TW", "Kết luận"),
        ("01/HD-UBND", "Hướng dẫn"),
        ("12/BC-UBND", "Báo cáo"),
        ("12/TTr-UBND", "Tờ trình"),
        ("2/ĐA-UBND", "Đề án"),
        ("15/2020/NĐ-CP", "Nghị định"),
        ("01/2024/TT-BNV", "Thông tư"),
        ("04/TB-UBND", "Thông báo"),
        ("01/CĐ-UBND", "Công điện"),
        ("123/UBND-VP", "Công văn"),
        ("45/UBND", "Công văn"),
        ("35/2023/UBTVQH15", None),
        ("42/2013/QH13", None),
    ],
)
def test_kind_for_code(number: str, kind: str | None) -> None:
    assert kind_for_code(number) == kind


# --- prose ------------------------------------------------------------------------------


def test_writer_variants_are_one_reference() -> None:
    text = (
        "Kế hoạch số 139 /KH-UBND của UBND quận. Tiếp đó, kế hoạch 139/KH.UBND "
        "ngày 29/3/2024 được triển khai; xem thêm 139/kh-ubnd."
    )
    assert extract_doc_refs(text) == [
        DocRef("139/KH-UBND", "Kế hoạch", date(2024, 3, 29), "UBND quận"),
    ]


def test_line_break_and_nbsp_inside_the_number() -> None:
    text = "theo Kế hoạch số 139/KH-\nUBND ngày 29/3/2024 và Quyết định số 12\u00a0/QĐ-UBND"
    assert [r.number for r in extract_doc_refs(text)] == ["139/KH-UBND", "12/QĐ-UBND"]


def test_nfd_text() -> None:
    text = unicodedata.normalize("NFD", "Quyết định số 07/2022/QĐ-UBND ngày 5/5/2022 của UBND tỉnh")
    assert extract_doc_refs(text) == [
        DocRef("07/2022/QĐ-UBND", "Quyết định", date(2022, 5, 5), "UBND tỉnh"),
    ]


def test_kind_word_in_any_case_is_canonical() -> None:
    refs = extract_doc_refs("KẾ HOẠCH SỐ 139/KH-UBND; nghị quyết số 1/NQ-CP; QUYẾT ĐỊNH 2/QĐ-UBND")
    assert [r.kind for r in refs] == ["Kế hoạch", "Nghị quyết", "Quyết định"]


def test_kind_word_wins_over_code_and_generic_words_do_not() -> None:
    refs = extract_doc_refs(
        "Luật Tổ chức chính quyền địa phương số 77/2015/QH13; phổ biến pháp luật số 12/KH-UBND; "
        "thực hiện Kế hoạch của UBND tỉnh tại văn bản số 456/UBND-NC"
    )
    assert [(r.number, r.kind) for r in refs] == [
        ("77/2015/QH13", "Luật"),
        ("12/KH-UBND", "Kế hoạch"),
        ("456/UBND-NC", "Công văn"),
    ]


def test_date_in_words_and_issuer_with_stop_words() -> None:
    text = (
        "Theo Tờ trình số 12/TTr-UBND ngày 3 tháng 4 năm 2024 của UBND huyện về việc; "
        "Công văn số 123/UBND-VP ngày 1/2/2024 của UBND huyện v/v triển khai; "
        "Quyết định số 123/QĐ-TTg ngày 12/01/2024 của Thủ tướng Chính phủ phê duyệt; "
        "Quyết định 1234/QĐ-BVHTTDL của Bộ Văn hóa, Thể thao và Du lịch về; "
        "Kế hoạch số 9/KH-UBND ngày 1/1/2024 của UBND TP. Hà Nội trên địa bàn"
    )
    assert extract_doc_refs(text) == [
        DocRef("12/TTr-UBND", "Tờ trình", date(2024, 4, 3), "UBND huyện"),
        DocRef("123/UBND-VP", "Công văn", date(2024, 2, 1), "UBND huyện"),
        DocRef("123/QĐ-TTg", "Quyết định", date(2024, 1, 12), "Thủ tướng Chính phủ"),
        DocRef("1234/QĐ-BVHTTDL", "Quyết định", None, "Bộ Văn hóa, Thể thao và Du lịch"),
        DocRef("9/KH-UBND", "Kế hoạch", date(2024, 1, 1), "UBND TP. Hà Nội"),
    ]


def test_subject_issuer() -> None:
    text = "Chủ tịch UBND tỉnh vừa ký ban hành Quyết định số 55/QĐ-UBND về công tác CCHC."
    assert extract_doc_refs(text) == [
        DocRef("55/QĐ-UBND", "Quyết định", None, "Chủ tịch UBND tỉnh"),
    ]


def test_year_from_number_or_default() -> None:
    text = "Nghị định số 15/2020/NĐ-CP ngày 3/2 của Chính phủ; Kế hoạch 12/KH-UBND ngày 21/4"
    assert [r.date for r in extract_doc_refs(text, default_year=2024)] == [
        date(2020, 2, 3),
        date(2024, 4, 21),
    ]
    assert [r.date for r in extract_doc_refs(text)] == [date(2020, 2, 3), None]


def test_later_citation_fills_missing_details() -> None:
    text = (
        "Kế hoạch số 12/KH-UBND. Sau đó, Kế hoạch số 12/KH-UBND ngày 1/3/2024 "
        "của UBND xã Tân Minh được bổ sung."
    )
    assert extract_doc_refs(text) == [
        DocRef("12/KH-UBND", "Kế hoạch", date(2024, 3, 1), "UBND xã Tân Minh"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Số: /KH-UBND",
        "ngày 29/3/2024 và ngày 29/03/2024",
        "tỷ lệ 3/4 hồ sơ, phục vụ 24/7",
        "Giải quyết TTHC 024.38585652, An toàn thực phẩm 0868216873",
        "giai đoạn 2023-2025, nhiệm kỳ 2020 – 2025",
        "phòng chống COVID-19 và COVID-19/2020",
        "học sinh lớp 12/A1",
        "mức độ 3, 4 của quận",
    ],
)
def test_not_references(text: str) -> None:
    assert extract_doc_refs(text) == []


def test_empty_text() -> None:
    assert extract_doc_refs("") == []
