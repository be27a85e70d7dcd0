"""Build the seed-001 plan (Kế hoạch 139/KH-UBND) as a minimal DOCX with zipfile only.

Run ``python -m scraper.sample_portals.docx`` to regenerate
``data/files/ke-hoach-139-kh-ubnd-2024.docx`` (committed; the build is byte-for-byte stable).
"""

from __future__ import annotations

import unicodedata
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from .content import DATA_DIR, FILES_DIR

SOURCE = DATA_DIR / "quan-thanh-xuan" / "ke-hoach-139-kh-ubnd-2024.txt"
TARGET = FILES_DIR / "ke-hoach-139-kh-ubnd-2024.docx"
# The seed text starts below the header table; restore the two header lines a plan carries.
HEADER = [
    "ỦY BAN NHÂN DÂN QUẬN THANH XUÂN",
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
]
CENTRED = {"KẾ HOẠCH", *HEADER}

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"""
RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"""
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def paragraph(text: str) -> str:
    bold = text.isupper() or text in CENTRED
    ppr = '<w:pPr><w:jc w:val="center"/></w:pPr>' if text in CENTRED else ""
    rpr = "<w:rPr><w:b/></w:rPr>" if bold else ""
    text = text.replace("**", "").replace("*", "")
    return f'<w:p>{ppr}<w:r>{rpr}<w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p>'


def document_xml(lines: list[str]) -> str:
    body = "".join(paragraph(line) for line in lines)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:document xmlns:w="{W}"><w:body>{body}<w:sectPr/></w:body></w:document>'
    )


def build(target: Path = TARGET) -> Path:
    text = unicodedata.normalize("NFC", SOURCE.read_text(encoding="utf-8"))
    lines = HEADER + [line.strip() for line in text.splitlines() if line.strip()]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", RELS),
            ("word/document.xml", document_xml(lines)),
        ):
            info = zipfile.ZipInfo(name, date_time=(2024, 3, 29, 16, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return target


if __name__ == "__main__":
    print(build())
