"""Legacy-encoded text inside an otherwise Unicode page comes out as Unicode NFC (TCVN3 is
in the corpus: tests/fixtures/pages/custom/baothang-article-04; VNI is built here)."""

from __future__ import annotations

import html

from archive.legacy import encode_vni
from scraper.extract import extract

PARAGRAPHS = [
    "Thực hiện Kế hoạch số 45/KH-UBND ngày 12/3/2023 của UBND huyện về cải cách hành chính, "
    "xã Phước An đã niêm yết công khai thủ tục hành chính tại bộ phận một cửa.",
    "Cán bộ, công chức xã thường xuyên hướng dẫn người dân nộp hồ sơ trực tuyến trên "
    "Cổng dịch vụ công quốc gia, góp phần nâng cao chỉ số hài lòng của người dân.",
]


def _vni(text: str) -> str:
    """How VNI-Times text shows once its bytes are read as windows-1252."""
    return encode_vni(text).decode("cp1252", "replace")


def test_vni_body_is_converted():
    body = "".join(f"<p>{html.escape(_vni(p))}</p>" for p in PARAGRAPHS)
    page = (
        "<html><head><meta charset='utf-8'><title>Tin tức</title></head><body>"
        "<div class='site'><h1 class='entry-title'>Xã Phước An đẩy mạnh cải cách hành chính</h1>"
        "<time class='entry-date published' datetime='2023-05-17T08:00:00+07:00'>17/05/2023"
        f"</time><div class='entry-content'>{body}</div></div></body></html>"
    )
    assert _vni(PARAGRAPHS[0]) != PARAGRAPHS[0]
    result = extract(page, "https://phuocan.example.gov.vn/xa-phuoc-an-day-manh-cchc/")
    assert result.kind == "article"
    assert result.body.split("\n\n") == PARAGRAPHS
    assert result.doc_refs[0]["number"] == "45/KH-UBND"
    assert result.topics == ["cchc"]
