"""The CLI's contract: every command takes --data-dir/--db; bad input is one clear line."""

from __future__ import annotations

import json

import pytest

from tests.conftest import on_postgres, run_cli


@pytest.mark.parametrize(
    "args",
    [
        ("search", "x", "--from", "29/02/2023"),
        ("search", "x", "--topic", "sport"),
        ("export", "--format", "xml", "-o", "x"),
        ("crawl", "no-such-portal"),
        ("index", "--db", "nosuchdriver://x"),
        ("export", "--format", "csv", "-o", "/proc/forbidden/out.csv"),
        ("extract", "/nonexistent.html", "--url", "https://x.gov.vn/"),
        ("extract", "README.md", "--url", "ftp://x.gov.vn/"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, args):
    proc = run_cli("--data-dir", str(tmp_path), *args)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "error" in proc.stderr


def test_data_dir_and_db_everywhere(tmp_path):
    db = tmp_path / "elsewhere.sqlite3"
    for cmd in (["runs"], ["index"], ["search", "x"], ["portals"]):
        proc = run_cli(*cmd, "--data-dir", str(tmp_path / "d"), "--db", f"sqlite:///{db}")
        assert proc.returncode == 0, (cmd, proc.stderr)
    assert db.exists() and not (tmp_path / "d" / "archive.sqlite3").exists()
    assert (tmp_path / "d" / "index").is_dir()


def test_environment_sets_the_data_dir(tmp_path):
    proc = run_cli("search", "x", "--json", env={"PORTAL_ARCHIVE_DATA": str(tmp_path)})
    assert proc.returncode == 0 and json.loads(proc.stdout)["total"] == 0
    assert (tmp_path / "index").is_dir()
    assert (tmp_path / "archive.sqlite3").exists() or on_postgres()
