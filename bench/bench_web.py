"""Benchmark the staff web application (issue 5): search page latency and exports.

    .venv/bin/python bench/bench_web.py [--articles 100000] [--keep DIR] [--runs 5]
        [--export-runs 3] [--out bench/results/web.md] [--json FIGURES.json]
    .venv/bin/python bench/bench_web.py --render FIGURES.json [--before OLD.json] --out ...

Builds an archive of ``--articles`` generated articles (bench/bench_index.py's deterministic
corpus, stored with ``Archive.store_articles`` and indexed with ``update_index``; ``--keep DIR``
keeps it for the next run, which then only adds what is missing), serves the application with
uvicorn on 127.0.0.1 in a thread, and measures in ONE run, each against a baseline of the
same run:

1. search: wall time per request, seen by an httpx client, of ``GET /search`` (the HTML page:
   facets and highlighted snippets) and of its JSON twin ``/search.json`` over a fixed set of
   queries, against the bare ``search.query.search()`` call the page makes (same parameters,
   same facets, same snippet text);
2. exports: rows/s of ``write_export(archive.iter_articles(), file, fmt)`` for JSONL, CSV and
   XLSX over the whole archive, against iterating ``archive.iter_articles()`` alone; each run
   in a fresh process, so its peak RSS above the RSS before the export is the export's own
   (plus one pass per format under tracemalloc for the peak of Python allocations);
3. HTTP exports (``/export.csv?q=…``: a few thousand matches at 100,000 articles, and most
   of the archive): time to headers, to the first body byte and to the end, against the same
   work in process (the route's id search, then ``write_export`` into a file).

The documented figures (docs/benchmarks.md) come from 100,000 articles; ``--articles 20000``
is a quick run for iterating, and says so in its output.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_index import PORTALS, Corpus  # noqa: E402

from archive.config import Config  # noqa: E402
from archive.schema import ArticleItem, DocRefItem, article_id  # noqa: E402
from archive.store import Archive  # noqa: E402

#: The generated corpus' portal slugs with the unit each portal speaks for.
UNITS = {
    "quan-thanh-xuan": "Quận Thanh Xuân",
    "huyen-phu-loc": "Huyện Phú Lộc",
    "quan-hai-ba-trung": "Quận Hai Bà Trưng",
    "thi-tran-tan-minh": "Thị trấn Tân Minh",
    "quan-cau-giay": "Quận Cầu Giấy",
    "huyen-dong-anh": "Huyện Đông Anh",
    "tinh-ha-tinh": "Tỉnh Hà Tĩnh",
    "tinh-nghe-an": "Tỉnh Nghệ An",
    "phuong-quang-trung": "Phường Quang Trung",
    "xa-tan-lap": "Xã Tân Lập",
    "huyen-huong-son": "Huyện Hương Sơn",
    "thanh-pho-vinh": "Thành phố Vinh",
}
assert set(UNITS) == set(PORTALS)
#: Kind of a cited document by the type code of its number ("139/KH-UBND" -> Kế hoạch).
KINDS = {
    "KH": "Kế hoạch",
    "QĐ": "Quyết định",
    "NQ": "Nghị quyết",
    "TB": "Thông báo",
    "CT": "Chỉ thị",
    "BC": "Báo cáo",
    "HD": "Hướng dẫn",
    "KL": "Kết luận",
}
STORE_BATCH = 1000
FETCHED = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)

#: The fixed query set: (what it is, query-string parameters as the search form sends them).
#: The generated text is bigrams of five seed texts, so ordinary words match most articles;
#: "diễn" is the rarest word of its vocabulary (~8% of articles), "tỉnh ủy" a rare phrase
#: (~0.6%), and document numbers are the truly selective queries (but 139/KH-UBND is cited
#: in a seed text: ~15% of the generated articles repeat it).
QUERIES: list[tuple[str, list[tuple[str, str]]]] = [
    ("word, no diacritics", [("q", "tuyen")]),
    ("word, diacritics", [("q", "tuyên")]),
    ("two words, no diacritics", [("q", "cai cach")]),
    ("four words, diacritics", [("q", "cải cách hành chính")]),
    ("seven words", [("q", "sắp xếp đơn vị hành chính cấp xã")]),
    ("phrase, diacritics", [("q", '"cải cách hành chính"')]),
    ("phrase, no diacritics", [("q", '"sap xep don vi hanh chinh"')]),
    ("phrase + words", [("q", '"đơn vị hành chính" tuyên truyền')]),
    ("document number", [("q", "139/KH-UBND")]),
    ("document number, lower case", [("q", "59-kl/tw")]),
    ("words minus a word", [("q", "tuyên truyền -đvhc")]),
    ("rarest word", [("q", "diễn")]),
    ("rare phrase", [("q", '"tỉnh ủy"')]),
    ("very common word", [("q", "của")]),
    ("no match", [("q", "khủng long")]),
    ("+ topic", [("q", "tuyên truyền"), ("topic", "cchc")]),
    ("+ year", [("q", "cải cách"), ("year", "2021")]),
    ("+ portal", [("q", "kế hoạch"), ("portal", "quan-thanh-xuan")]),
    ("+ unit, folded", [("q", "kế hoạch"), ("unit", "thanh xuan")]),
    ("+ document kind", [("q", "tuyên truyền"), ("kind", "quyet-dinh")]),
    (
        "+ portal, topic, year",
        [("q", "hành chính"), ("portal", "huyen-phu-loc"), ("topic", "dvhc"), ("year", "2023")],
    ),
    ("+ date range", [("q", "tuyên truyền"), ("from", "2020-01-01"), ("to", "2021-06-30")]),
    ("empty, newest", [("sort", "newest")]),
    ("empty + year", [("year", "2020")]),
    ("words, newest", [("q", "tuyên truyền"), ("sort", "newest")]),
    ("words, page 5", [("q", "cải cách"), ("page", "5")]),
]
#: The HTTP exports: ~1/24 of the archive (one portal of 12, half of it on the topic), and
#: most of it (a search matching ~83% of the articles).
EXPORT_QUERIES: list[tuple[str, list[tuple[str, str]]]] = [
    ("one portal, one topic", [("q", "tuyên truyền"), ("portal", "quan-thanh-xuan"),
                               ("topic", "cchc")]),
    ("most of the archive", [("q", "cải cách")]),
]  # fmt: skip
EXPORT_KINDS = ("iter", "jsonl", "csv", "xlsx")


# --- small helpers ------------------------------------------------------------------------------


def say(*parts: object) -> None:
    print(*parts, flush=True)


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> None:
    """Restart the kernel's peak-RSS count (VmHWM) from the current RSS (Linux >= 4.0).
    Not ru_maxrss: it carries over the parent's peak into a freshly started child."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def peak_rss() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def pctl(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-int(q * len(ordered) * 1000) // 1000))  # ceil(q * n), float-safe
    return ordered[min(len(ordered), rank) - 1]


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f}"


def progress_line(label: str, done: int, total: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate else 0.0
    width = 30
    filled = int(width * done / total) if total else width
    sys.stderr.write(
        f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} "
        f"{rate:,.0f}/s ETA {eta:.0f}s "
    )
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def describe(pairs: list[tuple[str, str]]) -> str:
    return " ".join(f"{k}={v}" if k != "q" else v for k, v in pairs) or "(empty)"


# --- the archive --------------------------------------------------------------------------------


def to_item(doc: Any) -> ArticleItem:
    """An IndexDoc of the generated corpus as the crawler would hand it to the archive."""
    refs = []
    for number in dict.fromkeys(doc.doc_numbers):
        code = number.replace("/", "-").split("-")
        kind = next((KINDS[c] for c in code if c in KINDS), None)
        refs.append(DocRefItem(number=number, kind=kind))
    return ArticleItem(
        portal=doc.portal,
        url=doc.url,
        canonical_url=doc.url,
        title=doc.title,
        published=doc.published,
        lead=doc.lead,
        body=doc.body,
        topics=doc.topics,
        doc_refs=refs,
        fetched_at=FETCHED,
    )


def article_count(config: Config) -> int:
    archive = Archive(config)
    try:
        return sum(p["articles"] for p in archive.portal_status())
    finally:
        archive.close()


def index_count(config: Config) -> int:
    from search.index import IndexVersionError, SearchIndex

    try:
        ix = SearchIndex(config.index_dir)
    except IndexVersionError:
        return 0
    try:
        return ix.doc_count()
    finally:
        ix.close()


def index_segments(config: Config) -> int:
    from search.index import SearchIndex

    ix = SearchIndex(config.index_dir)
    try:
        return len(getattr(ix.searcher().reader(), "readers", None) or [None])
    finally:
        ix.close()


def build_archive(config: Config, n: int) -> dict[str, dict[str, float]]:
    """Store the first ``n`` generated articles (only those missing) and index them.
    Returns seconds and articles per phase (only phases that ran)."""
    from archive.cli import update_index

    phases: dict[str, dict[str, float]] = {}
    have = article_count(config)
    if have > n:
        raise SystemExit(f"{config.data_dir} holds {have:,} articles, more than {n:,}")
    if have < n:
        say(f"storing {n - have:,} generated articles ({have:,} already there)")
        archive = Archive(config)
        try:
            portal_ids = {
                slug: archive.upsert_portal(
                    slug,
                    name=f"Cổng thông tin điện tử {unit}",
                    unit=unit,
                    base_url=f"https://{slug}.example.gov.vn",
                    family="generic",
                )
                for slug, unit in UNITS.items()
            }
            existing = set(archive.article_hashes()) if have else set()
            corpus = Corpus()
            pending: dict[str, list[ArticleItem]] = {slug: [] for slug in UNITS}
            gen_s = store_s = 0.0
            started = time.perf_counter()
            stored = 0

            def flush(slug: str) -> None:
                nonlocal store_s, stored
                t0 = time.perf_counter()
                archive.store_articles(pending[slug], portal_ids[slug])
                store_s += time.perf_counter() - t0
                stored += len(pending[slug])
                pending[slug] = []
                progress_line("storing", stored, n - have, started)

            for i in range(n):
                t0 = time.perf_counter()
                doc, _ = corpus.article(i)
                if article_id(doc.portal, doc.url) in existing:
                    gen_s += time.perf_counter() - t0
                    continue
                pending[doc.portal].append(to_item(doc))
                gen_s += time.perf_counter() - t0
                if len(pending[doc.portal]) >= STORE_BATCH:
                    flush(doc.portal)
            for slug in UNITS:
                if pending[slug]:
                    flush(slug)
        finally:
            archive.close()
        phases["generate and validate"] = {"seconds": gen_s, "articles": n - have}
        phases["store (store_articles)"] = {"seconds": store_s, "articles": n - have}
        got = article_count(config)
        if got != n:
            raise SystemExit(f"stored {got:,} articles, expected {n:,}")
    if index_count(config) != n:
        say("indexing (archive.cli.update_index)")
        t0 = time.perf_counter()
        report = update_index(config, show_progress=True)
        phases["index (update_index)"] = {
            "seconds": time.perf_counter() - t0,
            "articles": report.indexed,
        }
        say(f"  {report.indexed:,} indexed in {report.seconds:.0f} s")
        got = index_count(config)
        if got != n:
            raise SystemExit(f"the index holds {got:,} entries, expected {n:,}")
    return phases


# --- the server ---------------------------------------------------------------------------------


@contextlib.contextmanager
def serve(config: Config) -> Iterator[str]:
    """The application on a real uvicorn server on 127.0.0.1, in a thread (as the tests)."""
    import uvicorn

    from archive.web.app import create_app

    app = create_app(config, secret_key="bench")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.archive.close()


# --- 1. search --------------------------------------------------------------------------------


class _QueryOnly:
    """Just enough of a Request for ``SearchParams.parse``."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        from starlette.datastructures import QueryParams

        self.query_params = QueryParams(pairs)


def bare_calls(
    archive: Archive, index: Any, pairs: list[tuple[str, str]]
) -> tuple[Callable[[], Any], Callable[[], Any], Callable[[], Any]]:
    """The ``search()`` call the search page makes for ``pairs`` (as ``run_search`` in
    archive/web/app.py: parameters parsed the same way, the unit resolved to portals
    beforehand, the page's bodies read in one query for the snippets); the same call without
    facets and without body text (snippets from the stored lead); and ``search_ids()``
    unscored (``rank_limit=0``): matching alone, no ranking, no stored fields."""
    from archive.text import fold_lower
    from archive.web.app import SearchParams
    from search.query import search, search_ids

    p = SearchParams.parse(_QueryOnly(pairs))  # type: ignore[arg-type]
    portals = list(p.portal)
    if p.unit:
        wanted = fold_lower(p.unit)
        portals += [x["slug"] for x in archive.portal_status() if wanted in fold_lower(x["unit"])]
    filters = dict(
        portal=portals or None,
        topic=p.topic or None,
        date_from=p.date_from,
        date_to=p.date_to,
        type=p.type or None,
        doc_kind=p.kind or None,
        year=p.year or None,
        sort=p.sort,
    )

    def full() -> Any:
        return search(index, p.q, texts_for=archive.bodies, facets=True, page=p.page,
                      per_page=p.per_page, **filters)  # fmt: skip

    def core() -> Any:
        return search(index, p.q, facets=False, page=p.page, per_page=p.per_page, **filters)

    def ids() -> Any:
        return search_ids(index, p.q, rank_limit=0, **filters)

    return full, core, ids


def bench_search(config: Config, base: str, runs: int) -> dict[str, Any]:
    import httpx

    from search.index import SearchIndex

    archive = Archive(config)
    index = SearchIndex(config.index_dir)
    client = httpx.Client(base_url=base, timeout=None)
    rows = []
    try:
        calls = [bare_calls(archive, index, pairs) for _, pairs in QUERIES]
        paths = [urlencode(pairs) for _, pairs in QUERIES]

        def html(i: int) -> float:
            t0 = time.perf_counter()
            r = client.get(f"/search?{paths[i]}")
            secs = time.perf_counter() - t0
            if r.status_code != 200 or "text/html" not in r.headers["content-type"]:
                raise SystemExit(f"/search?{paths[i]} answered {r.status_code}: {r.text[:300]}")
            return secs

        def as_json(i: int) -> tuple[float, int]:
            t0 = time.perf_counter()
            r = client.get(f"/search.json?{paths[i]}")
            secs = time.perf_counter() - t0
            if r.status_code != 200:
                raise SystemExit(f"/search.json?{paths[i]} answered {r.status_code}: {r.text}")
            return secs, r.json()["total"]

        def bare(i: int, which: int = 0) -> tuple[float, Any]:  # which: full, core, ids
            t0 = time.perf_counter()
            result = calls[i][which]()
            return time.perf_counter() - t0, result

        # Floors: one HTTP round trip for a static file, and the database call every search
        # page adds (the portal list for the sidebar and the names).
        def static() -> float:
            t0 = time.perf_counter()
            client.get("/static/style.css").raise_for_status()
            return time.perf_counter() - t0

        def portal_list() -> float:
            t0 = time.perf_counter()
            archive.portal_status()
            return time.perf_counter() - t0

        # The first search on a freshly opened index loads the column values that filters,
        # facets and date sorting use (once per searcher, i.e. per index change).
        first_search, _ = bare(0)
        say(f"search: first search on the opened index {ms(first_search)} ms")
        say(f"search: warming up {len(QUERIES)} queries")
        totals = []
        for i in range(len(QUERIES)):
            _, result = bare(i)
            bare(i, 1)
            _, found = bare(i, 2)
            _, total = as_json(i)
            html(i)
            if not total == result.total == len(found):
                raise SystemExit(
                    f"{QUERIES[i][0]}: page total {total}, bare {result.total}, ids {len(found)}"
                )
            totals.append(result.total)
        modes = ("bare", "html", "json", "core", "ids")
        times: dict[str, list[list[float]]] = {m: [[] for _ in QUERIES] for m in modes}
        floors: dict[str, list[float]] = {"static": [], "portal_status": []}
        for run in range(runs):
            t_run = time.perf_counter()
            for i in range(len(QUERIES)):
                # rotate the order so that a burst of load on the shared machine hits all alike
                for m in modes[run % 5 :] + modes[: run % 5]:
                    if m == "bare":
                        times[m][i].append(bare(i)[0])
                    elif m == "core":
                        times[m][i].append(bare(i, 1)[0])
                    elif m == "ids":
                        times[m][i].append(bare(i, 2)[0])
                    elif m == "html":
                        times[m][i].append(html(i))
                    else:
                        times[m][i].append(as_json(i)[0])
                floors["static"].append(static())
                floors["portal_status"].append(portal_list())
            say(f"  run {run + 1}/{runs}: {time.perf_counter() - t_run:.1f} s")
        for i, (name, pairs) in enumerate(QUERIES):
            rows.append(
                {
                    "name": name,
                    "query": describe(pairs),
                    "hits": totals[i],
                    **{m: statistics.median(times[m][i]) for m in modes},
                }
            )
        flat = {m: [t for per in times[m] for t in per] for m in modes}
        return {
            "rows": rows,
            "flat": flat,
            "floors": {k: statistics.median(v) for k, v in floors.items()},
            "first_search": first_search,
            "ratio_per_query": {
                m: statistics.median(r[m] / r["bare"] for r in rows)
                for m in ("html", "json", "core", "ids")
            },
        }
    finally:
        client.close()
        index.close()
        archive.close()


# --- 2. exports, each in a fresh process ---------------------------------------------------------


def export_child(data_dir: str, kind: str, out_dir: str, traced: bool) -> None:
    """Run in a child process: one export of the whole archive; prints a JSON line."""
    from archive.export import write_export

    archive = Archive(Config.resolve(data_dir))
    gc.collect()
    reset_peak_rss()
    rss0 = rss_bytes()
    out_path = Path(out_dir) / f"export.{kind}"
    if traced:
        tracemalloc.start()
    t0 = time.perf_counter()
    if kind == "iter":
        rows = sum(1 for _ in archive.iter_articles())
        size = 0
    else:
        with out_path.open("wb") as out:
            rows = write_export(archive.iter_articles(), out, kind)
        size = out_path.stat().st_size
    secs = time.perf_counter() - t0
    peak_traced = tracemalloc.get_traced_memory()[1] if traced else 0
    peak = peak_rss()
    out_path.unlink(missing_ok=True)
    archive.close()
    print(
        json.dumps(
            {
                "kind": kind,
                "rows": rows,
                "seconds": secs,
                "bytes": size,
                "rss_growth": max(0, peak - rss0),
                "rss_before": rss0,
                "traced_peak": peak_traced,
            }
        )
    )


def run_export(config: Config, kind: str, out_dir: Path, traced: bool = False) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--export-child",
            kind,
            str(config.data_dir),
            str(out_dir),
            *(["--traced"] if traced else []),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"export child {kind} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_exports(config: Config, runs: int, traced: bool) -> dict[str, Any]:
    out_dir = Path(tempfile.mkdtemp(prefix="bench-web-export-"))
    results: dict[str, list[dict]] = {k: [] for k in EXPORT_KINDS}
    try:
        for run in range(runs):
            order = EXPORT_KINDS[run % 4 :] + EXPORT_KINDS[: run % 4]
            for kind in order:
                r = run_export(config, kind, out_dir)
                results[kind].append(r)
                say(
                    f"  export run {run + 1}/{runs} {kind}: {r['rows']:,} rows in "
                    f"{r['seconds']:.1f} s ({r['rows'] / r['seconds']:,.0f}/s), RSS +"
                    f"{mb(r['rss_growth'])} MB"
                )
        traced_peaks = {}
        if traced:
            for kind in EXPORT_KINDS:
                r = run_export(config, kind, out_dir, traced=True)
                traced_peaks[kind] = r["traced_peak"]
                say(f"  tracemalloc {kind}: peak {mb(r['traced_peak'])} MB")
    finally:
        for p in out_dir.iterdir():
            p.unlink()
        out_dir.rmdir()
    per_run_base = [r["rows"] / r["seconds"] for r in results["iter"]]
    table = []
    for kind in EXPORT_KINDS:
        rs = results[kind]
        rates = [r["rows"] / r["seconds"] for r in rs]
        table.append(
            {
                "kind": kind,
                "rows": rs[0]["rows"],
                "rate": statistics.median(rates),
                "rates": rates,
                "ratio": statistics.median(
                    rate / base for rate, base in zip(rates, per_run_base, strict=True)
                ),
                "bytes": rs[0]["bytes"],
                "rss_growth": statistics.median(r["rss_growth"] for r in rs),
                "rss_before": statistics.median(r["rss_before"] for r in rs),
                "traced_peak": traced_peaks.get(kind),
            }
        )
    return {"table": table}


# --- 3. an export through the application -------------------------------------------------------


def bench_http_export(config: Config, base: str, runs: int, traced: bool) -> dict[str, Any]:
    """Each of :data:`EXPORT_QUERIES` through the application and in process."""
    out = {"exports": []}
    for name, pairs in EXPORT_QUERIES:
        out["exports"].append(http_export(config, base, name, pairs, runs, traced))
    return out


def http_export(
    config: Config, base: str, name: str, pairs: list[tuple[str, str]], runs: int, traced: bool
) -> dict[str, Any]:
    import csv

    import httpx

    from archive.export import write_export
    from archive.web.app import SearchParams
    from search.index import SearchIndex
    from search.query import search_ids

    archive = Archive(config)
    index = SearchIndex(config.index_dir)
    client = httpx.Client(base_url=base, timeout=None)
    path = f"/export.csv?{urlencode(pairs)}"
    out_dir = Path(tempfile.mkdtemp(prefix="bench-web-http-"))
    p = SearchParams.parse(_QueryOnly(pairs))  # type: ignore[arg-type]

    def in_process() -> dict[str, float]:
        """The export's work without HTTP: the ids (as ``matching_article_ids`` finds them),
        then the CSV file as the route writes it."""
        t0 = time.perf_counter()
        ids = search_ids(index, p.q, portal=p.portal or None, topic=p.topic or None,
                         type="article", sort=p.sort, limit=100_000)  # fmt: skip
        t_ids = time.perf_counter() - t0
        with (out_dir / "in-process.csv").open("wb") as out:
            rows = write_export(archive.iter_articles(ids=ids), out, "csv")
        return {"ids": t_ids, "total": time.perf_counter() - t0, "rows": rows}

    def over_http() -> dict[str, float]:
        gc.collect()
        reset_peak_rss()
        rss0 = rss_bytes()
        t0 = time.perf_counter()
        first = None
        size = chunks = 0
        with (
            client.stream("GET", path) as r,
            (out_dir / "http.csv").open("wb") as out,
        ):
            t_headers = time.perf_counter() - t0
            if r.status_code != 200:
                raise SystemExit(f"{path} answered {r.status_code}")
            rows = int(r.headers["x-article-count"])
            for chunk in r.iter_raw():
                if first is None:
                    first = time.perf_counter() - t0
                out.write(chunk)
                size += len(chunk)
                chunks += 1
        total = time.perf_counter() - t0
        return {"headers": t_headers, "first": first or total, "total": total, "rows": rows,
                "bytes": size, "chunks": chunks,
                "rss_growth": max(0, peak_rss() - rss0)}  # fmt: skip

    steps: dict[str, Callable[[], dict[str, float]]] = {"http": over_http, "bare": in_process}
    try:
        say(f"HTTP export ({name}): {path}")
        for step in steps.values():  # warm-up
            step()
        got: dict[str, list[dict[str, float]]] = {k: [] for k in steps}
        order = list(steps)
        for run in range(runs):
            for step in order[run % 2 :] + order[: run % 2]:
                got[step].append(steps[step]())
            h, b = got["http"][-1], got["bare"][-1]
            say(
                f"  run {run + 1}/{runs}: HTTP {h['rows']:,} rows, first byte "
                f"{h['first']:.2f} s, end {h['total']:.2f} s, RSS +{mb(h['rss_growth'])} MB; "
                f"in process {b['total']:.2f} s (ids {b['ids']:.2f} s)"
            )
        http_runs, bare_runs = got["http"], got["bare"]
        if http_runs[0]["rows"] != bare_runs[0]["rows"]:
            raise SystemExit(f"HTTP export {http_runs[0]['rows']} rows != {bare_runs[0]['rows']}")
        with (out_dir / "http.csv").open(encoding="utf-8-sig", newline="") as fh:
            n = sum(1 for _ in csv.reader(fh)) - 1
        if n != http_runs[0]["rows"]:
            raise SystemExit(f"the HTTP export holds {n} rows, announced {http_runs[0]['rows']}")
        traced_peak = None
        if traced:
            gc.collect()
            tracemalloc.start()
            base_mem = tracemalloc.get_traced_memory()[0]
            over_http()
            traced_peak = tracemalloc.get_traced_memory()[1] - base_mem
            tracemalloc.stop()
            say(f"  tracemalloc (server and client threads): peak +{mb(traced_peak)} MB")

        def med(runs_: list[dict[str, float]]) -> dict[str, float]:
            return {k: statistics.median(r[k] for r in runs_) for k in runs_[0]}

        return {
            "name": name,
            "path": path,
            "http": med(http_runs),
            "bare": med(bare_runs),
            "rss_growth_max": max(r["rss_growth"] for r in http_runs),
            "ratio": statistics.median(
                b["total"] / h["total"] for h, b in zip(http_runs, bare_runs, strict=True)
            ),
            "traced_peak": traced_peak,
        }
    finally:
        client.close()
        index.close()
        archive.close()
        for f in out_dir.iterdir():
            f.unlink()
        out_dir.rmdir()


# --- report -------------------------------------------------------------------------------------


def ms(secs: float) -> str:
    return f"{secs * 1000:,.0f}" if secs >= 0.1 else f"{secs * 1000:,.1f}"


def render(res: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    """The markdown section for the results of one run (``res``: see :func:`main`), with a
    comparison to ``before`` (the figures of a run of the code before a change) if given."""
    s, e, h = res["search"], res["exports"], res["http"]
    n = res["articles"]
    rows = s["rows"]
    p50 = {m: statistics.median(v) for m, v in s["flat"].items()}
    p95 = {m: pctl(v, 0.95) for m, v in s["flat"].items()}
    mx = {m: max(v) for m, v in s["flat"].items()}
    segments = res["segments"]
    lines = [
        "## Web application",
        "",
        f"Command: `{res['cmd']}` ({res['date']}, {res['cpus']} CPUs, Python "
        f"{res['python']}, total "
        + (f"{res['elapsed'] / 60:.0f} min" if res["elapsed"] >= 120 else f"{res['elapsed']:.0f} s")
        + f"). An archive of {n:,} "
        "generated articles (bench/bench_index.py's corpus: ~690 words each, 12 portals, "
        "2017–2025, topics, cited document numbers), stored with `Archive.store_articles` "
        f"and indexed with `update_index` ({res['build_note']}; index {res['index_mb']:,.0f} MB "
        f"in {segments} segment{'s' if segments != 1 else ''}). The application runs on "
        "uvicorn on 127.0.0.1 in a thread of the benchmark's process; times are wall times "
        "per request seen by an httpx client (keep-alive), each query warmed up once.",
        "",
    ]
    if n < 100_000:
        lines += [
            f"**A quick run on {n:,} articles: the documented figures come from 100,000.**",
            "",
        ]
    if res["build"]:
        lines += [
            "| building the archive | articles | seconds | articles/s |",
            "|---|---:|---:|---:|",
            *(
                f"| {k} | {v['articles']:,.0f} | {v['seconds']:,.0f} "
                f"| {v['articles'] / v['seconds']:,.0f} |"
                for k, v in res["build"].items()
                if v["seconds"] > 0
            ),
            "",
        ]
    lines += [
        f"### Search page: {len(rows)} fixed queries × {res['runs']} runs",
        "",
        "Baseline: the bare `search.query.search()` call the page makes (same parameters, 20 "
        "hits, facets over every match: type, portal, topic, document kind, year; highlighted "
        "snippets from the bodies in the database). For the breakdown, the same call without "
        "facets and without body text (snippets from the stored lead), and `search_ids()` "
        "unscored (matching alone: no ranking, no stored fields, no snippets) are timed too. "
        "p95: the nearest-rank 95th percentile of every timed request "
        f"({len(rows)} queries × {res['runs']} runs).",
        "",
        "| over the query set, ms | bare `search()` | `GET /search` (HTML) "
        "| `GET /search.json` | `search()` without facets and body snippets "
        "| `search_ids()` unscored |",
        "|---|---:|---:|---:|---:|---:|",
        f"| median | {ms(p50['bare'])} | {ms(p50['html'])} | {ms(p50['json'])} "
        f"| {ms(p50['core'])} | {ms(p50['ids'])} |",
        f"| **p95** | {ms(p95['bare'])} | **{ms(p95['html'])}** | {ms(p95['json'])} "
        f"| {ms(p95['core'])} | {ms(p95['ids'])} |",
        f"| max | {ms(mx['bare'])} | {ms(mx['html'])} | {ms(mx['json'])} | {ms(mx['core'])} "
        f"| {ms(mx['ids'])} |",
        f"| **median / bare median** | 1 | **{p50['html'] / p50['bare']:.2f}** | "
        f"**{p50['json'] / p50['bare']:.2f}** | {p50['core'] / p50['bare']:.2f} "
        f"| {p50['ids'] / p50['bare']:.2f} |",
        f"| p95 / bare p95 | 1 | {p95['html'] / p95['bare']:.2f} | "
        f"{p95['json'] / p95['bare']:.2f} | {p95['core'] / p95['bare']:.2f} "
        f"| {p95['ids'] / p95['bare']:.2f} |",
        f"| median of the per-query ratios | 1 | {s['ratio_per_query']['html']:.2f} | "
        f"{s['ratio_per_query']['json']:.2f} | {s['ratio_per_query']['core']:.2f} "
        f"| {s['ratio_per_query']['ids']:.2f} |",
        f"| median ms added to the bare call | | "
        f"{ms(statistics.median(r['html'] - r['bare'] for r in rows))} | "
        f"{ms(statistics.median(r['json'] - r['bare'] for r in rows))} | | |",
        "",
        f"Floors in the same run: an HTTP round trip for a static file "
        f"{ms(s['floors']['static'])} ms; `Archive.portal_status()` "
        f"{ms(s['floors']['portal_status'])} ms (the search page keeps the portal names and "
        "units it needs for 30 s instead of asking on every render). The first search "
        "after the index is opened (or changed) also loads the column values filters, "
        f"facets and date sorting read: {ms(s['first_search'])} ms, once.",
        "",
        f"| query (medians of {res['runs']} runs, ms) | parameters | hits | bare | HTML "
        "| JSON | HTML / bare | without facets, body snippets | `search_ids()` |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | `{r['query']}` | {r['hits']:,} | {ms(r['bare'])} | "
            f"{ms(r['html'])} | {ms(r['json'])} | {r['html'] / r['bare']:.2f} "
            f"| {ms(r['core'])} | {ms(r['ids'])} |"
        )
    if e is not None:
        t = {r["kind"]: r for r in e["table"]}
        lines += [
            "",
            f"### Exports of the whole archive ({t['iter']['rows']:,} articles), "
            f"{res['export_runs']} runs",
            "",
            "`write_export(archive.iter_articles(), file, fmt)`, each run in a fresh process "
            "(formats interleaved); baseline: iterating `archive.iter_articles()` alone. "
            "RSS growth: the process's peak RSS (VmHWM, reset just before) above its RSS just "
            "before the export; tracemalloc: the peak of Python allocations during one more "
            "export.",
            "",
            "| export | rows/s (median) | runs | rate / iteration rate | file MB "
            "| RSS growth MB | tracemalloc peak MB |",
            "|---|---:|---|---:|---:|---:|---:|",
        ]
        names = {"iter": "`iter_articles()` alone (baseline)", "jsonl": "JSONL",
                 "csv": "CSV", "xlsx": "XLSX"}  # fmt: skip
        for kind in EXPORT_KINDS:
            r = t[kind]
            runs_txt = " / ".join(f"{x:,.0f}" for x in r["rates"])
            traced = mb(r["traced_peak"]) if r["traced_peak"] is not None else "–"
            ratio = "1" if kind == "iter" else f"**{r['ratio']:.2f}**"
            lines.append(
                f"| {names[kind]} | {r['rate']:,.0f} | {runs_txt} | {ratio} | "
                f"{mb(r['bytes']) if r['bytes'] else '–'} | {mb(r['rss_growth'])} | {traced} |"
            )
    if h is not None:
        lines += [
            "",
            f"### Exports through the application, {res['export_runs']} runs",
            "",
            "`GET /export.csv?…` (streamed; the client writes the body to a file as it "
            "arrives). Baseline: the same work in process — the matching ids as the route "
            "finds them (`search_ids()`: no ranking beyond 2,000 matches, no snippets, no "
            'facets), then `write_export(archive.iter_articles(ids=ids), file, "csv")`. '
            "Medians.",
            "",
            "| export | rows | MB of CSV | in process: ids found, s | in process: CSV written, "
            "s | HTTP: headers, s | **HTTP: first byte, s** | HTTP: last byte, s | HTTP rows/s "
            "| HTTP rate / in-process rate | peak RSS growth MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for x in h["exports"]:
            m, b = x["http"], x["bare"]
            lines.append(
                f"| {x['name']}: `{x['path']}` | {m['rows']:,.0f} | {mb(m['bytes'])} "
                f"| {b['ids']:.2f} | {b['total']:.2f} | {m['headers']:.2f} | **{m['first']:.2f}** "
                f"| {m['total']:.2f} | {m['rows'] / m['total']:,.0f} | {x['ratio']:.2f} "
                f"| {mb(x['rss_growth_max'])} |"
            )
        traced = [x["traced_peak"] for x in h["exports"] if x["traced_peak"] is not None]
        if traced:
            lines += [
                "",
                f"tracemalloc peak of the serving process (server and client threads) during "
                f"one more HTTP export: at most +{mb(max(traced))} MB.",
            ]
    if before is not None:
        lines += compare(res, before)
    lines += ["", "What the figures say:", "", *reading(res, p50, p95)]
    return "\n".join(lines) + "\n"


def compare(res: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """The search page before and after: the same queries on the same articles."""
    now, then = res["search"], before["search"]
    then_rows = {r["name"]: r for r in then["rows"]}
    lines = [
        "",
        "### Before and after",
        "",
        f"Before: `{before['cmd']}` ({before['date']}; {before['runs']} runs per query), run "
        "with the code before this change (search through Whoosh's matchers and "
        "collectors, the benchmark as it was; an index of "
        f"{before['index_mb']:,.0f} MB in {before['segments']} segments) on "
        + (
            f"the same {before['articles']:,} articles on the same machine."
            if before["articles"] == res["articles"]
            else f"{before['articles']:,} articles (**not** this run's {res['articles']:,})."
        ),
        "",
        "| search page, ms | before | after | after / before |",
        "|---|---:|---:|---:|",
    ]
    for label, fn in (("median", statistics.median), ("p95", lambda v: pctl(v, 0.95)),
                      ("max", max)):  # fmt: skip
        for mode, name in (("html", "`GET /search`"), ("bare", "bare `search()`")):
            b, a = fn(then["flat"][mode]), fn(now["flat"][mode])
            lines.append(f"| {label}, {name} | {ms(b)} | {ms(a)} | {a / b:.2f} |")
    lines += [
        "",
        "| query (`GET /search`, medians, ms) | before | after | after / before |",
        "|---|---:|---:|---:|",
    ]
    for r in now["rows"]:
        b = then_rows.get(r["name"])
        if b is not None:
            lines.append(
                f"| {r['name']} | {ms(b['html'])} | {ms(r['html'])} | {r['html'] / b['html']:.2f} |"
            )
    return lines


def reading(res: dict[str, Any], p50: dict[str, float], p95: dict[str, float]) -> list[str]:
    """Plain-language reading, computed from the figures of the run."""
    s, e, h = res["search"], res["exports"], res["http"]
    rows = s["rows"]
    by_bare = sorted(rows, key=lambda r: r["bare"])
    quick = by_bare[:5]  # where a fixed cost is not lost in the search's own variation
    added = statistics.median(r["html"] - r["bare"] for r in quick)
    added_json = statistics.median(r["json"] - r["bare"] for r in quick)
    slow = sorted(rows, key=lambda r: r["html"], reverse=True)[:4]
    matching = statistics.median(r["ids"] / r["bare"] for r in rows if r["bare"] > 0)
    extras = statistics.median(1 - r["core"] / r["bare"] for r in rows if r["bare"] > 0)
    over = [r for r in rows if r["html"] > 1.0]
    out = [
        f"- Over the query set the search page takes {ms(p50['html'])} ms at the median and "
        f"{ms(p95['html'])} ms at the 95th percentile "
        + (
            f"({len(over)} of {len(rows)} queries over a second at the median). "
            if over
            else "(no query over a second). "
        )
        + f"It costs {p50['html'] / p50['bare']:.2f}× the bare `search()` at the median and "
        f"{p95['html'] / p95['bare']:.2f}× at the 95th percentile; the JSON twin "
        f"{p50['json'] / p50['bare']:.2f}×. The web layer's own cost shows on the "
        f"{len(quick)} fastest queries (bare {ms(quick[0]['bare'])}–{ms(quick[-1]['bare'])} "
        f"ms): +{ms(added)} ms for the HTML page, +{ms(added_json)} ms for JSON (medians), "
        f"about an HTTP round trip ({ms(s['floors']['static'])} ms) and the template.",
        "- Slowest pages: "
        + "; ".join(f"{r['name']} ({r['hits']:,} hits, {ms(r['html'])} ms)" for r in slow)
        + ". Fastest: "
        + "; ".join(f"{r['name']} ({r['hits']:,} hits, {ms(r['html'])} ms)" for r in quick[:3])
        + ". Time follows how many postings the query's words have (each word's posting "
        "list is read whole: ids and term frequencies; positions too for a phrase's words), "
        "not how many articles are finally found: a rare phrase or a word minus a word reads "
        "the postings of common words. Matching alone (`search_ids()` unscored) is "
        f"{matching:.0%} of the bare call (median over the queries); ranking (BM25F over "
        "every match, the exact-accent and title clauses) and the page's stored fields most "
        f"of the rest; facet counts and the 20 body snippets {extras:.0%}. A phrase also "
        "decodes the positions of its words in every candidate article; the generated corpus "
        "(bigrams of five seed texts) puts most words in most articles, so phrases here are "
        "a pessimistic case.",
    ]
    if e is not None:
        t = {r["kind"]: r for r in e["table"]}
        x = t["xlsx"]
        xlsx_time = x["rows"] / x["rate"]
        growth = [t[k]["rss_growth"] for k in ("jsonl", "csv", "xlsx")]
        out.append(
            f"- Exports: iterating the archive alone runs at {t['iter']['rate']:,.0f} rows/s; "
            f"JSONL keeps {t['jsonl']['ratio']:.0%} of that rate, CSV {t['csv']['ratio']:.0%}, "
            f"XLSX {x['ratio']:.0%} ({x['rate']:,.0f} rows/s: "
            + (f"{xlsx_time / 60:.1f} min" if xlsx_time >= 90 else f"{xlsx_time:.0f} s")
            + f" for {x['rows']:,} articles). During an export the process's peak RSS grows by "
            f"{mb(min(growth))}–{mb(max(growth))} MB (iterating alone: "
            f"{mb(t['iter']['rss_growth'])} MB), for {mb(t['csv']['bytes'])} MB of CSV written."
        )
    if h is not None:
        parts = []
        for x in h["exports"]:
            m, b = x["http"], x["bare"]
            parts.append(
                f"{x['name']} ({m['rows']:,.0f} rows): first byte after {m['first']:.2f} s "
                f"(ids found in {b['ids']:.2f} s in process), last after {m['total']:.2f} s, "
                f"{x['ratio']:.2f}× the in-process rate, peak RSS +{mb(x['rss_growth_max'])} MB"
            )
        out.append(
            "- Exports through the application: "
            + "; ".join(parts)
            + ". The route finds the ids with `search_ids()` (one pass over the posting "
            "lists, ids from a column; ranked only up to 2,000 matches, whose export keeps the "
            "search order), then streams rows as the exporter writes them."
        )
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--export-child"]:
        export_child(argv[2], argv[1], argv[3], traced="--traced" in argv)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=100_000, help="archive size (100000)")
    ap.add_argument("--keep", type=Path, help="build the archive here and keep it for next time")
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each query (5)")
    ap.add_argument("--export-runs", type=int, default=3, help="timed runs of each export (3)")
    ap.add_argument("--no-tracemalloc", action="store_true", help="skip the tracemalloc passes")
    ap.add_argument("--no-exports", action="store_true", help="search only")
    ap.add_argument("--out", type=Path, help="write the markdown section here")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--render", type=Path, help="only render figures written by --json")
    ap.add_argument("--before", type=Path, help="figures (--json) of a run before a change")
    args = ap.parse_args(argv)
    if args.render:
        before = json.loads(args.before.read_text(encoding="utf-8")) if args.before else None
        report = render(json.loads(args.render.read_text(encoding="utf-8")), before)
        print(report)
        if args.out:
            args.out.write_text(report, encoding="utf-8")
        return 0
    t_start = time.perf_counter()
    cmd = "python bench/bench_web.py" + "".join(f" {a}" for a in argv)

    tmp = None
    if args.keep:
        data_dir = args.keep
    else:
        tmp = tempfile.mkdtemp(prefix="bench-web-")
        data_dir = Path(tmp)
    config = Config.resolve(data_dir)
    config.ensure()
    try:
        say(f"archive in {config.data_dir} ({args.articles:,} articles)")
        build = build_archive(config, args.articles)
        record = config.data_dir / "bench-web-build.json"
        if build:
            old = json.loads(record.read_text()) if record.exists() else {}
            kept = [k for k in old if k not in build]
            build = {**old, **build}
            record.write_text(json.dumps(build, indent=1))
            build_note = (
                "built in this run"
                if not kept
                else (
                    f"{', '.join(k for k in build if k not in kept)} in this run; "
                    f"{', '.join(kept)} in an earlier run with `--keep`"
                )
            )
        elif record.exists():
            build = json.loads(record.read_text())
            build_note = "kept from an earlier run with `--keep`; build times of that run"
        else:
            build_note = "kept from an earlier run with `--keep`"
        for k, v in build.items():
            say(f"  {k}: {v['articles']:,.0f} articles in {v['seconds']:,.0f} s")
        index_mb = sum(f.stat().st_size for f in config.index_dir.iterdir()) / 1e6
        segments = index_segments(config)
        say(f"index: {index_mb:,.0f} MB, {segments} segments")

        traced = not args.no_tracemalloc
        with serve(config) as base:
            s = bench_search(config, base, args.runs)
            h = None
            if not args.no_exports:
                h = bench_http_export(config, base, args.export_runs, traced)
        e = None
        if not args.no_exports:
            say("exports of the whole archive (each run in a fresh process)")
            e = bench_exports(config, args.export_runs, traced)
    finally:
        if tmp:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    res = {
        "cmd": cmd,
        "date": f"{date.today():%Y-%m-%d}",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "elapsed": time.perf_counter() - t_start,
        "articles": args.articles,
        "build": build,
        "build_note": build_note,
        "index_mb": index_mb,
        "segments": segments,
        "runs": args.runs,
        "export_runs": args.export_runs,
        "search": s,
        "exports": e,
        "http": h,
    }
    if args.json:
        args.json.write_text(json.dumps(res, indent=1), encoding="utf-8")
    before = json.loads(args.before.read_text(encoding="utf-8")) if args.before else None
    report = render(res, before)
    print()
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
