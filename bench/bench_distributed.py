"""Distributed crawls: throughput with 1, 2 and 4 worker processes against one portal.

One sample portal (``--slug``, NukeViet by default) generated at ``--articles`` articles
(``SampleWorld(scale=articles / 10, page_size=20)``, pages rendered on demand) is served
on 127.0.0.1 by this process; a redis-server (Debian's, no persistence, a free port) is
started for the benchmark. Each round crawls the portal into a fresh archive with

  plain      ``portal-archive crawl SLUG`` (Scrapy's own scheduler, no Redis): the baseline
             of what one process does without distribution;
  N workers  ``portal-archive crawl SLUG --redis URL --workers N`` for each N of
             ``--workers`` (default 1, 2, 4): N processes sharing the frontier in Redis.

Pages/s = responses the server answered / (its first answer → its last), read at the
server, so that process start-up (Python and Scrapy imports, ~1.5 s a process, in
parallel) and the coordinator's index update after the crawl are left out the same way for
every configuration. Speed-up = pages/s of N workers / pages/s of 1 worker, each round,
then the median over ``--runs`` rounds (configurations alternate within a round: the
machine is shared and noisy).

    python bench/bench_distributed.py [--articles 3000] [--workers 1,2,4] [--runs 2]
                                      [--out bench/results/distributed.md]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scraper.sample_portals import SampleWorld  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerClock:
    """When the server answered its first and last request since :meth:`start`."""

    def __init__(self, world: SampleWorld):
        self.world = world
        self.stop = threading.Event()

    def start(self) -> None:
        self.before = len(self.world.requests)
        self.first = self.last = None
        self.count = self.before
        self.stop.clear()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            n = len(self.world.requests)
            if n != self.count:
                now = time.perf_counter()
                self.first = self.first or now
                self.last, self.count = now, n
            time.sleep(0.02)

    def finish(self) -> dict:
        self.stop.set()
        self.thread.join()
        served = len(self.world.requests) - self.before
        seconds = (self.last - self.first) if self.first and self.last else float("nan")
        return {"served": served, "seconds": seconds, "rate": served / seconds}


def crawl(clock: ServerClock, registry: Path, data: Path, slug: str, *extra: str) -> dict:
    env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING"}
    cmd = [
        sys.executable, "-m", "archive.cli", "--data-dir", str(data), "crawl", slug,
        "--portals", str(registry), "--allow-private", "--no-index", "--quiet", *extra,
    ]  # fmt: skip
    clock.start()
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - started
    result = clock.finish()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    shutil.rmtree(data)
    return {**result, "wall": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=3000)
    ap.add_argument("--slug", default="huyen-ham-tan")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    server = shutil.which("redis-server")
    if server is None:
        sys.exit("redis-server is missing: bash scripts/system-deps.sh --with-redis")
    configs = ["plain", *counts]
    results: dict = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        port = free_port()
        redis = subprocess.Popen(
            [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", str(tmp)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        try:
            with SampleWorld(scale=max(1, args.articles // 10), page_size=20) as world:
                registry = tmp / "portals"
                world.write_registry(registry)
                clock = ServerClock(world)
                for run in range(args.runs):
                    for config in configs:
                        extra = (
                            () if config == "plain" else ("--redis", url, "--workers", str(config))
                        )
                        r = crawl(clock, registry, tmp / "data", args.slug, *extra)
                        results[config].append(r)
                        label = "plain" if config == "plain" else f"{config} worker(s)"
                        print(f"round {run + 1}: {label}: {r['served']} responses in "
                              f"{r['seconds']:.1f} s, {r['rate']:.1f} pages/s "
                              f"(wall {r['wall']:.1f} s)", flush=True)  # fmt: skip
        finally:
            redis.terminate()
            redis.wait(timeout=10)

    base = counts[0]
    speedups = {
        n: statistics.median(
            r["rate"] / b["rate"] for r, b in zip(results[n], results[base], strict=True)
        )
        for n in counts
    }
    served = results[base][0]["served"]
    load = os.getloadavg()[1]  # the last 5 minutes: how much else the shared cores were doing
    lines = [
        "## Distributed crawls: 1, 2 and 4 worker processes on one portal",
        "",
        f"Command: `python bench/bench_distributed.py --articles {args.articles} "
        f"--workers {args.workers} --runs {args.runs}` ({time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} cores). One sample portal ({args.slug}, NukeViet) generated at "
        f"{args.articles:,} articles (20 per listing page; {served:,} responses a crawl), "
        "served on 127.0.0.1 by the benchmark's own process (Python's threading HTTP server: "
        "it shares the 2 cores with the crawlers and Redis), crawled into a fresh archive "
        "each time. Workers share the frontier and duplicate filter in a local redis-server "
        "(`crawl --redis URL --workers N`); each keeps Scrapy's 16 requests at a time. "
        "Pages/s at the server, first to last answer (process start-up left out); "
        f"configurations alternate within each of {args.runs} rounds; medians.",
        "",
        "| crawl | pages/s (median) | each round | wall time (s, median) | speed-up vs 1 worker |",
        "|---|---|---|---|---|",
    ]
    for config in configs:
        rates = [r["rate"] for r in results[config]]
        walls = [r["wall"] for r in results[config]]
        label = (
            "plain `crawl` (no Redis)"
            if config == "plain"
            else f"{config} worker{'s' if config > 1 else ''}"
        )
        speed = (
            f"{statistics.median(rates) / statistics.median([r['rate'] for r in results[base]]):.2f}"
            if config == "plain"
            else f"**{speedups[config]:.2f}**"
        )
        lines.append(
            f"| {label} | {statistics.median(rates):.1f} | "
            f"{', '.join(f'{x:.1f}' for x in rates)} | {statistics.median(walls):.1f} | {speed} |"
        )
    lines += [
        "",
        "Speed-up: each round's N-worker pages/s over the same round's 1-worker pages/s, "
        "median of the rounds. Wall time includes process start-up, the run record and "
        "documents processing after the crawl (the index update is off: `--no-index`). "
        "With two cores, the server, Redis and the workers compete for CPU: more than two "
        "processes cannot add CPU, only overlap waiting; on a portal across the network "
        "(latency, politeness delays) workers on separate machines add bandwidth instead. "
        f"Load average (5 min) at the end of the benchmark: {load:.1f}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
