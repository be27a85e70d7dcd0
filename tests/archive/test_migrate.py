"""Schema migrations (archive/migrate.py): they give exactly the models' schema, on SQLite and
on PostgreSQL; archives made before them are adopted without losing a row; opening an
archive at the head revision is one query; several processes may open a new one at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from archive import migrate
from archive.config import Config
from archive.store import Archive, ArchiveError, open_engine
from tests import pg
from tests.conftest import ROOT, run_cli


def schema_differences(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, migrate.target_metadata())


def test_heads_read_from_the_files_are_alembics():
    scripts = ScriptDirectory.from_config(migrate._config(None))
    assert migrate.heads() == frozenset(scripts.get_heads())
    assert scripts.get_base() == migrate.BASELINE


def test_the_migrations_give_the_models_schema_on_sqlite(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    assert migrate.upgrade(engine) == [s["revision"] for s in reversed(migrate.history())]
    assert schema_differences(engine) == []
    engine.dispose()


def test_the_migrations_give_the_models_schema_on_postgresql(pg_cluster):
    pg.create_database(pg_cluster.server_url, "pa_migrations_empty", template="template0")
    engine = open_engine(pg_cluster.url("pa_migrations_empty"))
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
        migrate.upgrade(engine)
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_the_baseline_read_back_is_what_the_baseline_creates(tmp_path):
    """What adopting a pre-migrations archive gives it (archive.migrate.baseline_metadata)
    is what the baseline revision makes of an empty database."""
    engine = open_engine(f"sqlite:///{tmp_path / 'baseline.sqlite3'}")
    migrate.upgrade(engine, migrate.BASELINE)
    with engine.connect() as conn:
        inspector = inspect(conn)
        made = {
            t: {c["name"] for c in inspector.get_columns(t)}
            | {i["name"] for i in inspector.get_indexes(t)}
            for t in inspector.get_table_names()
            if t != "alembic_version"
        }
    engine.dispose()
    read = {
        t.name: {c.name for c in t.columns} | {i.name for i in t.indexes}
        for t in migrate.baseline_metadata().sorted_tables
    }
    assert read == made


def test_downgrading_to_nothing_and_up_again(tmp_path):
    from alembic import command

    engine = open_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(migrate._config(conn), "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    assert migrate.upgrade(engine) == [s["revision"] for s in reversed(migrate.history())]
    engine.dispose()


# --- archives made before migrations -----------------------------------------------------


@pytest.mark.sqlite_only(reason="makes the old archive with SQLite's file and ALTER TABLE")
def test_an_archive_made_before_migrations_is_adopted_without_losing_rows(tmp_path):
    """As an older version left it: ``create_all`` of the tables it had, then rows; here
    without the schedules, users and gazetteer tables, ``raw_responses.via`` and the
    ``ix_versions_current`` index, which came later."""
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    engine = create_engine(url)
    metadata = migrate.target_metadata()
    later = {"schedules", "schedule_fires", "users", "collections", "collection_items"}
    later |= {"admin_units", "admin_unit_names", "unit_succession", "search_entries"}
    old = [t for t in metadata.sorted_tables if t.name not in later]
    metadata.create_all(engine, tables=old)
    now = datetime(2024, 5, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_versions_current"))
        conn.execute(text("ALTER TABLE raw_responses DROP COLUMN via"))
        conn.execute(
            text(
                "INSERT INTO portals (id, slug, name, unit, base_url, family, config, created_at)"
                " VALUES (1, 'p', 'P', 'U', 'http://p', 'generic', '{}', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO crawl_runs (id, portal_id, trigger, status, started_at, pages,"
                " articles_new, articles_updated, articles_unchanged, items_invalid, errors,"
                " stats) VALUES (1, 1, 'cli', 'finished', :now, 3, 1, 0, 0, 0, 0, '{}')"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO raw_responses (crawl_run_id, url, status, headers, sha256, size,"
                " fetched_at) VALUES (1, 'http://p/1', 200, '{}', :sha, 10, :now)"
            ),
            {"sha": "0" * 64, "now": now},
        )
    engine.dispose()

    archive = Archive(Config.resolve(tmp_path, url))
    try:
        assert [p["slug"] for p in archive.portal_status()] == ["p"]
        assert archive.summary()["fetches"] == 1
        assert [(r["id"], r["status"], r["pages"]) for r in archive.runs()] == [(1, "finished", 3)]
        with archive.engine.connect() as conn:
            assert migrate.current(conn) == migrate.heads()
            tables = set(inspect(conn).get_table_names())
        assert later <= tables
        assert schema_differences(archive.engine) == []
    finally:
        archive.close()


@pytest.mark.sqlite_only(reason="makes the old archive with SQLite's file")
def test_a_column_that_cannot_be_added_is_a_clear_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE portals (id INTEGER PRIMARY KEY, slug VARCHAR(100))"))
    engine.dispose()
    with pytest.raises(ArchiveError, match="portals.name"):
        Archive(Config.resolve(tmp_path, url))
    proc = run_cli("--db", url, "db", "upgrade")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "lacks column portals.name" in proc.stderr


# --- opening ----------------------------------------------------------------------------------


def test_opening_an_archive_at_head_does_not_load_alembic(tmp_path):
    Archive(Config.resolve(tmp_path)).close()
    code = (
        "import sys; from archive.config import Config; from archive.store import Archive; "
        f"Archive(Config.resolve({str(tmp_path)!r})).close(); "
        "print(any(m.startswith('alembic') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "False"


def test_six_processes_opening_a_new_archive_at_once(tmp_path):
    data = tmp_path / "data"
    code = (
        "import sys; from archive.config import Config; from archive.store import Archive; "
        "a = Archive(Config.resolve(sys.argv[1])); "
        "a.upsert_portal(sys.argv[2], name='P', unit='', base_url='http://p', family='generic')"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(data), f"p{i}"],
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for i in range(6)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    archive = Archive(Config.resolve(data))
    try:
        assert len(archive.portal_status()) == 6
        with archive.engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v for (v,) in versions] == sorted(migrate.heads())
    finally:
        archive.close()


# --- portal-archive db -------------------------------------------------------------------


def test_db_commands(tmp_path):
    data = ["--data-dir", str(tmp_path / "d")]
    head = sorted(migrate.heads())
    if not os.environ.get(pg.ENV_SERVER):
        out = run_cli(*data, "db", "current", check=True).stdout
        assert "no database yet" in out and not (tmp_path / "d" / "archive.sqlite3").exists()
    out = json.loads(run_cli(*data, "db", "upgrade", "--json", check=True).stdout)
    assert out["revision"] == head
    again = json.loads(run_cli(*data, "db", "upgrade", "--json", check=True).stdout)
    assert again["applied"] == [] and again["revision"] == head
    current = json.loads(run_cli(*data, "db", "current", "--json", check=True).stdout)
    assert current["revision"] == head and current["head"] is True
    assert "(head)" in run_cli(*data, "db", "current", check=True).stdout
    history = json.loads(run_cli(*data, "db", "history", "--json", check=True).stdout)
    assert history[-1]["revision"] == migrate.BASELINE and history[0]["head"]


def test_db_bad_input_is_one_clear_error(tmp_path):
    for args in (
        ("db", "frobnicate"),
        ("db", "current", "--db", "nosuchdriver://x"),
        ("db", "upgrade", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/x"),
    ):
        proc = run_cli("--data-dir", str(tmp_path), *args)
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr and "error" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 2  # argparse: usage + the error


def test_a_database_from_a_newer_version_is_refused_clearly(tmp_path):
    Archive(Config.resolve(tmp_path)).close()
    engine = open_engine(Config.resolve(tmp_path).db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()
    proc = run_cli("--data-dir", str(tmp_path), "runs")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "'ffff'" in proc.stderr and "newer version" in proc.stderr
