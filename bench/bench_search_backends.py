"""Benchmark the two search backends (search/backend.py) on the same generated articles.

    .venv/bin/python bench/bench_search_backends.py [--articles 30000] [--runs 5]
        [--out bench/results/search_backends.md] [--json FIGURES.json]

The articles are bench/bench_index.py's deterministic corpus (~690 words each, 12 portals,
2017-2025, topics, cited document numbers, their kinds as bench/bench_web.py derives them).
Each backend gets the same ``IndexDoc`` objects through ``SearchBackend.update``:

* Whoosh: a new index in a temporary directory, with its default writer (2 processes);
* PostgreSQL: a new database on a throwaway server this script starts with Debian's
  binaries (tests/pg.py's cluster, here with fsync on, shared_buffers 256 MB, max_wal_size
  1 GB), migrated to the head revision; build time includes the ``ANALYZE`` after loading.

Then the fixed query list of bench/bench_web.py (the search page's 26 queries: words with
and without diacritics, phrases, document numbers, exclusions, filters, date sorts,
paging) runs on each: the web page's call, 20 hits, facets over every match, snippets
highlighted from the bodies (held in memory for both). Each query is warmed up once, then
timed ``--runs`` times; p50/p95 are over every timed call. Totals are compared: the two
backends must find the same number of matches for every query.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_index import Corpus  # noqa: E402
from bench_web import KINDS, QUERIES, UNITS  # noqa: E402

from archive.text import fold_lower  # noqa: E402
from search.backend import SearchBackend, WhooshBackend  # noqa: E402
from search.index import IndexDoc, SearchIndex  # noqa: E402

PER_PAGE = 20


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def pctl(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))]


def corpus(n: int) -> list[IndexDoc]:
    c = Corpus()
    docs = []
    for i in range(n):
        doc = c.article(i)[0]
        kinds = []
        for number in dict.fromkeys(doc.doc_numbers):
            code = number.replace("/", "-").split("-")
            kind = next((KINDS[k] for k in code if k in KINDS), None)
            if kind:
                kinds.append(kind)
        doc.doc_kinds = kinds
        doc.unit = UNITS[doc.portal]
        docs.append(doc)
    return docs


def query_kwargs(pairs: list[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    """The search page's parameters as ``search()`` arguments (a unit: the portals whose
    unit name holds it, as bench_web does)."""
    q, kw = "", {}
    for key, value in pairs:
        if key == "q":
            q = value
        elif key == "topic":
            kw["topic"] = value
        elif key == "year":
            kw["year"] = int(value)
        elif key == "portal":
            kw.setdefault("portal", []).append(value)
        elif key == "unit":
            wanted = fold_lower(value)
            kw.setdefault("portal", []).extend(
                slug for slug, unit in UNITS.items() if wanted in fold_lower(unit)
            )
        elif key == "kind":
            kw["doc_kind"] = value
        elif key == "from":
            kw["date_from"] = date.fromisoformat(value)
        elif key == "to":
            kw["date_to"] = date.fromisoformat(value)
        elif key == "sort":
            kw["sort"] = value
        elif key == "page":
            kw["page"] = int(value)
    return q, kw


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- the PostgreSQL server -------------------------------------------------------------------


def start_server() -> Any:
    from tests import pg

    class BenchCluster(pg.Cluster):
        """tests/pg.py's throwaway cluster with durable writes and more shared buffers."""

        def start(self) -> BenchCluster:
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", pg.USER,
                "--auth=trust", "-E", "UTF8", "--locale=C",
            )  # fmt: skip
            options = (
                f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
                " -c shared_buffers=256MB -c max_wal_size=1GB"
            )
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                "-o", options, "-w", "-t", "60", "start",
            )  # fmt: skip
            return self

    return BenchCluster().start()


def postgres_backend(cluster: Any) -> SearchBackend:
    from archive.migrate import upgrade
    from archive.store import open_engine
    from search.postgres import PostgresBackend
    from tests import pg

    pg.create_database(cluster.server_url, "bench", template="template0")
    engine = open_engine(cluster.url("bench"))
    upgrade(engine)
    return PostgresBackend(engine, owns_engine=True)


def postgres_sizes(backend: Any) -> dict[str, int]:
    from sqlalchemy import text

    with backend.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT pg_total_relation_size('search_entries'),"
                " pg_relation_size('ix_search_entries_terms'),"
                " pg_indexes_size('search_entries')"
            )
        ).one()
    return {"total": row[0], "terms_gin": row[1], "indexes": row[2]}


# --- measuring -------------------------------------------------------------------------------


def build(backend: SearchBackend, docs: list[IndexDoc]) -> float:
    started = time.perf_counter()
    done = backend.update(docs)
    assert done == len(docs), (done, len(docs))
    if backend.name == "postgres":
        from sqlalchemy import text

        with backend.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(text("ANALYZE search_entries"))
    return time.perf_counter() - started


def bench_queries(
    backend: SearchBackend, bodies: dict[str, str], runs: int
) -> tuple[list[dict[str, Any]], list[float]]:
    def texts_for(ids: list[str]) -> dict[str, str]:
        return {i: bodies[i] for i in ids}

    rows, every = [], []
    for name, pairs in QUERIES:
        q, kw = query_kwargs(pairs)
        result = backend.search(q, per_page=PER_PAGE, texts_for=texts_for, **kw)  # warm-up
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            backend.search(q, per_page=PER_PAGE, texts_for=texts_for, **kw)
            times.append(time.perf_counter() - started)
        every += times
        rows.append(
            {
                "name": name,
                "pairs": pairs,
                "total": result.total,
                "median": statistics.median(times),
                "first": [h.id for h in result.hits[:3]],
            }
        )
        say(f"  {backend.name:8} {name:32} {result.total:>7,} {1000 * rows[-1]['median']:8.1f} ms")
    return rows, every


def run(n: int, runs: int) -> dict[str, Any]:
    say(f"generating {n:,} articles")
    started = time.perf_counter()
    docs = corpus(n)
    generated = time.perf_counter() - started
    bodies = {d.id: d.body for d in docs}
    words = sum(len(d.body.split()) + len(d.title.split()) + len(d.lead.split()) for d in docs)
    res: dict[str, Any] = {"articles": n, "runs": runs, "generate_s": generated,
                           "words_per_article": words / n, "backends": {}}  # fmt: skip

    tmp = Path(tempfile.mkdtemp(prefix="bench-backends-"))
    cluster = None
    try:
        path = tmp / "index"
        whoosh = WhooshBackend(path, SearchIndex(path))
        say("whoosh: indexing")
        seconds = build(whoosh, docs)
        res["backends"]["whoosh"] = {"build_s": seconds, "size": {"total": du(path)}}
        say(f"whoosh: {seconds:.0f} s, {du(path) / 1e6:.0f} MB; searching")
        rows, every = bench_queries(whoosh, bodies, runs)
        res["backends"]["whoosh"].update(queries=rows, times=every)
        whoosh.close()

        say("postgres: starting a server")
        cluster = start_server()
        pg_backend = postgres_backend(cluster)
        version = subprocess.run(
            [str(cluster.bin / "postgres"), "--version"], capture_output=True, text=True
        ).stdout.strip()
        say("postgres: indexing")
        seconds = build(pg_backend, docs)
        sizes = postgres_sizes(pg_backend)
        res["backends"]["postgres"] = {"build_s": seconds, "size": sizes, "version": version}
        say(f"postgres: {seconds:.0f} s, {sizes['total'] / 1e6:.0f} MB; searching")
        rows, every = bench_queries(pg_backend, bodies, runs)
        res["backends"]["postgres"].update(queries=rows, times=every)
        pg_backend.close()
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return res


# --- the report ------------------------------------------------------------------------------


def ms(secs: float) -> str:
    v = secs * 1000
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def render(res: dict[str, Any], command: str, minutes: float) -> str:
    w, p = res["backends"]["whoosh"], res["backends"]["postgres"]
    n = res["articles"]
    lines = [
        "## Search backends: Whoosh and PostgreSQL",
        "",
        f"Command: `{command}` ({date.today().isoformat()}, {os.cpu_count()} CPUs on a machine "
        f"shared with other test runs, Python {platform.python_version()}, "
        f"{p.get('version', 'PostgreSQL')}, total {minutes:.0f} min). "
        f"{n:,} generated articles (bench/bench_index.py's corpus, "
        f"~{res['words_per_article']:.0f} words each), the same `IndexDoc`s given to each "
        "backend's `update()`. PostgreSQL: a throwaway server on 127.0.0.1 (fsync on, "
        "shared_buffers 256 MB), the `search_entries` table of migration 0004; its build "
        "time includes `ANALYZE`.",
        "",
        "| building | seconds | articles/s | size on disk |",
        "|---|---:|---:|---:|",
        f"| Whoosh (2 writer processes) | {w['build_s']:.0f} | {n / w['build_s']:,.0f} | "
        f"{w['size']['total'] / 1e6:,.0f} MB |",
        f"| PostgreSQL | {p['build_s']:.0f} | {n / p['build_s']:,.0f} | "
        f"{p['size']['total'] / 1e6:,.0f} MB (of which indexes "
        f"{p['size']['indexes'] / 1e6:,.0f} MB, the terms' GIN {p['size']['terms_gin'] / 1e6:,.0f} MB) |",
        f"| **PostgreSQL / Whoosh** | **{p['build_s'] / w['build_s']:.2f}** | | "
        f"**{p['size']['total'] / w['size']['total']:.2f}** |",
        "",
        f"### Search: bench/bench_web.py's {len(QUERIES)} queries × {res['runs']} runs",
        "",
        f"Each call as the search page makes it: {PER_PAGE} hits, facets over every match "
        "(type, portal, topic, document kind, year), snippets highlighted from the bodies.",
        "",
        "| ms over every timed call | Whoosh | PostgreSQL | PostgreSQL / Whoosh |",
        "|---|---:|---:|---:|",
    ]
    for label, q in (("p50", 0.5), ("**p95**", 0.95), ("max", 1.0)):
        a, b = pctl(w["times"], q), pctl(p["times"], q)
        lines.append(f"| {label} | {ms(a)} | {ms(b)} | {b / a:.2f} |")
    lines += [
        "",
        "| query (median ms) | parameters | matches | Whoosh | PostgreSQL | ratio |",
        "|---|---|---:|---:|---:|---:|",
    ]
    mismatched = []
    for a, b in zip(w["queries"], p["queries"], strict=True):
        params = ", ".join(f"{k}={v}" for k, v in a["pairs"])
        total = (
            f"{a['total']:,}" if a["total"] == b["total"] else f"{a['total']:,} / {b['total']:,}"
        )
        if a["total"] != b["total"]:
            mismatched.append(a["name"])
        lines.append(
            f"| {a['name']} | `{params}` | {total} | {ms(a['median'])} | {ms(b['median'])} | "
            f"{b['median'] / a['median']:.2f} |"
        )
    lines += [
        "",
        (
            "Both backends found the same number of matches for every query."
            if not mismatched
            else f"Totals differ for: {', '.join(mismatched)}."
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=30_000, help="articles (30000)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each query (5)")
    ap.add_argument("--out", type=Path, help="write the markdown section here")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    args = ap.parse_args(argv)
    if args.articles < 1 or args.runs < 1:
        ap.error("--articles and --runs must be positive")
    started = time.perf_counter()
    command = "python bench/bench_search_backends.py" + "".join(f" {a}" for a in argv)
    try:
        res = run(args.articles, args.runs)
    except RuntimeError as exc:  # no PostgreSQL binaries, a server that does not start
        print(f"bench_search_backends: {exc}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")
    report = render(res, command, (time.perf_counter() - started) / 60)
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
