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
different code, e.g. positions compressed or not), this tree's engine on both, in one
process calling each in turn.

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
tree, runs, *indexes = sys.argv[1:]  # then index, bodies (, index, bodies: taking turns)
sys.path[:0] = [tree, tree + "/bench"]  # the tree's own bench code puts the tree first too
from bench_search_backends import Bodies, PER_PAGE, query_kwargs
from bench_web import QUERIES
import search.analysis, search.index
from search.backend import WhooshBackend
# the index's own schema version, whichever engine: an engine leaves alone the fields it does
# not know (the word pairs of schema 5 for an engine before them; the pickled schema names
# their analyzer, which such an engine only needs to exist, never runs)
search.index.SCHEMA_VERSION = int((Path(indexes[0]) / search.index.VERSION_FILE).read_text())
if not hasattr(search.analysis, "PairAnalyzer"):
    from whoosh.analysis import Tokenizer
    search.analysis.PairAnalyzer = type("PairAnalyzer", (Tokenizer,), {})
sides = []
for index, bodies in zip(indexes[::2], indexes[1::2]):
    backend = WhooshBackend(Path(index))
    texts_for = Bodies(Path(bodies)).texts_for if bodies else None
    started = time.perf_counter()
    backend.search("x", per_page=PER_PAGE)
    sides.append((backend, texts_for, {"first_s": time.perf_counter() - started, "queries": {}}))
for name, pairs in QUERIES:
    q, kw = query_kwargs(pairs)
    times = {id(out): [] for _, _, out in sides}
    for backend, texts_for, out in sides:
        result = backend.search(q, per_page=PER_PAGE, texts_for=texts_for, **kw)
        out["queries"][name] = {"total": result.total, "first": [h.id for h in result.hits[:5]],
                                "times": times[id(out)]}
    for r in range(int(runs)):  # several indexes: one call each in turn, the order swapped
        for backend, texts_for, out in sides if r % 2 == 0 else sides[::-1]:
            t = time.perf_counter()
            backend.search(q, per_page=PER_PAGE, texts_for=texts_for, **kw)
            times[id(out)].append(time.perf_counter() - t)
    print(f"  {name:32} " + " ".join(f"{1000 * min(t):9.1f} ms" for t in times.values()),
          file=sys.stderr, flush=True)
print(json.dumps([out for _, _, out in sides]))
"""


#: Settings that change how an engine searches, shown in the command when set (an engine
#: before them ignores them).
ENV_SHOWN = ("PORTAL_ARCHIVE_SEARCH_WORKERS",)


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


def run_engine(tree: Path, runs: int, *sides: tuple[Path, Path | None]) -> list[dict]:
    """The figures of the engine at ``tree`` on each (index, bodies) of ``sides``, in one
    process (several: one call each in turn)."""
    args = [str(x or "") for side in sides for x in side]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(runs), *args],
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
            if r % 2:
                order.reverse()
            if args.baseline_index:  # one engine: both indexes in one process, in turn
                print(f"round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
                outs = run_engine(ROOT, args.runs, *((i, b) for _, (_, i, b) in order))
                for (name, _), out in zip(order, outs, strict=True):
                    results[name].append(out)
                continue
            for name, (tree, index, bodies) in order:
                print(f"round {r + 1}/{args.rounds}: {name}", file=sys.stderr, flush=True)
                results[name].append(run_engine(tree, args.runs, (index, bodies))[0])
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
        "Command: `"
        + "".join(f"{k}={os.environ[k]} " for k in ENV_SHOWN if os.environ.get(k))
        + f"python bench/bench_engine.py --index {args.index} --bodies {args.bodies} "
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
        "hits, facets, highlighted snippets), "
        + (
            "this tree's engine on both indexes in one process, one call each in turn"
            if args.baseline_index
            else "each engine in its own process, taking turns"
        )
        + " (which goes first swapped every round); medians of every call.",
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
