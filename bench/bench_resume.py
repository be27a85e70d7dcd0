"""Resuming a killed crawl: what a SIGKILL half-way through costs.

Serves the sample portals on 127.0.0.1 (a bigger world: ``--scale`` copies of each article,
10 per listing page), then, ``--runs`` times, each in a fresh data directory:

  uninterrupted — ``portal-archive crawl all`` from start to end;
  killed        — the same crawl, SIGKILLed once it has made half as many requests as the
                  uninterrupted one made;
  resumed       — the same command again, which finds the killed runs and resumes.

Measured from the moment each process is started: when the first article is stored (the
archive polled every 20 ms) and when the first article page not yet stored is requested
(the server's log, time-stamped); when the crawl ends (the last run record's finish: the
documents' text extraction that follows is left out). Reported as medians: the resume
overhead (resumed against uninterrupted, time to the first new article stored), the total
crawl time killed + resumed against uninterrupted, requests, and articles lost, stored
twice or fetched again after being stored (all must be 0).

    python bench/bench_resume.py [--runs 3] [--scale 20] [--out bench/results/resume.md]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scraper.sample_portals import SampleWorld  # noqa: E402

KILL_AT = 0.5  # of the uninterrupted crawl's requests
POLL = 0.02


class StampedLog:
    """The world's request log with the time of each request (monotonic clock)."""

    def __init__(self, world: SampleWorld):
        self.entries: list[tuple[float, str, str]] = []
        log = world._log

        def stamped(slug: str, method: str, path: str, status: int | str) -> None:
            self.entries.append((time.monotonic(), slug, path))
            log(slug, method, path, status)

        world._log = stamped  # type: ignore[method-assign]

    def __len__(self) -> int:
        return len(self.entries)


def query(data: Path, sql: str) -> list[tuple]:
    """Read the archive with sqlite3 alone, read-only (nothing created, no tables: [])."""
    try:
        with closing(sqlite3.connect(f"file:{data / 'archive.sqlite3'}?mode=ro", uri=True)) as db:
            return db.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []


def stored(data: Path) -> set[str]:
    return {url for (url,) in query(data, "SELECT canonical_url FROM articles")}


def last_run_id(data: Path) -> int:
    rows = query(data, "SELECT max(id) FROM crawl_runs")
    return (rows[0][0] or 0) if rows else 0


def crawl(data: Path, registry: Path, log: StampedLog, *, kill_after: int | None = None) -> dict:
    """One ``crawl all``; SIGKILLed after ``kill_after`` requests if given."""
    before, first_run, known = len(log), last_run_id(data) + 1, stored(data)
    env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING"}
    started_wall, started = time.time(), time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "archive.cli", "--data-dir", str(data), "crawl", "all",
            "--portals", str(registry), "--allow-private", "--no-index", "--quiet",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    first_stored = killed_at = None
    while proc.poll() is None:
        time.sleep(POLL)
        if first_stored is None and len(stored(data)) > len(known):
            first_stored = time.monotonic() - started
        if kill_after is not None and len(log) - before >= kill_after:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed_at = time.monotonic() - started
    time.sleep(0.3)  # requests a killed crawl had in flight reach the log
    requests = log.entries[before:]
    ends = [
        datetime.fromisoformat(f).replace(tzinfo=UTC).timestamp()
        for (f,) in query(data, f"SELECT finished_at FROM crawl_runs WHERE id >= {first_run}")
        if f
    ]
    return {
        "known": known,
        "requests": requests,
        "started": started,
        "first_stored": first_stored,
        "crawl_time": killed_at if killed_at is not None else max(ends) - started_wall,
        "killed": killed_at is not None,
        "modes": [
            m
            for (m,) in query(
                data,
                "SELECT json_extract(stats, '$.\"incremental/mode\"') FROM crawl_runs "
                f"WHERE id >= {first_run}",
            )
        ],
    }


def first_new_page(run: dict, pages: dict[tuple[str, str], str]) -> float | None:
    """Seconds from the start to the first request for an article page not yet stored."""
    for when, slug, path in run["requests"]:
        url = pages.get((slug, path.split("?")[0]))
        if url is not None and url not in run["known"]:
            return when - run["started"]
    return None


def _page(pages: dict[tuple[str, str], str], request: tuple[str, str]) -> str | None:
    slug, path = request
    return pages.get((slug, path.split("?")[0]))


def check(data: Path, expected: set[str], resumed: dict, pages: dict) -> dict[str, int]:
    """Articles lost, stored twice (a second row or version), stored pages fetched again."""
    got = [u for (u,) in query(data, "SELECT canonical_url FROM articles")]
    versions = query(data, "SELECT count(*) FROM article_versions GROUP BY article_id")
    again = [
        path
        for _, slug, path in resumed["requests"]
        if pages.get((slug, path.split("?")[0])) in resumed["known"]
    ]
    return {
        "lost": len(expected - set(got)),
        "doubled": len(got) - len(set(got)) + sum(n - 1 for (n,) in versions),
        "fetched_again": len(again),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=int, default=20, help="copies of each sample article")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows: list[dict] = []
    with (
        SampleWorld(scale=args.scale, page_size=10) as world,
        tempfile.TemporaryDirectory() as tmpdir,
    ):
        log = StampedLog(world)
        tmp = Path(tmpdir)
        registry = tmp / "portals"
        world.write_registry(registry)
        pages = {
            (slug, a.path): world.base_url(slug) + a.path
            for slug, site in world.sites.items()
            for a in site.articles
        }
        expected = set(pages.values())
        for i in range(args.runs):
            whole = crawl(tmp / f"whole{i}", registry, log)
            data = tmp / f"killed{i}"
            killed = crawl(data, registry, log, kill_after=int(len(whole["requests"]) * KILL_AT))
            at_kill = len(stored(data))
            resumed = crawl(data, registry, log)
            row = {
                "articles": len(expected),
                "stored_at_kill": at_kill,
                "whole_first": whole["first_stored"],
                "resumed_first": resumed["first_stored"],
                "whole_first_page": first_new_page(whole, pages),
                "resumed_first_page": first_new_page(resumed, pages),
                "whole_time": whole["crawl_time"],
                "killed_time": killed["crawl_time"],
                "resumed_time": resumed["crawl_time"],
                "whole_requests": len(whole["requests"]),
                "killed_requests": len(killed["requests"]),
                "resumed_requests": len(resumed["requests"]),
                "resumed_modes": sorted(set(resumed["modes"])),
                **check(data, expected, resumed, pages),
            }
            before = {(slug, path) for _, slug, path in killed["requests"]}
            repeated = [
                (slug, path) for _, slug, path in resumed["requests"] if (slug, path) in before
            ]
            row["repeated_articles"] = sum(1 for k in repeated if _page(pages, k))
            row["repeated_other"] = len(repeated) - row["repeated_articles"]
            assert killed["killed"], "the crawl ended before it was killed"
            rows.append(row)
            print(
                f"run {i + 1}: killed with {at_kill}/{len(expected)} stored; first new article "
                f"stored {row['resumed_first']:.2f}s after the restart "
                f"(uninterrupted: first stored {row['whole_first']:.2f}s); crawl "
                f"{row['killed_time']:.1f}+{row['resumed_time']:.1f}s vs "
                f"{row['whole_time']:.1f}s; requests {row['killed_requests']}+"
                f"{row['resumed_requests']} vs {row['whole_requests']}; lost {row['lost']}, "
                f"doubled {row['doubled']}, fetched again {row['fetched_again']}; "
                f"modes {row['resumed_modes']}",
                flush=True,
            )
    print("\n".join(report(rows, args)))
    if args.out:
        args.out.write_text("\n".join(report(rows, args)) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")


def report(rows: list[dict], args: argparse.Namespace) -> list[str]:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    def ratio(num, den) -> float:
        return statistics.median(num(r) / den(r) for r in rows)

    overhead = statistics.median(r["resumed_first"] - r["whole_first"] for r in rows)
    page_overhead = statistics.median(r["resumed_first_page"] - r["whole_first_page"] for r in rows)
    total = ratio(lambda r: r["killed_time"] + r["resumed_time"], lambda r: r["whole_time"])
    n = rows[0]["articles"]
    return [
        "## Resuming a killed crawl",
        "",
        f"Command: `python bench/bench_resume.py --runs {args.runs} --scale {args.scale}` "
        f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores).",
        f"The 3 sample portals on 127.0.0.1 at scale {args.scale} ({n} articles, 10 per "
        "listing page), crawled together by `portal-archive crawl all`. Each run: an "
        f"uninterrupted crawl; the same crawl in a fresh archive SIGKILLed after "
        f"{KILL_AT:.0%} of the uninterrupted crawl's requests (median "
        f"{med('stored_at_kill'):.0f} articles stored by then), then started again: it "
        "resumes (`incremental/mode` = `resume`). Times from each process's start; a "
        "crawl's time ends with its last run record (the documents' text extraction after "
        f"it is left out); medians of {args.runs} runs.",
        "",
        "| measure | uninterrupted | killed + resumed |",
        "|---|---|---|",
        f"| first article stored, s from the (re)start | {med('whole_first'):.2f} | "
        f"{med('resumed_first'):.2f} (a new one) |",
        f"| first article page not yet stored requested, s | {med('whole_first_page'):.2f} | "
        f"{med('resumed_first_page'):.2f} |",
        f"| crawl time, s | {med('whole_time'):.1f} | {med('killed_time'):.1f} + "
        f"{med('resumed_time'):.1f} |",
        f"| requests | {med('whole_requests'):.0f} | {med('killed_requests'):.0f} + "
        f"{med('resumed_requests'):.0f} |",
        "| requests the restart repeated: article pages fetched but not yet stored at the "
        "kill / other pages (listings, home pages, robots.txt, attachments) | – | "
        f"{med('repeated_articles'):.0f} / {med('repeated_other'):.0f} |",
        f"| articles lost / stored twice / stored page fetched again | – | "
        f"{max(r['lost'] for r in rows)} / {max(r['doubled'] for r in rows)} / "
        f"{max(r['fetched_again'] for r in rows)} |",
        f"| **resume overhead: first new article stored, resumed − uninterrupted** | | "
        f"**{overhead:+.2f} s** (first new page requested: {page_overhead:+.2f} s) |",
        f"| **crawl time (killed + resumed) / uninterrupted** | | **{total:.2f}** |",
        f"| **requests (resumed) / uninterrupted** | | "
        f"**{ratio(lambda r: r['resumed_requests'], lambda r: r['whole_requests']):.2f}** |",
        f"| **requests (killed + resumed) / uninterrupted** | | "
        f"**{ratio(lambda r: r['killed_requests'] + r['resumed_requests'], lambda r: r['whole_requests']):.2f}** |",  # noqa: E501
        "",
        "What the restart pays: the process start-up, the listing pages walked again (a "
        "resume walks every one; the articles they link that are archived are not fetched "
        "again), and the work the kill lost: articles fetched but not yet written (the "
        "archive writes at least every `PORTAL_ARCHIVE_FLUSH_SECONDS`, 1 s by default) and "
        "attachment downloads cut short. See docs/incremental.md.",
    ]


if __name__ == "__main__":
    main()
