"""A throwaway PostgreSQL server for the tests, and one database per archive on it.

``PORTAL_ARCHIVE_TEST_DB=postgres pytest`` (``make test-pg``) runs the whole suite on
PostgreSQL: :class:`Cluster` makes a cluster with Debian's binaries (``initdb`` into a
temporary directory, ``pg_ctl start`` on 127.0.0.1 and a free port; as the ``postgres`` user
when the tests run as root, which ``initdb`` refuses), and :func:`route_archives` gives every
data directory its own database, made from a template already at the head revision, for
the test process and every Python process it starts (``tests/pg_site/sitecustomize.py``).

Why per data directory and not per test: a test often runs the CLI on an archive a module
or session fixture built (``crawled["data"]``), as a user would with ``--data-dir``; on
SQLite the data directory *is* the database, so it is here too. The databases of a test's
``tmp_path`` are dropped after it; the rest go with the cluster.

Only the standard library and psycopg: the subprocesses import this at startup.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

#: Set (to ``postgres``) to run the suite on PostgreSQL.
ENV_TEST_DB = "PORTAL_ARCHIVE_TEST_DB"
#: The server's URL without a database, for the processes the tests start.
ENV_SERVER = "PORTAL_ARCHIVE_TEST_PG_SERVER"

TEMPLATE = "pa_template"
USER = "portal"


def wanted() -> bool:
    return os.environ.get(ENV_TEST_DB, "").strip().lower() in {"postgres", "postgresql", "pg"}


def bindir() -> Path | None:
    """Debian's PostgreSQL binaries (the newest version installed), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(path: str) -> float:
    try:
        return float(Path(path).parts[-3])
    except ValueError:
        return 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only (no Unix
    socket), trusting local connections, durability off (it is thrown away)."""

    def __init__(self) -> None:
        self.bin = bindir()
        if self.bin is None:
            raise RuntimeError(
                "no PostgreSQL binaries in /usr/lib/postgresql: "
                "bash scripts/system-deps.sh --with-postgres"
            )
        self.root = Path(tempfile.mkdtemp(prefix="portal-archive-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        # initdb and postgres refuse to run as root: run them as Debian's postgres user.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(self.root, "postgres")

    @property
    def server_url(self) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}"

    def url(self, database: str) -> str:
        return f"{self.server_url}/{database}"

    def _run(self, *args: str) -> None:
        proc = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, cwd=self.root, timeout=120
        )
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed:\n{proc.stdout}{proc.stderr}{log}")

    def start(self) -> Cluster:
        # Locale C: strings sort by code point, as on SQLite (the tests compare orders).
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                "-c unix_socket_directories=''",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=300",
                "-c shared_buffers=64MB",
            ]
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def make_template(self) -> None:
        """The database every archive's is copied from: at the head revision already."""
        from archive.migrate import upgrade
        from archive.store import open_engine

        create_database(self.server_url, TEMPLATE, template="template0")
        engine = open_engine(self.url(TEMPLATE))
        try:
            upgrade(engine)
        finally:
            engine.dispose()


# --- databases -------------------------------------------------------------------------------


def _admin(server_url: str):
    import psycopg

    conninfo = server_url.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    return psycopg.connect(conninfo, autocommit=True)


def create_database(
    server_url: str, name: str, *, template: str = TEMPLATE, comment: str | None = None
) -> None:
    """CREATE DATABASE (nothing if it exists: another process made it first)."""
    import psycopg
    from psycopg import sql

    with _admin(server_url) as conn:
        try:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            return  # made by another process (the second of two at once gets the latter)
        if comment:
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(name), sql.Literal(comment)
                )
            )


def drop_databases_under(server_url: str, directory: Path) -> int:
    """Drop the databases of the data directories inside ``directory``."""
    from psycopg import sql

    prefix = str(directory.resolve()).rstrip("/") + "/"
    with _admin(server_url) as conn:
        rows = conn.execute(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database"
        ).fetchall()
        names = [name for name, where in rows if where and (where + "/").startswith(prefix)]
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    return len(names)


def database_name(data_dir: Path) -> str:
    return "pa_" + hashlib.sha1(str(data_dir).encode()).hexdigest()[:24]


_made: dict[Path, str] = {}


def database_for(server_url: str, data_dir: Path) -> str:
    """The URL of the database of ``data_dir`` (made on first use)."""
    if data_dir not in _made:
        name = database_name(data_dir)
        create_database(server_url, name, comment=str(data_dir))
        _made[data_dir] = f"{server_url}/{name}"
    return _made[data_dir]


def route_archives() -> bool:
    """Make ``Config.resolve`` give each data directory its PostgreSQL database when
    ``$PORTAL_ARCHIVE_TEST_PG_SERVER`` is set and no database was asked for (``--db``,
    ``$PORTAL_ARCHIVE_DB``); whether it did."""
    server = os.environ.get(ENV_SERVER)
    if not server:
        return False
    from archive.config import ENV_DB, Config

    if getattr(Config.resolve, "routed", False):
        return True
    original = Config.resolve.__func__

    def resolve(cls, data_dir=None, db=None):
        config = original(cls, data_dir, db)
        if db or os.environ.get(ENV_DB):
            return config
        return replace(config, db_url=database_for(server, config.data_dir))

    resolve.routed = True
    Config.resolve = classmethod(resolve)
    return True


def copy_database(server_url: str, source_dir: Path, target_dir: Path) -> None:
    """Give ``target_dir`` a copy of the database of ``source_dir`` (a copied data directory
    is a copied archive, as on SQLite). Whoever is connected to the source is cut off:
    PostgreSQL copies only a database nobody uses (the engines ping before reuse)."""

    source = database_for(server_url, source_dir.resolve())
    name = database_name(target_dir.resolve())
    with _admin(server_url) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (source.rsplit("/", 1)[1],),
        )
    create_database(
        server_url, name, template=source.rsplit("/", 1)[1], comment=str(target_dir.resolve())
    )
    _made[target_dir.resolve()] = f"{server_url}/{name}"
