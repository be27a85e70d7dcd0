"""Articles stored per second: PostgreSQL against SQLite, in the same run (issue 9).

The crawl's pipeline stores what a crawl extracts in batches (``Archive.store_articles``,
about a second of items at a time). This stores ``--articles`` generated articles (the
word-bigram corpus of bench_index.py) in batches of ``--batch`` into a fresh SQLite file and
into a fresh database on a throwaway PostgreSQL cluster (tests/pg.py: Debian's binaries,
127.0.0.1, durability off as in the tests — say so when quoting), alternating the two
``--runs`` times; then stores them all again (the re-crawl path: every article unchanged).

    python bench/bench_store.py [--articles 5000] [--batch 200] [--runs 3] [--out FILE]
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

FETCHED = datetime(2025, 1, 1, tzinfo=UTC)


def items(n: int) -> dict[str, list[ArticleItem]]:
    corpus = Corpus()
    out: dict[str, list[ArticleItem]] = {}
    for i in range(n):
        doc, _ = corpus.article(i)
        out.setdefault(doc.portal, []).append(
            ArticleItem(
                portal=doc.portal, url=doc.url, canonical_url=doc.url, title=doc.title,
                published=doc.published, lead=doc.lead, body=doc.body, topics=doc.topics,
                fetched_at=FETCHED,
            )
        )  # fmt: skip
    return out


def store_all(config: Config, batches: dict[str, list[ArticleItem]], size: int) -> float:
    """Seconds to store every item, ``size`` at a time, each batch one transaction."""
    archive = Archive(config)
    try:
        ids = {
            slug: archive.upsert_portal(
                slug, name=slug, unit=slug, base_url=f"https://{slug}.example.gov.vn",
                family="generic",
            )
            for slug in batches
        }  # fmt: skip
        started = time.perf_counter()
        for slug, its in batches.items():
            for i in range(0, len(its), size):
                archive.store_articles(its[i : i + size], ids[slug])
        return time.perf_counter() - started
    finally:
        archive.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    from tests.pg import Cluster, create_database

    print(f"generating {args.articles:,} articles…", file=sys.stderr)
    batches = items(args.articles)
    n = sum(map(len, batches.values()))
    cluster = Cluster().start()
    times: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    again: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            for run in range(args.runs):
                for db in ("sqlite", "postgresql"):
                    data = Path(tmp) / f"{db}-{run}"
                    url = None
                    if db == "postgresql":
                        name = f"bench_store_{run}"
                        create_database(cluster.server_url, name, template="template0")
                        url = cluster.url(name)
                    config = Config.resolve(data, url)
                    Archive(config).close()  # schema (migrations) outside the timing
                    times[db].append(store_all(config, batches, args.batch))
                    again[db].append(store_all(config, batches, args.batch))
                    print(
                        f"run {run + 1} {db}: {n / times[db][-1]:,.0f} new/s, "
                        f"{n / again[db][-1]:,.0f} unchanged/s",
                        file=sys.stderr,
                    )
    finally:
        cluster.stop()
    rate = {db: n / statistics.median(t) for db, t in times.items()}
    rate_again = {db: n / statistics.median(t) for db, t in again.items()}
    lines = [
        "## Storing articles: PostgreSQL against SQLite",
        "",
        f"`python bench/bench_store.py --articles {args.articles} --batch {args.batch} --runs "
        f"{args.runs}` ({platform.python_version()}, {time.strftime('%Y-%m-%d')}): "
        f"{n:,} generated articles stored by `Archive.store_articles` in batches of "
        f"{args.batch} (one transaction each), into a new SQLite file (WAL) and a new "
        "PostgreSQL database on a local throwaway cluster (tests/pg.py: 127.0.0.1; fsync, "
        "synchronous_commit and full_page_writes off, as SQLite in WAL mode with synchronous=NORMAL "
        "does not sync each commit either), "
        "alternating; medians of the runs.",
        "",
        "| | SQLite | PostgreSQL | PostgreSQL / SQLite |",
        "|---|---:|---:|---:|",
        f"| new articles/s | {rate['sqlite']:,.0f} | {rate['postgresql']:,.0f} | "
        f"{rate['postgresql'] / rate['sqlite']:.2f} |",
        f"| unchanged articles/s (a re-crawl) | {rate_again['sqlite']:,.0f} | "
        f"{rate_again['postgresql']:,.0f} | "
        f"{rate_again['postgresql'] / rate_again['sqlite']:.2f} |",
        "",
        "Each run's new articles/s: "
        + "; ".join(f"{db} " + ", ".join(f"{n / t:,.0f}" for t in ts) for db, ts in times.items())
        + ".",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
