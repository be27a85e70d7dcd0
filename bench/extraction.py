"""Extraction quality and speed: ours against trafilatura and BeautifulSoup on the corpus.

    python bench/extraction.py [--runs 3] [--out bench/results/extraction.md]

Runs on the article pages of tests/fixtures/pages (hand-annotated expected output beside
each page), in one process, each tool on the same decoded HTML:
  ours          scraper.extract.extract
  trafilatura   trafilatura.extract(with_metadata=True) — its date comes from htmldate
  htmldate      htmldate.find_date(original_date=True), dates only
  bs4           BeautifulSoup(html, "lxml").get_text(" "), text only
Body token F1 compares word multisets with the expected body (pages whose full body is
annotated); date accuracy compares the publication day (trafilatura and htmldate give days)
and, for ours, also the full timestamp. Pages/s is the median of ``--runs`` passes.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import htmldate  # noqa: E402
import trafilatura  # noqa: E402
from bs4 import BeautifulSoup  # noqa: E402

from archive.dates import to_iso  # noqa: E402
from archive.text import nfc  # noqa: E402
from scraper.extract import extract  # noqa: E402
from tests.test_corpus import corpus, decode  # noqa: E402

WORD = re.compile(r"\w+")


def tokens(text: str | None) -> Counter:
    return Counter(WORD.findall(nfc(text or "").lower()))


def f1(got: str | None, want: str) -> float:
    g, w = tokens(got), tokens(want)
    common = sum((g & w).values())
    if not common:
        return 0.0
    precision, recall = common / sum(g.values()), common / sum(w.values())
    return 2 * precision * recall / (precision + recall)


def ours(html: str, url: str) -> tuple[str, str | None]:
    page = extract(html, url)
    return page.body, to_iso(page.published)


def trafi(html: str, url: str) -> tuple[str, str | None]:
    out = trafilatura.extract(
        html, url=url, with_metadata=True, output_format="json", include_comments=False
    )
    if not out:
        return "", None
    data = json.loads(out)
    return data.get("text") or "", data.get("date")


def hdate(html: str, url: str) -> tuple[str, str | None]:
    return "", htmldate.find_date(html, url=url, original_date=True, outputformat="%Y-%m-%d")


def bs4_text(html: str, url: str) -> tuple[str, str | None]:
    return BeautifulSoup(html, "lxml").get_text(" "), None


TOOLS = {
    "ours": ours,
    "trafilatura (+htmldate)": trafi,
    "htmldate": hdate,
    "BeautifulSoup get_text": bs4_text,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    pages = []
    for path in corpus():
        exp = json.loads(path.read_text(encoding="utf-8"))
        if exp["kind"] == "article":
            html = decode(path.with_name(path.name.replace(".expected.json", ".html")).read_bytes())
            pages.append((html, exp))
    with_body = [p for p in pages if p[1].get("body")]
    rows = []
    for name, tool in TOOLS.items():
        outputs = [tool(html, exp["capture"]["url"]) for html, exp in pages]
        rates = []
        for _ in range(args.runs):
            started = time.perf_counter()
            for html, exp in pages:
                tool(html, exp["capture"]["url"])
            rates.append(len(pages) / (time.perf_counter() - started))
        body_f1 = (
            statistics.mean(
                f1(out[0], exp["body"])
                for out, (_, exp) in zip(outputs, pages, strict=True)
                if exp.get("body")
            )
            if name not in ("htmldate",)
            else None
        )
        day_ok = sum(
            (out[1] or "")[:10] == exp["published"][:10]
            for out, (_, exp) in zip(outputs, pages, strict=True)
        )
        exact = sum(
            out[1] == exp["published"] for out, (_, exp) in zip(outputs, pages, strict=True)
        )
        rows.append(
            (
                name,
                body_f1,
                day_ok / len(pages) if name != "BeautifulSoup get_text" else None,
                exact / len(pages) if name == "ours" else None,
                statistics.median(rates),
            )
        )
        print(f"{name}: done", flush=True)
    trafi_rate = next(r[4] for r in rows if r[0].startswith("trafilatura"))
    lines = [
        "## Extraction: ours against trafilatura and BeautifulSoup",
        "",
        f"Command: `python bench/extraction.py --runs {args.runs}` ({time.strftime('%Y-%m-%d')}). "
        f"{len(pages)} article pages of the corpus (tests/fixtures/pages), {len(with_body)} of "
        "them with the full body annotated (F1 is over those); dates over all of them.",
        "",
        "| tool | body token F1 | publication day right | full timestamp right | pages/s | "
        "speed vs trafilatura |",
        "|---|---|---|---|---|---|",
    ]
    fmt = lambda v, p=True: "–" if v is None else (f"{v:.1%}" if p else f"{v:.3f}")  # noqa: E731
    for name, body_f1, day, exact, rate in rows:
        lines.append(
            f"| {name} | {fmt(body_f1, False)} | {fmt(day)} | {fmt(exact)} | "
            f"{rate:,.0f} | {rate / trafi_rate:.1f}× |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
