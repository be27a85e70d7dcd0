"""Build a Word "web page" saved under a ``.doc`` name, as district portals often attach.

Word's *Save as Web Page* writes HTML (Office namespaces, an embedded ``<xml>`` block,
conditional comments, ``MsoNormal`` classes) in the system's code page; on a Vietnamese
Windows that is windows-1258, where most toned letters are a base letter followed by a
combining tone mark. Portals then upload it as ``ke-hoach.doc``. This plan of huyện Phú Lộc
(Kế hoạch 215/KH-UBND, cited by the sample article p02) is written for the sample portals:
the text is ours, not a real document.

Run ``python -m scraper.sample_portals.word_html`` to regenerate
``data/files/ke-hoach-215-kh-ubnd-2023.doc`` (committed; the build is byte-for-byte stable).
"""

from __future__ import annotations

import html
import unicodedata

from .content import FILES_DIR

TARGET = FILES_DIR / "ke-hoach-215-kh-ubnd-2023.doc"
_TONES = "\u0300\u0301\u0303\u0309\u0323"  # the combining marks windows-1258 has

HEADER_LEFT = ["ỦY BAN NHÂN DÂN", "HUYỆN PHÚ LỘC", "", "Số: 215/KH-UBND"]
HEADER_RIGHT = [
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
    "",
    "Phú Lộc, ngày 04 tháng 8 năm 2023",
]
TITLE = "KẾ HOẠCH"
SUBJECT = "Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính trên địa bàn huyện năm 2023"
BODY = [
    "Căn cứ Quyết định số 06/QĐ-TTg ngày 06/01/2022 của Thủ tướng Chính phủ phê duyệt Đề án "
    "phát triển ứng dụng dữ liệu về dân cư, định danh và xác thực điện tử phục vụ chuyển đổi "
    "số quốc gia giai đoạn 2022 - 2025, tầm nhìn đến năm 2030;",
    "Ủy ban nhân dân huyện ban hành Kế hoạch số hóa hồ sơ, kết quả giải quyết thủ tục hành "
    "chính trên địa bàn huyện năm 2023, cụ thể như sau:",
    "I. MỤC ĐÍCH, YÊU CẦU",
    "- 100% hồ sơ tiếp nhận tại Bộ phận một cửa huyện được số hóa ngay khi tiếp nhận;",
    "- Kết quả giải quyết thủ tục hành chính còn hiệu lực được số hóa, ký số và lưu trữ trên "
    "Hệ thống thông tin giải quyết thủ tục hành chính của tỉnh.",
    "II. NHIỆM VỤ",
    "1. Văn phòng HĐND và UBND huyện chủ trì, hướng dẫn công chức một cửa cấp xã thực hiện "
    "số hóa; ưu tiên lĩnh vực hộ tịch, chứng thực, đất đai.",
    "2. Phòng Văn hóa và Thông tin tổ chức tập huấn, bảo đảm hạ tầng, chữ ký số.",
]
RECIPIENTS = [
    "UBND tỉnh (b/c);",
    "Các phòng, ban thuộc huyện;",
    "UBND các xã, thị trấn;",
    "Lưu: VT.",
]
SIGNATURE = ["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "", "Hoàng Văn Lộc"]

HEAD = """<html xmlns:v="urn:schemas-microsoft-com:vml"
xmlns:o="urn:schemas-microsoft-com:office:office"
xmlns:w="urn:schemas-microsoft-com:office:word"
xmlns="http://www.w3.org/TR/REC-html40">

<head>
<meta http-equiv=Content-Type content="text/html; charset=windows-1258">
<meta name=ProgId content=Word.Document>
<meta name=Generator content="Microsoft Word 11">
<title>KE HOACH</title>
<!--[if gte mso 9]><xml>
 <w:WordDocument>
  <w:View>Print</w:View>
  <w:Zoom>100</w:Zoom>
 </w:WordDocument>
</xml><![endif]-->
<style>
<!--
p.MsoNormal, li.MsoNormal {margin:0in; font-size:14.0pt; font-family:"Times New Roman";}
-->
</style>
</head>

<body lang=EN-US style='tab-interval:.5in'>
<div class=Section1>
"""


def _p(text: str, *, center: bool = False, bold: bool = False) -> str:
    if not text:
        return "<p class=MsoNormal>&nbsp;</p>"
    inner = html.escape(text, quote=False)
    if bold:
        inner = f"<b style='mso-bidi-font-weight:normal'>{inner}</b>"
    align = " align=center style='text-align:center'" if center else ""
    return f"<p class=MsoNormal{align}><span lang=VI>{inner}</span></p>"


def _cell(lines: list[str], width: int) -> str:
    paras = "\n".join(_p(t, center=True, bold=t.isupper()) for t in lines)
    return f"<td width={width} valign=top style='width:{width}pt;padding:0in'>\n{paras}\n</td>"


def _bullet(text: str) -> str:
    return (
        "<p class=MsoNormal style='margin-left:.25in;text-indent:-.25in;mso-list:l0 level1 lfo1'>"
        "<![if !supportLists]><span lang=VI>-<span style='font:7.0pt \"Times New Roman\"'>"
        "&nbsp;&nbsp;&nbsp; </span></span><![endif]>"
        f"<span lang=VI>{html.escape(text, quote=False)}</span></p>"
    )


def build_html() -> str:
    parts = [HEAD, "<table border=0 cellspacing=0 cellpadding=0>", "<tr>"]
    parts += [_cell(HEADER_LEFT, 200), _cell(HEADER_RIGHT, 280), "</tr>", "</table>"]
    parts += [_p(""), _p(TITLE, center=True, bold=True), _p(SUBJECT, center=True, bold=True)]
    parts += [_p("")]
    for text in BODY:
        parts.append(_bullet(text[2:]) if text.startswith("- ") else _p(text))
    parts += [_p(""), "<table border=0 cellspacing=0 cellpadding=0>", "<tr>"]
    left = "\n".join([_p("Nơi nhận:", bold=True)] + [_p(f"- {r}") for r in RECIPIENTS])
    parts += [f"<td width=200 valign=top>\n{left}\n</td>", _cell(SIGNATURE, 280)]
    parts += ["</tr>", "</table>", "</div>", "</body>", "", "</html>", ""]
    return "\n".join(parts)


def encode_cp1258(text: str) -> bytes:
    """windows-1258 as Word writes it: precomposed where the code page has the letter, else
    the base letter (with its circumflex, breve or horn) and a combining tone mark."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            nfd = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in nfd if c not in _TONES))
            out += (base + "".join(c for c in nfd if c in _TONES)).encode("cp1258")
    return bytes(out)


def build() -> bytes:
    return encode_cp1258(build_html().replace("\n", "\r\n"))


if __name__ == "__main__":
    TARGET.write_bytes(build())
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")
