"""Serve the sample portals until Ctrl-C: ``python -m scraper.sample_portals [--port-base N]``."""

from __future__ import annotations

import argparse
import time

from . import PORTALS, SampleWorld


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scraper.sample_portals", description=__doc__)
    parser.add_argument("--port-base", type=int, default=None, help="portal i listens on N+i")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    with SampleWorld(host=args.host, port_base=args.port_base) as world:
        for slug in PORTALS:
            print(f"{slug:18} {world.base_url(slug)}/", flush=True)
        print("Serving; press Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
