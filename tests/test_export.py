from __future__ import annotations

import csv
import io
import json
import tracemalloc

from archive.export import write_export
from archive.store import ArticleRecord


def records(n: int):
    for i in range(n):
        yield ArticleRecord(
            id=f"p-{i}",
            portal="p",
            unit="Quận Thanh Xuân",
            url=f"http://p/{i}",
            canonical_url=f"http://p/{i}",
            title=f"Kế hoạch số {i}/KH-UBND về cải cách hành chính",
            published="2024-03-29T16:32:00+07:00",
            published_day=None,
            author="Thanh Tâm",
            views=1,
            lead=None,
            body="Đẩy mạnh công tác tuyên truyền. " * 40,
            topics=["cchc"],
            doc_refs=[{"number": f"{i}/KH-UBND", "kind": "Kế hoạch", "date": None, "issuer": None}],
            content_hash="x" * 64,
        )


def test_csv_has_bom_and_vietnamese_intact():
    buf = io.BytesIO()
    assert write_export(records(3), buf, "csv") == 3
    raw = buf.getvalue()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0]["title"] == "Kế hoạch số 0/KH-UBND về cải cách hành chính"
    assert rows[0]["unit"] == "Quận Thanh Xuân" and rows[0]["doc_numbers"] == "0/KH-UBND"


def test_csv_formula_cells_are_neutralised():
    rec = next(records(1))
    rec.title = '=HYPERLINK("http://evil")'
    buf = io.BytesIO()
    write_export([rec], buf, "csv")
    row = next(csv.DictReader(io.StringIO(buf.getvalue().decode("utf-8-sig"))))
    assert row["title"].startswith("'=")


def test_jsonl_one_record_per_line():
    buf = io.BytesIO()
    write_export(records(5), buf, "jsonl")
    lines = buf.getvalue().decode().splitlines()
    assert len(lines) == 5
    assert json.loads(lines[2])["doc_refs"][0]["number"] == "2/KH-UBND"


def _peak(n: int, fmt: str) -> int:
    class Sink(io.RawIOBase):
        def writable(self):
            return True

        def write(self, b):
            return len(b)

    tracemalloc.start()
    write_export(records(n), io.BufferedWriter(Sink()), fmt)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_export_streams_memory_does_not_grow():
    for fmt in ("csv", "jsonl"):
        small, large = _peak(200, fmt), _peak(4000, fmt)
        assert large < small * 2, (fmt, small, large)
