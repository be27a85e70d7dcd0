"""ZIP bundles: the crawled sample portals bundled end to end, hostile file names, missing and
corrupt stored files, non-seekable output, memory."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import threading
import tracemalloc
import unicodedata
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from archive.bundle import BundleReport, safe_filename, write_bundle
from archive.config import Config
from archive.export import write_export
from archive.models import Document
from archive.schema import ArticleItem
from archive.store import Archive, ArticleRecord


class Sink(io.RawIOBase):
    """A write-only, non-seekable stream that keeps nothing."""

    def writable(self):
        return True

    def write(self, b):
        return len(b)


@pytest.fixture(scope="module")
def archive(crawled):
    a = Archive(Config.resolve(crawled["data"]))
    yield a
    a.close()


@pytest.fixture(scope="module")
def bundled(archive, tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "all.zip"
    with path.open("wb") as fh:
        report = write_bundle(
            archive, archive.iter_articles(), fh, description={"query": None, "portals": []}
        )
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
        names = zf.namelist()
    return {"path": path, "report": report, "members": members, "names": names}


def manifest_of(bundled) -> dict:
    return json.loads(bundled["members"]["manifest.json"])


def test_zip_opens_and_every_crc_checks(bundled):
    with zipfile.ZipFile(bundled["path"]) as zf:
        assert zf.testzip() is None
    assert len(bundled["names"]) == len(set(bundled["names"]))
    assert {"manifest.json", "articles.jsonl", "articles.csv", "SHA256SUMS"} <= set(
        bundled["names"]
    )


def test_sha256sums_cover_and_verify_every_other_member(bundled):
    members = bundled["members"]
    listed = {}
    for line in members["SHA256SUMS"].decode("utf-8").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert set(listed) == set(members) - {"SHA256SUMS"}
    bad = [n for n, d in listed.items() if hashlib.sha256(members[n]).hexdigest() != d]
    assert bad == []


def test_sha256sum_tool_accepts_the_bundle(bundled, tmp_path):
    if shutil.which("sha256sum") is None:
        pytest.skip("no sha256sum on this system")
    with zipfile.ZipFile(bundled["path"]) as zf:
        zf.extractall(tmp_path)
    proc = subprocess.run(
        ["sha256sum", "--check", "--strict", "--quiet", "SHA256SUMS"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_each_original_file_once_named_by_its_hash(bundled, crawled):
    store = crawled["data"] / "attachments"
    files = {n: data for n, data in bundled["members"].items() if n.startswith("files/")}
    digests = []
    for name, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        assert name.removeprefix("files/").startswith(digest[:12]), name
        assert (store / digest[:2] / digest).read_bytes() == data
        digests.append(digest)
    manifest = manifest_of(bundled)
    attachments = [a for art in manifest["articles"] for a in art["attachments"]]
    linked = {a["sha256"] for a in attachments if a["status"] == "downloaded"}
    assert sorted(digests) == sorted(linked)  # each linked file there, and once
    # the broken link (an HTML error page served for a PDF) is listed, with why, not included
    (broken,) = [a for a in attachments if a["status"] != "downloaded"]
    assert broken["status"] == "failed" and "HTML page instead" in broken["error"]
    assert broken.get("member") is None
    links = sum(len(art["attachments"]) for art in manifest["articles"])
    assert links > len(files)  # one file is linked by two articles, stored once
    assert [f["member"] for f in manifest["files"]] == list(files)
    assert bundled["report"] == BundleReport(
        articles=30, files=len(files), missing_files=0, bytes=sum(map(len, files.values()))
    )


def test_compression_fits_the_member(bundled):
    with zipfile.ZipFile(bundled["path"]) as zf:
        kinds = {i.filename: i.compress_type for i in zf.infolist()}
    for name, kind in kinds.items():
        already_compressed = name.endswith((".pdf", ".docx"))
        assert kind == (zipfile.ZIP_STORED if already_compressed else zipfile.ZIP_DEFLATED), name


def test_manifest_describes_the_export(bundled, archive):
    manifest = manifest_of(bundled)
    assert (manifest["format"], manifest["version"]) == ("portal-archive-bundle", 1)
    assert datetime.fromisoformat(manifest["created_at"]).tzinfo is not None
    assert manifest["description"] == {"query": None, "portals": []}
    articles = manifest["articles"]
    assert len(articles) == manifest["counts"]["articles"] == archive.summary()["articles"]
    assert len({a["id"] for a in articles}) == len(articles)
    for entry in articles:
        text = bundled["members"][entry["text"]].decode("utf-8")
        assert text.startswith(entry["title"] + "\n")
        assert entry["canonical_url"] in text.split("\n\n", 1)[0]


def test_plan_docx_listed_with_its_metadata(bundled, archive):
    (record,) = [r for r in archive.iter_articles() if "139/KH-UBND" in r.body]
    (entry,) = [a for a in manifest_of(bundled)["articles"] if a["id"] == record.id]
    (plan,) = [a for a in entry["attachments"] if a["file_type"] == "docx"]
    assert plan["filename"] == "ke-hoach-139-kh-ubnd-2024.docx"
    assert plan["status"] == "downloaded" and plan["title"]
    assert plan["member"].endswith("-ke-hoach-139-kh-ubnd-2024.docx")
    assert hashlib.sha256(bundled["members"][plan["member"]]).hexdigest() == plan["sha256"]
    with archive.session() as s:
        doc = s.get(Document, plan["sha256"])
        stored = {
            # The draft leaves number and date blank; archive.documents completes them from
            # the article that publishes it, and says so in number_source.
            "number": doc.number,
            "number_source": doc.number_source,
            "doc_kind": doc.doc_kind,
            "doc_date": doc.doc_date and doc.doc_date.isoformat(),
            "issuer": doc.issuer,
            "subject": doc.subject,
            "ocr": doc.ocr,
        }
    assert plan["document"] == stored
    assert stored["doc_kind"] == "Kế hoạch"
    assert (stored["number"], stored["doc_date"]) == ("139/KH-UBND", "2024-03-29")
    assert stored["number_source"] == f"article:{record.id}"
    assert "THANH XUÂN" in stored["issuer"] and stored["subject"]
    text = bundled["members"][entry["text"]].decode("utf-8")
    assert "139/KH-UBND" in text and record.body.strip() in text


def test_jsonl_and_csv_are_the_plain_exports(bundled, archive):
    for fmt in ("jsonl", "csv"):
        plain = io.BytesIO()
        write_export(archive.iter_articles(), plain, fmt)
        assert bundled["members"][f"articles.{fmt}"] == plain.getvalue(), fmt
    rows = list(csv.DictReader(io.StringIO(bundled["members"]["articles.csv"].decode("utf-8-sig"))))
    assert len(rows) == 30


def test_attachments_looked_up_once_per_batch_not_per_link(archive):
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(archive.engine, "before_cursor_execute", record)
    try:
        write_bundle(archive, archive.iter_articles(), Sink())
    finally:
        event.remove(archive.engine, "before_cursor_execute", record)
    assert len([s for s in statements if "FROM downloads" in s]) == 1  # 30 articles, 7 links


def test_non_seekable_output_gives_the_same_members(bundled, archive):
    read_fd, write_fd = os.pipe()
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(os.fdopen(read_fd, "rb").read()))
    reader.start()
    with os.fdopen(write_fd, "wb") as pipe:
        assert not pipe.seekable()
        done: list[int] = []
        write_bundle(
            archive,
            archive.iter_articles(),
            pipe,
            description={"query": None},
            progress=done.append,
        )
    reader.join()
    assert done[-1] == 30
    with zipfile.ZipFile(io.BytesIO(received[0])) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == bundled["names"]
        for name in bundled["names"]:
            if name not in ("manifest.json", "SHA256SUMS"):  # those carry the time
                assert zf.read(name) == bundled["members"][name], name


# --- hostile names, missing and corrupt files --------------------------------------------

PLAN = unicodedata.normalize("NFD", "Kế hoạch số 139.docx")
LONG = "Quyết định ban hành quy chế " * 20 + ".pdf"


@pytest.fixture
def hostile(tmp_path):
    """A real archive whose downloads carry dangerous names, one file gone, one altered."""
    archive = Archive(Config.resolve(tmp_path / "data"))
    portal = archive.upsert_portal(
        "p", name="P", unit="Quận P", base_url="http://p.gov.vn/", family="generic"
    )
    files = {  # url → (file name as the server sent it, bytes, what the store holds)
        "passwd": ("../../etc/passwd", b"%PDF-1.4 one", "same"),
        "slashes": ("a/b\\c\x00d\n\u202eexe.pdf", b"%PDF-1.4 two", "same"),
        "dots": ("..", b"%PDF-1.4 three", "same"),
        "plan": (PLAN, b"PK\x03\x04 plan", "same"),
        "long": (LONG, b"%PDF-1.4 long", "same"),
        "gone": ("gone.pdf", b"%PDF-1.4 gone", "missing"),
        "altered": ("altered.pdf", b"%PDF-1.4 original", "altered"),
    }
    store = archive.config.attachments_dir
    for key, (name, data, state) in files.items():
        sha = hashlib.sha256(data).hexdigest()
        if state != "missing":
            (store / sha[:2]).mkdir(exist_ok=True)
            (store / sha[:2] / sha).write_bytes(data if state == "same" else b"%PDF-1.4 0riginal")
        archive.record_download(
            f"http://p.gov.vn/f/{key}",
            sha256=sha,
            status="downloaded",
            filename=name,
            size=len(data),
            file_type="docx" if key == "plan" else "pdf",
        )
    archive.record_download(
        "http://p.gov.vn/f/failed", sha256=None, status="failed", error="HTTP 404"
    )
    links = [*files, "failed", "never"]
    item = ArticleItem.model_validate(
        {
            "portal": "p",
            "url": "http://p.gov.vn/a-1.html",
            "canonical_url": "http://p.gov.vn/a-1.html",
            "title": "Kế hoạch cải cách hành chính",
            "body": "Nội dung bài viết.",
            "fetched_at": datetime.now(UTC),
            "attachments": [{"url": f"http://p.gov.vn/f/{k}", "title": k} for k in links],
        }
    )
    archive.store_articles([item], portal)
    yield archive
    archive.close()


def bundle_of(archive) -> tuple[BundleReport, zipfile.ZipFile]:
    buf = io.BytesIO()
    report = write_bundle(archive, archive.iter_articles(), buf)
    return report, zipfile.ZipFile(buf)


def test_hostile_file_names_become_safe_member_names(hostile):
    report, zf = bundle_of(hostile)
    (article,) = json.loads(zf.read("manifest.json"))["articles"]
    member = {a["title"]: a.get("member") for a in article["attachments"]}
    for name in zf.namelist():
        assert not name.startswith("/") and "\\" not in name and ".." not in name, name
        assert not any(unicodedata.category(c)[0] == "C" for c in name), repr(name)
        assert len(name.encode()) <= 200 and name.count("/") <= 1, name
    assert member["passwd"].endswith("-passwd.pdf")
    assert member["slashes"].endswith("-cd exe.pdf")  # directories and controls gone
    assert member["dots"] == "files/" + hashlib.sha256(b"%PDF-1.4 three").hexdigest()[:12] + ".pdf"
    assert member["plan"].endswith("-Kế hoạch số 139.docx")  # NFC, Vietnamese kept
    assert member["long"].endswith(".pdf") and member["long"].startswith("files/")
    assert zf.testzip() is None and report.files == 5


def test_missing_and_corrupt_files_are_reported_not_included(hostile):
    report, zf = bundle_of(hostile)
    manifest = json.loads(zf.read("manifest.json"))
    attachments = {a["title"]: a for a in manifest["articles"][0]["attachments"]}
    assert attachments["gone"]["problem"] == "missing"
    assert attachments["altered"]["problem"] == "corrupt"
    for key in ("gone", "altered"):
        assert attachments[key]["member"] is None
        assert not [
            n for n in zf.namelist() if n.startswith(f"files/{attachments[key]['sha256'][:12]}")
        ]
    assert attachments["failed"] == {
        "url": "http://p.gov.vn/f/failed",
        "title": "failed",
        "status": "failed",
        "error": "HTTP 404",
    }
    assert attachments["never"]["status"] == "not_fetched"
    assert report.missing_files == manifest["counts"]["missing_files"] == 2
    assert manifest["counts"]["attachments_not_downloaded"] == 2
    assert {f["problem"] for f in manifest["files"] if "problem" in f} == {"missing", "corrupt"}


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\system32\\x.dll", "x.dll"),
        ("..", ""),
        ("...", ""),
        ("", ""),
        (None, ""),
        (".bashrc", "bashrc"),
        ("a\tb\r\nc.pdf", "a b c.pdf"),
        ("bad\u202efdp.exe", "badfdp.exe"),
        ('what?<now>:"x"|*.pdf', "what__now___x___.pdf"),
        (unicodedata.normalize("NFD", "Quyết định.pdf"), "Quyết định.pdf"),
    ],
)
def test_safe_filename(name, safe):
    assert safe_filename(name) == safe


def test_long_names_are_capped_keeping_the_extension():
    safe = safe_filename("Tờ trình " * 100 + ".docx")
    assert safe.endswith(".docx") and len(safe.encode()) <= 150
    assert safe.startswith("Tờ trình Tờ trình")


# --- memory ----------------------------------------------------------------------------


def test_a_large_file_is_copied_in_chunks(hostile):
    data = os.urandom(24 * 1024 * 1024)
    sha = hashlib.sha256(data).hexdigest()
    store = hostile.config.attachments_dir / sha[:2]
    store.mkdir(exist_ok=True)
    (store / sha).write_bytes(data)
    hostile.record_download(
        "http://p.gov.vn/f/big", sha256=sha, status="downloaded", filename="big.pdf", size=len(data)
    )
    records = list(hostile.iter_articles())
    records[0].attachments = [{"url": "http://p.gov.vn/f/big", "title": "big"}]
    del data
    tracemalloc.start()
    report = write_bundle(hostile, records, Sink())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.files == 1 and report.bytes == 24 * 1024 * 1024
    assert peak < 8 * 1024 * 1024, peak


def synthetic(n: int):
    for i in range(n):
        yield ArticleRecord(
            id=f"p-{i:06d}",
            portal="p",
            unit="Quận P",
            url=f"http://p/{i}",
            canonical_url=f"http://p/{i}",
            title=f"Kế hoạch số {i}/KH-UBND",
            published="2024-03-29",
            published_day=None,
            author=None,
            views=None,
            lead=None,
            body=f"Bài {i}: đẩy mạnh công tác tuyên truyền cải cách hành chính. " * 80,
            topics=["cchc"],
        )


def test_memory_does_not_grow_with_the_articles(tmp_path):
    archive = Archive(Config.resolve(tmp_path))
    try:

        def peak(n: int) -> int:
            tracemalloc.start()
            write_bundle(archive, synthetic(n), Sink())
            value = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            return value

        small, large = peak(300), peak(2000)
    finally:
        archive.close()
    # Each body takes ~10 KB in memory, its JSONL and CSV lines ~5 KB each; what may grow per
    # article is its entry in the ZIP central directory, kept until the end (~1 KB, measured).
    assert large - small < (2000 - 300) * 2048, (small, large)
