"""The Whoosh query engine against an earlier one, on the same index, in the same run.

Each engine is this repository's ``search`` package at a revision (``--baseline REV``,
extracted with ``git archive``; ``HEAD`` means the working tree) run in a child process on
a kept Whoosh index (``bench_search_backends.py --keep DIR`` makes one): bench_web.py's 26
search-page queries (20 hits, facets, highlighted snippets from the bodies), a warm-up call
then ``--runs`` timed calls each. The engines take turns (``--rounds``), and each query's
figure is the median of its calls over the rounds. Both engines must read the index: an
index written before the raw posting blocks (search/blocks.py) is read by either, and an
engine before the word pairs (schema 5) reads an index that has them as if it had not
(each child takes the index's schema version as its own).

With ``--baseline-index`` it compares two indexes of the same articles instead (written by
different code, e.g. positions compressed or not), this tree's engine on both.

    python bench/bench_engine.py --index DIR/whoosh-index --bodies DIR/whoosh-bodies.sqlite \\
        --baseline 8234365 --out bench/results/engine.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_search_backends import pctl  # noqa: E402 - the same percentile as the backends bench

CHILD = r"""
import json, sys, time
from pathlib import Path
tree, index, bodies, runs = sys.argv[1:5]
sys.path[:0] = [tree, tree + "/bench"]  # the tree's own bench code puts the tree first too
from bench_search_backends import Bodies, PER_PAGE, query_kwargs
from bench_web import QUERIES
import search.analysis, search.index
from search.backend import WhooshBackend
# the index's own schema version, whichever engine: an engine leaves alone the fields it does
# not know (the word pairs of schema 5 for an engine before them; the pickled schema names
# their analyzer, which such an engine only needs to exist, never runs)
search.index.SCHEMA_VERSION = int((Path(index) / search.index.VERSION_FILE).read_text())
if not hasattr(search.analysis, "PairAnalyzer"):
    from whoosh.analysis import Tokenizer
    search.analysis.PairAnalyzer = type("PairAnalyzer", (Tokenizer,), {})
backend = WhooshBackend(Path(index))
texts_for = Bodies(Path(bodies)).texts_for if bodies else None
started = time.perf_counter()
backend.search("x", per_page=PER_PAGE)
out = {"first_s": time.perf_counter() - started, "queries": {}}
for name, pairs in QUERIES:
    q, kw = query_kwargs(pairs)
    result = backend.search(q, per_page=PER_PAGE, texts_for=texts_for, **kw)
    times = []
    for _ in range(int(runs)):
        t = time.perf_counter()
        backend.search(q, per_page=PER_PAGE, texts_for=texts_for, **kw)
        times.append(time.perf_counter() - t)
    out["queries"][name] = {"total": result.total, "first": [h.id for h in result.hits[:5]],
                            "times": times}
    print(f"  {name:32} {result.total:>8,} {1000 * min(times):9.1f} ms", file=sys.stderr,
          flush=True)
print(json.dumps(out))
"""


def tree_at(rev: str, into: Path) -> Path:
    """The repository's code at ``rev`` (HEAD: the working tree itself)."""
    if rev == "HEAD":
        return ROOT
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "search", "archive", "scraper", "bench"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_engine(tree: Path, index: Path, bodies: Path | None, runs: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(index), str(bodies or ""), str(runs)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    return json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--bodies", type=Path)
    parser.add_argument("--baseline", default="8234365")
    parser.add_argument(
        "--baseline-index",
        type=Path,
        help="compare two indexes of the same articles instead: this tree on this index "
        "(its bodies: --baseline-bodies) against this tree on --index",
    )
    parser.add_argument("--baseline-bodies", type=Path)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--title", default="The Whoosh query engine against the one before, on the same index"
    )
    args = parser.parse_args()
    began = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline_index:
            engines = {
                f"{args.baseline_index.parent.name}": (
                    ROOT, args.baseline_index, args.baseline_bodies
                ),
                f"{args.index.parent.name}": (ROOT, args.index, args.bodies),
            }  # fmt: skip
        else:
            engines = {
                f"baseline ({args.baseline})": (
                    tree_at(args.baseline, Path(tmp)), args.index, args.bodies
                ),
                "this tree": (ROOT, args.index, args.bodies),
            }  # fmt: skip
        results: dict[str, list[dict]] = {name: [] for name in engines}
        for r in range(args.rounds):
            # the order swapped every round: run with the same code on both sides (--baseline
            # HEAD), the engine that always ran second was 1.14x slower at the median
            order = list(engines.items())
            for name, (tree, index, bodies) in order if r % 2 == 0 else reversed(order):
                print(f"round {r + 1}/{args.rounds}: {name}", file=sys.stderr, flush=True)
                results[name].append(run_engine(tree, index, bodies, args.runs))
    names = list(engines)
    rows, every = [], {n: [] for n in names}
    first = results[names[0]][0]["queries"]
    for q in first:
        med = {}
        for n in names:
            times = [t for res in results[n] for t in res["queries"][q]["times"]]
            every[n] += times
            med[n] = statistics.median(times)
        totals = {results[n][0]["queries"][q]["total"] for n in names}
        rows.append((q, first[q]["total"], med[names[0]], med[names[1]], len(totals) == 1))
    lines = [
        f"## {args.title}",
        "",
        f"Command: `python bench/bench_engine.py --index {args.index} --bodies {args.bodies} "
        + (
            f"--baseline-index {args.baseline_index} --baseline-bodies {args.baseline_bodies} "
            if args.baseline_index
            else f"--baseline {args.baseline} "
        )
        + f"--runs {args.runs} --rounds {args.rounds}"
        + (f' --title "{args.title}"' if args.title != parser.get_default("title") else "")
        + "` "
        f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
        f"{(time.time() - began) / 60:.0f} min). bench_web.py's 26 search-page queries (20 "
        "hits, facets, highlighted snippets), each engine in its own process, taking turns "
        "(which goes first swapped every round); medians of every call.",
        "",
        f"| ms | {names[0]} | {names[1]} | ratio |",
        "|---|---:|---:|---:|",
    ]
    for label, f in (("p50", 0.5), ("p95", 0.95)):
        a, b = pctl(every[names[0]], f), pctl(every[names[1]], f)
        lines.append(f"| **{label}** | {1000 * a:,.0f} | {1000 * b:,.0f} | {b / a:.2f} |")
    lines += [
        "",
        f"| query | matches | {names[0]} | {names[1]} | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for q, total, a, b, same in rows:
        lines.append(
            f"| {q} | {total:,}{'' if same else ' (differs!)'} | {1000 * a:,.1f} | "
            f"{1000 * b:,.1f} | {b / a:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
