"""archive.doctext on the real attachments (copied unedited from shared/samples/real) and on small
generated files (tests/fixtures/attachments/make_fixtures.py writes them)."""

from __future__ import annotations

import random
import time
import unicodedata
import zipfile
from pathlib import Path

import pytest

from archive.doctext import (
    DocText,
    DocTextError,
    _rtf_to_text,
    extract_text,
    ocr_available,
    sniff,
)
from scraper.sample_portals.content import REAL_FILES, real_file

ATTACHMENTS = Path(__file__).resolve().parent.parent / "fixtures" / "attachments"
QD07_DOCX = "anphu.angiang.gov.vn__qd-07-2022-qd-ubnd-chuc-nang-phong-kt-ht.docx"
QD07_PDF = "anphu.angiang.gov.vn__qd-07-2022-qd-ubnd-chuc-nang-phong-kt-ht-signed.pdf"
TB_PDF = "anphu.angiang.gov.vn__tb-thu-hoi-dat-signed.pdf"
QD04_PDF = "longxuyen.angiang.gov.vn__qd-04-2021-ubnd-cho-moi-chuc-nang-phong-tnmt-signed.pdf"
SCAN_PDF = "anphu.angiang.gov.vn__cv-lay-y-kien.pdf"

needs_ocr = pytest.mark.skipif(
    not ocr_available(), reason="tesseract with the 'vie' model is not installed"
)


def _read(name: str) -> bytes:
    path = real_file(name) if name in REAL_FILES else ATTACHMENTS / name
    return path.read_bytes()


_CACHE: dict[tuple[str, bool], DocText] = {}


def _doc(name: str, ocr: bool = True) -> DocText:
    """Each fixture is extracted once per test session (the scan costs seconds of OCR)."""
    key = (name, ocr)
    if key not in _CACHE:
        _CACHE[key] = extract_text(_read(name), name, ocr=ocr)
    return _CACHE[key]


def _assert_clean(doc: DocText) -> None:
    assert unicodedata.is_normalized("NFC", doc.text)
    assert "\r" not in doc.text and "\ufffe" not in doc.text and "\ufffd" not in doc.text
    assert all(line.strip() for line in doc.text.split("\n")), "blank lines are dropped"


# --- real files --------------------------------------------------------------------------------

REAL = [
    # name, kind, pages, method, phrases that the file really says (read from its text)
    (
        QD07_DOCX,
        "docx",
        2,
        "docx",
        [
            "QUYẾT ĐỊNH",
            "Số: 07/2022/QĐ-UBND",
            "An Phú, ngày 16 tháng 6 năm 2022",
            "Phòng Kinh tế - Hạ tầng huyện An Phú",
            "Tờ trình số 169/TTr-PKTHT",
            "TM. ỦY BAN NHÂN DÂN",
            "Trần Hòa Hợp",
        ],
    ),
    (
        QD07_PDF,
        "pdf",
        2,
        "text-layer",
        [
            "QUYẾT ĐỊNH",
            "Số: 07/2022/QĐ-UBND",
            "An Phú, ngày 16 tháng 6 năm 2022",
            "Tờ trình số 169/TTr-PKTHT",  # pdfium's U+FFFE hyphen mapped back
            "Điều 3.",
        ],
    ),
    (
        TB_PDF,
        "pdf",
        3,
        "text-layer",
        [
            "THÔNG BÁO",
            "Số: 04/TB-UBND",
            "An Phú, ngày 09 tháng 02 năm 2023",
            "Cầu Đa Phước - Vĩnh Trường",
            "Căn cứ Luật Đất đai ngày 29 tháng 11 năm 2013;",
        ],
    ),
    (
        QD04_PDF,
        "pdf",
        7,
        "text-layer",
        [
            "HUYỆN CHỢ MỚI",
            "Số: 04/2021/QĐ-UBND",
            "Chợ Mới, ngày 17 tháng 12 năm 2021",
            "Phòng Tài nguyên và Môi trường",
        ],
    ),
]


@pytest.mark.parametrize("name,kind,pages,method,phrases", REAL, ids=[r[0][:40] for r in REAL])
def test_real_file(name: str, kind: str, pages: int, method: str, phrases: list[str]) -> None:
    doc = _doc(name)
    assert (doc.kind, doc.pages, doc.method) == (kind, pages, method)
    assert doc.ocr is False and doc.legacy_encoding is None and doc.warnings == []
    for phrase in phrases:
        assert phrase in doc.text, phrase
    _assert_clean(doc)


def test_real_docx_has_no_drawing_anchor_numbers() -> None:
    # "6489703238500" = wp:posOffset 648970 + 32385 + wp14:pctWidth 0 + wp14:pctHeight 0 of a
    # "Straight Connector" anchor; only w:t text may reach the output.
    text = _doc(QD07_DOCX).text
    assert "6489703238500" not in text
    assert "648970" not in text and "251659264" not in text


def test_real_docx_reading_order_and_tables() -> None:
    lines = _doc(QD07_DOCX).text.split("\n")
    # header table first, one tab-separated row: issuer and number | motto and date
    assert lines[0].split("\t") == [
        "ỦY BAN NHÂN DÂN HUYỆN AN PHÚ Số: 07/2022/QĐ-UBND",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM Độc lập - Tự do - Hạnh phúc "
        "An Phú, ngày 16 tháng 6 năm 2022",
    ]
    assert lines[1] == "QUYẾT ĐỊNH"
    # the signature table is last; the header's PAGE field ("2") adds no line
    assert lines[-1].startswith("Nơi nhận:") and lines[-1].endswith("Trần Hòa Hợp")
    assert "2" not in lines
    # paragraph tabs ("\tCăn cứ ...") became spaces: tabs only separate table cells
    assert sum("\t" in line for line in lines) == 2


def test_docx_and_signed_pdf_agree() -> None:
    words_docx = set(_doc(QD07_DOCX).text.split())
    words_pdf = set(_doc(QD07_PDF).text.split())
    assert len(words_docx & words_pdf) / len(words_docx) > 0.95


@needs_ocr
def test_scan_comes_out_by_ocr() -> None:
    doc = _doc(SCAN_PDF)
    assert (doc.kind, doc.pages, doc.method, doc.ocr) == ("pdf", 2, "ocr", True)
    phrases = [
        "UBND HUYỆN AN PHÚ",
        "PHÒNG KINH TẾ - HẠ TẦNG",
        "Kính gửi",
        "37/2014/NĐ-CP",
        "Phòng Kinh tế - Hạ tầng huyện An Phú",
        "Độc lập - Tự do - Hạnh phúc",
    ]
    found = [p for p in phrases if p in doc.text]
    assert len(found) >= 5, found  # OCR: allow one miss across tesseract versions
    assert len(doc.text) > 2000
    _assert_clean(doc)


def test_scan_without_ocr_warns_instead_of_failing() -> None:
    doc = _doc(SCAN_PDF, ocr=False)
    assert (doc.kind, doc.pages, doc.method, doc.ocr, doc.text) == (
        "pdf",
        2,
        "text-layer",
        False,
        "",
    )
    assert any("page 1: no text layer" in w for w in doc.warnings)


@needs_ocr
def test_ocr_timeout_kills_the_child() -> None:
    start = time.monotonic()
    with pytest.raises(DocTextError, match="timed out after 0.5 s"):
        extract_text(_read(SCAN_PDF), SCAN_PDF, timeout=0.5)
    assert time.monotonic() - start < 3


@needs_ocr
def test_memory_limit_gives_a_clean_error() -> None:
    # rendering the A3 scan at 300 dpi needs more than 80 MiB of address space (it passes at 200)
    with pytest.raises(DocTextError, match="out of memory|memory limit"):
        extract_text(_read(SCAN_PDF), SCAN_PDF, memory_limit=80 << 20)


# --- generated files ---------------------------------------------------------------------------


def test_xlsx() -> None:
    doc = _doc("generated-ke-hoach.xlsx")
    assert (doc.kind, doc.method, doc.pages) == ("xlsx", "openpyxl", None)
    lines = doc.text.split("\n")
    assert lines[0] == "[Kế hoạch]"
    assert lines[1] == "STT\tNội dung\tĐơn vị thực hiện\tThời gian"
    assert "2\tSắp xếp đơn vị hành chính cấp xã\tPhòng Nội vụ\t2024-05-17" in lines
    assert "[Kinh phí]" in lines and "Hội nghị\t15000000" in lines


def test_xls() -> None:
    doc = _doc("generated-bang-bieu.xls")
    assert (doc.kind, doc.method) == ("xls", "xlrd")
    assert doc.text.split("\n") == [
        "[Thủ tục]",
        "STT\tTên thủ tục hành chính\tMức độ",
        "1\tĐăng ký khai sinh\t4",
        "2\tCấp bản sao trích lục hộ tịch\t3",
    ]


def test_odt() -> None:
    doc = _doc("generated-thong-bao.odt")
    assert (doc.kind, doc.method) == ("odt", "odt-xml")
    assert doc.text.split("\n") == [
        "THÔNG BÁO",
        "Về việc lấy ý kiến dự thảo Kế hoạch số 139/KH-UBND",
        "Phường Thanh Xuân Trung",
        "Ghi chú cuối trang",
        "Đơn vị\tHạn gửi",
        "Phòng Nội vụ\t29/3/2024",
        "Thanh Xuân, ngày 29 tháng 3 năm 2024",
        "TM. ỦY BAN NHÂN DÂN",
    ]


def test_rtf_cp1258_and_unicode_escapes() -> None:
    doc = _doc("generated-cong-van.rtf")
    assert (doc.kind, doc.method, doc.legacy_encoding) == ("rtf", "rtf", "cp1258")
    assert doc.text.split("\n") == [
        "Ủy ban nhân dân phường Thanh Xuân Trung",
        "CÔNG VĂN số 123/UBND-VP",
        "Về việc sắp xếp",
        "STT\tNội dung",
        "1\tHội nghị triển khai",
        "Ngày 17 - 05 - 2024",
    ]
    assert "Khong in ra" not in doc.text and "Times New Roman" not in doc.text


def test_rtf_parser_details() -> None:
    text, used = _rtf_to_text(rb"{\rtf1\ansi{\*\foo hidden}a\uc2\u7879\'3f\'3fb\'e9\par}")
    assert text == "aệbé\n" and used == {"cp1252"}
    text, _ = _rtf_to_text(rb"{\rtf1 \u-3913?\u99999999999? x\~y\_z}")  # -3913 = U+F0B7
    assert text == "\uf0b7\ufffd x\u00a0y-z"


def test_tcvn3_docx_is_converted() -> None:
    doc = _doc("generated-tcvn3.docx")
    assert (doc.kind, doc.method, doc.legacy_encoding) == ("docx", "docx", "tcvn3")
    assert "ỦY BAN NHÂN DÂN HUYỆN AN PHÚ" in doc.text
    assert "Thông báo kết luận của Chủ tịch" in doc.text
    assert "đẩy mạnh cải cách hành chính năm 2012" in doc.text
    assert "«" not in doc.text and "¸" not in doc.text


def test_zip_recurses_into_members() -> None:
    doc = _doc("generated-bundle.zip")
    assert (doc.kind, doc.method) == ("zip", "zip")
    assert doc.members == [f"ho-so/{QD07_DOCX}", f"ho-so/{QD07_PDF}"]
    assert f"[ho-so/{QD07_DOCX}]" in doc.text and f"[ho-so/{QD07_PDF}]" in doc.text
    assert doc.text.count("Số: 07/2022/QĐ-UBND") == 2
    assert doc.warnings == ["README.txt: skipped (unrecognised type)"]


def test_zip_depth_and_size_caps() -> None:
    import io

    inner = _read("generated-cong-van.rtf")
    for level in range(3):  # rtf in zip in zip in zip; names that would traverse if written
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("../../etc/inner" + (".zip" if level else ".rtf"), inner)
        inner = buf.getvalue()
        if level == 1:  # two archive levels are read
            doc = extract_text(inner, "nested.zip")
            assert doc.members == ["../../etc/inner.zip", "../../etc/inner.zip/../../etc/inner.rtf"]
            assert "CÔNG VĂN số 123/UBND-VP" in doc.text
    doc = extract_text(inner, "nested.zip")  # the third is not
    assert doc.text == "" and any("deeper than 2" in w for w in doc.warnings)
    doc = extract_text(_read("generated-bundle.zip"), "b.zip", max_bytes=680_000)
    assert len(doc.members) == 1 and any("size cap" in w for w in doc.warnings)


# --- bad input -----------------------------------------------------------------------------------


def test_truncated_pdf_is_a_clean_error() -> None:
    data = _read(TB_PDF)
    for cut in (2000, len(data) // 2):
        with pytest.raises(DocTextError, match="corrupt or unreadable PDF") as err:
            extract_text(data[:cut], "tb.pdf")
        assert "Traceback" not in str(err.value)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_bytes_are_unknown(seed: int) -> None:
    data = random.Random(seed).randbytes(4000)
    doc = extract_text(data, "bao-cao.pdf")
    assert (doc.kind, doc.text, doc.method) == ("unknown", "", "none")
    assert doc.warnings


@pytest.mark.parametrize(
    "data,name",
    [
        (b"%PDF-1.7\n" + random.Random(7).randbytes(3000), "x.pdf"),
        (b"PK\x03\x04" + random.Random(7).randbytes(3000), "x.docx"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "WordDocument".encode("utf-16-le") + bytes(600),
            "x.doc",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "Workbook".encode("utf-16-le") + bytes(600),
            "x.xls",
        ),
    ],
    ids=["pdf", "docx", "doc", "xls"],
)
def test_garbage_behind_magic_bytes_is_a_clean_error(data: bytes, name: str) -> None:
    with pytest.raises(DocTextError) as err:
        extract_text(data, name)
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message


def test_rtf_junk_is_handled() -> None:
    doc = extract_text(b"{\\rtf1 {{{{\\u99999999999 \\'zz x", "a.rtf")
    assert doc.kind == "rtf" and "x" in doc.text


def test_too_large_is_refused_before_parsing() -> None:
    with pytest.raises(DocTextError, match="too large"):
        extract_text(_read(TB_PDF), "tb.pdf", max_bytes=1000)


# --- sniffing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,kind",
    [
        (QD07_PDF, "pdf"),
        (QD07_DOCX, "docx"),
        ("generated-ke-hoach.xlsx", "xlsx"),
        ("generated-bang-bieu.xls", "xls"),
        ("generated-thong-bao.odt", "odt"),
        ("generated-cong-van.rtf", "rtf"),
        ("generated-bundle.zip", "zip"),
    ],
)
def test_sniff_ignores_a_lying_extension(name: str, kind: str) -> None:
    data = _read(name)
    assert sniff(data) == kind
    for lie in ("x.doc", "x.pdf", "x.docx", "x.txt", "x.zip", None):
        assert sniff(data, lie) == kind


def test_sniff_pdf_renamed_docx_is_extracted_as_pdf() -> None:
    doc = extract_text(_read(TB_PDF), "thong-bao.docx")
    assert doc.kind == "pdf" and "Số: 04/TB-UBND" in doc.text


def test_sniff_edge_cases() -> None:
    assert sniff(b"") == "unknown"
    assert sniff(b"just text", "a.pdf") == "unknown"
    assert sniff(b"\xef\xbb\xbf {\\rtf1 x}") == "rtf"
    assert sniff(b"junk before %PDF-1.4 header") == "pdf"
    assert sniff(b"PK\x03\x04broken", "a.docx") == "docx"  # unlistable zip: the name decides
    assert sniff(b"PK\x03\x04broken", "a.pdf") == "zip"


def test_docx_walker_takes_only_text_nodes() -> None:
    from lxml import etree

    from archive.doctext import _DocxWalker

    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    xml = f"""<w:body xmlns:w="{w}"
      xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"
      xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">
      <w:p><w:r><w:t>Trang </w:t></w:r>
        <w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> PAGE </w:instrText></w:r>
        <w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>7</w:t></w:r>
        <w:r><w:fldChar w:fldCharType="end"/></w:r>
        <w:r><w:tab/><w:t>Kế hoạch</w:t><w:br/><w:t>số 139</w:t><w:noBreakHyphen/><w:t>KH</w:t></w:r>
        <w:del><w:r><w:delText>xoá</w:delText></w:r></w:del>
        <w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wp:anchor>
          <wp:positionH><wp:posOffset>648970</wp:posOffset></wp:positionH>
          <w:txbxContent><w:p><w:r><w:t>Hộp chữ</w:t></w:r></w:p></w:txbxContent>
        </wp:anchor></w:drawing></mc:Choice>
        <mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>Hộp chữ</w:t></w:r></w:p>
        </w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r>
      </w:p>
      <w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p><w:p><w:r><w:t>b</w:t></w:r></w:p></w:tc>
        <w:tc><w:tbl><w:tr><w:tc><w:p><w:r><w:t>c</w:t></w:r></w:p></w:tc>
        <w:tc><w:p><w:r><w:t>d</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:tc></w:tr></w:tbl>
    </w:body>"""
    lines = list(_DocxWalker().blocks(etree.fromstring(xml)))
    assert lines == ["Trang  Kế hoạch\nsố 139-KH", "Hộp chữ", "a b\tc d"]


# A Word document saved as a web page and still named .doc, as district portals often
# attach them: Word's markup (namespaces, conditional comments, an embedded <xml> block, a
# mislabelled charset) around a two-column header and signature table.
WORD_HTML = """<html xmlns:o="urn:schemas-microsoft-com:office:office"
xmlns:w="urn:schemas-microsoft-com:office:word">
<head><meta http-equiv=Content-Type content="text/html; charset=windows-1258">
<style>p.MsoNormal {font-family:"Times New Roman"}</style>
<!--[if gte mso 9]><xml><w:WordDocument><w:View>Print</w:View></w:WordDocument></xml>
<![endif]--></head>
<body lang=EN-US>
<table><tr><td><p class=MsoNormal>ỦY BAN NHÂN DÂN<br>HUYỆN AN PHÚ</p>
<p>Số: 12/KH-UBND</p></td><td><p>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</p>
<p>Độc lập - Tự do - Hạnh phúc</p><p>An Phú, ngày 5 tháng 4 năm 2023</p></td></tr></table>
<p class=MsoNormal align=center><b>KẾ HOẠCH</b></p>
<p align=center>Tuyên truyền cải cách hành chính năm 2023</p>
<p></p>
<p>Thực hiện Kế hoạch số 10/KH-UBND của UBND tỉnh:</p>
<p><![if !supportLists]>-<span>&nbsp;&nbsp;</span><![endif]>Mục đích, yêu cầu.</p>
<script>document.write("<p>injected</p>")</script>
<table><tr><td><p><b>Nơi nhận:</b></p><p>- UBND tỉnh;</p><p>- Lưu: VT.</p></td>
<td><p>TM. ỦY BAN NHÂN DÂN</p><p>CHỦ TỊCH</p><p>Nguyễn Văn An</p></td></tr></table>
<table><tr><td>Ô 1</td><td>Ô 2</td></tr></table>
</body></html>"""


def test_word_web_page_saved_as_doc() -> None:
    from archive.docmeta import parse_document

    assert sniff(WORD_HTML.encode("utf-8"), "ke-hoach.doc") == "html"
    doc = extract_text(WORD_HTML.encode("utf-8"), "ke-hoach.doc")
    assert (doc.kind, doc.method, doc.warnings) == ("html", "html", [])
    lines = doc.text.split("\n")
    assert lines[:3] == ["ỦY BAN NHÂN DÂN", "HUYỆN AN PHÚ", "Số: 12/KH-UBND"]
    assert "injected" not in doc.text and "Print" not in doc.text and "MsoNormal" not in doc.text
    assert "- Mục đích, yêu cầu." in lines  # Word's list bullet kept, its markers gone
    assert lines[-1] == "Ô 1\tÔ 2"  # a row of one-line cells stays a tab-separated row
    meta = parse_document(doc.text)
    assert (meta.issuer, meta.number, meta.kind) == (
        "ỦY BAN NHÂN DÂN HUYỆN AN PHÚ",
        "12/KH-UBND",
        "Kế hoạch",
    )
    assert (meta.place, meta.date.isoformat()) == ("An Phú", "2023-04-05")
    assert meta.subject == "Tuyên truyền cải cách hành chính năm 2023"
    assert (meta.signer, meta.recipients) == ("Nguyễn Văn An", ["UBND tỉnh", "Lưu: VT"])


def test_html_sniffing_needs_markup_at_the_start() -> None:
    assert sniff(b"\xef\xbb\xbf  <!DOCTYPE html><html><body>x</body></html>", "a.doc") == "html"
    assert sniff(b'<?xml version="1.0"?>\n<html xmlns="x"><body/></html>', "a.htm") == "html"
    assert sniff(b"plain text that mentions <html> later", "a.doc") == "unknown"
    assert extract_text(b"<html></html>", "empty.doc").text == ""


def test_real_word_97_document() -> None:
    """A binary .doc written by Word (olefile's test file): read by antiword."""
    data = (ATTACHMENTS / "olefile-test-ole-file.doc").read_bytes()
    assert sniff(data, "x.bin") == "doc"
    doc = extract_text(data, "test-ole-file.doc")
    assert (doc.kind, doc.method) == ("doc", "antiword")
    assert doc.text == "Test OLE file, saved as Word 97-2003 Document."
