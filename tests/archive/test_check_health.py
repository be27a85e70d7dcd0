"""`portal-archive check` (database, files and index agree) and `status` (portal health)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from archive.health import judge
from archive.models import CrawlRun
from tests.conftest import copy_archive, run_cli


def run(status="finished", new=0, unchanged=10, invalid=0, pages=20, stats=None) -> CrawlRun:
    return CrawlRun(
        status=status, pages=pages, articles_new=new, articles_updated=0,
        articles_unchanged=unchanged, items_invalid=invalid, errors=invalid,
        stats=stats or {}, started_at=datetime.now(UTC), finished_at=datetime.now(UTC),
    )  # fmt: skip


def test_never_crawled_and_healthy():
    assert judge([]) == ("never crawled", [])
    assert judge([run(), run()]) == ("ok", [])


def test_a_crawl_that_did_not_finish_is_failing():
    state, reasons = judge([run(status="failed: unreachable", unchanged=0, pages=0), run()])
    assert state == "failing" and "failed: unreachable" in reasons[0]


def test_no_article_found_is_a_layout_change():
    state, reasons = judge([run(unchanged=0, pages=23), run()])
    assert state == "failing" and "found no article" in reasons[0] and "23 page" in reasons[0]


def test_many_rejected_articles():
    last = run(unchanged=4, invalid=6, stats={"item/invalid/title": 6})
    state, reasons = judge([last, run()])
    assert state == "failing" and "6 of 10 articles rejected (missing: title)" in reasons[0]
    assert judge([run(unchanged=9, invalid=1)])[0] == "ok"  # one bad page is not a layout change


def test_share_without_a_date_jumping():
    before = [run(stats={"fields/missing/published": 1}) for _ in range(3)]  # 10%
    after = run(stats={"fields/missing/published": 8})  # 80%
    state, reasons = judge([after, *before])
    assert state == "failing" and "rose from 10% to 80%" in reasons[0]
    steady = run(stats={"fields/missing/published": 2})
    assert judge([steady, *before])[0] == "ok"
    assert judge([after])[0] == "ok"  # no earlier run to compare with


@pytest.fixture()
def data(crawled, tmp_path):
    copy = tmp_path / "data"
    copy_archive(crawled["data"], copy)
    return copy


def check(data, *extra):
    proc = run_cli("--data-dir", str(data), "check", "--json", *extra)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout else proc.stderr


def test_check_finds_index_drift_and_repairs_it(data):
    from archive.config import Config
    from search.index import IndexDoc, SearchIndex

    code, report = check(data)
    assert code == 0 and report["index_ok"] and report["files_ok"]
    assert report["articles"] == 30 and report["raw_checked"] > 30

    index = SearchIndex(Config.resolve(data).index_dir)
    some = sorted(index.indexed_hashes())[:2]
    index.delete(some[:1])
    index.update([IndexDoc(id="ghost-000000000000", portal="x", unit="", title="ma",
                           lead=None, body="không còn trong cơ sở dữ liệu", published=None)])  # fmt: skip
    index.close()
    code, report = check(data)
    assert code == 1
    assert report["index_missing"] == some[:1] and report["index_extra"] == ["ghost-000000000000"]
    code, report = check(data, "--repair")
    assert code == 0 and report["repaired"] == {"indexed": 1, "removed": 1}
    code, report = check(data)
    assert code == 0 and report["index_ok"]


def test_check_reports_lost_files(data):
    raw = next((data / "raw").rglob("*.gz"))
    raw.unlink()
    attachment = next(
        p for p in (data / "attachments").rglob("*") if p.is_file() and len(p.name) == 64
    )
    attachment.write_bytes(attachment.read_bytes()[:-10])
    code, report = check(data)
    assert code == 1 and not report["files_ok"]
    assert [x["problem"] for x in report["raw_lost"]] == ["missing"]
    assert report["raw_lost"][0]["sha256"] == raw.name.removesuffix(".gz")
    assert [x["problem"] for x in report["files_lost"]] == ["altered (size)"]
    text = run_cli("--data-dir", str(data), "check").stdout
    assert "LOST (missing)" in text and "http://127.0.0.1" in text


def test_status_of_the_crawled_portals(crawled):
    out = run_cli("--data-dir", str(crawled["data"]), "status", check=True).stdout
    assert "3 portal(s), 0 failing" in out
    health = json.loads(run_cli("--data-dir", str(crawled["data"]), "status", "--json").stdout)
    assert {h["state"] for h in health} == {"ok"} and all(h["articles"] == 10 for h in health)


def test_a_run_left_running_by_a_killed_process_is_closed_as_killed(tmp_path):
    import subprocess
    import sys

    from archive.config import Config
    from archive.store import Archive

    archive = Archive(Config.resolve(tmp_path))
    try:
        pid = archive.upsert_portal(slug="p", name="P", unit="", base_url="http://x",
                                    family="generic")  # fmt: skip
        dead = archive.start_run(pid)
        # the same record, as a process that has since died would have left it
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        with archive.session() as s:
            run = s.get(CrawlRun, dead)
            run.stats = {"process": {**run.stats["process"], "pid": int(gone.stdout)}}
        alive = archive.start_run(pid)  # this process: alive, left alone
        archive.start_run(pid)
        by_id = {r["id"]: r for r in archive.runs()}
        assert by_id[dead]["status"] == "killed" and by_id[dead]["finished_at"] is not None
        assert by_id[alive]["status"] == "running"
        assert judge([run_from(by_id[dead])])[0] == "failing"
    finally:
        archive.close()


def run_from(row: dict) -> CrawlRun:
    return run(status=row["status"], unchanged=0, pages=0)
