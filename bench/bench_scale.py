"""A big portal: crawl speed against bare Scrapy, and memory as the crawl goes on.

For each size (default 2,500, 5,000 and 10,000 articles) one sample portal (``--slug``,
NukeViet by default) is served on 127.0.0.1 by ``SampleWorld(scale=size / 10,
page_size=...)`` (each of its 10 articles copied and dated back; pages rendered on demand),
and crawled by:

  full       ``portal-archive crawl <slug>`` (extraction, validation, SQLite, raw bodies);
  bare       bare Scrapy following links to exactly the URLs the full crawl fetched
             (bench/bare_crawl.py ``follow``: discovery as the real crawl does it);
  recrawl    an unchanged incremental re-crawl of the full crawl's archive.

Pages/s = responses / (spider opened → closed) from the crawl's own stats, so process
start-up is left out; full and bare crawls alternate ``--runs`` times at each size (medians:
the machine is shared and noisy); memory is that of the first pair. The crawl process's resident memory (``VmRSS`` in /proc/<pid>/status)
is sampled every 0.5 s with the number of requests the server had answered, and reported at
25/50/75/100% of the crawl's requests, with its peak (``VmHWM``). A probe extension
(bench/memory_probe.py) measures, when the spider closes, the structures that grow with the
URLs: the spider's sets, Scrapy's dupefilter, the incremental plan, the stats.

    python bench/bench_scale.py [--sizes 2500,5000,10000] [--page-size 20] [--runs 3]
                                [--out bench/results/scale.md]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from scraper.sample_portals import SampleWorld  # noqa: E402
from scraper.settings import EXTENSIONS  # noqa: E402

PROBE = "bench.memory_probe.MemoryProbe"
POINTS = (0.25, 0.50, 0.75, 1.00)


def _status_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in KiB; (0, 0) once it is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def sampled(cmd: list[str], world: SampleWorld, probe: Path, **kw) -> dict:
    """Run ``cmd``, sampling its memory and the requests served every 0.5 s."""
    before = len(world.requests)
    env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING", "MEMORY_PROBE_OUT": str(probe)}
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
    )
    samples: list[tuple[int, int, int]] = []  # (requests served, rss KiB, hwm KiB)
    while proc.poll() is None:
        rss, hwm = _status_kb(proc.pid)
        if rss:
            samples.append((len(world.requests) - before, rss, hwm))
        time.sleep(0.5)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}\n{err}")
    served = len(world.requests) - before
    return {
        "stdout": out,
        "served": served,
        "samples": samples,
        "probe": json.loads(probe.read_text()),
    }


def rss_at_progress(run: dict) -> dict[float, float]:
    """RSS (MiB) at the first sample once each share of the requests had been served."""
    out = {}
    for point in POINTS:
        hits = [rss for served, rss, _ in run["samples"] if served >= point * run["served"]]
        out[point] = (hits[0] if hits else run["samples"][-1][1]) / 1024
    return out


def full_crawl(world: SampleWorld, slug: str, registry: Path, data: Path, probe: Path) -> dict:
    extensions = json.dumps({**EXTENSIONS, PROBE: 900})
    run = sampled(
        [
            sys.executable, "-m", "archive.cli", "--data-dir", str(data), "crawl", slug,
            "--portals", str(registry), "--allow-private", "--no-index", "--quiet",
            "-s", f"EXTENSIONS={extensions}",
        ],
        world, probe, cwd=ROOT,
    )  # fmt: skip
    engine = create_engine(f"sqlite:///{data / 'archive.sqlite3'}")
    with engine.connect() as conn:
        run_id, stats, started, finished = conn.execute(
            text("select id, stats, started_at, finished_at from crawl_runs order by id desc")
        ).first()
        urls = [u for (u,) in conn.execute(text("select url from raw_responses where crawl_run_id = :r"), {"r": run_id})]  # fmt: skip
    engine.dispose()
    stats = json.loads(stats)
    seconds = (_ts(finished) - _ts(started)) if finished else float("nan")
    pages = int(stats["response_received_count"])
    return {**run, "pages": pages, "rate": pages / seconds, "urls": urls, "stats": stats}


def bare_crawl(world: SampleWorld, urls: list[str], starts: list[str], tmp: Path, probe: Path):
    path = tmp / "urls.json"
    path.write_text(json.dumps({"portal": {"urls": urls, "starts": starts}}))
    run = sampled(
        [sys.executable, str(ROOT / "bench" / "bare_crawl.py"), str(path), "follow"],
        world, probe, cwd=tmp,
    )  # fmt: skip
    (stats,) = json.loads(run["stdout"].strip().splitlines()[-1])
    return {**run, "pages": stats["pages"], "rate": stats["pages"] / (stats["finish"] - stats["start"])}  # fmt: skip


def _ts(value) -> float:
    from datetime import datetime

    return datetime.fromisoformat(str(value)).timestamp()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="2500,5000,10000", help="articles on the portal")
    ap.add_argument("--page-size", type=int, default=20, help="articles per listing page")
    ap.add_argument("--slug", default="huyen-ham-tan")
    ap.add_argument("--runs", type=int, default=3, help="full/bare pairs at each size")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from scraper.registry import load_all

    results = {}
    for size in sizes:
        with (
            SampleWorld(scale=max(1, size // 10), page_size=args.page_size) as world,
            tempfile.TemporaryDirectory() as tmpdir,
        ):
            tmp = Path(tmpdir)
            registry = tmp / "portals"
            registry.mkdir()
            (registry / f"{args.slug}.toml").write_text(world.registry_toml(args.slug))
            entry = load_all(registry)[args.slug]
            starts = [*entry.start_urls, *entry.category_urls]
            site = world.sites[args.slug]
            articles = len(site.articles)
            listing = sum(site.page_count(c.slug) for c in site.spec.categories)
            full = full_crawl(world, args.slug, registry, tmp / "data", tmp / "probe-full.json")
            bare = bare_crawl(world, full["urls"], starts, tmp, tmp / "probe-bare.json")
            recrawl = full_crawl(world, args.slug, registry, tmp / "data", tmp / "probe-re.json")
            rates = [(full["rate"], bare["rate"])]
            for i in range(1, args.runs):
                again = full_crawl(world, args.slug, registry, tmp / f"data{i}", tmp / "p.json")
                rates.append((again["rate"], bare_crawl(world, again["urls"], starts, tmp, tmp / "p.json")["rate"]))  # fmt: skip
                print(f"run {i + 1}: full {rates[-1][0]:.1f} pages/s, bare {rates[-1][1]:.1f}")
            results[size] = {
                "articles": articles,
                "listing": listing,
                "full": full,
                "bare": bare,
                "recrawl": recrawl,
                "rates": rates,
            }
            print(
                f"{articles} articles: full {full['rate']:.1f} pages/s, bare {bare['rate']:.1f}, "
                f"ratio {full['rate'] / bare['rate']:.2f}; RSS full "
                + " ".join(f"{v:.0f}" for v in rss_at_progress(full).values())
                + f" MiB, peak {full['probe']['hwm_kb'] / 1024:.0f}; bare "
                + " ".join(f"{v:.0f}" for v in rss_at_progress(bare).values())
                + f"; re-crawl {recrawl['served']} requests, peak "
                f"{recrawl['probe']['hwm_kb'] / 1024:.0f} MiB",
                flush=True,
            )
    lines = report(results, args)
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines), encoding="utf-8")


def report(results: dict, args) -> list[str]:
    big = results[max(results)]
    lines = [
        "## A big portal: crawl speed and memory",
        "",
        f"Command: `python bench/bench_scale.py --sizes {args.sizes} --page-size "
        f"{args.page_size} --slug {args.slug}` ({time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} cores).",
        f"One sample portal ({args.slug}, NukeViet) generated at "
        + ", ".join(f"{r['articles']:,}" for r in results.values())
        + f" articles ({args.page_size} per listing page; each of its 10 articles copied and "
        "dated back, pages rendered on demand by the server in the benchmark's process), "
        "crawled by `portal-archive crawl` (extraction, validation, SQLite, raw bodies kept) "
        "and by a bare Scrapy spider following links to exactly the URLs the full crawl "
        "fetched (bench/bare_crawl.py), 16 requests at a time on both sides. Pages/s from "
        "each crawl's own start and finish times, the bare crawl right after the full one; "
        f"medians of {args.runs} alternating pairs per size (the machine is shared with other "
        "work: single pairs vary by ±30%).",
        "",
        "| articles | listing pages | responses | runs | full crawl pages/s | bare Scrapy pages/s "
        "| **ratio full / bare** |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results.values():
        full = statistics.median(f for f, _ in r["rates"])
        bare = statistics.median(b for _, b in r["rates"])
        lines.append(
            f"| {r['articles']:,} | {r['listing']} | {r['full']['pages']:,} | {len(r['rates'])} "
            f"| {full:.1f} | {bare:.1f} | **{full / bare:.2f}** |"
        )
    lines += [
        "",
        "Anchors (shared/PERFORMANCE.md: 2,000 static pages, 32 requests at a time): a "
        "CrawlSpider with no pipeline 144 pages/s, with a SQLAlchemy pipeline 112–148, "
        "`scrapy bench` ~96.",
    ]
    if args.runs > 1:
        lines += ["", "Each pair (full / bare pages/s, ratio):", ""]
        for r in results.values():
            lines.append(
                f"- {r['articles']:,} articles: "
                + ", ".join(f"{f:.1f} / {b:.1f} ({f / b:.2f})" for f, b in r["rates"])
            )
    lines += [
        "",
        "Resident memory (MiB) of the crawl process when 25/50/75/100% of its requests had "
        "been answered, and its peak (VmHWM, read when the spider closed); the first pair of "
        "each size:",
        "",
        "| crawl | articles | 25% | 50% | 75% | 100% | peak | growth 25→100% per page |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, label in (("full", "portal-archive"), ("bare", "bare Scrapy")):
        for r in results.values():
            run = r[name]
            at = rss_at_progress(run)
            grown = (at[1.0] - at[0.25]) * 1024 * 1024 / max(1, 0.75 * run["served"])
            lines.append(
                f"| {label} | {r['articles']:,} | "
                + " | ".join(f"{at[p]:.0f}" for p in POINTS)
                + f" | {run['probe']['hwm_kb'] / 1024:.0f} | {grown:,.0f} B |"
            )
    sizes = big["full"]["probe"]["sizes"]
    bare_sizes = big["bare"]["probe"]["sizes"]
    lines += [
        "",
        f"What grows with the URLs, measured when the {big['articles']:,}-article crawl's "
        "spider closed (deep `sys.getsizeof`; bench/memory_probe.py):",
        "",
        "| structure | items | MiB | bytes per item |",
        "|---|---|---|---|",
    ]
    for name, value in [*sizes.items(), *(("bare " + k, v) for k, v in bare_sizes.items())]:
        if name.endswith("stats"):
            continue
        lines.append(
            f"| {name} | {value['items']:,} | {value['bytes'] / 2**20:.1f} "
            f"| {value['bytes'] / max(1, value['items']):.0f} |"
        )
    lines.append(
        f"| stats (keys) | {sizes['stats']['items']} | {sizes['stats']['bytes'] / 2**20:.2f} | |"
    )
    lines += [
        "",
        "Requests waiting in the scheduler at most: "
        + ", ".join(
            f"{r['full']['probe']['max_waiting']:,} (full) / {r['bare']['probe']['max_waiting']:,}"
            f" (bare) at {r['articles']:,} articles"
            for r in results.values()
        )
        + ".",
        "",
        _summary(results),
        "",
        "An unchanged incremental re-crawl of each archive: "
        + "; ".join(
            f"{r['articles']:,} articles: {r['recrawl']['served']} requests, peak "
            f"{r['recrawl']['probe']['hwm_kb'] / 1024:.0f} MiB, known URLs "
            f"{r['recrawl']['probe']['sizes'].get('incremental.plan.known', {}).get('bytes', 0) / 2**20:.1f} MiB"
            for r in results.values()
        )
        + ".",
        "",
    ]
    return lines


def _summary(results: dict) -> str:
    """What the figures say about growth, in numbers from this run."""
    small, big = results[min(results)], results[max(results)]
    pages = big["full"]["served"] - small["full"]["served"]

    def per_page(name: str) -> float:
        return (big[name]["probe"]["hwm_kb"] - small[name]["probe"]["hwm_kb"]) * 1024 / pages

    sizes = big["full"]["probe"]["sizes"]
    own = sum(sizes[k]["bytes"] for k in ("spider.requested", "spider.seen_canonical"))
    scrapy = sizes["dupefilter.fingerprints"]["bytes"]
    served = big["full"]["served"]
    return (
        f"From {small['articles']:,} to {big['articles']:,} articles the crawl's peak grows "
        f"{(big['full']['probe']['hwm_kb'] - small['full']['probe']['hwm_kb']) / 1024:.0f} MiB "
        f"({per_page('full'):,.0f} B per extra request; bare Scrapy {per_page('bare'):,.0f} B): "
        "memory does not follow the crawl's size beyond its URL sets. Of that, the spider's "
        f"own sets `requested` and `seen_canonical` (full URL strings) hold {own / served:,.0f} "
        f"B per request and Scrapy's dupefilter {scrapy / served:,.0f} B (a 40-hex "
        "fingerprint per request, by design); the rest is the scheduler's waiting requests "
        "(a few KiB each, at most the counts above) and the allocator's slack."
    )


if __name__ == "__main__":
    main()
