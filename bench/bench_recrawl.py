"""Incremental re-crawls: requests of a re-crawl as a share of the first crawl.

Serves the three sample portals on 127.0.0.1 at ``--scale`` (each sample article copied,
dated back; ``--page-size`` per listing page: several listing pages per category) with
validators on (ETag / Last-Modified, 304), publishes ``--recent`` articles per portal in the
last days (the ones a re-crawl re-checks), then crawls them all through the CLI into one
data directory, four times:

  first      the first crawl (full: every listing page, every article, the attachments);
  unchanged  a re-crawl of the unchanged portals;
  changed    a re-crawl after ``--edits`` recent and ``--edits`` old articles were edited and
             ``--publish`` articles published per portal (old edits are not looked for);
  full       a full re-crawl (``-s PORTAL_ARCHIVE_FULL_CRAWL=True``), for comparison.

Requests are counted by the server (every request, robots.txt and attachments included);
304s by the server and by the crawl's ``incremental/not_modified``. Times are the crawl
runs' own (first spider opened → last run finished), so process start-up is left out.
Everything is a ratio against the first crawl of the same run.

    python bench/bench_recrawl.py [--scale 30] [--page-size 10] [--out bench/results/recrawl.md]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.config import Config  # noqa: E402
from archive.store import Archive  # noqa: E402
from scraper.sample_portals import PORTALS, SampleWorld  # noqa: E402
from scraper.sample_portals.site import VN  # noqa: E402


def crawl(world: SampleWorld, registry: Path, data: Path, *extra: str) -> dict:
    """One ``portal-archive crawl all``; what the server saw and what the runs recorded."""
    before = len(world.requests)
    env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING"}
    subprocess.run(
        [
            sys.executable, "-m", "archive.cli", "--data-dir", str(data), "crawl", "all",
            "--portals", str(registry), "--allow-private", "--no-index", "--quiet", *extra,
        ],
        check=True, cwd=ROOT, env=env, capture_output=True,
    )  # fmt: skip
    served = world.requests[before:]
    archive = Archive(Config.resolve(data))
    try:
        runs = archive.runs(limit=len(PORTALS))
    finally:
        archive.close()
    stats = Counter()
    for run in runs:
        stats.update({k: run[k] for k in ("new", "updated", "unchanged")})
        for key in ("not_modified", "conditional_requests", "rechecks", "listing_stops"):
            stats[key] += int(run["stats"].get(f"incremental/{key}", 0))
    seconds = max(r["finished_at"] for r in runs) - min(r["started_at"] for r in runs)
    return {
        "requests": len(served),
        "by_status": Counter(s for *_, s in served),
        "articles": sum(1 for _, _, p, _ in served if _is_article(world, p)),
        "stats": stats,
        "seconds": seconds.total_seconds(),
        "modes": sorted({r["stats"].get("incremental/mode", "?") for r in runs}),
    }


def _is_article(world: SampleWorld, path: str) -> bool:
    return any(path in site.by_path for site in world.sites.values())


def change(world: SampleWorld, recent: dict, edits: int, publish: int) -> dict:
    """Edit ``edits`` recent and ``edits`` old articles, publish ``publish`` per portal."""
    done = Counter()
    for slug in PORTALS:
        for article in recent[slug][:edits]:
            world.edit(slug, article.path, new_body_text=f"{article.title}.\n\nĐã cập nhật.")
            done["recent edited"] += 1
        for i in range(edits):
            old = world.article(slug, 20 + i)
            world.edit(slug, old.path, new_body_text=f"{old.title}.\n\nĐính chính số liệu.")
            done["old edited"] += 1
        for _ in range(publish):
            world.publish(slug)
            done["published"] += 1
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=int, default=30, help="copies of each sample article")
    ap.add_argument("--page-size", type=int, default=10, help="articles per listing page")
    ap.add_argument("--recent", type=int, default=3, help="recent articles per portal")
    ap.add_argument("--edits", type=int, default=2, help="recent (and old) edits per portal")
    ap.add_argument("--publish", type=int, default=2, help="new articles per portal")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    results: dict[str, dict] = {}
    with (
        SampleWorld(scale=args.scale, page_size=args.page_size) as world,
        tempfile.TemporaryDirectory() as tmpdir,
    ):
        tmp = Path(tmpdir)
        registry, data = tmp / "portals", tmp / "data"
        world.write_registry(registry)
        now = datetime.now(VN).replace(tzinfo=None, microsecond=0)
        recent = {
            slug: [
                world.publish(slug, published=now - timedelta(days=2 * k + 1))
                for k in range(args.recent)
            ]
            for slug in PORTALS
        }
        listing_pages = {
            slug: {c.slug: site.page_count(c.slug) for c in site.spec.categories}
            for slug, site in world.sites.items()
        }
        articles = sum(len(site.articles) for site in world.sites.values())
        for name, extra in (("first", ()), ("unchanged", ())):
            results[name] = crawl(world, registry, data, *extra)
            print(name, _line(results[name]), flush=True)
        done = change(world, recent, args.edits, args.publish)
        results["changed"] = crawl(world, registry, data)
        print("changed", _line(results["changed"]), flush=True)
        results["full"] = crawl(world, registry, data, "-s", "PORTAL_ARCHIVE_FULL_CRAWL=True")
        print("full", _line(results["full"]), flush=True)

    first = results["first"]
    pages = sorted({n for p in listing_pages.values() for n in p.values()})
    span = f"{pages[0]}" if pages[0] == pages[-1] else f"{pages[0]}–{pages[-1]}"
    lines = [
        "## Incremental re-crawls: requests against the first crawl",
        "",
        f"Command: `python bench/bench_recrawl.py --scale {args.scale} --page-size "
        f"{args.page_size} --recent {args.recent} --edits {args.edits} --publish "
        f"{args.publish}` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores).",
        f"The 3 sample portals at scale {args.scale}, {args.page_size} articles per listing "
        f"page ({span} listing pages per category), validators on (ETag of "
        f"the page, Last-Modified of the article, 304); {args.recent} articles per portal "
        f"published in the last {2 * args.recent} days, so {articles} articles in all. "
        "Four crawls of `portal-archive crawl all` into one data directory: the first "
        "(full), a re-crawl of the unchanged portals, a re-crawl after "
        f"{done['recent edited']} recent and {done['old edited']} old articles were edited "
        f"and {done['published']} published, and a full re-crawl. Requests are counted by "
        "the server (robots.txt and attachments included); time is the crawl runs' own "
        "(process start-up left out).",
        "",
        "| crawl | requests | share of first | 304 (server / `not_modified`) "
        "| articles fetched | new / updated / unchanged | time s | time vs first |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, label in (
        ("first", "first crawl (full)"),
        ("unchanged", "re-crawl, nothing changed"),
        ("changed", "re-crawl after edits and new articles"),
        ("full", "full re-crawl (`PORTAL_ARCHIVE_FULL_CRAWL`)"),
    ):
        r = results[name]
        s = r["stats"]
        lines.append(
            f"| {label} | {r['requests']:,} | {r['requests'] / first['requests']:.1%} "
            f"| {r['by_status'][304]} / {s['not_modified']} | {r['articles']:,} "
            f"| {s['new']} / {s['updated']} / {s['unchanged']} | {r['seconds']:.1f} "
            f"| {r['seconds'] / first['seconds']:.2f}× |"
        )
    ch = results["changed"]
    lines += [
        "",
        f"The unchanged re-crawl asks for {results['unchanged']['requests']} pages "
        f"({results['unchanged']['requests'] / first['requests']:.1%} of the first crawl): "
        "robots.txt, the home page, two listing pages per category (the stop rule: the "
        "first fully-known page plus one of overlap) and the recent articles, each "
        f"re-checked with `If-None-Match` / `If-Modified-Since` "
        f"({results['unchanged']['stats']['conditional_requests']} conditional requests, "
        f"{results['unchanged']['by_status'][304]} answered 304). After the changes it finds "
        f"the {done['published']} new articles and the {done['recent edited']} edited recent "
        f"ones ({ch['stats']['new']} new, {ch['stats']['updated']} updated); the "
        f"{done['old edited']} edited old articles are outside the 14-day re-check window "
        "and only a full crawl (or a wider `PORTAL_ARCHIVE_RECHECK_DAYS`) sees them: the "
        f"full re-crawl counts {results['full']['stats']['updated']} updated. A publication "
        'also changes the neighbouring articles\' pages (their "newer / older" lists), so '
        "some re-checks get 200 with unchanged content (counted unchanged, no new version).",
        "",
    ]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines), encoding="utf-8")


def _line(r: dict) -> str:
    s = r["stats"]
    return (
        f"{r['requests']} requests, 304: {r['by_status'][304]}, new {s['new']}, "
        f"updated {s['updated']}, unchanged {s['unchanged']}, {r['seconds']:.1f} s, {r['modes']}"
    )


if __name__ == "__main__":
    main()
