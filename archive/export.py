"""Streaming exports: JSON Lines and CSV (UTF-8 with BOM, so Excel reads Vietnamese right).

Records are written as they are read from the database: memory does not grow with the
number of articles.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from typing import IO

from archive.store import ArticleRecord

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "id",
    "portal",
    "unit",
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


def csv_row(record: ArticleRecord) -> list[str]:
    d = record.as_dict()
    d["topics"] = "; ".join(record.topics)
    d["doc_numbers"] = "; ".join(r["number"] for r in record.doc_refs)
    d["attachments"] = json.dumps(record.attachments, ensure_ascii=False)
    d["doc_refs"] = json.dumps(record.doc_refs, ensure_ascii=False)
    return [_safe_cell("" if d[c] is None else str(d[c])) for c in CSV_COLUMNS]


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
