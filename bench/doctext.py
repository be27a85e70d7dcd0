"""Attachment text extraction speed on the real samples (scraper/sample_portals/data/files).

    python bench/doctext.py [--runs 3] [--no-ocr] [--out bench/results/doctext.md]

Rows, each the median of ``--runs`` passes over the same bytes:
  pypdfium2 / pdfminer.six   PDF text layer in process (the two candidates; doctext uses pdfium)
  python-docx walk           archive.doctext's DOCX reader in process
  extract_text               the public call: child process, limits, sniffing, legacy check
  child overhead             extract_text minus the in-process time of the same file
  OCR                        extract_text on the scan (render 300 dpi + tesseract -l vie)
Quality columns: characters, and whether the text is NFC without U+FFFD.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.doctext import _extract_local, extract_text, ocr_available  # noqa: E402
from scraper.sample_portals.content import FILES_DIR, REAL_FILES, real_file  # noqa: E402

ATTACHMENTS = ROOT / "tests" / "fixtures" / "attachments"
SCAN = "anphu.angiang.gov.vn__cv-lay-y-kien.pdf"


def _median_time(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def _pdfium_text(data: bytes) -> tuple[int, str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    parts = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    n = len(pdf)
    pdf.close()
    return n, "\n".join(parts)


def _pdfminer_text(data: bytes) -> tuple[int, str]:
    from pdfminer.high_level import extract_text as pm_extract
    from pdfminer.pdfpage import PDFPage

    n = sum(1 for _ in PDFPage.get_pages(io.BytesIO(data)))
    return n, pm_extract(io.BytesIO(data))


def _ok(text: str) -> str:
    clean = unicodedata.is_normalized("NFC", text) and "\ufffd" not in text
    return "yes" if clean else "no"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-ocr", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    rows = []
    real = {name: real_file(name) for name in REAL_FILES}
    pdfs = sorted(p for n, p in real.items() if n.endswith(".pdf") and n != SCAN)
    docxs = sorted(p for n, p in real.items() if n.endswith(".docx"))
    for path in pdfs + docxs:
        data = path.read_bytes()
        short = path.name.split("__", 1)[-1][:34]
        local_s, local = _median_time(lambda d=data, n=path.name: _extract_local(d, n), args.runs)
        child_s, doc = _median_time(lambda d=data, n=path.name: extract_text(d, n), args.runs)
        pages = doc.pages or 1
        if path.suffix == ".pdf":
            for label, fn in (("pypdfium2", _pdfium_text), ("pdfminer.six", _pdfminer_text)):
                secs, (n, text) = _median_time(lambda d=data, f=fn: f(d), args.runs)
                rows.append((short, label, n, len(text), secs, n / secs, _ok(text)))
        else:
            rows.append(
                (short, "python-docx walk", pages, len(local.text), local_s, pages / local_s, "yes")
            )
        rows.append(
            (short, "extract_text (child)", pages, len(doc.text), child_s, pages / child_s,
             _ok(doc.text))
        )  # fmt: skip
        rows.append((short, "child overhead", "", "", child_s - local_s, None, ""))

    # Small files of the other formats: one page each; the child's fixed cost dominates.
    small = [
        (ATTACHMENTS / "generated-cong-van.rtf", "a.rtf"),
        (ATTACHMENTS / "olefile-test-ole-file.doc", "a.doc"),  # Word 97, via antiword
        (FILES_DIR / "ke-hoach-215-kh-ubnd-2023.doc", "b.doc"),  # Word web page, cp1258
    ]
    for path, name in small:
        tiny = path.read_bytes()
        local_s, _ = _median_time(lambda t=tiny, n=name: _extract_local(t, n), args.runs)
        child_s, doc = _median_time(lambda t=tiny, n=name: extract_text(t, n), args.runs)
        tiny_name = f"{path.name} ({len(tiny):,} B, {doc.method})"
        rows.append((tiny_name, "extract_text (child)", 1, len(doc.text),
                     child_s, 1 / child_s, _ok(doc.text)))  # fmt: skip
        rows.append((tiny_name, "in process", 1, len(doc.text), local_s, 1 / local_s, ""))

    if not args.no_ocr and ocr_available():
        data = real_file(SCAN).read_bytes()
        secs, doc = _median_time(lambda: extract_text(data, SCAN, timeout=300), 1)
        rows.append((SCAN.split("__", 1)[-1], "OCR (render + tesseract)", doc.pages,
                     len(doc.text), secs, doc.pages / secs, _ok(doc.text)))  # fmt: skip
        rows.append((SCAN.split("__", 1)[-1], "OCR seconds per page", "", "",
                     secs / doc.pages, None, ""))  # fmt: skip

    lines = [
        "| file | method | pages | chars | seconds | pages/s | NFC, no U+FFFD |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name, method, pages, chars, secs, rate, ok in rows:
        rate_s = f"{rate:.1f}" if rate else ""
        chars_s = f"{chars:,}" if chars != "" else ""
        lines.append(f"| {name} | {method} | {pages} | {chars_s} | {secs:.3f} | {rate_s} | {ok} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            "## Attachment text extraction\n\n"
            f"`python bench/doctext.py --runs {args.runs}`; median of the runs.\n\n" + table
        )


if __name__ == "__main__":
    main()
