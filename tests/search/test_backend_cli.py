"""The search backend chosen by PORTAL_ARCHIVE_SEARCH, through the CLI: the PostgreSQL one
indexes and searches a crawled archive as Whoosh does; bad settings are one-line errors."""

from __future__ import annotations

import json

from tests.conftest import copy_archive, run_cli

POSTGRES = {"PORTAL_ARCHIVE_SEARCH": "postgres"}


def search(data, *args: str, env: dict | None = None) -> dict:
    proc = run_cli("--data-dir", str(data), "search", *args, "--json", env=env, check=True)
    return json.loads(proc.stdout)


QUERIES = [
    ("cai cach hanh chinh",),
    ('"cải cách hành chính"',),
    ("139/kh-ubnd",),
    ("tuyên truyền", "--topic", "dvhc", "--sort", "newest"),
    ("", "--portal", "quan-thanh-xuan", "--sort", "oldest"),
    ("cải cách -tuyên",),
]


def test_postgres_backend_indexes_and_searches_a_crawled_archive(pg_cluster, crawled, tmp_path):
    data = tmp_path / "data"
    copy_archive(crawled["data"], data)  # the crawl indexed it with Whoosh already
    proc = run_cli("--data-dir", str(data), "index", env=POSTGRES, check=True)
    assert " indexed, 0 removed, 0 unchanged" in proc.stdout
    again = run_cli("--data-dir", str(data), "index", env=POSTGRES, check=True)
    assert again.stdout.startswith("0 indexed")
    for args in QUERIES:
        whoosh = search(data, *args, "--limit", "50")
        postgres = search(data, *args, "--limit", "50", env=POSTGRES)
        assert postgres["total"] == whoosh["total"] > 0, args
        assert postgres["facets"] == whoosh["facets"], args
        found = [h["id"] for h in postgres["hits"]]
        assert sorted(found) == sorted(h["id"] for h in whoosh["hits"]), args
        if "--sort" in args:  # ties: by id on PostgreSQL, index order on Whoosh
            dates = [h["published"] for h in postgres["hits"]]
            assert dates == [h["published"] for h in whoosh["hits"]], args
        # snippets are made from the same text by the same code
        assert {h["id"]: h["snippet"] for h in postgres["hits"]} == {
            h["id"]: h["snippet"] for h in whoosh["hits"]
        }, args
    check = run_cli("--data-dir", str(data), "check", env=POSTGRES, check=True)
    assert "search index: in step" in check.stdout
    export = tmp_path / "plan.jsonl"
    run_cli("--data-dir", str(data), "export", "--query", "139/KH-UBND", "--format", "jsonl",
            "-o", str(export), env=POSTGRES, check=True)  # fmt: skip
    (record,) = [json.loads(x) for x in export.read_text(encoding="utf-8").splitlines()]
    assert record["portal"] == "quan-thanh-xuan"


def test_postgres_backend_is_refused_on_sqlite(tmp_path):
    db = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    for command in (["index"], ["search", "x"]):
        proc = run_cli("--data-dir", str(tmp_path), "--db", db, *command, env=POSTGRES)
        assert proc.returncode == 2, proc.stderr
        assert "PORTAL_ARCHIVE_SEARCH=postgres needs the archive's database on PostgreSQL" in (
            proc.stderr
        )
        assert "Traceback" not in proc.stderr


def test_an_unknown_backend_is_a_clear_error(tmp_path):
    proc = run_cli(
        "--data-dir", str(tmp_path), "search", "x", env={"PORTAL_ARCHIVE_SEARCH": "solr"}
    )
    assert proc.returncode == 2
    assert "PORTAL_ARCHIVE_SEARCH='solr': expected one of whoosh, postgres" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_web_application_searches_with_the_postgres_backend(
    pg_cluster, crawled, tmp_path, monkeypatch
):
    from fastapi.testclient import TestClient

    from archive.config import Config
    from archive.web.app import create_app

    data = tmp_path / "data"
    copy_archive(crawled["data"], data)
    run_cli("--data-dir", str(data), "index", env=POSTGRES, check=True)
    config = Config.resolve(data)
    whoosh = TestClient(create_app(config, secret_key="w"))
    monkeypatch.setenv("PORTAL_ARCHIVE_SEARCH", "postgres")
    postgres = TestClient(create_app(config, secret_key="p"))
    for params in (
        {"q": "sap xep don vi hanh chinh"},
        {"q": "139/KH-UBND"},
        {"q": "tuyên truyền", "topic": "cchc", "sort": "newest"},
        {"unit": "quận Thanh Xuân", "type": "article"},
    ):
        a = whoosh.get("/search.json", params=params).json()
        b = postgres.get("/search.json", params=params).json()
        assert (b["total"], b["facets"]) == (a["total"], a["facets"]), params
        assert {h["id"] for h in b["hits"]} == {h["id"] for h in a["hits"]}, params
    page = postgres.get("/search", params={"q": "cải cách hành chính"})
    assert page.status_code == 200 and "<b>cải</b>" in page.text
