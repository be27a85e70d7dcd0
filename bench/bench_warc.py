"""WARC writing: what it costs a crawl, and what revisit records save on a re-crawl.

Serves the sample portals on 127.0.0.1 and measures:

- throughput: ``portal-archive crawl all`` (a first crawl, into a fresh data directory) with
  WARC writing on and with ``-s PORTAL_ARCHIVE_WARC=False``, alternating, ``--runs`` times
  each; pages/s = responses / (last run's finish - first run's start), process start-up left
  out; medians and their ratio;
- storage: WARC bytes per archived article after the first crawl, then for a re-crawl of
  the unchanged portals with ``--full`` (every page fetched again) with revisit records, and
  the same re-crawl of a copy of the archive with ``-s PORTAL_ARCHIVE_WARC_REVISITS=False``.

    python bench/bench_warc.py [--runs 3] [--scale 20] [--out bench/results/warc.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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


def crawl(registry: Path, data: Path, *extra: str) -> dict:
    """One ``crawl all``; returns pages/s over the crawl runs, pages and articles."""
    env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING"}
    before = _max_run(data)
    subprocess.run(
        [sys.executable, "-m", "archive.cli", "--data-dir", str(data), "crawl", "all",
         "--portals", str(registry), "--allow-private", "--no-index", "--quiet", *extra],
        check=True, cwd=ROOT, env=env, capture_output=True,
    )  # fmt: skip
    engine = create_engine(f"sqlite:///{data / 'archive.sqlite3'}")
    with engine.connect() as conn:
        runs = conn.execute(
            text("select stats, started_at, finished_at from crawl_runs where id > :b"),
            {"b": before},
        ).all()
        articles = conn.execute(text("select count(*) from articles")).scalar()
    engine.dispose()
    starts = [datetime.fromisoformat(str(r.started_at)).timestamp() for r in runs]
    finishes = [datetime.fromisoformat(str(r.finished_at)).timestamp() for r in runs]
    stats = [json.loads(r.stats) for r in runs]
    pages = sum(int(s["response_received_count"]) for s in stats)
    return {
        "rate": pages / (max(finishes) - min(starts)),
        "pages": pages,
        "articles": articles,
        "revisits": sum(int(s.get("warc/revisits", 0)) for s in stats),
        "responses": sum(int(s.get("warc/responses", 0)) for s in stats),
    }


def _max_run(data: Path) -> int:
    db = data / "archive.sqlite3"
    if not db.exists():
        return 0
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        value = conn.execute(text("select coalesce(max(id), 0) from crawl_runs")).scalar()
    engine.dispose()
    return int(value)


def warc_bytes(data: Path, exclude: set[str] = frozenset()) -> int:
    return sum(f.stat().st_size for f in (data / "warc").glob("*.warc.gz") if f.name not in exclude)


def raw_bytes(data: Path) -> int:
    return sum(f.stat().st_size for f in (data / "raw").rglob("*.gz"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=int, default=20, help="copies of each sample article")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    on, off = [], []
    with (
        SampleWorld(scale=args.scale, page_size=10) as world,
        tempfile.TemporaryDirectory() as tmpdir,
    ):
        tmp = Path(tmpdir)
        registry = tmp / "portals"
        world.write_registry(registry)
        first = None
        for i in range(args.runs):
            result = crawl(registry, tmp / f"on{i}")
            on.append(result["rate"])
            first = first or (tmp / f"on{i}", result)
            off.append(crawl(registry, tmp / f"off{i}", "-s", "PORTAL_ARCHIVE_WARC=False")["rate"])
            shutil.rmtree(tmp / f"off{i}")
            print(f"run {i + 1}: WARC on {on[-1]:.1f} pages/s, off {off[-1]:.1f}", flush=True)

        data, result = first
        articles = result["articles"]
        first_bytes = warc_bytes(data)
        first_raw = raw_bytes(data)
        first_files = {f.name for f in (data / "warc").glob("*.warc.gz")}
        copy = tmp / "no-revisits"
        shutil.copytree(data, copy)
        again = crawl(registry, data, "--full")
        with_revisits = warc_bytes(data, first_files)
        again_raw = raw_bytes(data) - first_raw
        plain = crawl(registry, copy, "--full", "-s", "PORTAL_ARCHIVE_WARC_REVISITS=False")
        without = warc_bytes(copy, first_files)

    m_on, m_off = statistics.median(on), statistics.median(off)
    kb = 1024
    lines = [
        "## WARC writing: crawl speed and bytes per article",
        "",
        f"Command: `python bench/bench_warc.py --runs {args.runs} --scale {args.scale}` "
        f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores). The 3 sample portals on "
        f"127.0.0.1 at scale {args.scale} ({result['pages']} responses, {articles} articles "
        "per first crawl, each a fresh archive); WARC 1.1, gzip per record (level 6), a "
        "request record with every response.",
        "",
        f"| first crawl | pages/s (median of {args.runs}, alternating) |",
        "|---|---|",
        f"| WARC off (`-s PORTAL_ARCHIVE_WARC=False`) | {m_off:.1f} |",
        f"| WARC on (the default) | {m_on:.1f} |",
        f"| **ratio on / off** | **{m_on / m_off:.2f}** |",
        "",
        "Each run's ratio (on / off, the same round): "
        + ", ".join(f"{a / b:.2f}" for a, b in zip(on, off, strict=True))
        + ". The machine is shared; a record costs about 0.65 ms of CPU for a 9.5 KB page "
        "(warcio building the response and request records, gzip, the SURT key), "
        "synchronous in the crawl's thread.",
        "",
        f"WARC bytes per archived article ({articles} articles; a re-crawl with `--full` "
        "fetches every page again, the portals unchanged):",
        "",
        "| | WARC bytes | per article |",
        "|---|---|---|",
        f"| first crawl | {first_bytes:,} | {first_bytes / articles / kb:.1f} KiB |",
        f"| re-crawl, revisit records (the default; {again['revisits']} revisits, "
        f"{again['responses']} full responses) | {with_revisits:,} | "
        f"{with_revisits / articles / kb:.2f} KiB |",
        f"| re-crawl, `PORTAL_ARCHIVE_WARC_REVISITS=False` ({plain['responses']} full "
        f"responses) | {without:,} | {without / articles / kb:.1f} KiB |",
        f"| **re-crawl saving with revisits** | | **{without / max(with_revisits, 1):.1f}x "
        "smaller** |",
        "",
        "A revisit record keeps the response's headers and no payload; with its request "
        "record it is most of what a re-crawl of unchanged pages writes. Attachments already "
        "downloaded are not fetched again by any re-crawl (the attachments pipeline), so "
        f"they weigh only in the first crawl. The raw store (gzip bodies by sha256) holds "
        f"{first_raw:,} bytes after the first crawl and grows by {again_raw:,} on the "
        "re-crawl: WARC files are the complete record of every exchange, the raw store the "
        "deduplicated bodies the extractor reads.",
        "",
    ]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
