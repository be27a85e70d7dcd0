"""``portal-archive db``: the database's schema revision, its history, and upgrading it.

A thin layer over :mod:`archive.migrate`; ``archive/cli.py`` adds it with :func:`add_cli`.
Opening an archive upgrades it anyway; ``db upgrade`` does it on purpose (before starting
several services on a new version, say), ``db current`` only looks. See docs/database.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from archive.config import Config


def add_cli(subparsers: argparse._SubParsersAction, common_parent: argparse.ArgumentParser) -> None:
    """Add the ``db`` command (``upgrade``, ``current``, ``history``) to the CLI's subparsers."""
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON")
    p = subparsers.add_parser(
        "db",
        parents=[common_parent],
        help="the database schema: upgrade it, show its revision and the revisions",
        description="The archive database's schema revisions (Alembic). Every command opens "
        "the archive and upgrades it when needed; 'db upgrade' does it explicitly. "
        "See docs/database.md.",
    )
    actions = p.add_subparsers(dest="db_action", metavar="ACTION")
    actions.required = True
    actions.add_parser(
        "upgrade",
        parents=[common_parent, as_json],
        help="bring the database to this version's schema (a new database: create it)",
    )
    actions.add_parser(
        "current",
        parents=[common_parent, as_json],
        help="the revision the database is at, and whether it is this version's",
    )
    actions.add_parser(
        "history", parents=[common_parent, as_json], help="the revisions, newest first"
    )


def cmd_db(args: argparse.Namespace, config: Config) -> int:
    """``portal-archive db ACTION``."""
    from sqlalchemy.exc import OperationalError

    from archive import migrate
    from archive.migrate import one_line
    from archive.store import ArchiveError, open_engine

    if args.db_action == "history":
        revisions = migrate.history()
        if args.json:
            print(json.dumps(revisions, ensure_ascii=False, indent=2))
            return 0
        for r in revisions:
            mark = " (head)" if r["head"] else ""
            print(f"{r['revision']}{mark}  {r['message'].splitlines()[0]}")
        return 0

    shown = _shown(config.db_url)
    if args.db_action == "current" and _missing_sqlite_file(config.db_url):
        return _print(args, {"database": shown, "revision": [], "head": False, "exists": False})
    engine = open_engine(config.db_url)
    try:
        if args.db_action == "upgrade":
            config.ensure()
            applied = migrate.upgrade(engine)
            with engine.connect() as conn:
                now = sorted(migrate.current(conn) or ())
            if args.json:
                print(json.dumps({"database": shown, "applied": applied, "revision": now}))
            elif applied:
                print(f"{shown}: applied {', '.join(applied)}; now at {', '.join(now)} (head)")
            else:
                print(f"{shown}: already at {', '.join(now)} (head)")
            return 0
        with engine.connect() as conn:
            now = migrate.current(conn)
        head = now == migrate.heads()
        return _print(
            args, {"database": shown, "revision": sorted(now or ()), "head": head, "exists": True}
        )
    except OperationalError as exc:  # no server, no such database, unreadable file
        raise ArchiveError(f"cannot open database {shown}: {one_line(exc.orig)}") from exc
    finally:
        engine.dispose()


def _print(args: argparse.Namespace, info: dict) -> int:
    if args.json:
        print(json.dumps(info))
    elif not info["exists"]:
        print(f"{info['database']}: no database yet (portal-archive db upgrade creates it)")
    elif not info["revision"]:
        print(
            f"{info['database']}: no revision: empty, or made before migrations "
            "(portal-archive db upgrade)"
        )
    elif info["head"]:
        print(f"{info['database']}: {', '.join(info['revision'])} (head)")
    else:
        print(
            f"{info['database']}: {', '.join(info['revision'])}, not this version's "
            "(portal-archive db upgrade)"
        )
    return 0


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _missing_sqlite_file(url: str) -> bool:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return False
    database = parsed.database
    return (
        parsed.get_backend_name() == "sqlite"
        and database not in (None, "", ":memory:")
        and not Path(database).exists()
    )
