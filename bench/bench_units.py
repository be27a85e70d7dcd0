"""Linking articles to administrative units, and filtering by unit (issue 8).

Stores ``--articles`` generated articles (the word-bigram corpus of bench_index.py, over the
seed texts, which name real units) from the twelve generated portals, each with its unit
code, then measures in one run:

* ``link_units`` on every article (recognising the units each names, the issuer as on the
  publication date), in articles/s, against indexing the same articles (``sync_index`` with
  nothing left to link): the ratio is what linking adds to indexing;
* a second ``link_units`` with nothing changed;
* ``search_ids`` filtered by a unit (an old district, a 2025 ward, a 2025 province: each
  unit's closure of predecessors and communes) against the same query with no filter.

    python bench/bench_units.py [--articles 5000] [--runs 5] [--out bench/results/units.md]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_index import Corpus  # noqa: E402

from archive.config import Config  # noqa: E402
from archive.schema import ArticleItem  # noqa: E402
from archive.store import Archive  # noqa: E402
from archive.unit_links import link_units, resolve_unit_filter  # noqa: E402
from search.index import SearchIndex  # noqa: E402
from search.query import search_ids  # noqa: E402
from search.sync import sync_index  # noqa: E402

#: The generated portals and the unit code each would have in the registry.
CODES = {
    "quan-thanh-xuan": "009",
    "huyen-phu-loc": "482",
    "quan-hai-ba-trung": "007",
    "thi-tran-tan-minh": "23230@pre2025",
    "quan-cau-giay": "005",
    "huyen-dong-anh": "017",
    "tinh-ha-tinh": "42",
    "tinh-nghe-an": "40",
    "phuong-quang-trung": "09538@pre2025",
    "xa-tan-lap": "09820@pre2025",
    "huyen-huong-son": "439",
    "thanh-pho-vinh": "412",
}
FILTERS = ("quan thanh xuan", "phuong khuong dinh", "tinh nghe an", "Hà Nội")
QUERIES = ("", "cai cach hanh chinh", '"sắp xếp đơn vị hành chính"')
FETCHED = datetime(2025, 1, 1, tzinfo=UTC)


def build(config: Config, n: int) -> float:
    archive = Archive(config)
    try:
        ids = {
            slug: archive.upsert_portal(
                slug, name=slug, unit=slug, base_url=f"https://{slug}.example.gov.vn",
                family="generic", config={"unit_code": code},
            )
            for slug, code in CODES.items()
        }  # fmt: skip
        corpus = Corpus()
        pending: dict[str, list[ArticleItem]] = {slug: [] for slug in CODES}
        chars = 0
        for i in range(n):
            doc, _ = corpus.article(i)
            chars += len(doc.title) + len(doc.lead or "") + len(doc.body)
            pending[doc.portal].append(
                ArticleItem(
                    portal=doc.portal, url=doc.url, canonical_url=doc.url, title=doc.title,
                    published=doc.published, lead=doc.lead, body=doc.body, topics=doc.topics,
                    fetched_at=FETCHED,
                )
            )  # fmt: skip
        for slug, items in pending.items():
            archive.store_articles(items, ids[slug])
        return chars / n
    finally:
        archive.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-units-") as tmp:
        config = Config.resolve(tmp)
        print(f"storing {args.articles:,} generated articles…", file=sys.stderr)
        avg_chars = build(config, args.articles)
        archive = Archive(config)
        try:
            report = link_units(archive)
            again = link_units(archive)
            index = SearchIndex(config.index_dir)
            t0 = time.perf_counter()
            synced = sync_index(archive, index)
            index_s = time.perf_counter() - t0
            assert synced.indexed == args.articles, synced
            rows = []
            for query in QUERIES:
                base = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    n_all = len(search_ids(index, query))
                    base.append(time.perf_counter() - t0)
                for name in FILTERS:
                    t0 = time.perf_counter()
                    f = resolve_unit_filter(archive, name)
                    resolve_s = time.perf_counter() - t0
                    times = []
                    for _ in range(args.runs):
                        t0 = time.perf_counter()
                        n = len(search_ids(index, query, units=f.keys))
                        times.append(time.perf_counter() - t0)
                    rows.append((query, name, f, n, n_all, resolve_s, times, base))
        finally:
            archive.close()
    link_rate = report.linked / report.seconds
    lines = [
        "## Administrative units: linking and filtering",
        "",
        f"`python bench/bench_units.py --articles {args.articles} --runs {args.runs}` "
        f"({platform.python_version()}, {time.strftime('%Y-%m-%d')}): {args.articles:,} "
        f"generated articles of {avg_chars:,.0f} characters on average, 12 portals with unit "
        "codes, SQLite.",
        "",
        "| step | seconds | articles/s |",
        "|---|---:|---:|",
        f"| `link_units`, every article (issuer + names recognised) | {report.seconds:.1f} | "
        f"{link_rate:,.0f} |",
        f"| `link_units` again, nothing changed | {again.seconds:.2f} | – |",
        f"| `sync_index`, nothing left to link (the baseline) | {index_s:.1f} | "
        f"{args.articles / index_s:,.0f} |",
        "",
        f"Linking adds **{report.seconds / index_s:.2f}×** the indexing time "
        f"({report.issuer_links:,} issuer and {report.mention_links:,} mention links).",
        "",
        "Filtered search (`search_ids`, median of the runs) against the same query unfiltered:",
        "",
        "| query | unit | units covered | matches | of | resolve ms | filtered ms | "
        "unfiltered ms | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for query, name, f, n, n_all, resolve_s, times, base in rows:
        med, med_base = statistics.median(times), statistics.median(base)
        lines.append(
            f"| `{query or '(all)'}` | {name} → {f.unit.label} ({f.unit.key}) | {len(f.keys):,} | "
            f"{n:,} | {n_all:,} | {resolve_s * 1000:.0f} | {med * 1000:.1f} | "
            f"{med_base * 1000:.1f} | {med / med_base:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
