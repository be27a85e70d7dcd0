"""Serve the sample portals until Ctrl-C: ``python -m scraper.sample_portals [--port-base N]``.

``--faults FILE.json`` injects faults (see faults.py): a JSON list of rules such as
``[{"kind": "status", "status": 503, "retry_after": 5, "path": "/vi/news/*", "times": 2}]``,
or ``{"seed": 7, "rules": [...]}`` when rules have a ``probability``.
"""

from __future__ import annotations

import argparse
import time

from . import PORTALS, SampleWorld
from .faults import FaultPlan


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m scraper.sample_portals",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port-base", type=int, default=None, help="portal i listens on N+i")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--faults", metavar="FILE.json", help="fault rules to apply (JSON)")
    args = parser.parse_args(argv)
    try:
        plan = FaultPlan.load(args.faults) if args.faults else None
    except (OSError, ValueError, TypeError) as exc:
        parser.error(f"--faults {args.faults}: {exc}")
    with SampleWorld(host=args.host, port_base=args.port_base, faults=plan) as world:
        for slug in PORTALS:
            print(f"{slug:18} {world.base_url(slug)}/", flush=True)
        for line in plan.describe() if plan else ():
            print(f"fault {line}", flush=True)
        print("Serving; press Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            if plan:
                print(f"faults fired: {plan.fired}", flush=True)


if __name__ == "__main__":
    main()
