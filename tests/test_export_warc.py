"""Exports as web archives (archive/export_warc.py): a WARC of the exported articles'
original captures and their attachments, copied byte for byte; records made from stored
bodies for what has no WARC record, said so; pywb replays the export; the WACZ has the
files of the WACZ 1.1.1 specification with their hashes (and passes py-wacz's
``wacz validate`` where it is installed, beside pywb in .venv-replay)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select, update
from warcio.archiveiterator import ArchiveIterator

from archive.config import Config
from archive.export_warc import MANIFEST_URI, write_wacz, write_warc
from archive.models import ArticleVersion, Attachment, Download
from archive.store import Archive
from archive.warcfiles import warc_record
from tests.conftest import ROOT, copy_archive, run_cli
from tests.test_warc import _free_port, needs_pywb, pywb_bin, warcio_check


def records(data: bytes) -> list[dict]:
    out = []
    it = ArchiveIterator(io.BytesIO(data))
    for r in it:
        payload = r.content_stream().read()
        out.append({"type": r.rec_type, "warc": dict(r.rec_headers.headers), "payload": payload,
                    "uri": r.rec_headers.get_header("WARC-Target-URI"),
                    "offset": it.get_record_offset(), "length": it.get_record_length()})  # fmt: skip
    return out


def chosen(data: Path) -> tuple[list[str], dict]:
    """The articles of huyen-ham-tan and one of quan-thanh-xuan with an attachment, and what
    the archive holds of them: version URLs and raw bodies, attachment downloads."""
    archive = Archive(Config.resolve(data))
    try:
        ids = [r.id for r in archive.iter_articles(portals=["huyen-ham-tan"])]
        other = [r for r in archive.iter_articles(portals=["quan-thanh-xuan"]) if r.attachments]
        ids.append(other[0].id)
        with archive.session() as s:
            versions = s.execute(
                select(ArticleVersion.article_id, ArticleVersion.url, ArticleVersion.raw_sha256,
                       ArticleVersion.warc_file, ArticleVersion.warc_offset)
                .where(ArticleVersion.article_id.in_(ids))
            ).all()  # fmt: skip
            links = set(
                s.scalars(
                    select(Attachment.url)
                    .join(ArticleVersion, ArticleVersion.id == Attachment.version_id)
                    .where(ArticleVersion.article_id.in_(ids))
                )
            )
            downloads = s.execute(
                select(Download.url, Download.sha256, Download.warc_file, Download.warc_offset)
                .where(Download.url.in_(links), Download.status == "downloaded")
            ).all()  # fmt: skip
        bodies = {url: archive.raw.get(sha) for _a, url, sha, _f, _o in versions}
    finally:
        archive.close()
    return ids, {"versions": versions, "downloads": downloads, "bodies": bodies, "links": links}


@pytest.fixture(scope="module")
def exported(crawled, tmp_path_factory):
    ids, held = chosen(crawled["data"])
    path = tmp_path_factory.mktemp("export") / "export.warc.gz"
    archive = Archive(Config.resolve(crawled["data"]))
    try:
        with path.open("wb") as fh:
            report = write_warc(archive, ids, fh, description={"query": "test"})
    finally:
        archive.close()
    return {"path": path, "data": path.read_bytes(), "ids": ids, "report": report, **held}


def test_the_export_passes_warcio_check(exported):
    proc = warcio_check([exported["path"]])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "digest pass" in proc.stdout


def test_exactly_the_exported_articles_and_their_attachments(exported):
    recs = records(exported["data"])
    responses = {r["uri"] for r in recs if r["type"] == "response"}
    pages = {url for _a, url, *_ in exported["versions"]}
    files = {url for url, *_ in exported["downloads"]}
    assert files and responses == pages | files
    report = exported["report"]
    assert report.articles == len(exported["ids"]) and report.synthesised == 0
    assert report.copied == report.responses == len(pages | files)
    assert report.attachments == len(files)
    # linked files that were never downloaded (broken links) are said to be missing
    assert {m["url"] for m in report.missing} == exported["links"] - files


def test_records_are_copied_byte_for_byte_with_their_request_and_warcinfo(crawled, exported):
    config = Config.resolve(crawled["data"])
    data = exported["data"]
    pointers = [(f, o) for *_x, f, o in exported["versions"]]
    pointers += [(f, o) for _u, _sha, f, o in exported["downloads"]]
    for file, offset in pointers:
        assert warc_record(config, file, offset).data in data  # the gzip member itself
    recs = records(data)
    assert recs[0]["type"] == "warcinfo" and "isPartOf: portal-archive export" in (
        recs[0]["payload"].decode()
    )
    infos = {r["warc"]["WARC-Record-ID"] for r in recs if r["type"] == "warcinfo"}
    ids = {r["warc"]["WARC-Record-ID"]: r for r in recs}
    for i, r in enumerate(recs):
        if r["type"] == "response":
            assert r["warc"]["WARC-Warcinfo-ID"] in infos  # its file's warcinfo is there too
            request = recs[i + 1]
            assert request["type"] == "request"
            assert request["warc"]["WARC-Concurrent-To"] == r["warc"]["WARC-Record-ID"]
            assert ids[request["warc"]["WARC-Concurrent-To"]] is r
    body_of = {url: body for url, body in exported["bodies"].items()}
    for r in recs:
        if r["type"] == "response" and r["uri"] in body_of:
            assert r["payload"] == body_of[r["uri"]]
    manifest = recs[-1]
    assert manifest["type"] == "metadata" and manifest["uri"] == MANIFEST_URI
    content = json.loads(manifest["payload"])
    assert [a["id"] for a in content["articles"]] == sorted(exported["ids"])
    assert content["description"] == {"query": "test"}


def test_what_has_no_warc_record_is_made_from_the_stored_body(crawled, exported, tmp_path):
    data = tmp_path / "data"
    copy_archive(crawled["data"], data)
    aid = exported["ids"][0]
    url = next(u for a, u, *_ in exported["versions"] if a == aid)
    file_url, file_sha = exported["downloads"][0][:2]
    archive = Archive(Config.resolve(data))
    try:
        with archive.session() as s:  # as if archived before WARC writing existed
            s.execute(update(ArticleVersion).where(ArticleVersion.article_id == aid)
                      .values(warc_file=None, warc_offset=None, warc_length=None))  # fmt: skip
            s.execute(update(Download).where(Download.url == file_url)
                      .values(warc_file=None, warc_offset=None, warc_length=None))  # fmt: skip
        out = io.BytesIO()
        report = write_warc(archive, exported["ids"], out)
    finally:
        archive.close()
    assert report.synthesised == 2 and report.copied == exported["report"].copied - 2
    recs = records(out.getvalue())
    for target, body in ((url, exported["bodies"][url]), (file_url, None)):
        (i,) = [i for i, r in enumerate(recs) if r["type"] == "response" and r["uri"] == target]
        made, note = recs[i], recs[i + 1]
        if body is not None:
            assert made["payload"] == body
        else:
            assert hashlib.sha256(made["payload"]).hexdigest() == file_sha
        assert made["warc"].get("WARC-Warcinfo-ID") is None  # not from a crawl's file
        assert note["type"] == "metadata"
        assert note["warc"]["WARC-Refers-To"] == made["warc"]["WARC-Record-ID"]
        assert json.loads(note["payload"])["synthesised"] is True
    path = tmp_path / "made.warc.gz"
    path.write_bytes(out.getvalue())
    assert warcio_check([path]).returncode == 0


@needs_pywb
def test_pywb_replays_an_exported_article(exported, tmp_path):
    coll = tmp_path / "collections" / "export"
    (coll / "archive").mkdir(parents=True)
    (coll / "indexes").mkdir()
    shutil.copy(exported["path"], coll / "archive" / "export.warc.gz")
    index = subprocess.run(
        [str(pywb_bin() / "cdx-indexer"), "-j", "-s", str(coll / "archive" / "export.warc.gz")],
        capture_output=True, text=True, check=True,
    ).stdout.replace(str(coll / "archive") + "/", "")  # fmt: skip
    (coll / "indexes" / "index.cdxj").write_text(index)
    url = next(u for a, u, *_ in exported["versions"] if a == exported["ids"][-1])
    port = _free_port()
    server = subprocess.Popen(
        [str(pywb_bin() / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/export/2id_/{url}", timeout=30)
        assert answer.status == 200 and answer.read() == exported["bodies"][url]
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def wacz(crawled, exported, tmp_path_factory):
    path = tmp_path_factory.mktemp("wacz") / "export.wacz"
    archive = Archive(Config.resolve(crawled["data"]))
    try:
        with path.open("wb") as fh:
            report = write_wacz(archive, exported["ids"], fh, description={"query": "test"})
    finally:
        archive.close()
    return {"path": path, "report": report}


def test_wacz_has_the_specified_files_with_their_hashes(wacz, exported):
    with zipfile.ZipFile(wacz["path"]) as z:
        names = set(z.namelist())
        assert names == {"archive/data.warc.gz", "indexes/index.cdx", "pages/pages.jsonl",
                         "datapackage.json", "datapackage-digest.json"}  # fmt: skip
        assert z.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
        package_bytes = z.read("datapackage.json")
        package = json.loads(package_bytes)
        assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
        assert package["created"].endswith("Z") and package["software"].startswith("portal-")
        listed = {r["path"]: r for r in package["resources"]}
        assert set(listed) == names - {"datapackage.json", "datapackage-digest.json"}
        for path, resource in listed.items():
            content = z.read(path)
            assert resource["hash"] == "sha256:" + hashlib.sha256(content).hexdigest()
            assert resource["bytes"] == len(content) and resource["name"] == Path(path).name
        digest = json.loads(z.read("datapackage-digest.json"))
        assert digest == {"path": "datapackage.json",
                          "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest()}  # fmt: skip
        warc = z.read("archive/data.warc.gz")
        pages = [json.loads(line) for line in z.read("pages/pages.jsonl").decode().splitlines()]
        index = z.read("indexes/index.cdx").decode().splitlines()
    assert pages[0] == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    assert sorted(p["id"] for p in pages[1:]) == sorted(exported["ids"])
    assert all(p["url"].startswith("http") and p["ts"].endswith("Z") for p in pages[1:])
    assert package["mainPageUrl"] == pages[1]["url"]
    assert index == sorted(index, key=lambda s: s.encode()) and index
    by_offset = {r["offset"]: r for r in records(warc)}
    for line in index:
        fields = json.loads(line.split(" ", 2)[2])
        assert fields["filename"] == "data.warc.gz"
        assert by_offset[int(fields["offset"])]["uri"] == fields["url"]
    assert {p["url"] for p in pages[1:]} <= {json.loads(x.split(" ", 2)[2])["url"] for x in index}


def _wacz_bin() -> Path | None:
    for d in (pywb_bin(), ROOT / ".venv-replay" / "bin"):
        if d and (Path(d) / "wacz").exists():
            return Path(d) / "wacz"
    found = shutil.which("wacz")
    return Path(found) if found else None


@pytest.mark.skipif(  # `make test` installs it; under CI a missing one is a failure
    _wacz_bin() is None and not os.environ.get("CI"),
    reason="py-wacz not installed: .venv-replay/bin/pip install wacz==0.6.0 (docs/warc.md)",
)
def test_wacz_validate_passes(wacz):
    proc = subprocess.run(
        [str(_wacz_bin()), "validate", "-f", str(wacz["path"])], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation succeeded" in proc.stdout


@pytest.mark.parametrize("fmt", ["warc", "wacz"])
def test_export_command(crawled, tmp_path, fmt):
    out = tmp_path / f"ham-tan.{fmt}"
    proc = run_cli("--data-dir", str(crawled["data"]), "export", "--portal", "huyen-ham-tan",
                   "--format", fmt, "-o", str(out), check=True)  # fmt: skip
    assert "10 article(s) exported" in proc.stderr and "copied" in proc.stderr
    if fmt == "warc":
        assert warcio_check([out]).returncode == 0
    else:
        assert zipfile.ZipFile(out).testzip() is None
