"""The ``portal-archive`` command.

The CLI is the composition root: it wires the scraper, the archive and the search index
together, and every command is a thin layer over importable functions.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from archive.config import ENV_ALLOW_PRIVATE, Config, truthy
from archive.store import Archive, ArchiveError

EXIT_USAGE = 2


class CliError(ArchiveError):
    """Bad input: printed as one clear line, exit status 2. (An ArchiveError: raised from
    a module that imported ``archive.cli`` while it runs as ``python -m archive.cli``, it
    is another class than ``__main__.CliError``, and must still be caught.)"""


# --- argument parsing ---------------------------------------------------------------------


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value.strip())
        if m:
            try:
                return date(int(m[3]), int(m[2]), int(m[1]))
            except ValueError:
                pass
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)"
        ) from None


def _cdx_time(value: str) -> str:
    from scraper.wayback import cdx_time

    try:
        return cdx_time(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def registry_parent() -> argparse.ArgumentParser:
    """The ``--portals DIR`` option, for the commands that read the portal registry."""
    registry = argparse.ArgumentParser(add_help=False)
    registry.add_argument(
        "--portals",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="portal registry directory (default: $PORTAL_ARCHIVE_PORTALS or scraper/portals)",
    )
    return registry


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="data directory (default: $PORTAL_ARCHIVE_DATA or the user data dir)",
    )
    common.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        help="SQLAlchemy database URL (default: $PORTAL_ARCHIVE_DB or SQLite "
        "in the data directory)",
    )
    registry = registry_parent()
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--portal", action="append", help="only this portal (repeatable)")
    filters.add_argument("--topic", choices=("cchc", "dvhc"))
    filters.add_argument("--from", dest="date_from", type=_date, metavar="DATE")
    filters.add_argument("--to", dest="date_to", type=_date, metavar="DATE")
    filters.add_argument(
        "--unit",
        metavar="NAME|CODE",
        help="administrative unit, with or without diacritics ('quan thanh xuan', 'phường "
        "Kim Giang, Thanh Xuân', 009, 00367@2025): entries it issued or that name it, its "
        "communes', and those of the units it was formed from (docs/units.md)",
    )

    p = argparse.ArgumentParser(
        prog="portal-archive",
        parents=[common],
        description="Crawl, archive, search and export Vietnamese local-government portals.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("portals", parents=[common, registry], help="list registered portals")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser(
        "crawl",
        parents=[common, registry],
        help="crawl portals (slugs, 'all', or URLs of sites without a TOML)",
    )
    s.add_argument("targets", nargs="+", metavar="PORTAL|URL|all")
    s.add_argument(
        "--allow-private",
        action="store_true",
        help="allow private and loopback addresses (tests, the demo)",
    )
    s.add_argument("--no-index", action="store_true", help="do not update the search index")
    s.add_argument(
        "--full",
        action="store_true",
        help="walk every listing page and fetch every article again "
        "(default: a re-crawl stops at pages it already has; docs/incremental.md)",
    )
    s.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting (highest precedence)",
    )
    s.add_argument("--quiet", action="store_true", help="only progress lines and the summary")
    s.add_argument(
        "--trigger",
        default="cli",
        choices=("cli", "scheduler", "web"),
        help="who started the crawl, as recorded with the run (default cli)",
    )
    s.add_argument(
        "--source",
        choices=("live", "wayback"),
        default="live",
        help="wayback: the portal's captures in the Wayback Machine, not the portal itself "
        "(docs/warc.md; PORTAL_ARCHIVE_WAYBACK_RPS requests a second, 1 by default)",
    )
    s.add_argument(
        "--from", dest="wayback_from", type=_cdx_time, metavar="YEAR",
        help="--source wayback: captures from this year (or yyyyMMdd…) on",
    )  # fmt: skip
    s.add_argument(
        "--to", dest="wayback_to", type=_cdx_time, metavar="YEAR",
        help="--source wayback: captures up to this year (or yyyyMMdd…), inclusive",
    )  # fmt: skip
    s.add_argument(
        "--wayback-url",
        metavar="URL",
        help="--source wayback: the archive (default $PORTAL_ARCHIVE_WAYBACK_URL setting, "
        "https://web.archive.org)",
    )

    s.add_argument(
        "--redis",
        metavar="URL",
        help="a distributed crawl of one portal: worker processes share its frontier in this "
        "Redis, redis://HOST:PORT/DB (docs/distributed.md)",
    )
    s.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="--redis: worker processes started here (default 2; 0: only workers that join "
        "from other machines with crawl-worker)",
    )

    s = sub.add_parser(
        "extract", parents=[common], help="print what the extractor sees in one saved page"
    )
    s.add_argument("file", type=Path)
    s.add_argument("--url", required=True, help="the URL the page was fetched from")
    s.add_argument("--family", help="software family (default: detect)")
    s.add_argument("--json", action="store_true", help="print one JSON object (default)")

    s = sub.add_parser(
        "index",
        parents=[common],
        help="bring the search index up to date",
        description="Link new and changed articles and documents to their administrative units "
        "and index them. One indexer at a time: a second waits for the first. --watch keeps "
        "doing it, for a deployment where crawls run with --no-index (or "
        "PORTAL_ARCHIVE_INDEX_ON_CRAWL=0) and one indexer process serves every crawler.",
    )
    s.add_argument("--rebuild", action="store_true", help="re-index every article")
    s.add_argument("--watch", action="store_true", help="keep indexing changes until stopped")
    s.add_argument(
        "--interval",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="--watch: seconds between two looks at the database (default 30)",
    )

    s = sub.add_parser(
        "search", parents=[common, filters], help="search the archive (articles and documents)"
    )
    s.add_argument("query", nargs="?", default="")
    s.add_argument(
        "--type", choices=("article", "document"), help="only articles or only documents"
    )
    s.add_argument(
        "--kind",
        dest="doc_kind",
        action="append",
        metavar="KIND",
        help="document kind, e.g. 'Kế hoạch' or 'ke hoach': documents of that kind and "
        "articles citing one (repeatable)",
    )
    s.add_argument(
        "--year",
        type=int,
        action="append",
        help="issue year of a document, publication year of an article (repeatable)",
    )
    s.add_argument("--sort", choices=("relevance", "newest", "oldest"), default="relevance")
    s.add_argument("--page", type=int, default=1)
    s.add_argument("--limit", type=int, default=10, help="hits per page")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("export", parents=[common, filters], help="export articles")
    s.add_argument("--query", "-q", default="", help="only articles matching this search")
    s.add_argument(
        "--format",
        "-f",
        choices=("jsonl", "csv", "xlsx", "zip", "warc", "wacz"),
        required=True,
        help="zip: a bundle with a manifest, JSONL, CSV, each article's text and the "
        "original attachment files (sha256-checked); warc: the original captures of the "
        "articles and their attachments, copied byte for byte (.warc.gz); wacz: that WARC "
        "as WACZ, for ReplayWeb.page and pywb (docs/warc.md)",
    )
    s.add_argument("-o", "--output", required=True, help="output file ('-' for stdout)")

    s = sub.add_parser("documents", parents=[common], help="stored attachments as documents")
    s.add_argument("--json", action="store_true")
    s.add_argument(
        "--process",
        action="store_true",
        help="extract text and metadata of documents not processed yet, then index them",
    )
    s.add_argument(
        "--reprocess",
        action="store_true",
        help="extract text and metadata of every document again (after an upgrade)",
    )

    s = sub.add_parser(
        "extract-document",
        parents=[common],
        help="print the text statistics and metadata of one file",
    )
    s.add_argument("file", type=Path)
    s.add_argument("--json", action="store_true", help="print one JSON object (default)")
    s.add_argument("--no-ocr", action="store_true", help="do not OCR pages without text")
    s.add_argument("--text", action="store_true", help="include the full text")

    s = sub.add_parser("serve", parents=[common], help="the staff web application")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument(
        "--portals",
        default=None,
        metavar="DIR",
        help="portal registry for crawls started from the web (default: the project's)",
    )
    s.add_argument(
        "--allow-private",
        action="store_true",
        help="let crawls started from the web reach private and loopback addresses",
    )

    s = sub.add_parser("users", parents=[common], help="staff accounts of the web application")
    s.add_argument("action", choices=("add", "list", "passwd"))
    s.add_argument("username", nargs="?")
    s.add_argument("--name", help="display name")
    s.add_argument("--admin", action="store_true")
    s.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (scripts) instead of prompting",
    )

    s = sub.add_parser(
        "check",
        parents=[common],
        help="check that the index agrees with the database and every stored file exists",
    )
    s.add_argument("--repair", action="store_true", help="bring the index in line")
    s.add_argument("--deep", action="store_true", help="re-hash every stored file")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("status", parents=[common], help="each portal's health")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("runs", parents=[common], help="recent crawl runs")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("samples", parents=[common], help="serve the sample portals")
    s.add_argument("action", choices=("serve",))
    s.add_argument("--port-base", type=int, default=8701)

    s = sub.add_parser(
        "demo",
        parents=[common],
        help="serve the sample portals, crawl, index, search and export them",
    )
    s.add_argument("--quiet", action="store_true")

    from archive import db_cli, distributed_cli, schedules, units_cli, warc_cli

    db_cli.add_cli(sub, common)
    distributed_cli.add_cli(sub, common)
    schedules.add_cli(sub, common)
    units_cli.add_cli(sub, common)
    warc_cli.add_cli(sub, common)
    return p


def config_from(args: argparse.Namespace) -> Config:
    return Config.resolve(getattr(args, "data_dir", None), getattr(args, "db", None))


# --- commands -----------------------------------------------------------------------------


def cmd_portals(args: argparse.Namespace) -> int:
    from scraper import registry

    entries = registry.load_all(getattr(args, "portals", None))
    if args.json:
        print(json.dumps([e.as_dict() for e in entries.values()], ensure_ascii=False, indent=2))
        return 0
    if not entries:
        print(f"no portals in {registry.portals_dir(getattr(args, 'portals', None))}")
        return 0
    width = max(len(s) for s in entries)
    unit_width = max(len(e.unit) for e in entries.values())
    for e in entries.values():
        print(f"{e.slug:<{width}}  {e.family:<9} {e.unit:<{unit_width}}  {e.base_url}")
    print(f"{len(entries)} portal(s) in {registry.portals_dir(getattr(args, 'portals', None))}")
    return 0


def run_crawls(
    config: Config,
    targets: Sequence[str],
    *,
    portals_dir: str | None,
    allow_private: bool,
    settings_overrides: Sequence[str] = (),
    quiet: bool = False,
    trigger: str = "cli",
    wayback: dict | None = None,
) -> list[dict]:
    """Crawl the given portal slugs / URLs in one Scrapy process; return their run records.
    ``wayback`` (``{"wayback_url", "time_from", "time_to"}``, values may be None): crawl the
    portals' captures in that web archive instead (scraper/spiders/wayback.py)."""
    from scraper import registry
    from scraper.middlewares import check_url

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "scraper.settings")
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    entries = registry.load_all(portals_dir) if any("://" not in t for t in targets) else {}
    settings = get_project_settings()
    if wayback is not None:
        # Only the archive is contacted, never the portals.
        wayback = {k: v for k, v in wayback.items() if v}
        archive_url = wayback.get("wayback_url") or settings.get("PORTAL_ARCHIVE_WAYBACK_URL")
        reason = check_url(archive_url, allow_private=allow_private)
        if reason:
            raise CliError(f"cannot crawl the web archive {archive_url}: {reason}")
    jobs: list[dict] = []
    for target in targets:
        if target == "all":
            jobs += [{"portal": slug} for slug in entries]
        elif "://" in target or "." in target and target not in entries:
            url = target if "://" in target else f"http://{target}"
            reason = check_url(url, allow_private=allow_private) if wayback is None else None
            if reason:
                raise CliError(f"cannot crawl {target}: {reason}")
            jobs.append({"url": url})
        elif target in entries:
            entry = entries[target]
            for url in (*entry.start_urls, *entry.category_urls) if wayback is None else ():
                reason = check_url(url, allow_private=allow_private)
                if reason:
                    raise CliError(f"cannot crawl {target}: {url}: {reason}")
            jobs.append({"portal": target})
        else:
            known = ", ".join(sorted(entries)) or "none"
            raise CliError(f"unknown portal {target!r} (known: {known}; or give a URL)")
    if not jobs:
        raise CliError("nothing to crawl")

    from archive import locks

    # One crawl per portal at a time, whoever starts it: a busy portal is left out, said why.
    slugs = [job["portal"] for job in jobs if "portal" in job]
    with locks.portal_lock(config, slugs, locks.holder_for(trigger)) as acquired:
        for slug, why in acquired.busy.items():
            print(f"{slug}: not crawled, a crawl is already running ({why})", file=sys.stderr)
        jobs = [job for job in jobs if "portal" not in job or job["portal"] in acquired]
        if not jobs:
            raise CliError("every portal asked for is being crawled already")
        apply_crawl_settings(
            settings,
            config,
            allow_private=allow_private,
            settings_overrides=settings_overrides,
            quiet=quiet,
        )
        process = CrawlerProcess(settings)
        for name in NETWORK_ERROR_LOGGERS:
            logging.getLogger(name).addFilter(_one_line_network_errors)
        crawlers = []
        for job in jobs:
            crawler = process.create_crawler("portal" if wayback is None else "wayback")
            crawlers.append(crawler)
            process.crawl(
                crawler, portals_dir=portals_dir, trigger=trigger, **job, **(wayback or {})
            )
        process.start()
    run_ids = [c.stats.get_value("archive/run_id") for c in crawlers]
    archive = Archive(config)
    try:
        runs = {r["id"]: r for r in archive.runs(limit=1000)}
    finally:
        archive.close()
    return [runs[i] for i in run_ids if i in runs]


def parse_overrides(settings_overrides: Sequence[str]) -> list[tuple[str, str]]:
    """``-s NAME=VALUE`` options as pairs; a bad one is a :class:`CliError`."""
    pairs = []
    for item in settings_overrides:
        if "=" not in item:
            raise CliError(f"-s {item!r}: expected NAME=VALUE")
        key, value = item.split("=", 1)
        pairs.append((key, value))
    return pairs


def apply_crawl_settings(
    settings,
    config: Config,
    *,
    allow_private: bool,
    settings_overrides: Sequence[str] = (),
    quiet: bool = False,
) -> None:
    """What every crawl process of the CLI sets: the archive, no index on close (the CLI
    updates it once after), private addresses when allowed, ``-s`` options last."""
    settings.set("PORTAL_ARCHIVE_DATA_DIR", str(config.data_dir), priority="cmdline")
    settings.set("PORTAL_ARCHIVE_DB", config.db_url, priority="cmdline")
    settings.set("PORTAL_ARCHIVE_INDEX_ON_CLOSE", False, priority="cmdline")
    if allow_private:
        settings.set("ALLOW_PRIVATE", True, priority="cmdline")
    if quiet:
        settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
        _progress_to_stderr()
    for key, value in parse_overrides(settings_overrides):
        settings.set(key, value, priority="cmdline")


#: Scrapy loggers that report a failed download with a traceback.
NETWORK_ERROR_LOGGERS = (
    "scrapy.core.scraper",
    "scrapy.downloadermiddlewares.robotstxt",
    "scrapy.core.engine",
)


def _one_line_network_errors(record: logging.LogRecord) -> bool:
    """A page that cannot be downloaded (refused, timed out, DNS) is one log line with the
    reason, not a traceback: it is an expected event of a crawl, counted in its stats."""
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        module = type(exc).__module__
        if module.startswith(("twisted.", "scrapy.exceptions")) or isinstance(exc, OSError):
            message = record.getMessage()
            record.msg = message if str(exc) in message else f"{message}: {exc}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
    return True


def _progress_to_stderr() -> None:
    log = logging.getLogger("portal")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(lambda r: r.getMessage().startswith("progress "))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def print_runs(runs: Sequence[dict]) -> None:
    print(
        f"{'portal':<24} {'status':<19} {'mode':<11} {'pages':>6} {'new':>5} {'upd':>5} "
        f"{'same':>5} {'files':>5} {'invalid':>7} {'errors':>6} {'seconds':>8}"
    )
    for r in runs:
        secs = (
            (r["finished_at"] - r["started_at"]).total_seconds()
            if r["finished_at"] and r["started_at"]
            else 0
        )
        # "incremental", "resume", "full (first crawl)" → its first word
        mode = str((r.get("stats") or {}).get("incremental/mode") or "-").split()[0]
        print(
            f"{r['portal']:<24} {r['status']:<19} {mode:<11} {r['pages']:>6} {r['new']:>5} "
            f"{r['updated']:>5} {r['unchanged']:>5} {r.get('attachments', 0):>5} "
            f"{r['invalid']:>7} {r['errors']:>6} "
            f"{secs:>8.1f}"
        )
    for r in runs:  # what the errors were: requests given up on, by kind
        stats = r.get("stats") or {}
        kinds = {
            k.removeprefix("failed/"): v
            for k, v in stats.items()
            if k.startswith("failed/") and k not in ("failed/total", "failed/urls")
        }
        if kinds:
            detail = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
            print(f"{r['portal']}: {stats.get('failed/total', 0)} request(s) failed ({detail})")


def cmd_crawl(args: argparse.Namespace) -> int:
    config = config_from(args)
    allow = args.allow_private or truthy(os.environ.get(ENV_ALLOW_PRIVATE))
    wayback = None
    if args.source == "wayback":
        wayback = {
            "wayback_url": args.wayback_url,
            "time_from": args.wayback_from,
            "time_to": args.wayback_to,
        }
    elif args.wayback_from or args.wayback_to or args.wayback_url:
        raise CliError("--from, --to and --wayback-url go with --source wayback")
    started = time.perf_counter()
    overrides = [*args.set, *(["PORTAL_ARCHIVE_FULL_CRAWL=True"] if args.full else [])]
    if args.redis:
        from archive.distributed_cli import run_distributed

        if wayback is not None:
            raise CliError("--redis crawls a portal itself, not --source wayback")
        if len(args.targets) != 1 or args.targets[0] == "all" or "://" in args.targets[0]:
            raise CliError("--redis crawls one registered portal: give one slug")
        runs = run_distributed(
            config,
            args.targets[0],
            redis_url=args.redis,
            workers=2 if args.workers is None else args.workers,
            portals_dir=getattr(args, "portals", None),
            allow_private=allow,
            settings_overrides=overrides,
            quiet=args.quiet,
            trigger=args.trigger,
        )
    else:
        if args.workers is not None:
            raise CliError("--workers goes with --redis URL (docs/distributed.md)")
        runs = run_crawls(
            config,
            args.targets,
            portals_dir=getattr(args, "portals", None),
            allow_private=allow,
            settings_overrides=overrides,
            quiet=args.quiet,
            trigger=args.trigger,
            wayback=wayback,
        )
    print()
    print_runs(runs)
    processed = process_new_documents(config)
    if processed:
        print(f"documents: {processed} processed (text and header metadata)")
    if not args.no_index and os.environ.get(ENV_INDEX_ON_CRAWL, "1") != "0":
        report = update_index(config)
        print(
            f"search index: {report.indexed} indexed, {report.deleted} removed, "
            f"{report.unchanged} unchanged"
        )
    print(f"crawl finished in {time.perf_counter() - started:.1f}s")
    if len(runs) < len(args.targets) and "all" not in args.targets:
        print("some crawls did not start (see the errors above)", file=sys.stderr)
        return 1
    return 0 if runs and all(r["status"] == "finished" for r in runs) else 1


def process_new_documents(
    config: Config, *, show_progress: bool = True, force: bool = False
) -> int:
    """Text and metadata of the attachments downloaded since the last time (OCR included)."""
    from archive.documents import process_documents

    archive = Archive(config)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-6)
        sys.stderr.write(
            f"\rdocuments {done}/{total} ({rate:.1f}/s, "
            f"ETA {(total - done) / rate if rate else 0:.0f}s) "
        )
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    try:
        return process_documents(archive, force=force, progress=progress if show_progress else None)
    finally:
        archive.close()


def cmd_documents(args: argparse.Namespace) -> int:
    config = config_from(args)
    if args.process or args.reprocess:
        process_new_documents(config, force=args.reprocess)
        update_index(config)
    archive = Archive(config)
    try:
        docs = archive.documents()
        failed = archive.failed_downloads()
    finally:
        archive.close()
    if args.json:
        print(json.dumps(docs, ensure_ascii=False, indent=2, default=str))
        return 0
    print(
        f"{'sha256':<12}  {'type':<5} {'size':>9}  {'number':<18} {'kind':<12} "
        f"{'articles':>8}  file"
    )
    for d in docs:
        print(
            f"{d['sha256'][:12]}  {d['file_type']:<5} {d['size']:>9}  "
            f"{_number_cell(d):<18} {(d['doc_kind'] or '-'):<12} {d['articles']:>8}  "
            f"{d['filename'] or d['url']}"
        )
    print(f"{len(docs)} document(s)")
    if any((d["number_source"] or "").startswith("article:") for d in docs):
        print("* a draft's blank number, completed from the article that publishes it")
    if failed:
        print(f"{len(failed)} attachment link(s) failed:")
        for f in failed:
            print(f"  {f['url']}\n    {f['error'] or f['status']}")
    return 0


def _number_cell(doc: dict) -> str:
    if not doc["number"]:
        return "-"
    return doc["number"] + ("*" if (doc["number_source"] or "").startswith("article:") else "")


def cmd_extract_document(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from archive.docmeta import parse_document
    from archive.doctext import DocTextError, extract_text

    if not args.file.is_file():
        raise CliError(f"{args.file}: no such file")
    try:
        result = extract_text(args.file.read_bytes(), args.file.name, ocr=not args.no_ocr)
    except DocTextError as exc:
        raise CliError(f"{args.file}: {exc}") from None
    meta = asdict(parse_document(result.text))
    out = {
        "file": str(args.file),
        "type": result.kind,
        "pages": result.pages,
        "method": result.method,
        "ocr": result.ocr,
        "legacy_encoding": result.legacy_encoding,
        "characters": len(result.text),
        "words": len(result.text.split()),
        "lines": result.text.count("\n") + 1 if result.text else 0,
        "warnings": result.warnings,
        "metadata": meta,
    }
    if args.text:
        out["text"] = result.text
    print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from archive.legacy import decode_html_bytes
    from scraper.extract import extract
    from scraper.middlewares import SCHEMES

    if not args.file.is_file():
        raise CliError(f"{args.file}: no such file")
    if args.url.split("://", 1)[0] not in SCHEMES:
        raise CliError(f"--url {args.url!r}: expected an http(s) URL")
    # A saved page carries its encoding in a meta tag, a wrong one, or none: the decoder
    # checks the declaration against the bytes (UTF-8 labelled Latin-1, windows-1258).
    html, _encoding = decode_html_bytes(args.file.read_bytes())
    result = extract(html, args.url, family=args.family)
    print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    return 0


def update_index(config: Config, *, rebuild: bool = False, show_progress: bool = True):
    from search.backend import open_backend
    from search.sync import print_progress

    archive = Archive(config)
    try:
        started = time.perf_counter()
        progress = (lambda d, t: print_progress(d, t, started=started)) if show_progress else None
        say = (lambda m: print(m, file=sys.stderr)) if show_progress else None
        if rebuild and show_progress:
            print("rebuilding the search index", file=sys.stderr)
        with open_backend(config, archive) as backend:
            return backend.sync(archive, rebuild=rebuild, progress=progress, on_wait=say)
    finally:
        archive.close()


#: "0": crawls leave the search index to an indexer process (`portal-archive index --watch`).
ENV_INDEX_ON_CRAWL = "PORTAL_ARCHIVE_INDEX_ON_CRAWL"


def cmd_index(args: argparse.Namespace) -> int:
    config = config_from(args)
    if args.watch:
        return watch_index(config, interval=args.interval, rebuild=args.rebuild)
    report = update_index(config, rebuild=args.rebuild)
    print(
        f"{report.indexed} indexed, {report.deleted} removed, {report.unchanged} unchanged "
        f"in {report.seconds:.1f}s"
    )
    return 0


def watch_index(config: Config, *, interval: float, rebuild: bool = False) -> int:
    """The indexer process: sync, sleep, sync… until SIGTERM or Ctrl-C; a line per change."""
    import signal

    if interval <= 0:
        raise CliError("--interval must be positive")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"indexing changes every {interval:g}s (Ctrl-C stops)", flush=True)
    rounds = total = 0
    try:
        while not stop.is_set():
            report = update_index(config, rebuild=rebuild, show_progress=False)
            rebuild = False
            rounds += 1
            total += report.indexed + report.deleted
            if report.indexed or report.deleted:
                print(
                    f"{time.strftime('%Y-%m-%d %H:%M:%S')} {report.indexed} indexed, "
                    f"{report.deleted} removed, {report.unchanged} unchanged "
                    f"in {report.seconds:.1f}s",
                    flush=True,
                )
            stop.wait(interval)
    except KeyboardInterrupt:
        pass
    print(f"indexer stopped after {rounds} round(s), {total} change(s) indexed", flush=True)
    return 0


def _search(
    config: Config,
    query: str,
    args: argparse.Namespace,
    *,
    page: int = 1,
    per_page: int = 10,
    facets: bool = True,
):
    from search.backend import open_backend

    archive = Archive(config)
    try:
        with open_backend(config, archive) as backend:
            return backend.search(
                query,
                units=unit_keys(args),
                portal=args.portal,
                topic=args.topic,
                date_from=args.date_from,
                date_to=args.date_to,
                type=getattr(args, "type", None),
                doc_kind=getattr(args, "doc_kind", None),
                year=getattr(args, "year", None),
                sort=getattr(args, "sort", "relevance"),
                page=page,
                per_page=per_page,
                text_for=lambda aid: archive.bodies([aid]).get(aid),
                facets=facets,
            )
    finally:
        archive.close()


def _terminal_snippet(snippet: str) -> str:
    bold, reset = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("**", "**")
    import html

    return html.unescape(snippet.replace("<b>", bold).replace("</b>", reset))


def resolve_unit(config: Config, args: argparse.Namespace) -> None:
    """Resolve ``--unit`` into ``args.unit_filter`` (a :class:`archive.unit_links.UnitFilter`,
    or None); an unknown or ambiguous unit is an error (exit 2) listing the candidates."""
    args.unit_filter = None
    if getattr(args, "unit", None):
        from archive.unit_links import resolve_unit_filter

        archive = Archive(config)
        try:
            args.unit_filter = resolve_unit_filter(archive, args.unit)
        finally:
            archive.close()


def unit_keys(args: argparse.Namespace) -> frozenset[str] | None:
    f = getattr(args, "unit_filter", None)
    return f.keys if f is not None else None


def unit_line(f) -> str:
    """``quận Thanh Xuân (009@pre2025) — gồm các đơn vị trước sắp xếp: …``"""
    return f"unit: {f.unit.label} ({f.unit.key})" + (f" — {f.note}" if f.note else "")


def cmd_search(args: argparse.Namespace) -> int:
    config = config_from(args)
    resolve_unit(config, args)
    result = _search(config, args.query, args, page=args.page, per_page=args.limit)
    if args.json:
        out = search_json(result)
        if args.unit_filter is not None:
            out["unit"] = args.unit_filter.as_dict()
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    if args.unit_filter is not None:
        print(unit_line(args.unit_filter))
    print_search(result)
    return 0


def search_json(result) -> dict:
    from archive.docrefs import kind_label

    return {
        "query": result.query,
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "facets": result.facets,
        "hits": [
            {
                "id": h.id,
                "title": h.title,
                "portal": h.portal,
                "url": h.url,
                "published": h.published.isoformat() if h.published else None,
                "topics": list(h.topics),
                "type": h.type,
                "doc_kinds": [kind_label(k) for k in h.doc_kinds],
                "score": h.score,
                "snippet": h.snippet,
            }
            for h in result.hits
        ],
    }


def print_search(result) -> None:
    from archive.docrefs import kind_label

    print(f"{result.total} result(s) for {result.query!r}")
    first = (result.page - 1) * result.per_page
    for i, h in enumerate(result.hits, first + 1):
        when = h.published.isoformat()[:16].replace("T", " ") if h.published else "no date"
        print(f"{i:>3}. {'[document] ' if h.type == 'document' else ''}{h.title}")
        print(f"     {when} · {h.portal} · {', '.join(h.topics) or '-'}")
        print(f"     {h.url}")
        if h.snippet:
            print(f"     {_terminal_snippet(' '.join(h.snippet.split()))}")
    for name, counts in result.facets.items():
        if counts:
            label = kind_label if name == "doc_kind" else str
            pairs = ", ".join(f"{label(k)} {v}" for k, v in counts.items())
            print(f"  by {name}: {pairs}")


def cmd_export(args: argparse.Namespace) -> int:
    from archive.export import write_export

    config = config_from(args)
    resolve_unit(config, args)
    if args.unit_filter is not None:
        print(unit_line(args.unit_filter), file=sys.stderr)
    ids = None
    if args.query or args.unit_filter is not None:
        ids = export_ids(config, args)
    archive = Archive(config)
    try:
        records = archive.iter_articles(
            ids=ids,
            portals=args.portal,
            topic=args.topic,
            date_from=args.date_from,
            date_to=args.date_to,
        )

        def progress(n: int) -> None:
            sys.stderr.write(f"\rexported {n} articles ")
            sys.stderr.flush()

        def write(fh, progress=None) -> int:
            if args.format in ("warc", "wacz"):
                from archive.export_warc import write_wacz, write_warc

                writer = write_warc if args.format == "warc" else write_wacz
                report = writer(
                    archive, [r.id for r in records], fh, description=export_description(args)
                )
                extra.append(
                    f"{report.responses} capture(s) ({report.copied} copied, "
                    f"{report.synthesised} made from stored bodies), {report.attachments} "
                    f"attachment(s)"
                    + (f"; {len(report.missing)} not exported" if report.missing else "")
                )
                return report.articles
            if args.format != "zip":
                return write_export(records, fh, args.format, progress=progress)
            from archive.bundle import write_bundle

            report = write_bundle(
                archive, records, fh, description=export_description(args), progress=progress
            )
            extra.append(
                f"{report.files} original file(s), {report.bytes:,} bytes"
                + (f"; {report.missing_files} missing or corrupt" if report.missing_files else "")
            )
            return report.articles

        extra: list[str] = []
        if args.output == "-":
            n = write(sys.stdout.buffer)
        else:
            out = Path(args.output)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".part")
            try:
                with tmp.open("wb") as fh:
                    n = write(fh, progress)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            tmp.replace(out)
            sys.stderr.write("\n")
    finally:
        archive.close()
    more = f" with {extra[0]}" if extra else ""
    print(f"{n} article(s) exported to {args.output}{more}", file=sys.stderr)
    return 0


def export_description(args: argparse.Namespace) -> dict:
    """What an export holds, for the bundle's manifest."""
    return {
        "query": args.query or None,
        "portals": args.portal or [],
        "topic": args.topic,
        "from": args.date_from.isoformat() if args.date_from else None,
        "to": args.date_to.isoformat() if args.date_to else None,
        "unit": f.as_dict() if (f := getattr(args, "unit_filter", None)) is not None else None,
    }


def export_ids(config: Config, args: argparse.Namespace) -> list[str]:
    """Ids of every article matching the query and filters: in relevance order up to
    ``RANK_IDS_LIMIT`` matches, in index order beyond (no scores, no snippets: fast)."""
    from search.backend import open_backend

    with open_backend(config) as backend:
        return backend.search_ids(
            args.query,
            portal=args.portal,
            topic=args.topic,
            date_from=args.date_from,
            date_to=args.date_to,
            type="article",
            units=unit_keys(args),
        )


def cmd_runs(args: argparse.Namespace) -> int:
    archive = Archive(config_from(args))
    try:
        runs = archive.runs(limit=args.limit)
    finally:
        archive.close()
    if args.json:
        print(json.dumps(runs, default=str, ensure_ascii=False, indent=2))
    else:
        print_runs(runs)
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    from scraper.sample_portals import SampleWorld

    with SampleWorld(port_base=args.port_base) as world:
        for slug in world.portals:
            print(f"{slug:<20} {world.base_url(slug)}/")
        print("serving the sample portals; Ctrl-C stops", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from archive.demo import run_demo

    return run_demo(config_from(args), quiet=args.quiet)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from archive.web.app import create_app

    if not 0 < args.port < 65536:
        raise CliError(f"--port {args.port}: expected 1-65535")
    from archive.web.operations import Operations

    config = config_from(args)
    allow = args.allow_private or truthy(os.environ.get(ENV_ALLOW_PRIVATE))
    portals = Path(args.portals).resolve() if args.portals else None
    app = create_app(config, operations=Operations(portals_dir=portals, allow_private=allow))
    print(f"serving {config.data_dir} on http://{args.host}:{args.port}/ (Ctrl-C stops)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        import getpass

        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise CliError("the two passwords differ")
    else:
        raise CliError("no terminal to ask for the password: use --password-stdin")
    return password


def cmd_users(args: argparse.Namespace) -> int:
    from archive import users

    archive = Archive(config_from(args))
    try:
        if args.action == "list":
            for u in users.list_users(archive):
                admin = " (admin)" if u.is_admin else ""
                print(f"{u.username:<24} {u.display_name or '':<30}{admin}")
            return 0
        if not args.username:
            raise CliError(f"users {args.action}: a username is needed")
        try:
            if args.action == "add":
                uid = users.create_user(
                    archive,
                    args.username,
                    _read_password(args),
                    display_name=args.name,
                    is_admin=args.admin,
                )
                print(f"user {args.username} created (id {uid})")
            else:
                found = [u for u in users.list_users(archive) if u.username == args.username]
                if not found:
                    raise CliError(f"no user {args.username!r}")
                users.set_password(archive, found[0].id, _read_password(args))
                print(f"password of {args.username} changed")
        except users.UserError as exc:
            raise CliError(str(exc)) from None
        return 0
    finally:
        archive.close()


def cmd_check(args: argparse.Namespace) -> int:
    from archive.check import check
    from search.backend import open_backend
    from search.index import IndexVersionError

    config = config_from(args)
    archive = Archive(config)
    try:
        with open_backend(config, archive) as backend:
            if args.repair:  # a Whoosh index of an earlier version: rebuilt empty, refilled
                backend.rebuild_outdated = True
                report = check(archive, backend, deep=args.deep, repair=True)
            else:
                try:
                    report = check(archive, backend, deep=args.deep, repair=False)
                except IndexVersionError:
                    raise CliError(
                        "the search index was built by an earlier version: run with --repair"
                    ) from None
    finally:
        archive.close()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(f"database: {report.articles} articles, {report.documents} documents")
        index_line = (
            "in step"
            if report.index_ok
            else (
                f"{len(report.index_missing)} missing, {len(report.index_stale)} stale, "
                f"{len(report.index_extra)} extra"
            )
        )
        print(f"search index: {index_line}")
        for name, ids in (("missing", report.index_missing), ("stale", report.index_stale),
                          ("extra", report.index_extra)):  # fmt: skip
            for i in ids[:10]:
                print(f"  {name}: {i}")
            if len(ids) > 10:
                print(f"  … and {len(ids) - 10} more {name}")
        if report.repaired:
            print(
                f"repaired: {report.repaired['indexed']} indexed, "
                f"{report.repaired['removed']} removed"
            )
        raw_how, file_how = ("re-hashed", "re-hashed") if args.deep else ("exist", "exist, size")
        print(
            f"raw responses: {report.raw_checked} checked ({raw_how}), {len(report.raw_lost)} lost"
        )
        print(
            f"attachments: {report.files_checked} checked ({file_how}), "
            f"{len(report.files_lost)} lost"
        )
        for lost in report.raw_lost[:20] + report.files_lost[:20]:
            print(f"  LOST ({lost['problem']}): {lost['sha256'][:12]} {' '.join(lost['urls'])}")
        if report.warc_open:
            done = f", {len(report.warc_recovered)} closed" if report.warc_recovered else ""
            hint = "" if args.repair else " (--repair closes them)"
            print(f"WARC files left open by a stopped crawl: {len(report.warc_open)}{done}{hint}")
            for name in report.warc_open[:10]:
                print(f"  open: {name}")
    index_ok = report.index_ok or bool(report.repaired)
    return 0 if index_ok and report.files_ok and report.warc_ok else 1


def cmd_status(args: argparse.Namespace) -> int:
    from archive.health import portal_health

    archive = Archive(config_from(args))
    try:
        health = portal_health(archive)
    finally:
        archive.close()
    if args.json:
        print(json.dumps([h.as_dict() for h in health], ensure_ascii=False, indent=2, default=str))
        return 0
    if not health:
        print("no portals yet: crawl one (portal-archive crawl …)")
        return 0
    width = max(len(h.slug) for h in health)
    for h in health:
        run = h.last_run
        when = str(run["started_at"])[:16] if run else "-"
        print(f"{h.slug:<{width}}  {h.state:<13} {h.articles:>7} articles  last crawl {when}")
        for reason in h.reasons:
            print(f"{'':<{width}}    - {reason}")
    failing = sum(h.state == "failing" for h in health)
    print(f"{len(health)} portal(s), {failing} failing")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    from archive import schedules

    return schedules.cmd_schedule(args, config_from(args))


def cmd_scheduler(args: argparse.Namespace) -> int:
    from archive import schedules

    return schedules.cmd_scheduler(args, config_from(args))


def cmd_import_warc(args: argparse.Namespace) -> int:
    from archive import warc_cli

    return warc_cli.cmd_import_warc(args, config_from(args))


def cmd_crawl_worker(args: argparse.Namespace) -> int:
    from archive import distributed_cli

    return distributed_cli.cmd_crawl_worker(args, config_from(args))


def cmd_db(args: argparse.Namespace) -> int:
    from archive import db_cli

    return db_cli.cmd_db(args, config_from(args))


def cmd_units(args: argparse.Namespace) -> int:
    from archive import units_cli

    return units_cli.cmd_units(args, config_from(args))


COMMANDS = {
    "db": cmd_db,
    "schedule": cmd_schedule,
    "scheduler": cmd_scheduler,
    "units": cmd_units,
    "import-warc": cmd_import_warc,
    "check": cmd_check,
    "status": cmd_status,
    "serve": cmd_serve,
    "users": cmd_users,
    "portals": cmd_portals,
    "crawl": cmd_crawl,
    "crawl-worker": cmd_crawl_worker,
    "extract": cmd_extract,
    "index": cmd_index,
    "search": cmd_search,
    "export": cmd_export,
    "runs": cmd_runs,
    "samples": cmd_samples,
    "demo": cmd_demo,
    "documents": cmd_documents,
    "extract-document": cmd_extract_document,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from scraper.registry import RegistryError
    from search.index import IndexVersionError

    try:
        return COMMANDS[args.command](args)
    except (CliError, ArchiveError, RegistryError, IndexVersionError) as exc:
        print(f"portal-archive {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `portal-archive search … | head`: an OSError, but not an error
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit
        except OSError:
            pass
        return 0
    except OSError as exc:  # unwritable output, full disk, unreadable data directory
        print(f"portal-archive {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
