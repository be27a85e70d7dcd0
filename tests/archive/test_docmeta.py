"""Header and closing of administrative documents (archive.docmeta).

Expected values for the real documents were read by eye from the documents' text (the
fixtures under tests/fixtures/attachments/texts, extracted once from shared/samples/real with
pypdfium2 and python-docx), not copied from the parser's output. One test per field group, so
a failure names the field.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.docmeta import DocMeta, parse_document

TEXTS = Path(__file__).resolve().parent.parent / "fixtures" / "attachments" / "texts"


def read(name: str) -> str:
    paths = sorted(TEXTS.glob(name))
    assert paths, f"{name} missing under {TEXTS}"
    return paths[0].read_text(encoding="utf-8")


# --- Expectations for the real documents -------------------------------------------------

QD_07_RECIPIENTS = [
    "Như Điều 3",
    "Sở Xây dựng",
    "Sở Giao thông vận tải",
    "Sở Công thương",
    "Sở Khoa học và Công nghệ",
    "TT. Huyện ủy, TT. HĐND huyện",
    "Chủ tịch và các PCT UBND huyện",
    "Cổng TTĐT huyện",
    "Lưu: VT",
]
QD_07 = {
    "issuer": "ỦY BAN NHÂN DÂN HUYỆN AN PHÚ",
    "issuer_parent": None,
    "number": "07/2022/QĐ-UBND",
    "number_raw": "07/2022/QĐ-UBND",
    "kind": "Quyết định",
    "place": "An Phú",
    "date": date(2022, 6, 16),
    "date_partial": None,
    "subject": "Ban hành Quy định chức năng, nhiệm vụ, quyền hạn và cơ cấu tổ chức của "
    "Phòng Kinh tế - Hạ tầng huyện An Phú",
    "recipients": QD_07_RECIPIENTS,
    "signer": "Trần Hòa Hợp",
    "signer_title": "CHỦ TỊCH",
    "signer_authority": "TM. ỦY BAN NHÂN DÂN",
    "complete": True,
}

EXPECTED: dict[str, dict[str, object]] = {
    # Seed 001 starts at "Số: /KH-UBND": the issuer lines were not captured, the number and
    # the day are blank (a draft), the month and year are printed.
    "001_*.txt": {
        "issuer": None,
        "issuer_parent": None,
        "number": None,
        "number_raw": "/KH-UBND",
        "kind": "Kế hoạch",
        "place": "Thanh Xuân",
        "date": None,
        "date_partial": "2024-03",
        "subject": "Thông tin, tuyên truyền về thực hiện sắp xếp đơn vị hành chính giai đoạn "
        "2023-2025 trên địa bàn quận Thanh Xuân",
        "recipients": [
            "UBND thành phố Hà Nội",
            "Sở Nội vụ Hà Nội",
            "Sở Thông tin và Truyền thông Hà Nội",
            "Sở Văn hóa và Thể thao Hà Nội",
            "Thường trực Quận ủy",
            "TT. HĐND, Lãnh đạo UBND quận",
            "Các Ban XD Đảng; VP. Quận ủy",
            "UB MTTQ, các tổ chức CT-XH quận",
            "Các phòng, ban, đơn vị thuộc quận",
            "Đảng ủy, UBND các phường",
            "Các trường học trên địa bàn",
            "Lưu: VT, VH&TT",
        ],
        "signer": "Đặng Khánh Hòa",
        "signer_title": "PHÓ CHỦ TỊCH",
        "signer_authority": "TM. ỦY BAN NHÂN DÂN / KT. CHỦ TỊCH",
        "complete": False,  # no issuer
    },
    # Word file: header in a table, "ngày  16  tháng" with double spaces, blank paragraphs.
    "anphu.angiang.gov.vn__qd-07-2022-qd-ubnd-chuc-nang-phong-kt-ht.txt": QD_07,
    # The same decision, signed PDF: CRLF lines, a page number "2" inside the body.
    "anphu.angiang.gov.vn__qd-07-2022-qd-ubnd-chuc-nang-phong-kt-ht-signed.txt": QD_07,
    # Signed PDF: page number "1" before the header, "Số: 04/TB-UBND An Phú, ngày …" on one
    # line (number and place-date columns flattened together).
    "anphu.angiang.gov.vn__tb-thu-hoi-dat-signed.txt": {
        "issuer": "ỦY BAN NHÂN DÂN HUYỆN AN PHÚ",
        "issuer_parent": None,
        "number": "04/TB-UBND",
        "number_raw": "04/TB-UBND",
        "kind": "Thông báo",
        "place": "An Phú",
        "date": date(2023, 2, 9),
        "date_partial": None,
        "subject": "Về việc thu hồi đất để thực hiện dự án Cầu Đa Phước - Vĩnh Trường, "
        "huyện An Phú, tỉnh An Giang",
        "recipients": [
            "Chủ tịch và PCT UBND huyện",
            "Ban QLDAĐT XD khu vực huyện",
            "Phòng TN và MT",
            "Đài truyền thanh huyện",
            "Đăng cổng thông tin điện tử",
            "UBND xã Đa Phước",
            "UBND xã Vĩnh Trường",
            "Lưu: VT",
        ],
        "signer": "Nguyễn Thị Phướng",
        "signer_title": "PHÓ CHỦ TỊCH",
        "signer_authority": "TM. ỦY BAN NHÂN DÂN / KT. CHỦ TỊCH",
        "complete": True,
    },
    # Signed PDF of UBND huyện Chợ Mới: both header columns on each line, "Nơi nhận: TM. ỦY
    # BAN NHÂN DÂN" on one line, and the attached Quy định (its own header) after the name.
    "longxuyen.angiang.gov.vn__qd-04-2021-ubnd-cho-moi-chuc-nang-phong-tnmt-signed.txt": {
        "issuer": "ỦY BAN NHÂN DÂN HUYỆN CHỢ MỚI",
        "issuer_parent": None,
        "number": "04/2021/QĐ-UBND",
        "number_raw": "04/2021/QĐ-UBND",
        "kind": "Quyết định",
        "place": "Chợ Mới",
        "date": date(2021, 12, 17),
        "date_partial": None,
        "subject": "Ban hành Quy định chức năng, nhiệm vụ, quyền hạn và cơ cấu tổ chức của "
        "Phòng Tài nguyên và Môi trường",
        "recipients": [
            "Như điều 3",
            "Sở TN&MT",
            "Sở Tư pháp",
            "TT HU, HĐND huyện",
            "CT, các PCT UBND huyện",
            "Các ban ngành, đoàn thể huyện",
            "UBND các xã, thị trấn",
            "Cổng thông tin điện tử huyện",
            "Lưu: VT, PTNMT",
        ],
        "signer": "Cù Minh Trọng",
        "signer_title": "CHỦ TỊCH",
        "signer_authority": "TM. ỦY BAN NHÂN DÂN",
        "complete": True,
    },
}
FIELDS = list(DocMeta.__dataclass_fields__)
CASES = [(doc, name) for doc in EXPECTED for name in FIELDS]


@pytest.fixture(scope="module")
def parsed() -> dict[str, DocMeta]:
    return {doc: parse_document(read(doc)) for doc in EXPECTED}


@pytest.mark.parametrize(("doc", "name"), CASES, ids=[f"{d[:24]}-{n}" for d, n in CASES])
def test_real_document_field(parsed: dict[str, DocMeta], doc: str, name: str) -> None:
    assert getattr(parsed[doc], name) == EXPECTED[doc][name]


# The fixture texts above pin the parser; these run the real files through the pipeline's
# own text extraction (archive.doctext), whose layout differs: a Word table row is one line of
# tab-separated cells, each cell's paragraphs joined.
REAL_WITH_TEXT = [n[: -len(".txt")] for n in EXPECTED if n.startswith(("anphu", "longxuyen"))]


@pytest.fixture(scope="module")
def parsed_from_files() -> dict[str, DocMeta]:
    from archive.doctext import extract_text
    from scraper.sample_portals.content import REAL_FILES, real_file

    out = {}
    for stem in REAL_WITH_TEXT:
        name = next(n for n in REAL_FILES if n.rsplit(".", 1)[0] == stem)
        path = real_file(name)
        out[stem] = parse_document(extract_text(path.read_bytes(), path.name, ocr=False).text)
    return out


@pytest.mark.parametrize("stem", REAL_WITH_TEXT)
def test_real_file_through_text_extraction(
    parsed_from_files: dict[str, DocMeta], stem: str
) -> None:
    got, want = parsed_from_files[stem], EXPECTED[stem + ".txt"]
    wrong = {k: getattr(got, k) for k in FIELDS if getattr(got, k) != want[k]}
    assert not wrong, wrong


def test_every_fixture_text_has_expectations() -> None:
    names = {p.name for p in TEXTS.glob("*.txt")}
    covered = {p.name for pattern in EXPECTED for p in TEXTS.glob(pattern)}
    assert names == covered


def test_word_and_signed_pdf_agree(parsed: dict[str, DocMeta]) -> None:
    docx = parsed["anphu.angiang.gov.vn__qd-07-2022-qd-ubnd-chuc-nang-phong-kt-ht.txt"]
    pdf = parsed["anphu.angiang.gov.vn__qd-07-2022-qd-ubnd-chuc-nang-phong-kt-ht-signed.txt"]
    assert docx == pdf


# --- Synthetic layouts --------------------------------------------------------------------

ALTERNATING_TWO_LEVELS = """\
UBND TỈNH AN GIANG
CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM
SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG
Độc lập – Tự do – Hạnh phúc
-----------------
Số: 123/KH-STNMT
Long Xuyên, ngày 5 tháng 4 năm 2024
KẾ HOẠCH
Kiểm tra công tác bảo vệ môi trường
năm 2024
Thực hiện Quyết định số 10/QĐ-UBND ngày 2/1/2024 của UBND tỉnh;
Nơi nhận:
- UBND tỉnh (b/c);
- Lưu: VT.
KT. GIÁM ĐỐC
PHÓ GIÁM ĐỐC
Lê Văn Bình
"""


def test_alternating_header_with_two_issuer_levels() -> None:
    meta = parse_document(ALTERNATING_TWO_LEVELS)
    assert meta.issuer == "SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG"
    assert meta.issuer_parent == "UBND TỈNH AN GIANG"
    assert meta.number == "123/KH-STNMT"
    assert meta.place == "Long Xuyên"
    assert meta.date == date(2024, 4, 5)
    assert meta.kind == "Kế hoạch"
    assert meta.subject == "Kiểm tra công tác bảo vệ môi trường năm 2024"
    assert meta.recipients == ["UBND tỉnh (b/c)", "Lưu: VT"]
    assert meta.signer_authority == "KT. GIÁM ĐỐC"
    assert meta.signer_title == "PHÓ GIÁM ĐỐC"
    assert meta.signer == "Lê Văn Bình"
    assert meta.complete


SAME_LINE_SPLIT_NUMBER = """\
ỦY BAN NHÂN DÂN CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
HUYỆN PHÚ TÂN Độc lập - Tự do - Hạnh phúc
6489703238500
Số: 07/2022/QĐ-
UBND Phú Tân, ngày 16 tháng 6 năm 2022
QUYẾT ĐỊNH
Về việc thành lập Tổ công tác
ỦY BAN NHÂN DÂN HUYỆN PHÚ TÂN
Căn cứ Luật Tổ chức chính quyền địa phương;
QUYẾT ĐỊNH:
Điều 1. Thành lập Tổ công tác./.
"""


def test_two_columns_on_one_line_and_number_split_by_a_line_break() -> None:
    meta = parse_document(SAME_LINE_SPLIT_NUMBER)
    assert meta.issuer == "ỦY BAN NHÂN DÂN HUYỆN PHÚ TÂN"
    assert meta.issuer_parent is None
    assert meta.number == "07/2022/QĐ-UBND"
    assert meta.number_raw == "07/2022/QĐ-UBND"
    assert meta.place == "Phú Tân"
    assert meta.date == date(2022, 6, 16)
    assert meta.kind == "Quyết định"
    assert meta.subject == "Về việc thành lập Tổ công tác"
    # No closing printed: nothing invented, and the document is not complete.
    assert meta.recipients == []
    assert meta.signer is None
    assert not meta.complete


CONG_VAN = """\
Ký bởi: Ủy ban nhân dân huyện An Phú
Email: anphu@angiang.gov.vn
Cơ quan: Tỉnh An Giang
Thời gian ký: 12.06.2023 09:15:00 +07:00
ỦY BAN NHÂN DÂN CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
HUYỆN AN PHÚ Độc lập - Tự do - Hạnh phúc
Số: 1234 /UBND-VP
V/v lấy ý kiến góp ý dự thảo An Phú, ngày 12 tháng 6 năm 2023
Quy chế làm việc của Ủy ban nhân dân huyện
Kính gửi: Các phòng, ban ngành huyện.
Ủy ban nhân dân huyện đề nghị các đơn vị góp ý trước ngày 20/6/2023./.
Nơi nhận: KT. CHỦ TỊCH
- Như trên;
- Lưu: VT. PHÓ CHỦ TỊCH
1
Nguyễn Văn An
"""


def test_cong_van_with_vv_subject_stamps_and_interleaved_closing() -> None:
    meta = parse_document(CONG_VAN)
    assert meta.issuer == "ỦY BAN NHÂN DÂN HUYỆN AN PHÚ"
    assert meta.number == "1234/UBND-VP"
    assert meta.number_raw == "1234 /UBND-VP"
    assert meta.kind == "Công văn"
    assert meta.place == "An Phú"
    assert meta.date == date(2023, 6, 12)
    assert meta.subject == ("lấy ý kiến góp ý dự thảo Quy chế làm việc của Ủy ban nhân dân huyện")
    assert meta.recipients == ["Như trên", "Lưu: VT"]
    assert meta.signer_authority == "KT. CHỦ TỊCH"
    assert meta.signer_title == "PHÓ CHỦ TỊCH"
    # The stamp names the organisation; the printed name wins.
    assert meta.signer == "Nguyễn Văn An"
    assert meta.complete


def test_stamp_is_the_signer_only_when_no_name_is_printed() -> None:
    text = CONG_VAN.replace("Nguyễn Văn An\n", "")
    assert parse_document(text).signer == "Ủy ban nhân dân huyện An Phú"


def test_nfd_input_gives_the_same_result_as_nfc() -> None:
    text = read("anphu.angiang.gov.vn__tb-thu-hoi-dat-signed.txt")
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != text
    meta = parse_document(nfd)
    assert meta == parse_document(text)
    assert meta.signer == "Nguyễn Thị Phướng"
    assert meta.issuer == "ỦY BAN NHÂN DÂN HUYỆN AN PHÚ"


def test_draft_with_blank_day_and_month_keeps_the_year() -> None:
    meta = parse_document("Số:   /BC-UBND\nHà Nội, ngày ... tháng ... năm 2025\nBÁO CÁO\nKết quả")
    assert meta.number is None
    assert meta.number_raw == "/BC-UBND"
    assert meta.date is None
    assert meta.date_partial == "2025"
    assert meta.kind == "Báo cáo"
    assert meta.subject == "Kết quả"


def test_recipient_wrapping_onto_the_next_line() -> None:
    text = (
        "KẾ HOẠCH\nThử nghiệm\nNơi nhận:\n- Sở Tài nguyên và\nMôi trường;\n- Lưu: VT.\n"
        "TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH\nHoàng Minh\n"
    )
    meta = parse_document(text)
    assert meta.recipients == ["Sở Tài nguyên và Môi trường", "Lưu: VT"]
    assert meta.signer == "Hoàng Minh"


def test_motto_first_flattening_and_a_name_in_capitals() -> None:
    text = (
        "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM ỦY BAN NHÂN DÂN\n"
        "Độc lập - Tự do - Hạnh phúc THÀNH PHỐ HÀ NỘI\n"
        "Số: 12/CT-UBND Thành phố Hà Nội, ngày 1 tháng 10 năm 2023\n"
        "CHỈ THỊ\nVề tăng cường kỷ luật\nNội dung./.\n"
        "Nơi nhận:\n- Như trên;\nCHỦ TỊCH\n(Đã ký)\nTRẦN SỸ THANH\n"
    )
    meta = parse_document(text)
    assert meta.issuer == "ỦY BAN NHÂN DÂN THÀNH PHỐ HÀ NỘI"
    assert meta.place == "Thành phố Hà Nội"
    assert meta.date == date(2023, 10, 1)
    assert meta.kind == "Chỉ thị"
    assert meta.recipients == ["Như trên"]
    assert meta.signer_authority is None
    assert meta.signer_title == "CHỦ TỊCH"
    assert meta.signer == "TRẦN SỸ THANH"


def test_kind_from_the_number_code_when_no_type_line_is_printed() -> None:
    meta = parse_document("UBND XÃ AN HÒA\nSố: 15/TB-UBND\nAn Hòa, ngày 3 tháng 2 năm 2024\n")
    assert meta.kind == "Thông báo"
    assert meta.issuer == "UBND XÃ AN HÒA"
    assert meta.subject is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\n ",
        "Số:",
        "Nơi nhận:",
        "QUYẾT ĐỊNH",
        "TM. ỦY BAN NHÂN DÂN",
        "ngày 31 tháng 2 năm 2024",
        "Số: 07/2022/QĐ-",
        "Lorem ipsum dolor sit amet.\n" * 50,
    ],
)
def test_missing_parts_are_none_never_an_exception(text: str) -> None:
    meta = parse_document(text)
    assert isinstance(meta, DocMeta)
    assert not meta.complete


def test_impossible_date_is_not_a_date() -> None:
    meta = parse_document("Số: 1/KH-UBND\nAn Phú, ngày 31 tháng 2 năm 2024\nKẾ HOẠCH\nX")
    assert meta.date is None
    assert meta.date_partial == "2024-02"


# Fragments of real header and closing lines, shuffled: the parser must never raise.
FRAGMENTS = [
    "ỦY BAN NHÂN DÂN",
    "HUYỆN AN PHÚ",
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Số: 07/2022/QĐ-",
    "Số: /KH-UBND",
    "UBND",
    "An Phú, ngày 16 tháng 6 năm 2022",
    "ngày tháng năm 2024",
    "QUYẾT ĐỊNH",
    "V/v góp ý",
    "Nơi nhận: TM. ỦY BAN NHÂN DÂN",
    "- Lưu: VT. PHÓ CHỦ TỊCH",
    "KT. CHỦ TỊCH",
    "Trần Hòa Hợp",
    "Ký bởi:",
    "",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(FRAGMENTS) | st.text(alphabet="ỦYBAN Số:/-KHQĐ.,;ngày0123TMV\r\t"),
        max_size=30,
    ).map("\n".join)
)
def test_arbitrary_text_never_raises(text: str) -> None:
    assert isinstance(parse_document(text), DocMeta)


def test_scan_with_handwritten_number_and_day() -> None:
    """The header of the copier scan (cv-lay-y-kien.pdf) as Tesseract reads it: the number
    (141) and the day (30) are handwritten and come out as letters and punctuation."""
    text = (
        "UBND HUYỆN AN PHÚ CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
        "PHÒNG KINH TẾ - HẠ TẦNG Độc lập - Tự do - Hạnh phúc\n"
        "_Số: lHI /PKTHT-TH An Phú, ngày )Ù tháng 5 năm 2022\n"
        "V/v lẫy ý kiến góp ý dự thảo\n"
        "Quyết định ban hành Quy định chức\n"
        "Kính gửi: Vi\n"
    )
    meta = parse_document(text)
    assert (meta.issuer, meta.issuer_parent) == ("PHÒNG KINH TẾ - HẠ TẦNG", "UBND HUYỆN AN PHÚ")
    assert meta.number is None  # illegible: never guessed
    assert meta.number_raw == "lHI /PKTHT-TH"
    assert (meta.place, meta.date, meta.date_partial) == ("An Phú", None, "2022-05")
    assert meta.kind == "Công văn"
    assert not meta.complete
