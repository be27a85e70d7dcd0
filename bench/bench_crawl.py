"""Crawl throughput: the full portal-archive crawl against bare Scrapy on the same pages.

Serves the sample portals on 127.0.0.1, then alternates, ``--runs`` times:
  full  — ``portal-archive crawl all`` (extraction, validation, SQLite, raw bodies kept),
  bare  — bare Scrapy spiders fetching exactly the URLs the full crawl fetched.
Pages/s = responses / (last finish - first start) from Scrapy's own stats, so process
start-up is left out of both. Reports medians and the ratio full/bare.

    python bench/bench_crawl.py [--runs 5] [--out docs/benchmarks_crawl.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scraper.sample_portals import SampleWorld  # noqa: E402


def full_crawl(registry: Path, data: Path) -> tuple[float, dict[str, list[str]]]:
    env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "archive.cli",
            "--data-dir",
            str(data),
            "crawl",
            "all",
            "--portals",
            str(registry),
            "--allow-private",
            "--no-index",
            "--quiet",
        ],
        check=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
    )
    engine = create_engine(f"sqlite:///{data / 'archive.sqlite3'}")
    with engine.connect() as conn:
        runs = conn.execute(
            text(
                "select r.id, p.slug, r.stats, r.started_at, r.finished_at from crawl_runs r "
                "join portals p on p.id = r.portal_id"
            )
        ).all()
        urls: dict[str, list[str]] = {}
        starts, finishes, pages = [], [], 0
        for run_id, slug, stats, started, finished in runs:
            stats = json.loads(stats)
            # The run opens with the spider and closes after the last item is stored.
            starts.append(datetime.fromisoformat(str(started)).timestamp())
            finishes.append(datetime.fromisoformat(str(finished)).timestamp())
            pages += int(stats["response_received_count"])
            urls[slug] = [
                u
                for (u,) in conn.execute(
                    text("select url from raw_responses where crawl_run_id = :r"), {"r": run_id}
                )
            ]
    engine.dispose()
    return pages / (max(finishes) - min(starts)), urls


def bare_crawl(
    urls: dict[str, list[str]], starts: dict[str, list[str]], tmp: Path, mode: str
) -> float:
    path = tmp / "urls.json"
    path.write_text(json.dumps({k: {"urls": v, "starts": starts[k]} for k, v in urls.items()}))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bare_crawl.py"), str(path), mode],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp,
    )
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    pages = sum(s["pages"] for s in stats)
    return pages / (max(s["finish"] for s in stats) - min(s["start"] for s in stats))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--scale",
        type=int,
        default=20,
        help="copies of each sample article (20 → 600 articles, 10 per listing)",
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    full, bare, follow = [], [], []
    n_pages = 0
    with (
        SampleWorld(scale=args.scale, page_size=10) as world,
        tempfile.TemporaryDirectory() as tmpdir,
    ):
        tmp = Path(tmpdir)
        registry = tmp / "portals"
        registry.mkdir()
        world.write_registry(registry)
        from scraper.registry import load_all

        starts = {slug: [*e.start_urls, *e.category_urls] for slug, e in load_all(registry).items()}
        for i in range(args.runs):
            rate, urls = full_crawl(registry, tmp / f"data{i}")
            full.append(rate)
            n_pages = sum(len(u) for u in urls.values())
            bare.append(bare_crawl(urls, starts, tmp, "list"))
            follow.append(bare_crawl(urls, starts, tmp, "follow"))
            print(
                f"run {i + 1}: full {full[-1]:.1f} pages/s, bare list {bare[-1]:.1f}, "
                f"bare follow {follow[-1]:.1f}",
                flush=True,
            )
    f, b, w = statistics.median(full), statistics.median(bare), statistics.median(follow)
    lines = [
        "## Crawl throughput: full crawl against bare Scrapy",
        "",
        f"Command: `python bench/bench_crawl.py --runs {args.runs} --scale {args.scale}` "
        f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores).",
        f"The 3 sample portals on 127.0.0.1 at scale {args.scale} (each article {args.scale}x, "
        f"10 per listing page): {n_pages} responses per crawl (articles, listings, robots.txt, "
        "soft 404s), one crawler per portal on both sides, medians of "
        f"{args.runs} alternating runs.",
        "",
        "| set-up | pages/s (median) |",
        "|---|---|",
        f"| bare Scrapy spiders fed the same URL list, no processing | {b:.1f} |",
        f"| bare Scrapy spiders following links to the same URLs, no processing | {w:.1f} |",
        f"| portal-archive crawl (extract, validate, store, raw bodies) | {f:.1f} |",
        f"| **ratio full / bare (list)** | **{f / b:.2f}** |",
        f"| **ratio full / bare (following links)** | **{f / w:.2f}** |",
        "",
    ]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
