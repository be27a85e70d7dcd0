"""Assemble docs/benchmarks.md from the sections the benchmarks wrote in bench/results/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = """# Benchmarks

Every figure is a ratio against a baseline measured in the same run (these machines are
shared and noisy: 2 cores, 24 GiB). Regenerate everything with `make bench`; each section
names the command that produced it. Anchors from shared/PERFORMANCE.md (same kind of
machine): naive Whoosh indexes 130–200 articles/s of 600 words, SQLite FTS5 3,000–5,600/s;
`scrapy bench` ~96 pages/s, a CrawlSpider with no pipeline 144 pages/s.

"""


#: Result files, in the order docs/benchmarks.md shows them.
SECTIONS = (
    "crawl",
    "recrawl",
    "resume",
    "scale",
    "distributed",
    "warc",
    "extraction",
    "search",
    "search_generated",
    "search_backends",
    "search_backends_100k",
    "search_backends_1m",
    "search_backends_1m_terms",
    "engine",
    "engine_100k",
    "engine_1m",
    "engine_pairs_100k",
    "engine_1m_terms",
    "engine_kernels_100k",
    "positions_100k",
    "engine_kernels_1m_terms",
    "search_workers_100k",
    "search_workers_1m",
    "doctext",
    "docmeta",
    "units",
    "store",
    "web",
)


def main() -> None:
    sections = [
        p.read_text(encoding="utf-8").strip()
        for p in (ROOT / "bench" / "results" / f"{name}.md" for name in SECTIONS)
        if p.exists()
    ]
    out = ROOT / "docs" / "benchmarks.md"
    out.write_text(HEADER + "\n\n".join(sections) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
