"""``portal-archive check``: does everything the database says is kept exist, and does the
search index agree with the database?

Three stores must agree: the database, the files beside it (raw responses gzip by sha256,
attachments by sha256) and the Whoosh index. The index is derived data: what it lacks or has
too much is repaired from the database (``--repair``). The files are the archive itself: a
missing or altered one cannot be repaired here and is reported as lost, with the URLs it held.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass, field

from sqlalchemy import select

from archive.models import ArticleVersion, Document, RawResponse
from archive.store import DOCUMENT_ID_PREFIX, Archive
from archive.warcfiles import abandoned_open_files, recover_open_files, warc_dir

CHUNK = 1 << 20


@dataclass
class CheckReport:
    articles: int = 0
    documents: int = 0
    index_missing: list[str] = field(default_factory=list)  # in the database, not indexed
    index_stale: list[str] = field(default_factory=list)  # indexed with an older content
    index_extra: list[str] = field(default_factory=list)  # indexed, gone from the database
    raw_checked: int = 0
    raw_lost: list[dict] = field(default_factory=list)  # {"sha256", "urls", "problem"}
    files_checked: int = 0
    files_lost: list[dict] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)
    warc_open: list[str] = field(default_factory=list)  # left open by a killed crawl
    warc_recovered: list[str] = field(default_factory=list)  # closed by --repair

    @property
    def index_ok(self) -> bool:
        return not (self.index_missing or self.index_stale or self.index_extra)

    @property
    def files_ok(self) -> bool:
        return not (self.raw_lost or self.files_lost)

    @property
    def warc_ok(self) -> bool:
        return len(self.warc_recovered) == len(self.warc_open)

    def as_dict(self) -> dict:
        return {
            **self.__dict__,
            "index_ok": self.index_ok,
            "files_ok": self.files_ok,
            "warc_ok": self.warc_ok,
        }


def _sha256_of_gzip(path) -> str:
    digest = hashlib.sha256()
    with gzip.open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check(archive: Archive, backend, *, deep: bool = False, repair: bool = False) -> CheckReport:
    """Compare the database with the search backend (search/backend.py) and the stored
    files. ``deep`` re-hashes every file (else only existence and size); ``repair`` brings
    the index in line."""
    from search.sync import index_states

    report = CheckReport()
    in_db = index_states(archive)
    report.documents = sum(i.startswith(DOCUMENT_ID_PREFIX) for i in in_db)
    report.articles = len(in_db) - report.documents
    in_index = backend.indexed_states()
    report.index_missing = sorted(i for i in in_db if i not in in_index)
    report.index_stale = sorted(i for i in in_db if i in in_index and in_index[i] != in_db[i])
    report.index_extra = sorted(i for i in in_index if i not in in_db)

    with archive.session() as s:
        raw: dict[str, list[str]] = {}
        for sha, url in s.execute(select(RawResponse.sha256, RawResponse.url)):
            raw.setdefault(sha, []).append(url)
        for sha, url in s.execute(
            select(ArticleVersion.raw_sha256, ArticleVersion.url).where(
                ArticleVersion.raw_sha256.isnot(None)
            )
        ):
            raw.setdefault(sha, []).append(url)
        files = list(s.execute(select(Document.sha256, Document.size, Document.first_url)))
    for sha, urls in raw.items():
        report.raw_checked += 1
        path = archive.raw.path(sha)
        problem = None
        if not path.is_file():
            problem = "missing"
        elif deep:
            try:
                if _sha256_of_gzip(path) != sha:
                    problem = "altered"
            except (OSError, EOFError, zlib.error):
                problem = "unreadable"
        if problem:
            report.raw_lost.append(
                {"sha256": sha, "urls": sorted(set(urls))[:5], "problem": problem}
            )
    store = archive.config.attachments_dir
    for sha, size, url in files:
        report.files_checked += 1
        path = store / sha[:2] / sha
        problem = None
        if not path.is_file():
            problem = "missing"
        elif path.stat().st_size != size:
            problem = "altered (size)"
        elif deep and _sha256_of(path) != sha:
            problem = "altered"
        if problem:
            report.files_lost.append({"sha256": sha, "urls": [url], "problem": problem})

    # WARC files a killed crawl left open: the next crawl of the portal closes them, or this
    directory = warc_dir(archive.config)
    report.warc_open = [p.name for p in abandoned_open_files(directory)]
    if repair and report.warc_open:
        report.warc_recovered = [p.name for p in recover_open_files(directory)]

    if repair and not report.index_ok:
        result = backend.sync(archive)
        report.repaired = {"indexed": result.indexed, "removed": result.deleted}
    return report
