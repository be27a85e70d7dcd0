"""How much of each attachment's official header is read, on the sample portals.

    python bench/docmeta.py [--out bench/results/docmeta.md]

Runs the main job (``portal-archive demo``: serve the sample portals on 127.0.0.1, crawl
them, download the attachments, extract text and headers) into a temporary data directory,
then counts, over the stored documents, which header fields came out: issuer, number (printed,
or a draft's blank number completed from the article that publishes it), kind, date (a draft's
month counts), subject, recipients, signer. "Fully parsed" is ``meta_complete``: every one of
them. Field values are checked against hand-read expectations in tests/archive/test_docmeta.py;
this counts coverage on what a crawl really stores. The baseline row is the same files read
without the crawl's help (the header alone, no number completed from the article).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIELDS = ("issuer", "number", "kind", "date", "subject", "recipients", "signer")


def _fields(doc: dict, meta: dict, *, with_article: bool) -> dict[str, bool]:
    number = bool(doc["number"]) if with_article else doc["number_source"] == "header"
    return {
        "issuer": bool(meta.get("issuer")),
        "number": number,
        "kind": bool(meta.get("kind")),
        "date": bool(meta.get("date") or meta.get("date_partial")),
        "subject": bool(meta.get("subject")),
        "recipients": bool(meta.get("recipients")),
        "signer": bool(meta.get("signer")),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from archive.config import Config
    from archive.models import Document
    from archive.store import Archive

    with tempfile.TemporaryDirectory(prefix="pa-bench-docmeta-") as tmp:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "archive.cli", "--data-dir", tmp, "demo", "--quiet"],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - started
        archive = Archive(Config.resolve(tmp, None))
        try:
            docs = archive.documents()
            with archive.session() as s:
                metas = {d.sha256: d.meta or {} for d in s.query(Document)}
        finally:
            archive.close()

    rows = []
    for d in docs:
        meta = metas[d["sha256"]]
        rows.append(
            {
                "file": d["filename"],
                "method": "OCR" if d["ocr"] else "text",
                "header": _fields(d, meta, with_article=False),
                "crawl": _fields(d, meta, with_article=True),
                "number": d["number"],
                "number_source": d["number_source"],
            }
        )
    n = len(rows)
    full = sum(all(r["crawl"].values()) for r in rows)
    full_header = sum(all(r["header"].values()) for r in rows)
    lines = [
        "## Attachment metadata on the sample portals",
        "",
        "`python bench/docmeta.py`: the demo's crawl of the three sample portals "
        f"({seconds:.1f}s end to end), then the header fields stored for each downloaded file. "
        "A field counts when it was read; a draft's blank number counts only when completed "
        "from the article that publishes the file (baseline: the file's header alone).",
        "",
        f"**Fully parsed: {full} of {n} attachments ({full / n:.0%})**; "
        f"from the header alone {full_header} of {n} ({full_header / n:.0%}).",
        "",
        "| file | text | " + " | ".join(FIELDS) + " | number |",
        "|---|---|" + "---|" * len(FIELDS) + "---|",
    ]
    for r in rows:
        marks = " | ".join("yes" if r["crawl"][f] else "**no**" for f in FIELDS)
        number = r["number"] or "-"
        if (r["number_source"] or "").startswith("article:"):
            number += " (from the article)"
        lines.append(f"| {r['file']} | {r['method']} | {marks} | {number} |")
    per_field = " · ".join(f"{f} {sum(r['crawl'][f] for r in rows)}/{n}" for f in FIELDS)
    lines += [
        "",
        f"Per field: {per_field}.",
        "",
        "The file not fully parsed is the copier scan (`cv-lay-y-kien.pdf`, OCR): its number "
        "and day are handwritten (`Số: 141/PKTHT-TH … ngày 30 tháng 5 năm 2022`, read by "
        "Tesseract as `lHI /PKTHT-TH … ngày )Ù tháng 5`), so the number is left empty (the "
        "illegible form is kept in the metadata) and the date is the month; the signature "
        "column is read into the recipients as one garbled line, so no signer. This table "
        "counts fields found; whether they are right is checked field by field in "
        "tests/archive/test_docmeta.py. One more link on the sample portals is broken (a "
        "removed PDF answered by the portal's HTML error page): it is recorded as a failed "
        "download, not counted here.",
    ]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    print(text)
    print(json.dumps({"documents": n, "fully_parsed": full}, ensure_ascii=False))


if __name__ == "__main__":
    main()
