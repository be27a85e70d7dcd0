"""Streaming exports: JSON Lines, CSV (UTF-8 with BOM, so Excel reads Vietnamese right) and
an Excel workbook (XLSX) for staff.

Records are written as they are read from the database: memory does not grow with the
number of articles.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import IO, Any, NamedTuple
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from archive.dates import VN_TZ, parse_iso
from archive.store import ArticleRecord

FORMATS = ("jsonl", "csv", "xlsx")
CSV_COLUMNS = (
    "id",
    "portal",
    "unit",
    "issuer_unit",
    "units_named",
    "title",
    "published",
    "author",
    "views",
    "topics",
    "doc_numbers",
    "lead",
    "body",
    "url",
    "canonical_url",
    "attachments",
    "doc_refs",
    "fetched_at",
    "first_seen",
    "last_seen",
    "version",
    "content_hash",
)
#: Archived text is untrusted: a cell starting like a formula is prefixed with "'" so that
#: Excel/LibreOffice show it as text instead of running it (OWASP CSV injection).
_FORMULA_START = ("=", "+", "@", "\t", "\r")


def _safe_cell(value: str) -> str:
    if value.startswith(_FORMULA_START) or (value.startswith("-") and value[1:2] not in ("", " ")):
        return "'" + value
    return value


def _flat(record: ArticleRecord) -> dict:
    """The record's fields by export column, lists joined or JSON-encoded as in the CSV."""
    d = record.as_dict()
    d["topics"] = "; ".join(record.topics)
    d["issuer_unit"] = "; ".join(u["label"] for u in record.units.get("issuer", []))
    d["units_named"] = "; ".join(u["label"] for u in record.units.get("mention", []))
    d["doc_numbers"] = "; ".join(r["number"] for r in record.doc_refs)
    d["attachments"] = json.dumps(record.attachments, ensure_ascii=False)
    d["doc_refs"] = json.dumps(record.doc_refs, ensure_ascii=False)
    return d


def csv_row(record: ArticleRecord) -> list[str]:
    d = _flat(record)
    return [_safe_cell("" if d[c] is None else str(d[c])) for c in CSV_COLUMNS]


class XlsxColumn(NamedTuple):
    header: str
    width: int
    note: str


#: The spreadsheet's columns: the CSV's, in the same order, with a Vietnamese header, a width
#: in characters and the note the "Thông tin" sheet gives.
XLSX_COLUMNS: dict[str, XlsxColumn] = {
    "id": XlsxColumn("Mã", 26, "Mã ổn định của bài viết: cổng + băm của đường dẫn chuẩn"),
    "portal": XlsxColumn("Cổng", 16, "Mã cổng thông tin"),
    "unit": XlsxColumn("Đơn vị", 26, "Đơn vị hành chính của cổng"),
    "issuer_unit": XlsxColumn(
        "Đơn vị ban hành", 30, "Đơn vị của cổng như vào ngày đăng (mã: docs/units.md)"
    ),
    "units_named": XlsxColumn(
        "Đơn vị nhắc đến", 40, "Đơn vị hành chính bài viết nhắc đến, ngăn cách bằng «; »"
    ),
    "title": XlsxColumn("Tiêu đề", 60, "Tiêu đề bài viết"),
    "published": XlsxColumn(
        "Ngày đăng", 17, "Ngày giờ đăng, giờ Việt Nam; chỉ có ngày khi cổng không ghi giờ"
    ),
    "author": XlsxColumn("Tác giả", 20, "Tác giả hoặc nguồn, như cổng ghi"),
    "views": XlsxColumn("Lượt xem", 10, "Lượt xem lúc tải về"),
    "topics": XlsxColumn("Chủ đề", 22, "Chủ đề đã gán, ngăn cách bằng «; »"),
    "doc_numbers": XlsxColumn(
        "Số văn bản", 24, "Số hiệu các văn bản nhắc đến trong bài, ngăn cách bằng «; »"
    ),
    "lead": XlsxColumn("Tóm tắt", 50, "Đoạn tóm tắt (sapo)"),
    "body": XlsxColumn("Nội dung", 60, "Toàn văn bài viết"),
    "url": XlsxColumn("Đường dẫn", 45, "Địa chỉ bài viết khi tải về"),
    "canonical_url": XlsxColumn(
        "Đường dẫn chuẩn", 45, "Địa chỉ chuẩn, dùng để nhận ra cùng một bài viết"
    ),
    "attachments": XlsxColumn("Tệp đính kèm", 40, "Tệp đính kèm (JSON: url, title)"),
    "doc_refs": XlsxColumn(
        "Văn bản dẫn chiếu", 40, "Văn bản nhắc đến (JSON: số, loại, ngày, cơ quan ban hành)"
    ),
    "fetched_at": XlsxColumn("Thời điểm tải", 19, "Lúc tải phiên bản này, giờ Việt Nam"),
    "first_seen": XlsxColumn("Thấy lần đầu", 19, "Lần đầu thấy bài viết, giờ Việt Nam"),
    "last_seen": XlsxColumn("Thấy lần cuối", 19, "Lần gần nhất thấy bài viết, giờ Việt Nam"),
    "version": XlsxColumn("Phiên bản", 10, "Số phiên bản, tăng khi nội dung thay đổi"),
    "content_hash": XlsxColumn("Mã băm nội dung", 20, "SHA-256 của nội dung"),
}
XLSX_SHEET = "Bài viết"
XLSX_ABOUT_SHEET = "Thông tin"
#: Excel has no time zones: times are written as naive Vietnam local time. A naive value is
#: read as Vietnam time for ``published`` (the portals' clock, as archive.dates.parse_iso) and
#: as UTC for the crawl times (the store writes ``utcnow()``; SQLite gives them back naive).
_XLSX_TIMES: dict[str, tuple[tzinfo, str]] = {
    "published": (VN_TZ, "dd/mm/yyyy hh:mm"),
    "fetched_at": (UTC, "dd/mm/yyyy hh:mm:ss"),
    "first_seen": (UTC, "dd/mm/yyyy hh:mm:ss"),
    "last_seen": (UTC, "dd/mm/yyyy hh:mm:ss"),
}
XLSX_DATE = "dd/mm/yyyy"
XLSX_NUMBERS = ("views", "version")
#: Excel's limit on the characters (UTF-16 code units) of one cell.
XLSX_CELL_MAX = 32_767
XLSX_CUT_MARKER = " […đã cắt bớt]"
#: openpyxl keeps every hyperlink of a sheet in memory until the sheet is closed, about 1 kB
#: each (tracemalloc, 5,000 rows, 2026-11-22): past this many rows the URL is plain text, so
#: memory stays bounded. The "Thông tin" sheet says where the links stop.
XLSX_MAX_LINKS = 10_000
#: Longer URLs stay plain text: Excel's hyperlink addresses are meant to stop near 2,000
#: characters (its documented limit is 2,079; not checked against Excel here).
_LINK_MAX = 2_000
_LINKABLE = re.compile(r"https?://[^\s\"<>]+\Z", re.IGNORECASE)
#: Characters XML 1.0 forbids (openpyxl raises IllegalCharacterError on the first three ranges,
#: lxml a ValueError on surrogates): removed, and the cells counted on the "Thông tin" sheet.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BOLD = Font(bold=True)
_LINK_FONT = Font(color="0563C1", underline="single")


@dataclass
class _XlsxCounts:
    cut: int = 0
    cleaned: int = 0
    neutralised: int = 0
    links: int = 0


def _number(n: int) -> str:
    """``32.767``: Vietnamese thousands separator."""
    return f"{n:,}".replace(",", ".")


def _xlsx_text(value: str, counts: _XlsxCounts) -> str:
    """Cell text: XML-legal, formula-neutralised as in the CSV, within Excel's cell limit."""
    cleaned = _XML_ILLEGAL.sub("", value)
    if len(cleaned) != len(value):
        counts.cleaned += 1
    text = _safe_cell(cleaned)
    if len(text) != len(cleaned):
        counts.neutralised += 1
    # A UTF-16 unit count can only pass the limit when there are more than half as many chars.
    if len(text) > XLSX_CELL_MAX // 2:
        units = text.encode("utf-16-le")
        if len(units) > 2 * XLSX_CELL_MAX:
            keep = 2 * (XLSX_CELL_MAX - len(XLSX_CUT_MARKER))
            # "ignore" drops half a surrogate pair cut at the end.
            text = units[:keep].decode("utf-16-le", "ignore") + XLSX_CUT_MARKER
            counts.cut += 1
    return text


def _vietnam_time(value: Any, naive_tz: tzinfo) -> datetime | date | None:
    """``value`` (ISO text, date or datetime) as naive Vietnam local time; None if it is none."""
    if isinstance(value, str):
        value = parse_iso(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=naive_tz)
        return value.astimezone(VN_TZ).replace(tzinfo=None, microsecond=0)
    if isinstance(value, date):
        return value
    return None


def _xlsx_time(sheet: WriteOnlyWorksheet, value: Any, column: str, counts: _XlsxCounts) -> Any:
    if value is None or value == "":
        return None
    naive_tz, number_format = _XLSX_TIMES[column]
    when = _vietnam_time(value, naive_tz)
    if when is None or when.year < 1900:  # Excel's serial dates start in 1900
        text = value if isinstance(value, str) else value.isoformat()
        return _xlsx_text(text, counts)
    cell = WriteOnlyCell(sheet, when)
    cell.number_format = number_format if isinstance(when, datetime) else XLSX_DATE
    return cell


def _xlsx_link(sheet: WriteOnlyWorksheet, text: str, counts: _XlsxCounts) -> Any:
    if len(text) > _LINK_MAX or not _LINKABLE.match(text):
        return text
    cell = WriteOnlyCell(sheet, text)
    # The relationship target is kept ASCII: non-ASCII path characters percent-encoded.
    cell.hyperlink = quote(text, safe=":/?#[]@!$&'()*+,;=%~")
    cell.font = _LINK_FONT
    counts.links += 1
    return cell


def _xlsx_row(
    sheet: WriteOnlyWorksheet, record: ArticleRecord, counts: _XlsxCounts, *, link: bool
) -> list:
    d = _flat(record)
    row: list[Any] = []
    for column in CSV_COLUMNS:
        value = d[column]
        if column in _XLSX_TIMES:
            row.append(_xlsx_time(sheet, getattr(record, column), column, counts))
        elif value is None:
            row.append(None)
        elif column in XLSX_NUMBERS and isinstance(value, int) and not isinstance(value, bool):
            row.append(value)
        elif column == "url" and link:
            row.append(_xlsx_link(sheet, _xlsx_text(str(value), counts), counts))
        else:
            row.append(_xlsx_text(str(value), counts))
    return row


def _bold(sheet: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, text)
    cell.font = _BOLD
    return cell


def _write_about(sheet: WriteOnlyWorksheet, rows: int, counts: _XlsxCounts, now: datetime) -> None:
    """The "Thông tin" sheet: when, how many, what was changed to fit Excel, what each column is."""
    for letter, width in zip("ABCD", (28, 20, 16, 70), strict=True):
        sheet.column_dimensions[letter].width = width
    exported = WriteOnlyCell(sheet, now.astimezone(VN_TZ).replace(tzinfo=None, microsecond=0))
    exported.number_format = "dd/mm/yyyy hh:mm:ss"
    links = (
        f"Cột «{XLSX_COLUMNS['url'].header}» là liên kết ở {_number(XLSX_MAX_LINKS)} dòng đầu, "
        "sau đó là văn bản (giới hạn bộ nhớ)"
    )
    for row in (
        [_bold(sheet, "Thời điểm xuất"), exported, None, "Giờ Việt Nam (UTC+7)"],
        [_bold(sheet, "Số bài viết"), rows, None, f"Sheet «{XLSX_SHEET}», từ dòng 2"],
        [
            _bold(sheet, "Ô bị cắt bớt"),
            counts.cut,
            None,
            f"Excel chứa tối đa {_number(XLSX_CELL_MAX)} ký tự một ô; "
            f"phần bị cắt kết thúc bằng «{XLSX_CUT_MARKER.strip()}». "
            "Bản JSONL và CSV giữ đủ văn bản.",
        ],
        [
            _bold(sheet, "Ô đã xoá ký tự điều khiển"),
            counts.cleaned,
            None,
            "Ký tự XML không cho phép, Excel không mở được",
        ],
        [_bold(sheet, "Ô có liên kết"), counts.links, None, links],
        [
            _bold(sheet, "Ô bắt đầu như công thức"),
            counts.neutralised,
            None,
            "Thêm dấu ' ở đầu (như bản CSV), để Excel không chạy công thức",
        ],
        [],
        [
            _bold(sheet, "Tiêu đề cột"),
            _bold(sheet, "Trường"),
            _bold(sheet, "Cột"),
            _bold(sheet, "Ghi chú"),
        ],
    ):
        sheet.append(row)
    for i, (field, column) in enumerate(XLSX_COLUMNS.items(), 1):
        sheet.append([column.header, field, get_column_letter(i), column.note])


def _discard(sheet: WriteOnlyWorksheet | None) -> None:
    """Delete the temporary file openpyxl streams a write-only sheet into.

    openpyxl removes it when the workbook is saved, else only when the process exits: a
    failed export in a long-running process would leave it behind.
    """
    writer = getattr(sheet, "_writer", None)
    if sheet is None or writer is None:
        return
    with suppress(Exception):
        if not sheet.closed:
            sheet.close()
    with suppress(Exception):
        writer.cleanup()


def write_xlsx(
    records: Iterable[ArticleRecord],
    out: IO[bytes],
    *,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> int:
    """Write ``records`` as an Excel workbook to the binary stream ``out``; returns the count.

    Sheet "Bài viết": one row per article under a bold, frozen header with Vietnamese column
    names (the CSV's columns, in its order) and an auto-filter; dates as Excel dates in Vietnam
    local time, counts as numbers, the URL as a hyperlink (first :data:`XLSX_MAX_LINKS` rows).
    Text is made XML-legal, formula-neutralised like the CSV and cut at Excel's cell limit.
    Sheet "Thông tin": export time (``now``, default the clock), row count, what was changed
    to fit Excel, and a note per column.

    openpyxl writes rows in write-only mode (memory does not grow with the rows) into a
    temporary file; the finished workbook is then copied to ``out``, which need not be seekable.
    """
    workbook = Workbook(write_only=True)
    workbook.properties.creator = "portal-archive"
    sheet = workbook.create_sheet(XLSX_SHEET)
    about = None
    counts = _XlsxCounts()
    n = 0
    try:
        # Column widths and the frozen pane are written with the sheet's start: set them first.
        for i, column in enumerate(XLSX_COLUMNS.values(), 1):
            sheet.column_dimensions[get_column_letter(i)].width = column.width
        sheet.freeze_panes = "A2"
        sheet.append([_bold(sheet, column.header) for column in XLSX_COLUMNS.values()])
        for record in records:
            sheet.append(_xlsx_row(sheet, record, counts, link=n < XLSX_MAX_LINKS))
            n += 1
            if progress and n % 500 == 0:
                progress(n)
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(XLSX_COLUMNS))}{n + 1}"
        about = workbook.create_sheet(XLSX_ABOUT_SHEET)
        _write_about(about, n, counts, now or datetime.now(VN_TZ))
        # Assembled in a temporary file and copied once complete: a failed export writes
        # nothing to ``out``, and ``out`` may be a pipe.
        with tempfile.TemporaryFile(prefix="portal-archive-", suffix=".xlsx") as tmp:
            workbook.save(tmp)
            tmp.seek(0)
            shutil.copyfileobj(tmp, out)
    except BaseException:
        _discard(sheet)
        _discard(about)
        raise
    if progress:
        progress(n)
    return n


def write_export(
    records: Iterable[ArticleRecord],
    out: IO[bytes],
    fmt: str,
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``records`` to the binary stream ``out``; returns the number written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    if fmt == "xlsx":
        return write_xlsx(records, out, progress=progress)
    import io

    text = io.TextIOWrapper(
        out, encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="", write_through=False
    )
    n = 0
    try:
        if fmt == "csv":
            writer = csv.writer(text, dialect="excel")
            writer.writerow(CSV_COLUMNS)
            for record in records:
                writer.writerow(csv_row(record))
                n += 1
                if progress and n % 500 == 0:
                    progress(n)
        else:
            for record in records:
                text.write(json.dumps(record.as_dict(), ensure_ascii=False))
                text.write("\n")
                n += 1
                if progress and n % 500 == 0:
                    progress(n)
        text.flush()
    finally:
        text.detach()
    if progress:
        progress(n)
    return n
