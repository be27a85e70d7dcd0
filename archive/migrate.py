"""Bringing an archive's database to the schema of this version of portal-archive (Alembic).

The schema is the revisions in ``archive/migrations/versions/``, the first of which
(:data:`BASELINE`) creates every table as it was when migrations began. Every
:class:`archive.store.Archive` open calls :func:`ensure_schema`: one query when the database
is already at the head revision (Alembic itself is not even imported: it costs about 0.15 s),
else an upgrade under a lock, so that of several processes opening a new archive at once one
creates the tables and the others find them made:

- SQLite: the upgrade is one ``BEGIN IMMEDIATE`` transaction (SQLite's write lock; DDL is
  transactional there too once pysqlite stops managing transactions itself);
- PostgreSQL: one transaction holding ``pg_advisory_xact_lock``.

An archive made before migrations (tables, no ``alembic_version``) is *adopted*: it gets the
tables and nullable columns of the baseline it lacks, as ``create_all`` and the additive
upgrade used to give it, is stamped at the baseline, then upgraded like any other.

A new revision: change the models, then ``alembic revision --autogenerate -m "..."`` at the
repository root (alembic.ini), read what it wrote, and run ``make test`` (the migrations must
give exactly the models' schema, on SQLite and PostgreSQL: tests/archive/test_migrate.py).
See docs/database.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from archive.store import ArchiveError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"

#: The first revision: the schema as it was when migrations began (an archive made before
#: them is stamped here).
BASELINE = "0001"

# Any 64-bit number, the same in every process: the key of the PostgreSQL advisory lock.
_PG_LOCK_KEY = 0x706F7274616C  # "portal"

# How long an upgrade waits for another process's write transaction on SQLite.
_SQLITE_LOCK_SECONDS = 120


class MigrationError(ArchiveError):
    """The database cannot be brought to this version's schema (printed as one line)."""


def target_metadata() -> sa.MetaData:
    """Every table of the models (the gazetteer's live in another module)."""
    import archive.units_models  # noqa: F401  (registers its tables on Base.metadata)
    from archive.models import Base

    return Base.metadata


# --- what the code has and what the database is at ------------------------------------------

_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.*)$", re.M)


@cache
def heads() -> frozenset[str]:
    """The head revision(s) of ``versions/``, read from the files' text: checking an archive
    at every open must not import Alembic. tests/archive/test_migrate.py checks that this
    is what Alembic says."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found = _REVISION.search(source)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(source)
        if down:
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return frozenset(revisions - parents)


def current(connection: Connection) -> frozenset[str] | None:
    """The revision(s) the database is at; None when it has no ``alembic_version`` table."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def ensure_schema(engine: Engine) -> list[str]:
    """Bring the database to the head revision; the revisions applied (usually none)."""
    try:
        with engine.connect() as conn:
            if current(conn) == heads():
                return []
    except OperationalError as exc:
        raise ArchiveError(f"cannot open database {_shown(engine)}: {one_line(exc.orig)}") from exc
    return upgrade(engine)


def upgrade(engine: Engine, revision: str = "head") -> list[str]:
    """Upgrade to ``revision`` (adopting a pre-migrations archive first) under the lock;
    the revisions applied, oldest first."""
    from alembic import command
    from alembic.util import CommandError

    try:
        with _locked(engine) as conn:
            before = current(conn)
            if before is None and _legacy_tables(conn):
                _adopt(conn)
                command.stamp(_config(conn), BASELINE)
                before = frozenset({BASELINE})
            if before == heads() and revision == "head":
                return []
            command.upgrade(_config(conn), revision)
            after = current(conn) or frozenset()
    except CommandError as exc:
        raise MigrationError(_explain(exc, engine)) from exc
    except OperationalError as exc:
        raise ArchiveError(
            f"cannot upgrade database {_shown(engine)}: {one_line(exc.orig)}"
        ) from exc
    return _between(before or frozenset(), after)


def history() -> list[dict]:
    """Every revision, newest first: ``revision``, ``down_revision``, ``message``, ``head``."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_config(None))
    return [
        {
            "revision": s.revision,
            "down_revision": s.down_revision,
            "message": (s.doc or "").strip(),
            "head": s.is_head,
        }
        for s in scripts.walk_revisions()
    ]


def _between(before: frozenset[str], after: frozenset[str]) -> list[str]:
    """The revisions that lead from ``before`` to ``after``, oldest first."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_config(None))

    def down_to_base(revisions: frozenset[str]) -> set[str]:
        return {s.revision for r in revisions for s in scripts.iterate_revisions(r, "base")}

    applied = down_to_base(after) - down_to_base(before)
    return [s.revision for s in reversed(list(scripts.walk_revisions())) if s.revision in applied]


def _config(connection: Connection | None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _explain(exc: Exception, engine: Engine) -> str:
    message = str(exc)
    if "Can't locate revision" in message:
        return (
            f"database {_shown(engine)} is at a revision this version of portal-archive does "
            f"not know ({message.split('identified by')[-1].strip()}): it was upgraded by a "
            "newer version; use that one"
        )
    return f"cannot upgrade database {_shown(engine)}: {message}"


def _shown(engine: Engine) -> str:
    return repr(engine.url.render_as_string(hide_password=True))


# --- one upgrade at a time --------------------------------------------------------------


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other process's upgrade runs beside."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            yield conn
        return
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        writer = _sqlite_writer(engine.url)
        try:
            with writer.begin() as conn:
                yield conn
        finally:
            writer.dispose()
        return
    with engine.begin() as conn:  # an in-memory SQLite database has one process
        yield conn


def _sqlite_writer(url: sa.URL) -> Engine:
    """An engine whose transactions are ``BEGIN IMMEDIATE`` (SQLAlchemy's recipe): pysqlite
    would otherwise start none before DDL, and two processes would both create the tables."""
    writer = sa.create_engine(
        url, poolclass=NullPool, connect_args={"timeout": _SQLITE_LOCK_SECONDS}
    )

    @event.listens_for(writer, "connect")
    def _no_pysqlite_transactions(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(writer, "begin")
    def _begin_immediate(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return writer


# --- archives made before migrations --------------------------------------------------------


def _legacy_tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) & set(baseline_metadata().tables)


def _adopt(conn: Connection) -> None:
    """Give a pre-migrations archive what the baseline has and it lacks: tables, nullable
    columns (as ``create_all`` and the old additive upgrade did) and indexes."""
    baseline = baseline_metadata()
    baseline.create_all(conn, checkfirst=True)  # the missing tables, with their indexes
    inspector = inspect(conn)
    for table in baseline.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable or column.primary_key:
                raise MigrationError(
                    f"the database lacks column {table.name}.{column.name}, which cannot be "
                    "added to existing rows: export the archive and import it in a new one"
                )
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(conn)


@cache
def baseline_metadata() -> sa.MetaData:
    """The tables the baseline revision creates, read from the revision itself (the models
    move on; an adopted archive must be exactly at the baseline for the later revisions)."""
    from alembic.script import ScriptDirectory

    module = ScriptDirectory.from_config(_config(None)).get_revision(BASELINE).module
    recorder = _Recorder()
    real_op, module.op = module.op, recorder
    try:
        module.upgrade()
    finally:
        module.op = real_op
    return recorder.metadata


class _Recorder:
    """Stands in for ``alembic.op`` while the baseline's ``upgrade()`` runs: the tables and
    indexes it would create, as a MetaData."""

    def __init__(self) -> None:
        self.metadata = sa.MetaData()

    def f(self, name: str) -> str:
        return name

    def create_table(self, name: str, *columns, **kw) -> sa.Table:
        return sa.Table(name, self.metadata, *columns, **kw)

    def create_index(self, name: str, table: str, columns: list[str], unique: bool = False):
        t = self.metadata.tables[table]
        return sa.Index(name, *(t.c[c] for c in columns), unique=unique)


def one_line(error: object) -> str:
    """A driver's message on one line (psycopg adds a hint line: "Is the server running…")."""
    return " ".join(str(error).split())
