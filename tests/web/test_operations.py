"""Archivists' operations in the web application: schedules and a crawl started from the
portals page (archive/web/operations.py), and the WARC capture link of an article. The app
runs over its own copy of the crawled archive, since a crawl started here changes it."""

from __future__ import annotations

import gzip
import time

import pytest
from fastapi.testclient import TestClient

from archive import locks
from archive.config import Config
from archive.store import Archive
from tests.conftest import copy_archive
from tests.web.conftest import PASSWORD
from tests.web.test_app import csrf_of, login


@pytest.fixture(scope="module")
def ops_app(crawled, tmp_path_factory):
    from archive import users
    from archive.web.app import create_app
    from archive.web.operations import Operations

    data = tmp_path_factory.mktemp("ops") / "data"
    copy_archive(crawled["data"], data)
    config = Config.resolve(data)
    archive = Archive(config)
    try:
        users.create_user(archive, "luutru", PASSWORD, display_name="Người lưu trữ", is_admin=True)
        users.create_user(archive, "canbo", PASSWORD)
    finally:
        archive.close()
    ops = Operations(portals_dir=crawled["registry"], allow_private=True)
    return create_app(config, secret_key="test-secret", operations=ops), config


@pytest.fixture()
def client(ops_app) -> TestClient:
    return TestClient(ops_app[0])


def send(client: TestClient, path: str, data: dict | None = None, **kw):
    data = {"csrf": csrf_of(client, "/login"), **(data or {})}
    return client.post(path, data=data, follow_redirects=False, **kw)


def test_schedules_are_open_to_read_with_a_json_twin(client):
    r = client.get("/schedules")
    assert r.status_code == 200 and "Lịch thu thập" in r.text
    assert "Thêm lịch" not in r.text  # no form for an anonymous reader
    assert client.get("/schedules.json").json() == {"schedules": [], "fires": []}


def test_only_archivists_write_schedules_or_crawl(client):
    assert send(client, "/schedules", {"target": "all", "cron": "0 2 * * *"}).status_code == 401
    login(client, "canbo")
    r = send(client, "/schedules", {"target": "all", "cron": "0 2 * * *"})
    assert r.status_code == 403 and "--admin" in r.text
    assert send(client, "/portals/huyen-ham-tan/crawl").status_code == 403
    assert "Thu thập ngay" not in client.get("/portals").text
    assert client.get("/schedules.json").json()["schedules"] == []


def test_an_archivist_adds_pauses_resumes_and_removes_a_schedule(client):
    login(client, "luutru")
    assert "Thêm lịch" in client.get("/schedules").text
    r = client.post(
        "/schedules", data={"csrf": "forged", "target": "all", "cron": "0 2 * * *"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 403 and "CSRF" in r.text
    r = send(client, "/schedules", {"target": "quan-thanh-xuan", "cron": "0 2 * * *"})
    assert r.status_code == 303 and r.headers["location"] == "/schedules"
    (item,) = client.get("/schedules.json").json()["schedules"]
    assert (item["target"], item["cron"], item["paused"]) == ("quan-thanh-xuan", "0 2 * * *", False)
    assert item["timezone"] == "Asia/Ho_Chi_Minh" and item["next_run_at"]
    sid = item["id"]
    send(client, f"/schedules/{sid}/pause")
    assert client.get("/schedules.json").json()["schedules"][0]["paused"] is True
    assert "Tiếp tục" in client.get("/schedules").text
    send(client, f"/schedules/{sid}/resume")
    assert client.get("/schedules.json").json()["schedules"][0]["paused"] is False
    assert send(client, f"/schedules/{sid}/remove").status_code == 303
    assert client.get("/schedules.json").json()["schedules"] == []
    assert send(client, f"/schedules/{sid}/remove").status_code == 404


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"target": "all", "cron": "every night"}, "expected 5 fields"),
        ({"target": "nowhere", "cron": "0 2 * * *"}, "unknown portal"),
        ({"target": "all", "cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "time zone"),
        ({"target": "", "cron": "0 2 * * *"}, "Cần chọn cổng"),
    ],
)
def test_a_bad_schedule_is_refused_with_the_reason(client, form, message):
    login(client, "luutru")
    r = send(client, "/schedules", form)
    assert r.status_code == 400 and message in r.text, r.text


def test_crawl_now_runs_the_crawl_and_refuses_a_busy_portal(client, ops_app):
    _, config = ops_app
    login(client, "luutru")
    assert "Thu thập ngay" in client.get("/portals").text
    assert send(client, "/portals/nowhere/crawl").status_code == 404

    with locks.portal_lock(config, ["huyen-ham-tan"], "scheduler pid 1 on elsewhere"):
        r = send(client, "/portals/huyen-ham-tan/crawl")
        assert r.status_code == 409 and "held by scheduler pid 1 on elsewhere" in r.text
        assert "đang thu thập" in client.get("/portals").text

    r = send(client, "/portals/huyen-ham-tan/crawl", headers={"accept": "application/json"})
    assert r.status_code == 202, r.text
    assert r.json()["portal"] == "huyen-ham-tan" and r.json()["pid"] > 0
    deadline = time.monotonic() + 180
    while True:
        runs = [x for x in client.get("/runs.json").json()["runs"] if x["trigger"] == "web"]
        if runs and runs[0]["status"] != "running":
            break
        assert time.monotonic() < deadline, "the crawl started from the web did not finish"
        time.sleep(1)
    assert runs[0]["portal"] == "huyen-ham-tan" and runs[0]["status"] == "finished"
    assert runs[0]["stats"]["incremental/mode"] == "incremental"
    archive = Archive(config)
    try:
        assert locks.held(archive) == []  # the crawl gave its lock back
    finally:
        archive.close()
    assert list((config.data_dir / "logs").glob("crawl-huyen-ham-tan-*.log"))


def test_an_article_links_its_warc_capture(client):
    hits = client.get("/search.json", params={"q": "cải cách hành chính"}).json()["hits"]
    article_id = next(h["id"] for h in hits if h.get("type", "article") == "article")
    page = client.get(f"/articles/{article_id}.json").json()
    capture = page["capture"]
    assert capture and capture["url"] == f"/articles/{article_id}/capture"
    assert "bản ghi WARC" in client.get(f"/articles/{article_id}").text
    r = client.get(capture["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/warc"
    assert r.headers["content-disposition"].startswith("attachment;")
    record = gzip.decompress(r.content)
    assert record.startswith(b"WARC/1.1\r\n") and b"WARC-Type: response" in record
    assert f"WARC-Target-URI: {page['url']}".encode() in record
    assert client.get("/articles/zzz/capture").status_code in (400, 404)


@pytest.mark.parametrize("fmt", ["warc", "wacz"])
def test_a_search_exports_its_captures_as_warc_and_wacz(client, fmt, tmp_path):
    """The web export is the CLI's (archive/export_warc.py, tested in depth there)."""
    import io
    import zipfile

    from warcio.archiveiterator import ArchiveIterator

    q = {"q": "cải cách hành chính", "type": "article"}
    hits = client.get("/search.json", params=q).json()
    assert f"/export.{fmt}?" in client.get("/search", params=q).text
    r = client.get(f"/export.{fmt}", params=q)
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].endswith(f'.{"warc.gz" if fmt == "warc" else fmt}"')
    data = r.content
    if fmt == "wacz":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            assert {"datapackage.json", "archive/data.warc.gz"} <= set(z.namelist())
            data = z.read("archive/data.warc.gz")
    uris = {
        rec.rec_headers.get_header("WARC-Target-URI")
        for rec in ArchiveIterator(io.BytesIO(data))
        if rec.rec_type == "response"
    }
    wanted = {h["url"] for h in hits["hits"]}
    assert wanted and wanted <= uris
