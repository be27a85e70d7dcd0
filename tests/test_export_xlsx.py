"""The XLSX export: one small test per property a staff member relies on in Excel."""

from __future__ import annotations

import csv
import gc
import io
import tracemalloc
import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import openpyxl
import pytest
from openpyxl.worksheet import _writer as openpyxl_writer

from archive import export
from archive.config import Config
from archive.dates import VN_TZ, parse_iso
from archive.export import (
    CSV_COLUMNS,
    XLSX_ABOUT_SHEET,
    XLSX_CELL_MAX,
    XLSX_COLUMNS,
    XLSX_CUT_MARKER,
    XLSX_SHEET,
    csv_row,
    write_export,
    write_xlsx,
)
from archive.store import Archive, ArticleRecord

TITLE = "Kế hoạch số 139/KH-UBND về cải cách hành chính năm 2024 của Quận Thanh Xuân"
COL = {name: i for i, name in enumerate(CSV_COLUMNS)}  # 0-based, as in a row tuple


def record(i: int = 0, **changes) -> ArticleRecord:
    base = ArticleRecord(
        id=f"p-{i}",
        portal="thanhxuan",
        unit="Quận Thanh Xuân",
        url=f"https://thanhxuan.hanoi.gov.vn/tin-tuc/bai-{i}.html",
        canonical_url=f"https://thanhxuan.hanoi.gov.vn/tin-tuc/bai-{i}.html",
        title=TITLE,
        published="2024-03-29T16:32:00+07:00",
        published_day=date(2024, 3, 29),
        author="Thanh Tâm",
        views=1234,
        lead="Đẩy mạnh cải cách hành chính.",
        body="Đẩy mạnh công tác tuyên truyền. " * 40,
        topics=["cchc", "dvhc"],
        doc_refs=[
            {"number": f"{i}/KH-UBND", "kind": "Kế hoạch", "date": "2024-03-29", "issuer": None}
        ],
        attachments=[{"url": "https://thanhxuan.hanoi.gov.vn/kh.pdf", "title": "Kế hoạch"}],
        fetched_at=datetime(2024, 3, 30, 1, 2, 3, 456789),  # naive UTC, as SQLite returns it
        first_seen=datetime(2024, 3, 30, 1, 2, 3, tzinfo=UTC),
        last_seen=datetime(2024, 4, 2, 20, 0, 0, tzinfo=UTC),
        version=2,
        content_hash="x" * 64,
    )
    return replace(base, **changes)


def records(n: int):
    for i in range(n):
        yield record(i)


def export_book(recs, **kwargs) -> openpyxl.Workbook:
    buf = io.BytesIO()
    write_xlsx(recs, buf, **kwargs)
    return openpyxl.load_workbook(io.BytesIO(buf.getvalue()))


def data_row(recs, **kwargs) -> tuple:
    """The cells of the first data row."""
    return next(export_book(recs, **kwargs)[XLSX_SHEET].iter_rows(min_row=2, max_row=2))


def test_columns_are_the_csv_columns_in_order():
    assert tuple(XLSX_COLUMNS) == CSV_COLUMNS
    assert len({c.header for c in XLSX_COLUMNS.values()}) == len(CSV_COLUMNS)


def test_header_row_is_vietnamese_and_bold():
    sheet = export_book(records(3))[XLSX_SHEET]
    header = next(sheet.iter_rows(max_row=1))
    assert [c.value for c in header] == [c.header for c in XLSX_COLUMNS.values()]
    assert [c.value for c in header][3:7] == [
        "Đơn vị ban hành",
        "Đơn vị nhắc đến",
        "Tiêu đề",
        "Ngày đăng",
    ]
    assert all(c.font.b for c in header)


def test_sheets_and_row_count():
    book = export_book(records(3))
    assert book.sheetnames == [XLSX_SHEET, XLSX_ABOUT_SHEET]
    sheet = book[XLSX_SHEET]
    assert sheet.max_row == 4 and sheet.max_column == len(CSV_COLUMNS)


def test_write_export_knows_xlsx_and_reports_progress():
    assert "xlsx" in export.FORMATS
    seen: list[int] = []
    buf = io.BytesIO()
    assert write_export(records(1200), buf, "xlsx", progress=seen.append) == 1200
    assert seen == [500, 1000, 1200]
    assert buf.getvalue().startswith(b"PK")


def test_vietnamese_text_intact_nfc():
    row = data_row([record()])
    title = row[COL["title"]].value
    assert title == TITLE and unicodedata.is_normalized("NFC", title)
    assert row[COL["unit"]].value == "Quận Thanh Xuân"
    assert row[COL["doc_numbers"]].value == "0/KH-UBND"
    assert row[COL["topics"]].value == "cchc; dvhc"


def test_published_datetime_is_local_time():
    cell = data_row([record()])[COL["published"]]
    assert cell.value == datetime(2024, 3, 29, 16, 32)
    assert cell.number_format == "dd/mm/yyyy hh:mm"


@pytest.mark.parametrize(
    "published",
    [
        datetime(2024, 3, 29, 9, 32, tzinfo=UTC),
        datetime(2024, 3, 29, 16, 32, tzinfo=VN_TZ),
        datetime(2024, 3, 29, 11, 32, tzinfo=timezone(timedelta(hours=2))),
        "2024-03-29T09:32:00Z",
    ],
)
def test_published_in_any_offset_becomes_vietnam_time(published):
    assert data_row([record(published=published)])[COL["published"]].value == datetime(
        2024, 3, 29, 16, 32
    )


@pytest.mark.parametrize("published", ["2024-03-29", date(2024, 3, 29)])
def test_date_only_published_is_a_date(published):
    cell = data_row([record(published=published)])[COL["published"]]
    # openpyxl reads every Excel date back as a datetime: a date is midnight, shown without time.
    assert cell.is_date and cell.value == datetime(2024, 3, 29)
    assert cell.number_format == "dd/mm/yyyy"


def test_crawl_times_are_vietnam_time():
    row = data_row([record()])
    assert row[COL["fetched_at"]].value == datetime(2024, 3, 30, 8, 2, 3)
    assert row[COL["first_seen"]].value == datetime(2024, 3, 30, 8, 2, 3)
    assert row[COL["last_seen"]].value == datetime(2024, 4, 3, 3, 0, 0)  # next day locally
    assert row[COL["last_seen"]].number_format == "dd/mm/yyyy hh:mm:ss"


def test_unparseable_published_stays_text_and_missing_stays_empty():
    assert data_row([record(published="đầu năm 2024")])[COL["published"]].value == "đầu năm 2024"
    assert data_row([record(published=None)])[COL["published"]].value is None


def test_counts_are_numbers():
    row = data_row([record()])
    assert row[COL["views"]].value == 1234 and row[COL["views"]].data_type == "n"
    assert row[COL["version"]].value == 2
    assert data_row([record(views=None)])[COL["views"]].value is None


def test_url_is_a_hyperlink():
    cell = data_row([record()])[COL["url"]]
    assert cell.value == "https://thanhxuan.hanoi.gov.vn/tin-tuc/bai-0.html"
    assert cell.hyperlink.target == cell.value


def test_non_ascii_url_link_is_percent_encoded_and_text_kept():
    url = "https://phuong.gov.vn/tin-tức/bài viết?id=1"
    cell = data_row([record(url=url)])[COL["url"]]
    # The space makes it no clean URL: kept as text, no link.
    assert cell.value == url and cell.hyperlink is None
    url = "https://phuong.gov.vn/tin-tức/bài-viết?id=1&x=%20"
    cell = data_row([record(url=url)])[COL["url"]]
    assert cell.value == url
    assert (
        cell.hyperlink.target
        == "https://phuong.gov.vn/tin-t%E1%BB%A9c/b%C3%A0i-vi%E1%BA%BFt?id=1&x=%20"
    )


def test_only_web_urls_become_links():
    cell = data_row([record(url="javascript:alert(1)")])[COL["url"]]
    assert cell.value == "javascript:alert(1)" and cell.hyperlink is None


def test_links_stop_after_the_limit(monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_LINKS", 2)
    sheet = export_book(records(3))[XLSX_SHEET]
    links = [sheet.cell(row=r, column=COL["url"] + 1).hyperlink for r in (2, 3, 4)]
    assert [link is not None for link in links] == [True, True, False]
    assert sheet.cell(row=4, column=COL["url"] + 1).value.endswith("/bai-2.html")


def test_auto_filter_covers_the_data_and_header_is_frozen():
    sheet = export_book(records(7))[XLSX_SHEET]
    assert sheet.auto_filter.ref == "A1:V8"
    assert sheet.freeze_panes == "A2"


def test_empty_export_still_has_header_and_filter():
    sheet = export_book([])[XLSX_SHEET]
    assert sheet.max_row == 1 and sheet.auto_filter.ref == "A1:V1"


def test_column_widths_are_set():
    sheet = export_book(records(1))[XLSX_SHEET]
    assert sheet.column_dimensions["F"].width == XLSX_COLUMNS["title"].width
    assert sheet.column_dimensions["M"].width == XLSX_COLUMNS["body"].width


def test_formula_cells_are_neutralised_like_the_csv():
    rec = record(title='=HYPERLINK("http://evil","bấm")', author="+1", lead="@SUM(A1)")
    row = data_row([rec])
    expected = csv_row(rec)
    for name in ("title", "author", "lead"):
        cell = row[COL[name]]
        assert cell.data_type == "s" and cell.value == expected[COL[name]], name
        assert cell.value.startswith("'"), name


def test_control_characters_are_stripped():
    rec = record(title="Kế\x01 hoạch\x0b số\x1f 1", lead="tóm\ud800 tắt\ufffe", author="a\tb")
    book = export_book([rec])
    row = next(book[XLSX_SHEET].iter_rows(min_row=2, max_row=2))
    assert row[COL["title"]].value == "Kế hoạch số 1"
    assert row[COL["lead"]].value == "tóm tắt"
    assert row[COL["author"]].value == "a\tb"  # tab is legal XML
    assert about(book)["Ô đã xoá ký tự điều khiển"] == 2


def test_long_body_is_cut_at_excel_limit():
    body = "Nội dung rất dài. " * 2300  # 41,400 characters
    book = export_book([record(body=body)])
    value = next(book[XLSX_SHEET].iter_rows(min_row=2, max_row=2))[COL["body"]].value
    assert len(value) == XLSX_CELL_MAX
    assert value.endswith(XLSX_CUT_MARKER)
    assert body.startswith(value[: -len(XLSX_CUT_MARKER)])
    assert about(book)["Ô bị cắt bớt"] == 1


def test_cut_counts_utf16_units():
    # Characters outside the BMP take two UTF-16 units in Excel's 32,767.
    body = "😀" * 20_000
    value = data_row([record(body=body)])[COL["body"]].value
    assert len(value.encode("utf-16-le")) // 2 <= XLSX_CELL_MAX
    assert value.endswith(XLSX_CUT_MARKER) and value[0] == "😀"


def test_text_at_the_limit_is_not_cut():
    body = "a" * XLSX_CELL_MAX
    assert data_row([record(body=body)])[COL["body"]].value == body


def about(book: openpyxl.Workbook) -> dict:
    return {row[0]: row[1] for row in book[XLSX_ABOUT_SHEET].iter_rows(values_only=True) if row}


def test_about_sheet_has_time_rows_and_columns():
    now = datetime(2026, 11, 22, 3, 4, 5, tzinfo=UTC)
    book = export_book(records(4), now=now)
    info = about(book)
    assert info["Thời điểm xuất"] == datetime(2026, 11, 22, 10, 4, 5)
    assert info["Số bài viết"] == 4
    assert info["Ô có liên kết"] == 4
    notes = [r for r in book[XLSX_ABOUT_SHEET].iter_rows(values_only=True) if r[1] in CSV_COLUMNS]
    assert [r[1] for r in notes] == list(CSV_COLUMNS)
    assert notes[5][:3] == ("Tiêu đề", "title", "F")
    assert all(r[3] for r in notes)


class OneWay(io.RawIOBase):
    """A pipe-like sink: writable, not seekable, no tell(); keeps what it gets if asked."""

    def __init__(self, keep: bool = True):
        self.data = bytearray()
        self.keep = keep

    def writable(self):
        return True

    def write(self, b):
        if self.keep:
            self.data += b
        return len(b)


def test_non_seekable_output():
    sink = OneWay()
    out = io.BufferedWriter(sink)
    assert not out.seekable()
    assert write_export(records(5), out, "xlsx") == 5
    out.flush()
    book = openpyxl.load_workbook(io.BytesIO(bytes(sink.data)))
    assert book[XLSX_SHEET].max_row == 6


def test_failed_export_leaves_no_temporary_file():
    def failing():
        yield record(0)
        raise RuntimeError("database went away")

    before = list(openpyxl_writer.ALL_TEMP_FILES)
    with pytest.raises(RuntimeError):
        write_xlsx(failing(), io.BytesIO())
    assert openpyxl_writer.ALL_TEMP_FILES == before


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def articles(n: int):
    """Records with their own body of a typical length (~3,000 characters), as from the store."""
    for i in range(n):
        yield record(i, body=f"Bài {i}. " + "Đẩy mạnh công tác tuyên truyền. " * 90)


def _held_rows(n: int) -> None:
    rows = [csv_row(r) for r in articles(n)]
    assert len(rows) == n


def _export(n: int) -> None:
    write_xlsx(articles(n), io.BufferedWriter(OneWay(keep=False)))


def test_memory_well_below_holding_the_rows():
    held, exported = _peak(lambda: _held_rows(3000)), _peak(lambda: _export(3000))
    assert exported < held / 4, (held, exported)


def test_memory_flat_past_the_link_limit(monkeypatch):
    # Hyperlinks are the one thing openpyxl keeps per row (about 1 kB each); past the cap
    # nothing of the sort grows. The peak still rises by a bounded amount over the first
    # ~2,000 rows (garbage awaiting the collector, tracemalloc's and pymalloc's own
    # bookkeeping; flat from 2,500 to 20,000 rows), by 95-300 kB depending on the collector's
    # timing: so the growth is compared with that of a workbook whose links are not capped,
    # measured in the same run, not with a fixed ratio of the smaller peak.
    def growth() -> int:
        _export(10)  # openpyxl's first-use caches
        gc.collect()
        small = _peak(lambda: _export(400))
        gc.collect()
        return _peak(lambda: _export(1400)) - small

    monkeypatch.setattr(export, "XLSX_MAX_LINKS", 10**9)
    uncapped = growth()
    monkeypatch.setattr(export, "XLSX_MAX_LINKS", 100)
    capped = growth()
    assert uncapped > 700_000, uncapped  # 1,000 more hyperlinks: the cost being avoided
    assert capped < uncapped / 3, (capped, uncapped)


def test_real_crawl_export_matches_the_csv(crawled):
    archive = Archive(Config.resolve(crawled["data"]))
    try:
        plain = io.BytesIO()
        write_export(archive.iter_articles(), plain, "csv")
        book_bytes = io.BytesIO()
        n = write_export(archive.iter_articles(), book_bytes, "xlsx")
    finally:
        archive.close()
    rows = list(csv.DictReader(io.StringIO(plain.getvalue().decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(book_bytes.getvalue()))[XLSX_SHEET]
    cells = list(sheet.iter_rows(min_row=2, values_only=True))
    assert n == len(rows) == len(cells) > 0
    assert any(isinstance(values[COL["published"]], datetime) for values in cells)
    for row, values in zip(rows, cells, strict=True):
        assert values[COL["title"]] == row["title"]
        assert values[COL["url"]] == row["url"]
        assert values[COL["body"]] == row["body"]
        assert values[COL["views"]] == (int(row["views"]) if row["views"] else None)
        assert values[COL["published"]] == local_time(row["published"]), row["published"]
        fetched = datetime.fromisoformat(row["fetched_at"])  # naive UTC from SQLite
        assert values[COL["fetched_at"]] == local_time(fetched.replace(tzinfo=UTC))


def local_time(value: str | datetime) -> datetime | None:
    """What Excel should show for an ISO timestamp or date: naive Vietnam time."""
    parsed = parse_iso(value) if isinstance(value, str) else value
    if parsed is None:
        return None
    if not isinstance(parsed, datetime):
        return datetime(parsed.year, parsed.month, parsed.day)
    return parsed.astimezone(VN_TZ).replace(tzinfo=None, microsecond=0)
