"""``portal-archive import-warc``: existing WARC/ARC files into the archive.

The composition of :mod:`archive.warc_import` (reading, storing) with the crawl's own
extraction (:class:`scraper.warc.CaptureExtractor`) and the portal registry.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

from archive.config import Config


def add_cli(subparsers: argparse._SubParsersAction, common_parent: argparse.ArgumentParser) -> None:
    """Add the ``import-warc`` command to the CLI's subparsers."""
    from archive.cli import registry_parent

    p = subparsers.add_parser(
        "import-warc",
        parents=[common_parent, registry_parent()],
        help="import WARC/ARC files (Heritrix, Browsertrix, wget, Common Crawl, our own)",
        description="Feed existing WARC or ARC files (gzip or not) through the crawl's "
        "extraction and storage, for the registered portals (all, or --portal) and any "
        "--host given. Non-HTML noise is skipped; attachments the imported articles link "
        "are taken from the files. Importing a file again changes nothing. See docs/warc.md.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument(
        "--portal",
        action="append",
        default=[],
        metavar="SLUG",
        help="only this registered portal's pages (repeatable; default: every registered portal's)",
    )
    p.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="HOST",
        help="also import this host's pages as a site without a TOML (host or host:port; "
        "family detected, as `crawl URL`; repeatable)",
    )
    p.add_argument("--no-index", action="store_true", help="do not update the search index")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _router(args: argparse.Namespace, entries: dict, slugs: list[str]):
    """``route(url) -> Site | None``: the registered portals ``slugs`` by host:port, then
    the ``--host`` sites."""
    from archive.warc_import import Site
    from scraper.warc import CaptureExtractor

    portals_dir = getattr(args, "portals", None)
    by_netloc = {netloc: slug for slug in slugs for netloc in entries[slug].netlocs}
    hosts = {h.lower().split("://")[-1].strip("/") for h in args.host}
    sites: dict[str, Site] = {}

    def site(slug: str | None = None, url: str | None = None) -> Site:
        key = slug or url
        if key not in sites:
            extractor = CaptureExtractor(portal=slug, url=url, portals_dir=portals_dir)
            e = extractor.entry
            sites[key] = Site(
                slug=e.slug,
                name=e.name,
                unit=e.unit,
                base_url=e.base_url,
                family=e.family,
                config=e.as_dict(),
                extractor=extractor,
            )
        return sites[key]

    def route(url: str) -> Site | None:
        parts = urlsplit(url)
        netloc = parts.netloc.lower()
        if netloc in by_netloc:
            return site(slug=by_netloc[netloc])
        if netloc in hosts or (parts.hostname or "") in hosts:
            return site(url=f"{parts.scheme}://{netloc}/")
        return None

    return route


def cmd_import_warc(args: argparse.Namespace, config: Config) -> int:
    from archive import locks
    from archive.cli import CliError, print_runs, process_new_documents, update_index
    from archive.store import Archive
    from archive.warc_import import import_warc
    from scraper import registry
    from scraper.spiders.portal import slug_for_url

    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise CliError(f"no such file: {', '.join(missing)}")
    entries = registry.load_all(getattr(args, "portals", None))
    unknown = [slug for slug in args.portal if slug not in entries]
    if unknown:
        known = ", ".join(sorted(entries)) or "none"
        raise CliError(f"unknown portal(s) {', '.join(unknown)} (known: {known})")
    slugs = args.portal or ([] if args.host else list(entries))
    host_slugs = [slug_for_url(f"http://{h.split('://')[-1].strip('/')}") for h in args.host]
    archive = Archive(config)
    try:
        # An import writes articles as a crawl does: not while a crawl of the portal runs.
        with locks.portal_lock(
            archive, [*slugs, *host_slugs], locks.holder_for("import")
        ) as acquired:
            for slug, why in acquired.busy.items():
                print(f"{slug}: not imported, a crawl is running ({why})", file=sys.stderr)
            route = _router(args, entries, [s for s in slugs if s in acquired])

            def progress(done: int, total: int) -> None:
                if sys.stderr.isatty() or done == total:
                    sys.stderr.write(f"\rimported {done}/{total} pages ")
                    if done == total:
                        sys.stderr.write("\n")
                    sys.stderr.flush()

            report = import_warc(archive, args.files, route, progress=progress)
        runs = {r["id"]: r for r in archive.runs(limit=1000)}
    finally:
        archive.close()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(
            f"{report.files} file(s), {report.records} record(s): {report.pages} page(s) and "
            f"{report.attachments} attachment(s) imported"
        )
        for reason, n in sorted(report.skipped.items(), key=lambda kv: -kv[1]):
            if n:
                print(f"  skipped {n:>6}  {reason}")
        for path, why in report.damaged.items():
            print(f"  {path}: {why}", file=sys.stderr)
        if report.runs:
            print()
            print_runs([runs[i] for i in report.runs.values() if i in runs])
    if (report.pages or report.attachments) and not args.no_index:
        process_new_documents(config, show_progress=not args.json)
        update_index(config, show_progress=not args.json)
    return 1 if report.damaged else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m archive.warc_cli import-warc …``: the command on its own (the same as
    ``portal-archive import-warc`` once archive/cli.py registers it)."""
    from archive.cli import CliError, config_from
    from archive.store import ArchiveError

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS)
    common.add_argument("--db", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="portal-archive", parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)
    add_cli(sub, common)
    args = parser.parse_args(argv)
    try:
        return cmd_import_warc(args, config_from(args))
    except (CliError, ArchiveError) as exc:
        print(f"portal-archive import-warc: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
