"""WARC capture (scraper/warc.py, archive/warcfiles.py) and import (archive/warc_import.py).

Every exchange of a crawl is in valid WARC 1.1 files with a pywb CDXJ index; a re-crawl
writes revisits; a killed crawl leaves files the next crawl closes; pywb replays the
archived article; import-warc gives back the crawl's articles and changes nothing when run
twice. Tests that need pywb look for its ``wayback`` and ``cdx-indexer`` in
``$PORTAL_ARCHIVE_PYWB_BIN``, ``.venv-replay/bin`` or on PATH (docs/warc.md: pywb needs a
virtual environment of its own).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler
from sqlalchemy import func, select
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.config import Config
from archive.models import Article, ArticleVersion, Download, RawResponse
from archive.store import Archive
from archive.warcfiles import (
    INDEX_NAME,
    OPEN_SUFFIX,
    WarcRecordError,
    index_file,
    recover_open_files,
    warc_record,
)
from scraper.spiders.portal import PortalSpider
from scraper.warc import (
    PROFILE_IDENTICAL,
    PROFILE_NOT_MODIFIED,
    WARC_META,
    WarcCaptureMiddleware,
    WarcFileWriter,
    payload_digest,
)
from tests.conftest import ROOT, copy_archive, run_cli

# --- helpers ---------------------------------------------------------------------------------


def records(path: Path) -> list[dict]:
    """Every record of a WARC file: type, URL, headers, payload, offset."""
    out = []
    with path.open("rb") as fh:
        it = ArchiveIterator(fh)
        for r in it:
            payload = r.content_stream().read() if r.rec_type != "revisit" else b""
            out.append(
                {
                    "type": r.rec_type,
                    "url": r.rec_headers.get_header("WARC-Target-URI"),
                    "warc": dict(r.rec_headers.headers),
                    "http": r.http_headers,
                    "payload": payload,
                    "offset": it.get_record_offset(),
                }
            )
    return out


def warc_files(data: Path) -> list[Path]:
    return sorted((data / "warc").glob("*.warc.gz"))


def warcio_check(paths: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from warcio.cli import main; main()",
            "check",
            "-v",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
    )


def import_warc(data: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    """``portal-archive import-warc`` (through archive.warc_cli until archive/cli.py has
    it), asserting its exit code."""
    proc = subprocess.run(
        [sys.executable, "-m", "archive.warc_cli", "--data-dir", str(data), "import-warc", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING"},
        timeout=600,
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    return proc


def pywb_bin() -> Path | None:
    for d in (os.environ.get("PORTAL_ARCHIVE_PYWB_BIN"), ROOT / ".venv-replay" / "bin"):
        if d and (Path(d) / "wayback").exists():
            return Path(d)
    found = shutil.which("wayback")
    return Path(found).parent if found else None


# `make test` installs it; under CI a missing pywb is a failure, not a skip.
needs_pywb = pytest.mark.skipif(
    pywb_bin() is None and not os.environ.get("CI"),
    reason="pywb not installed: python3 -m venv .venv-replay && "
    ".venv-replay/bin/pip install pywb==2.10.0 (docs/warc.md)",
)


def table_counts(data: Path) -> dict[str, int]:
    archive = Archive(Config.resolve(data))
    try:
        with archive.session() as s:
            return {
                model.__tablename__: s.scalar(select(func.count()).select_from(model))
                for model in (Article, ArticleVersion, RawResponse, Download)
            }
    finally:
        archive.close()


# --- the middleware, one behaviour at a time -------------------------------------------------


class _Spider:
    name = "portal"

    class entry:  # noqa: N801 - the attribute the spider has
        slug = "xa-thu"
        base_url = "https://xa-thu.example.gov.vn/"


@pytest.fixture
def capture(tmp_path):
    """A WARC middleware writing into ``tmp_path`` (no archive: no earlier captures)."""

    def make(**settings):
        crawler = get_crawler(PortalSpider, {"PORTAL_ARCHIVE_DATA_DIR": str(tmp_path), **settings})
        crawler.stats.open_spider()
        mw = WarcCaptureMiddleware.from_crawler(crawler)
        mw.spider_opened(_Spider())
        return mw

    return make


def exchange(mw, url, body=b"<html>x</html>", status=200, headers=None, req_headers=None):
    request = Request(url, headers=req_headers or {})
    mw.process_request(request)
    response = HtmlResponse(
        url,
        status=status,
        body=body,
        headers=headers or {"Content-Type": "text/html; charset=utf-8"},
        request=request,
        protocol="HTTP/1.1",
    )
    mw.process_response(request, response)
    return request.meta.get(WARC_META)


def written(tmp_path, mw) -> list[dict]:
    mw.spider_closed(_Spider())
    (path,) = sorted((tmp_path / "warc").glob("*.warc.gz"))
    return records(path)


def test_response_and_request_records_linked(tmp_path, capture):
    mw = capture()
    meta = exchange(mw, "https://xa-thu.example.gov.vn/a.html", req_headers={"User-Agent": "bot"})
    info, response, request = written(tmp_path, mw)
    assert info["type"] == "warcinfo" and b"isPartOf: xa-thu" in info["payload"]
    assert response["type"] == "response" and response["payload"] == b"<html>x</html>"
    assert response["warc"]["WARC-Payload-Digest"] == payload_digest(b"<html>x</html>")
    assert request["type"] == "request"
    assert request["warc"]["WARC-Concurrent-To"] == response["warc"]["WARC-Record-ID"]
    assert request["warc"]["WARC-Date"] == response["warc"]["WARC-Date"]
    assert request["http"].get_header("User-Agent") == "bot"
    assert request["http"].get_header("Host") == "xa-thu.example.gov.vn"
    assert meta["type"] == "response" and meta["offset"] == response["offset"]


def test_chunked_response_recorded_with_its_body_length(tmp_path, capture):
    mw = capture()
    exchange(
        mw,
        "https://xa-thu.example.gov.vn/a.html",
        body=b"0123456789",
        headers={"Transfer-Encoding": "chunked", "Content-Type": "text/html"},
    )
    _, response, _ = written(tmp_path, mw)
    assert response["http"].get_header("Transfer-Encoding") is None
    assert response["http"].get_header("Content-Length") == "10"


def test_credentials_left_out_of_request_records(tmp_path, capture):
    mw = capture()
    exchange(
        mw,
        "https://xa-thu.example.gov.vn/a.html",
        req_headers={"Proxy-Authorization": "Basic c2VjcmV0", "Authorization": "Basic eA=="},
    )
    _, _, request = written(tmp_path, mw)
    assert request["http"].get_header("Proxy-Authorization") is None
    assert request["http"].get_header("Authorization") is None


def test_unchanged_payload_is_a_revisit_of_the_first_capture(tmp_path, capture):
    mw = capture()
    url = "https://xa-thu.example.gov.vn/a.html"
    first = exchange(mw, url)
    second = exchange(mw, url)
    changed = exchange(mw, url, body=b"<html>y</html>")
    _, response, _, revisit, _, again, _ = written(tmp_path, mw)
    assert revisit["type"] == "revisit" and revisit["warc"]["WARC-Profile"] == PROFILE_IDENTICAL
    assert revisit["warc"]["WARC-Refers-To-Target-URI"] == url
    assert revisit["warc"]["WARC-Refers-To-Date"] == response["warc"]["WARC-Date"]
    assert revisit["warc"]["WARC-Payload-Digest"] == response["warc"]["WARC-Payload-Digest"]
    assert second["type"] == "revisit" and second["content"] == first["content"]
    assert again["type"] == "response" and changed["type"] == "response"


def test_revisits_off_writes_every_payload(tmp_path, capture):
    mw = capture(PORTAL_ARCHIVE_WARC_REVISITS=False)
    exchange(mw, "https://xa-thu.example.gov.vn/a.html")
    exchange(mw, "https://xa-thu.example.gov.vn/a.html")
    types = [r["type"] for r in written(tmp_path, mw)]
    assert types == ["warcinfo", "response", "request", "response", "request"]


def test_not_modified_is_a_server_not_modified_revisit(tmp_path, capture):
    mw = capture()
    url = "https://xa-thu.example.gov.vn/a.html"
    first = exchange(mw, url, headers={"ETag": '"v1"', "Content-Type": "text/html"})
    meta = exchange(mw, url, body=b"", status=304, headers={"ETag": '"v1"'})
    recs = written(tmp_path, mw)
    revisit = recs[3]
    assert revisit["type"] == "revisit" and revisit["warc"]["WARC-Profile"] == PROFILE_NOT_MODIFIED
    assert revisit["http"].get_statuscode() == "304"
    assert revisit["warc"]["WARC-Refers-To-Date"] == recs[1]["warc"]["WARC-Date"]
    assert meta["content"] == first["content"]


def test_cached_response_not_written(tmp_path, capture):
    mw = capture()
    request = Request("https://xa-thu.example.gov.vn/a.html")
    mw.process_response(
        request, Response(request.url, body=b"x", flags=["cached"], request=request)
    )
    mw.spider_closed(_Spider())
    assert WARC_META not in request.meta
    assert not list((tmp_path / "warc").glob("*.warc.gz"))  # no record: no file opened


def test_capture_sits_next_to_the_downloader():
    """Inside redirects, retries, decompression and the cache: every exchange as on the wire."""
    from scrapy.settings import Settings

    from scraper import settings as project

    order = Settings(vars(project)).getwithbase("DOWNLOADER_MIDDLEWARES")
    ours = order["scraper.warc.WarcCaptureMiddleware"]
    assert ours == max(v for v in order.values() if v is not None)
    for name in ("HttpCompressionMiddleware", "RedirectMiddleware", "HttpCacheMiddleware"):
        (theirs,) = [v for k, v in order.items() if k.endswith(name)]
        assert theirs < ours


def test_warc_off_is_not_configured(tmp_path):
    crawler = get_crawler(
        PortalSpider, {"PORTAL_ARCHIVE_DATA_DIR": str(tmp_path), "PORTAL_ARCHIVE_WARC": False}
    )
    with pytest.raises(NotConfigured):
        WarcCaptureMiddleware.from_crawler(crawler)


def test_files_rotate_by_size_each_with_warcinfo_and_indexed(tmp_path):
    writer = WarcFileWriter(tmp_path, "xa-thu", max_bytes=2000)
    body = os.urandom(1500)  # incompressible: each exchange passes the limit
    for i in range(3):
        writer.write_exchange(
            url=f"https://xa-thu.example.gov.vn/{i}",
            when=datetime.now(UTC),
            response_headers=StatusAndHeaders("200 OK", [], protocol="HTTP/1.1"),
            body=body,
            request_headers=StatusAndHeaders(f"GET /{i} HTTP/1.1", [], is_http_request=True),
        )
    writer.close()
    files = sorted(tmp_path.glob("*.warc.gz"))
    assert [f.name[-13:] for f in files] == ["00000.warc.gz", "00001.warc.gz", "00002.warc.gz"]
    for f in files:
        assert [r["type"] for r in records(f)] == ["warcinfo", "response", "request"]
    assert len((tmp_path / INDEX_NAME).read_text().splitlines()) == 3
    assert warcio_check(files).returncode == 0


# --- killed crawls ---------------------------------------------------------------------------


def _open_writer(directory: Path) -> tuple[WarcFileWriter, Path]:
    writer = WarcFileWriter(directory, "xa-thu")
    for i in range(3):
        writer.write_exchange(
            url=f"https://xa-thu.example.gov.vn/{i}",
            when=datetime.now(UTC),
            response_headers=StatusAndHeaders("200 OK", [], protocol="HTTP/1.1"),
            body=b"<html>%d</html>" % i,
            request_headers=StatusAndHeaders(f"GET /{i} HTTP/1.1", [], is_http_request=True),
        )
    return writer, directory / (writer.name + OPEN_SUFFIX)


def test_recovery_cuts_a_truncated_record_and_indexes_the_rest(tmp_path, monkeypatch):
    writer, path = _open_writer(tmp_path)
    writer.fh.write(gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n" * 50)[:-20])  # cut
    writer.fh.flush()
    size = path.stat().st_size
    monkeypatch.setattr("archive.warcfiles._alive", lambda pid: False)  # the writer died
    (final,) = recover_open_files(tmp_path, "xa-thu")
    assert final.name == writer.name and not path.exists()
    assert final.stat().st_size < size
    assert [r["type"] for r in records(final)] == ["warcinfo"] + ["response", "request"] * 3
    assert warcio_check([final]).returncode == 0
    assert len((tmp_path / INDEX_NAME).read_text().splitlines()) == 3


def test_open_file_of_a_running_writer_is_left_alone(tmp_path, monkeypatch):
    _writer, path = _open_writer(tmp_path)
    monkeypatch.setattr("os.getpid", lambda: 1)  # as seen from another process
    assert recover_open_files(tmp_path, "xa-thu") == []
    assert path.exists()


def test_open_file_of_another_machine_is_left_alone_until_stale(tmp_path, monkeypatch):
    from archive import warcfiles

    _writer, path = _open_writer(tmp_path)
    monkeypatch.setattr("socket.gethostname", lambda: "another-crawler")  # as seen from there
    assert recover_open_files(tmp_path, "xa-thu") == [] and path.exists()
    old = time.time() - warcfiles.FOREIGN_STALE - 60
    os.utime(path, (old, old))  # untouched for over an hour: its writer is gone
    (final,) = recover_open_files(tmp_path, "xa-thu")
    assert not path.exists() and final.exists()


def test_check_reports_files_a_killed_writer_left_open_and_repair_closes_them(tmp_path):
    from tests.conftest import run_cli

    data = tmp_path / "data"
    directory = data / "warc"
    directory.mkdir(parents=True)
    # a writer process that dies mid-file, without closing it
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from tests.test_warc import _open_writer\n"
        "_open_writer(Path(sys.argv[1]))\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(directory)], check=True,
                   cwd=Path(__file__).resolve().parent.parent)  # fmt: skip
    (path,) = directory.glob("*.warc.gz" + OPEN_SUFFIX)
    checked = run_cli("--data-dir", str(data), "check")
    assert checked.returncode == 1
    assert "WARC files left open by a stopped crawl: 1 (--repair closes them)" in checked.stdout
    repaired = run_cli("--data-dir", str(data), "check", "--repair", "--json")
    assert repaired.returncode == 0, repaired.stderr
    report = json.loads(repaired.stdout)
    assert report["warc_open"] == [path.name] and report["warc_recovered"] == [
        path.name.removesuffix(OPEN_SUFFIX)
    ]
    assert not path.exists() and warcio_check(list(directory.glob("*.warc.gz"))).returncode == 0
    assert run_cli("--data-dir", str(data), "check").returncode == 0


def test_killed_crawl_files_are_closed_by_the_next_crawl(tmp_path):
    from scraper.sample_portals import SampleWorld

    with SampleWorld(scale=8, page_size=10) as world:
        registry = tmp_path / "portals"
        world.write_registry(registry)
        data = tmp_path / "data"
        args = [sys.executable, "-m", "archive.cli", "--data-dir", str(data), "crawl"]
        args += ["quan-thanh-xuan", "--portals", str(registry), "--allow-private", "--no-index"]
        env = {**os.environ, "PORTAL_ARCHIVE_LOG_LEVEL": "WARNING"}
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        opened: list[Path] = []
        while time.monotonic() < deadline and proc.poll() is None:
            opened = [
                p for p in (data / "warc").glob(f"*{OPEN_SUFFIX}") if p.stat().st_size > 300_000
            ]
            if opened:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert opened, "the crawl ended before it could be killed"
        run_cli(
            "--data-dir", str(data), "crawl", "quan-thanh-xuan", "--portals", str(registry),
            "--allow-private", "--no-index", check=True,
        )  # fmt: skip
    assert not list((data / "warc").glob(f"*{OPEN_SUFFIX}"))
    files = warc_files(data)
    assert opened[0].name.removesuffix(OPEN_SUFFIX) in {f.name for f in files}
    assert warcio_check(files).returncode == 0
    expected = sorted(line for f in files for line in index_file(f))
    assert (data / "warc" / INDEX_NAME).read_text().splitlines() == sorted(
        expected, key=lambda s: s.encode()
    )
    archive = Archive(Config.resolve(data))
    try:  # every pointer the database holds reaches a record of its URL
        with archive.session() as s:
            rows = s.execute(
                select(RawResponse.url, RawResponse.warc_file, RawResponse.warc_offset)
            )
            for url, file, offset in rows:
                assert warc_record(archive.config, file, offset).target_uri == url
    finally:
        archive.close()


# --- a crawl of the sample portals -----------------------------------------------------------


def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def first_series(data: Path) -> list[Path]:
    """The files of the first crawl of each portal (other tests crawl ``crawled`` again)."""
    series: dict[str, dict[str, list[Path]]] = {}
    for f in warc_files(data):
        slug, stamp, _serial = f.name.removesuffix(".warc.gz").rsplit("-", 2)
        series.setdefault(slug, {}).setdefault(stamp, []).append(f)
    return [f for stamps in series.values() for f in stamps[min(stamps)]]


def test_every_exchange_of_the_crawl_is_in_warc(crawled):
    files = first_series(crawled["data"])
    assert {f.name.split("-2")[0] for f in files} == {
        "quan-thanh-xuan",
        "huyen-phu-loc",
        "huyen-ham-tan",
    }
    assert not list((crawled["data"] / "warc").glob(f"*{OPEN_SUFFIX}"))
    recs = [r for f in files for r in records(f)]
    responses = [r for r in recs if r["type"] in ("response", "revisit")]
    requests = [r for r in recs if r["type"] == "request"]
    assert len(responses) == len(requests) == len(crawled["requests"])  # what the server served
    served = sorted((path, status) for _slug, _m, path, status in crawled["requests"])
    recorded = sorted((_target(r["url"]), int(r["http"].get_statuscode())) for r in responses)
    assert recorded == served


def test_warcio_check_passes_on_every_file(crawled):
    proc = warcio_check(warc_files(crawled["data"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "digest pass" in proc.stdout


def test_index_is_sorted_cdxj_of_every_record(crawled):
    files = warc_files(crawled["data"])
    lines = (crawled["data"] / "warc" / INDEX_NAME).read_text().splitlines()
    assert lines == sorted(lines, key=lambda s: s.encode())
    assert sorted(lines) == sorted(line for f in files for line in index_file(f))
    key, stamp, fields = lines[0].split(" ", 2)
    assert key.startswith("1,0,0,127:") and len(stamp) == 14
    assert set(json.loads(fields)) >= {"url", "mime", "digest", "length", "offset", "filename"}


def test_pointers_reach_the_archived_bytes(crawled):
    config = Config.resolve(crawled["data"])
    archive = Archive(config)
    try:
        with archive.session() as s:
            fetches = s.execute(
                select(RawResponse.url, RawResponse.sha256, RawResponse.warc_file,
                       RawResponse.warc_offset, RawResponse.warc_length, RawResponse.warc_type)
            ).all()  # fmt: skip
            versions = s.execute(
                select(ArticleVersion.raw_sha256, ArticleVersion.warc_file,
                       ArticleVersion.warc_offset)
            ).all()  # fmt: skip
            downloads = s.execute(
                select(Download.sha256, Download.warc_file, Download.warc_offset).where(
                    Download.status == "downloaded"
                )
            ).all()
    finally:
        archive.close()
    assert fetches and versions and downloads

    def payload_sha(file, offset) -> str:
        capture = warc_record(config, file, offset)
        record = next(iter(ArchiveIterator(io.BytesIO(capture.data))))
        return hashlib.sha256(record.content_stream().read()).hexdigest()

    for url, sha, file, offset, length, kind in fetches:
        capture = warc_record(config, file, offset)
        assert capture.target_uri == url and capture.rec_type == kind
        assert len(capture.data) == length
        if kind == "response":  # a revisit (a re-crawl of the same data) has no payload
            assert payload_sha(file, offset) == sha
    for sha, file, offset in versions:
        assert payload_sha(file, offset) == sha
    for sha, file, offset in downloads:
        assert payload_sha(file, offset) == sha


def test_warc_record_refuses_what_is_not_a_record(crawled):
    config = Config.resolve(crawled["data"])
    name = warc_files(crawled["data"])[0].name
    assert warc_record(config, name, 0).rec_type == "warcinfo"
    for file, offset in ((name, 7), ("../archive.sqlite3", 0), (INDEX_NAME, 0), (name, 10**12)):
        with pytest.raises(WarcRecordError):
            warc_record(config, file, offset)


# --- a re-crawl ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recrawled(crawled, tmp_path_factory):
    """The crawled archive copied, then crawled again: unchanged pages, and the articles
    re-checked with conditional requests (every article counts as recent)."""
    data = tmp_path_factory.mktemp("recrawl") / "data"
    copy_archive(crawled["data"], data)
    before = {f.name for f in warc_files(data)}
    run_cli(
        "--data-dir", str(data), "crawl", "all", "--portals", str(crawled["registry"]),
        "--allow-private", "--no-index", "-s", "PORTAL_ARCHIVE_RECHECK_DAYS=100000", check=True,
    )  # fmt: skip
    new = [f for f in warc_files(data) if f.name not in before]
    return {"data": data, "new": new, "old": [f for f in warc_files(data) if f.name in before]}


def test_recrawl_writes_revisits_not_copies(recrawled):
    recs = [r for f in recrawled["new"] for r in records(f)]
    profiles = [r["warc"].get("WARC-Profile") for r in recs if r["type"] == "revisit"]
    assert PROFILE_IDENTICAL in profiles  # home page, listings, robots.txt
    assert profiles.count(PROFILE_NOT_MODIFIED) >= 10  # 304s of the re-checked articles
    assert not [r for r in recs if r["type"] == "response" and r["http"].get_statuscode() == "200"]
    old = {
        r["warc"]["WARC-Date"]: r
        for f in recrawled["old"]
        for r in records(f)
        if r["type"] == "response"
    }
    for r in recs:
        if r["type"] == "revisit":
            original = old[r["warc"]["WARC-Refers-To-Date"]]
            assert original["url"] == r["warc"]["WARC-Refers-To-Target-URI"]
            assert original["warc"]["WARC-Payload-Digest"] == r["warc"]["WARC-Payload-Digest"]
    new_bytes = sum(f.stat().st_size for f in recrawled["new"])
    assert new_bytes < sum(f.stat().st_size for f in recrawled["old"]) / 10
    assert warcio_check(warc_files(recrawled["data"])).returncode == 0


@needs_pywb
def test_index_is_what_pywb_indexes_but_the_304s(recrawled):
    files = warc_files(recrawled["data"])
    proc = subprocess.run(
        [str(pywb_bin() / "cdx-indexer"), "-j", "-s", *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
    )
    not_modified = {
        (f.name, str(r["offset"]))
        for f in files
        for r in records(f)
        if r["warc"].get("WARC-Profile") == PROFILE_NOT_MODIFIED
    }
    assert not_modified
    pywb = []
    for line in proc.stdout.splitlines():
        fields = json.loads(line.split(" ", 2)[2])
        if (fields["filename"], fields["offset"]) not in not_modified:
            pywb.append(line)
    ours = (recrawled["data"] / "warc" / INDEX_NAME).read_text().splitlines()
    assert sorted(pywb, key=lambda s: s.encode()) == ours
    assert len(proc.stdout.splitlines()) == len(ours) + len(not_modified)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_pywb
def test_pywb_replays_the_archived_article(recrawled, tmp_path):
    data = recrawled["data"]
    coll = tmp_path / "collections" / "portals"
    (coll / "indexes").mkdir(parents=True)
    (coll / "archive").mkdir()
    for f in warc_files(data):
        (coll / "archive" / f.name).symlink_to(f)
    shutil.copy(data / "warc" / INDEX_NAME, coll / "indexes" / INDEX_NAME)
    archive = Archive(Config.resolve(data))
    try:
        with archive.session() as s:
            url, sha = s.execute(
                select(ArticleVersion.url, ArticleVersion.raw_sha256).where(
                    ArticleVersion.attachments.any()
                )
            ).first()
            # A page fetched twice unchanged: its latest capture is an identical-payload
            # revisit, which pywb resolves to the first.
            home, home_sha = s.execute(
                select(RawResponse.url, RawResponse.sha256)
                .where(RawResponse.warc_type == "revisit", RawResponse.status == 200)
                .where(RawResponse.url.endswith("/"))
            ).first()
        body, home_body = archive.raw.get(sha), archive.raw.get(home_sha)
    finally:
        archive.close()
    port = _free_port()
    server = subprocess.Popen(
        [str(pywb_bin() / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/portals"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y%m%d%H%M%S")
        # The first capture, and the latest indexed (the 304 revisits are not: see
        # archive.warcfiles.indexed).
        for when in ("19700101000000", later):
            with urllib.request.urlopen(f"{base}/{when}id_/{url}", timeout=30) as answer:
                assert answer.status == 200
                assert answer.read() == body
        with urllib.request.urlopen(f"{base}/{later}id_/{home}", timeout=30) as answer:
            assert answer.read() == home_body
    finally:
        server.terminate()
        server.wait(timeout=10)


# --- import-warc -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imported(crawled, tmp_path_factory):
    """The crawl's WARC files imported into a fresh archive, twice."""
    data = tmp_path_factory.mktemp("imported") / "data"
    files = [str(f) for f in warc_files(crawled["data"])]
    args = [*files, "--portals", str(crawled["registry"]), "--json", "--no-index"]
    first = json.loads(import_warc(data, *args).stdout)
    counts = table_counts(data)
    second = json.loads(import_warc(data, *args).stdout)
    return {"data": data, "first": first, "second": second, "counts": counts}


def _articles(data: Path) -> dict[str, tuple]:
    archive = Archive(Config.resolve(data))
    try:
        with archive.session() as s:
            return {
                aid: (h, f)
                for aid, h, f in s.execute(
                    select(
                        ArticleVersion.article_id,
                        ArticleVersion.content_hash,
                        ArticleVersion.warc_file,
                    ).where(ArticleVersion.is_current.is_(True))
                )
            }
    finally:
        archive.close()


def test_import_gives_back_the_crawled_articles(crawled, imported):
    crawl, imp = _articles(crawled["data"]), _articles(imported["data"])
    assert {a: h for a, (h, _f) in imp.items()} == {a: h for a, (h, _f) in crawl.items()}
    crawled_files = {str(f) for f in warc_files(crawled["data"])}
    assert {f for _h, f in imp.values()} <= crawled_files  # pointers to the imported files
    report = imported["first"]
    assert sum(c["new"] for c in report["articles"].values()) == len(crawl)
    assert report["skipped"]["request record"] == report["pages"] + report["attachments"] + sum(
        v for k, v in report["skipped"].items() if k not in ("request record", "warcinfo record")
    )


def test_import_takes_the_attachments_from_the_files(crawled, imported):
    def documents(data):
        archive = Archive(Config.resolve(data))
        try:
            return sorted(d["sha256"] for d in archive.documents())
        finally:
            archive.close()

    assert imported["first"]["attachments"] > 0
    assert documents(imported["data"]) == documents(crawled["data"])
    for sha in documents(imported["data"]):
        assert (imported["data"] / "attachments" / sha[:2] / sha).is_file()


def test_second_import_changes_nothing(imported):
    second = imported["second"]
    assert second["pages"] == 0 and second["attachments"] == 0
    assert second["skipped"]["already imported"] == imported["first"]["pages"]
    assert all(c["new"] == c["updated"] == 0 for c in second["articles"].values())
    assert table_counts(imported["data"]) == imported["counts"]


def _http(status: str, headers: list[tuple[str, str]]) -> StatusAndHeaders:
    return StatusAndHeaders(status, headers, protocol="HTTP/1.1")


def test_import_of_foreign_files_skips_the_noise(crawled, tmp_path):
    """A hand-built WARC as a Heritrix-like crawler writes it (dns, metadata, request,
    image, 404, redirect, a revisit without its original) and an ARC file, for a host with
    no TOML."""
    archive = Archive(Config.resolve(crawled["data"]))
    try:
        with archive.session() as s:
            # Two first versions of two articles whose paths differ (the portals share
            # paths; the host is replaced below), in a fixed order.
            rows = s.execute(
                select(ArticleVersion.url, ArticleVersion.raw_sha256)
                .where(ArticleVersion.version == 1)
                .order_by(ArticleVersion.id)
            ).all()
        by_path: dict[str, tuple[str, str]] = {}
        for u, sha in rows:
            by_path.setdefault(_target(u), (u, sha))
        (url, sha), (arc_url, arc_sha) = list(by_path.values())[:2]
        page, arc_page = archive.raw.get(sha), archive.raw.get(arc_sha)
    finally:
        archive.close()
    host = "xa-thu-nghiem.example.gov.vn"
    article, arc_article = (f"https://{host}{_target(u)}" for u in (url, arc_url))
    path = tmp_path / "heritrix.warc.gz"
    html = [("Content-Type", "text/html; charset=utf-8")]
    with path.open("wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="1.0")
        w.write_record(w.create_warcinfo_record(path.name, {"software": "Heritrix/3.4"}))
        w.write_record(
            w.create_warc_record("dns:" + host, "response", payload=io.BytesIO(b"x IN A 1.2.3.4"),
                                 length=14, warc_content_type="text/dns")
        )  # fmt: skip
        w.write_record(
            w.create_warc_record(f"https://{host}/", "metadata", payload=io.BytesIO(b"via: x"),
                                 length=6, warc_content_type="application/warc-fields")
        )  # fmt: skip

        def response(url, status, headers, body):
            w.write_record(
                w.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                     http_headers=_http(status, headers))
            )  # fmt: skip

        response(f"https://{host}/logo.png", "200 OK", [("Content-Type", "image/png")], b"\x89PNG")
        response(f"https://{host}/gone.html", "404 Not Found", html, b"<html>gone</html>")
        response(f"https://{host}/old", "301 Moved", [("Location", article)], b"")
        response(article, "200 OK", html, page)
        response("https://other.example.com/x.html", "200 OK", html, page)
        w.write_record(
            w.create_revisit_record(f"https://{host}/khac.html", "sha1:AAAA",
                                    f"https://{host}/khac.html", "2020-01-01T00:00:00Z",
                                    http_headers=_http("200 OK", html))
        )  # fmt: skip
        req = StatusAndHeaders(
            f"GET {_target(article)} HTTP/1.1", [("Host", host)], is_http_request=True
        )
        w.write_record(w.create_warc_record(article, "request", http_headers=req))  # fmt: skip
    arc = tmp_path / "old.arc"
    arc_body = b"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + arc_page
    header = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    arc.write_bytes(
        b"filedesc://old.arc 0.0.0.0 20190101000000 text/plain %d\n%s\n" % (len(header), header)
        + b"%s 1.2.3.4 20190102030405 text/html %d\n%s\n"
        % (arc_article.encode(), len(arc_body), arc_body)
    )
    data = tmp_path / "data"
    report = json.loads(import_warc(data, str(path), str(arc), "--host", host, "--json").stdout)
    skipped = report["skipped"]
    assert skipped["warcinfo record"] == 2  # the ARC's filedesc header too
    assert skipped["metadata record"] == 1 and skipped["request record"] == 1
    assert skipped["not http (dns:, …)"] == 1
    assert skipped["status 404"] == 1 and skipped["redirect"] == 1
    assert skipped["revisit without its original in the files"] == 1
    assert skipped["host not imported"] == 1  # other.example.com
    assert skipped["not HTML, not a missing attachment"] == 1  # the logo
    assert report["pages"] == 2
    slug = "xa-thu-nghiem-example-gov-vn"
    assert report["articles"][slug]["new"] == 2
    archive = Archive(Config.resolve(data))
    try:
        urls = sorted(r.url for r in archive.iter_articles())
        runs = archive.runs()
    finally:
        archive.close()
    assert urls == sorted([article, arc_article])
    assert runs[0]["trigger"] == "import" and runs[0]["portal"] == slug


def test_import_of_damaged_files_reads_what_it_can(crawled, tmp_path):
    """A file that is not WARC, and one cut in the middle of a record: no traceback, a line
    for each, exit 1, and the records before the cut imported."""
    whole = max(warc_files(crawled["data"]), key=lambda f: f.stat().st_size)
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    garbage = tmp_path / "notes.warc"
    garbage.write_text("not an archive\n")
    args = [str(garbage), str(cut), "--portals", str(crawled["registry"]), "--json"]
    proc = import_warc(tmp_path / "data", *args, "--no-index", code=1)
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["damaged"][str(garbage)].startswith("not a WARC or ARC file")
    assert report["damaged"][str(cut)].startswith("damaged at record ")
    assert report["pages"] > 0
    # What was read of the cut file is what the whole file holds up to the cut.
    whole_report = json.loads(
        import_warc(
            tmp_path / "whole",
            str(whole),
            "--portals",
            str(crawled["registry"]),
            "--json",
            "--no-index",
        ).stdout
    )
    assert 0 < report["records"] < whole_report["records"]
    assert not whole_report["damaged"]
