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
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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
from search.shards import ENV_WORKERS, workers_wanted  # noqa: E402

PER_PAGE = 20


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def pctl(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))]


def with_kinds(doc: IndexDoc) -> IndexDoc:
    """The document kinds and unit bench_web derives for a generated article."""
    kinds = []
    for number in dict.fromkeys(doc.doc_numbers):
        code = number.replace("/", "-").split("-")
        kind = next((KINDS[k] for k in code if k in KINDS), None)
        if kind:
            kinds.append(kind)
    doc.doc_kinds = kinds
    doc.unit = UNITS[doc.portal]
    return doc


def stream(n: int, skip: int = 0, chunk: int = 20_000) -> Iterator[list[IndexDoc]]:
    """The corpus's articles ``skip``..``n`` in lists of ``chunk`` (the generator is one
    random sequence: the skipped ones are generated and dropped, ~2,500/s)."""
    if skip >= n:  # a finished build: nothing to generate
        return
    c = Corpus()
    batch: list[IndexDoc] = []
    for i in range(n):
        doc = c.article(i)[0]
        if i < skip:
            continue
        batch.append(with_kinds(doc))
        if len(batch) == chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def corpus(n: int) -> list[IndexDoc]:
    return [doc for batch in stream(n) for doc in batch]


class Bodies:
    """The articles' bodies, for the snippets, in a SQLite file (1,000,000 of them are
    3 GB: too much to hold beside a 2-process Whoosh writer)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE IF NOT EXISTS bodies (id TEXT PRIMARY KEY, body TEXT)")

    def add(self, docs: list[IndexDoc]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO bodies VALUES (?, ?)", [(d.id, d.body) for d in docs]
            )

    def texts_for(self, ids: list[str]) -> dict[str, str]:
        marks = ",".join("?" * len(ids))
        return dict(self.db.execute(f"SELECT id, body FROM bodies WHERE id IN ({marks})", ids))

    def close(self) -> None:
        self.db.close()


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


def start_server(root: Path) -> Any:
    """tests/pg.py's throwaway cluster with durable writes and more shared buffers, its
    data in ``root`` (kept by ``--keep``: started again on the same data next time)."""
    from tests import pg

    class BenchCluster(pg.Cluster):
        def __init__(self) -> None:
            super().__init__()
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = root
            self.root.mkdir(parents=True, exist_ok=True)
            if self.prefix:
                shutil.chown(self.root, "postgres")
            self.data = root / "data"
            self.log = root / "server.log"

        def start(self) -> BenchCluster:
            if (self.data / "postmaster.pid").exists():  # left running by a killed run
                subprocess.run(
                    [*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.data),
                     "-m", "fast", "-w", "stop"],
                    capture_output=True, timeout=120,
                )  # fmt: skip
            if not (self.data / "PG_VERSION").exists():
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
                "-o", options, "-w", "-t", "120", "start",
            )  # fmt: skip
            return self

        def stop(self) -> None:  # the data stays for --keep; the caller removes a temporary one
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")

    return BenchCluster().start()


def postgres_backend(cluster: Any) -> SearchBackend:
    from archive.migrate import upgrade
    from archive.store import open_engine
    from search.postgres import PostgresBackend
    from tests import pg

    pg.create_database(cluster.server_url, "bench", template="template0")  # or a kept one
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


def fmt_eta(seconds: float) -> str:
    m = int(seconds // 60)
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min {int(seconds % 60):02d} s"


def build(backend: SearchBackend, n: int, work: Path, chunk: int) -> dict[str, Any]:
    """Give ``backend`` the corpus's first ``n`` articles in lists of ``chunk``, timing only
    its ``update()`` calls (and PostgreSQL's closing ``ANALYZE``); the bodies go to a
    SQLite file for the snippets. The state after each list is in ``work``: a build that was
    stopped goes on from there."""
    state_file = work / f"{backend.name}-state.json"
    state = {"articles": n, "done": 0, "build_s": 0.0, "words": 0, "analyzed": False}
    if state_file.exists():
        kept = json.loads(state_file.read_text())
        if kept.get("articles") == n and kept["done"] <= n:
            state = kept
    # A build killed inside update() may have committed part of its next list (PostgreSQL
    # commits every BATCH rows): those rows are deleted, untimed, before the list is redone.
    partial = backend.doc_count() - state["done"]
    if not 0 <= partial <= chunk:
        raise RuntimeError(
            f"{work}: {backend.name} holds {backend.doc_count():,} articles, its state "
            f"says {state['done']:,}; remove the directory to start again"
        )
    bodies = Bodies(work / f"{backend.name}-bodies.sqlite")
    began, started_at = time.perf_counter(), state["done"]
    if state["done"]:
        say(f"{backend.name}: going on after {state['done']:,} articles")
    for docs in stream(n, skip=state["done"], chunk=chunk):
        if partial:
            say(f"{backend.name}: removing {partial:,} articles of a list cut short")
            backend.delete([d.id for d in docs])
            if backend.doc_count() != state["done"]:
                raise RuntimeError(f"{work}: {backend.name} holds articles of later lists")
            partial = 0
        t = time.perf_counter()
        done = backend.update(docs, bulk=True)  # as `index --rebuild`: no merging
        state["build_s"] += time.perf_counter() - t
        assert done == len(docs), (done, len(docs))
        bodies.add(docs)
        state["done"] += len(docs)
        state["words"] += sum(
            len(d.body.split()) + len(d.title.split()) + len(d.lead.split()) for d in docs
        )
        state_file.write_text(json.dumps(state))
        rate = (state["done"] - started_at) / (time.perf_counter() - began)
        say(
            f"{backend.name}: {state['done']:>9,} / {n:,} ({100 * state['done'] / n:3.0f}%), "
            f"{state['done'] / state['build_s']:,.0f} articles/s indexing, "
            f"ETA {fmt_eta((n - state['done']) / rate)}"
        )
    if backend.name == "postgres" and not state["analyzed"]:
        from sqlalchemy import text

        t = time.perf_counter()
        with backend.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(text("ANALYZE search_entries"))
        state["build_s"] += time.perf_counter() - t
        state["analyzed"] = True
        state_file.write_text(json.dumps(state))
    state["bodies"] = bodies
    return state


def bench_queries(
    backend: SearchBackend, bodies: Bodies, runs: int
) -> tuple[list[dict[str, Any]], list[float]]:
    texts_for = bodies.texts_for
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


def run_backend(name: str, n: int, runs: int, work: Path, chunk: int) -> dict[str, Any]:
    """Build (or go on building) ``name``'s index of ``n`` articles in ``work``, then time
    the queries on it."""
    cluster = None
    try:
        if name == "whoosh":
            path = work / "whoosh-index"
            backend: SearchBackend = WhooshBackend(path, SearchIndex(path))
        else:
            say("postgres: starting a server")
            cluster = start_server(work / "postgres")
            backend = postgres_backend(cluster)
        say(f"{name}: indexing {n:,} articles")
        state = build(backend, n, work, chunk)
        res: dict[str, Any] = {"build_s": state["build_s"], "words": state["words"]}
        if name == "whoosh":
            res["size"] = {"total": du(work / "whoosh-index")}
            res["segments"] = len(backend.index.ix.reader().leaf_readers())  # type: ignore[attr-defined]
            # search workers (search/shards.py: PORTAL_ARCHIVE_SEARCH_WORKERS, auto by size)
            res["search_workers"] = workers_wanted(n, res["segments"])
        else:
            res["size"] = postgres_sizes(backend)
            res["version"] = subprocess.run(
                [str(cluster.bin / "postgres"), "--version"], capture_output=True, text=True
            ).stdout.strip()
        say(f"{name}: {res['build_s']:.0f} s, {res['size']['total'] / 1e6:,.0f} MB; searching")
        rows, every = bench_queries(backend, state["bodies"], runs)
        res.update(queries=rows, times=every)
        state["bodies"].close()
        backend.close()
        return res
    finally:
        if cluster is not None:
            cluster.stop()


def run(n: int, runs: int, keep: Path | None, only: list[str], chunk: int) -> dict[str, Any]:
    work = keep or Path(tempfile.mkdtemp(prefix="bench-backends-"))
    work.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {"articles": n, "runs": runs, "chunk": chunk, "backends": {}}
    try:
        for name in only:
            res["backends"][name] = run_backend(name, n, runs, work, chunk)
            res["words_per_article"] = res["backends"][name]["words"] / n
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return res


# --- the report ------------------------------------------------------------------------------


def ms(secs: float) -> str:
    v = secs * 1000
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def render(res: dict[str, Any]) -> str:
    w, p = res["backends"]["whoosh"], res["backends"]["postgres"]
    n = res["articles"]
    lines = [
        f"## Search backends at {n:,} articles: Whoosh and PostgreSQL",
        "",
        f"Command{'s' if len(res['commands']) > 1 else ''}: "
        + " and ".join(f"`{c}`" for c in res["commands"])
        + f" ({date.today().isoformat()}, {os.cpu_count()} CPUs on a machine "
        f"shared with other test runs, Python {platform.python_version()}, "
        f"{p.get('version', 'PostgreSQL')}, {res['minutes']:.0f} min). "
        f"{n:,} generated articles (bench/bench_index.py's corpus, "
        f"~{res['words_per_article']:.0f} words each), the same `IndexDoc`s given to each "
        f"backend's `update()` in lists of {res.get('chunk', 20_000):,} (as the indexer "
        "gives them), timed without generating them. PostgreSQL: a throwaway server on 127.0.0.1 (fsync on, "
        "shared_buffers 256 MB), the `search_entries` table of migration 0004; its build "
        "time includes `ANALYZE`.",
        "",
        "| building | seconds | articles/s | size on disk |",
        "|---|---:|---:|---:|",
        f"| Whoosh (2 writer processes, {w.get('segments', '?')} segments after) | {w['build_s']:.0f} | {n / w['build_s']:,.0f} | "
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
        "(type, portal, topic, document kind, year), snippets highlighted from the bodies."
        + (
            f" Whoosh's segments searched by {w['search_workers']} worker processes at once "
            "(search/shards.py)."
            if w.get("search_workers")
            else " Whoosh searched in one process."
            if "search_workers" in w
            else ""
        ),
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


def merge(paths: list[Path]) -> dict[str, Any]:
    """One result from the JSON figures of runs with ``--only`` (the same corpus size)."""
    res: dict[str, Any] = {}
    for path in paths:
        part = json.loads(path.read_text(encoding="utf-8"))
        if res and part["articles"] != res["articles"]:
            raise RuntimeError(f"{path}: {part['articles']:,} articles, not {res['articles']:,}")
        backends = res.get("backends", {})
        commands = res.get("commands", [])
        res.update(part)
        res["backends"] = backends | part["backends"]
        res["commands"] = commands + part["commands"]
        res["minutes"] = max(res.get("minutes", 0), part["minutes"])
    missing = {"whoosh", "postgres"} - set(res.get("backends", {}))
    if missing:
        raise RuntimeError(f"no figures for {', '.join(sorted(missing))} in {paths}")
    return res


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=30_000, help="articles (30000)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each query (5)")
    ap.add_argument(
        "--only", choices=["whoosh", "postgres"], action="append",
        help="this backend only (repeatable; both by default): run each in its own process "
        "with --json, then --merge the files",
    )  # fmt: skip
    ap.add_argument(
        "--keep", type=Path, metavar="DIR",
        help="build in DIR and keep it: a build that was stopped goes on, a finished one is "
        "searched again without building",
    )  # fmt: skip
    ap.add_argument(
        "--chunk", type=int, default=20_000,
        help="articles per update() and per Whoosh commit (20000)",
    )  # fmt: skip
    ap.add_argument("--out", type=Path, help="write the markdown section here")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument(
        "--merge", type=Path, nargs="+", metavar="JSON",
        help="only render the figures of --only runs written by --json",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if args.articles < 1 or args.runs < 1 or args.chunk < 1:
        ap.error("--articles, --runs and --chunk must be positive")
    # SIGTERM (a stopped session, `kill`) unwinds like Ctrl-C: the server is stopped, the
    # build's state is kept for the next run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    command = (
        "".join(f"{k}={os.environ[k]} " for k in (ENV_WORKERS,) if os.environ.get(k))
        + "python bench/bench_search_backends.py"
        + "".join(f" {a}" for a in argv)
    )
    try:
        if args.merge:
            res = merge(args.merge)
        else:
            only = args.only or ["whoosh", "postgres"]
            res = run(args.articles, args.runs, args.keep, list(dict.fromkeys(only)), args.chunk)
            res["commands"] = [command]
            res["minutes"] = (time.perf_counter() - started) / 60
    except (RuntimeError, OSError, KeyError, ValueError) as exc:
        # no PostgreSQL binaries, a server that does not start, a kept directory at odds
        print(f"bench_search_backends: {exc}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")
    if set(res["backends"]) != {"whoosh", "postgres"}:
        say(f"figures for {', '.join(res['backends'])} only; render with --merge")
        return 0
    report = render(res)
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
