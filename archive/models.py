"""The archive's database schema (SQLAlchemy 2.0).

Only ``archive/`` talks SQL; the CLI, the spider pipeline and the search index call the
functions in :mod:`archive.store`.

An article is identified by its canonical URL (``Article.id`` = portal slug + hash of it).
Its content lives in ``ArticleVersion`` rows: a crawl that finds the same content only touches
``last_seen``; a crawl that finds changed content adds a version and keeps the old one.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Portal(Base):
    __tablename__ = "portals"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(300), default="")
    base_url: Mapped[str] = mapped_column(String(500))
    family: Mapped[str] = mapped_column(String(40), default="generic")
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    articles: Mapped[list[Article]] = relationship(back_populates="portal")


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(40), default="cli")
    # "stopped: closespider_timeout": Scrapy's close reasons are up to 27 characters.
    status: Mapped[str] = mapped_column(String(60), default="running")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    articles_updated: Mapped[int] = mapped_column(Integer, default=0)
    articles_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    items_invalid: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict] = mapped_column(JSON, default=dict)

    portal: Mapped[Portal] = relationship()


class RawResponse(Base):
    """One HTTP response as fetched. The gzip-compressed body is stored once per sha256
    under ``<data>/raw/``; this row records the fetch (URL, status, headers, time)."""

    __tablename__ = "raw_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The WARC record of this fetch (scraper/warc.py; docs/warc.md): a file name in
    # <data>/warc/ (an imported file: its absolute path), where its gzip member starts and
    # how long it is; "response" or "revisit"; the payload digest ("sha1:<base32>"), which
    # decides whether the next fetch of the URL is a revisit. NULL: fetched with WARC off.
    warc_file: Mapped[str | None] = mapped_column(Text)
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)
    warc_length: Mapped[int | None] = mapped_column(BigInteger)
    warc_type: Mapped[str | None] = mapped_column(String(10))
    warc_digest: Mapped[str | None] = mapped_column(String(40))
    # A capture taken from a web archive (``crawl --source wayback``, scraper/wayback.py):
    # the URL actually fetched, e.g. https://web.archive.org/web/20240131083015id_/<url>,
    # while ``url`` is the original URL and ``fetched_at`` the capture time. NULL: fetched
    # from the site itself.
    via: Mapped[str | None] = mapped_column(Text)


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[str] = mapped_column(String(140), primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"), index=True)
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version_count: Mapped[int] = mapped_column(Integer, default=1)

    portal: Mapped[Portal] = relationship(back_populates="articles")
    versions: Mapped[list[ArticleVersion]] = relationship(
        back_populates="article", order_by="ArticleVersion.version"
    )


class ArticleUrl(Base):
    """Every URL an article was reached by (tracking parameters, print views, aliases)."""

    __tablename__ = "article_urls"

    # Scrapy fetches URLs of up to 2083 characters (URLLENGTH_LIMIT); PostgreSQL checks.
    url: Mapped[str] = mapped_column(String(2083), primary_key=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("articles.id"), index=True)


class ArticleVersion(Base):
    __tablename__ = "article_versions"
    __table_args__ = (
        UniqueConstraint("article_id", "version"),
        Index("ix_versions_current", "is_current", "article_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("articles.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    published: Mapped[str | None] = mapped_column(String(40))  # ISO 8601, +07:00, or a date
    published_day: Mapped[date | None] = mapped_column(Date, index=True)
    author: Mapped[str | None] = mapped_column(Text)
    views: Mapped[int | None] = mapped_column(Integer)
    lead: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    topics: Mapped[list] = mapped_column(JSON, default=list)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    # The WARC response record holding the page this version was extracted from.
    warc_file: Mapped[str | None] = mapped_column(Text)
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)
    warc_length: Mapped[int | None] = mapped_column(BigInteger)

    article: Mapped[Article] = relationship(back_populates="versions")
    attachments: Mapped[list[Attachment]] = relationship(
        order_by="Attachment.position", cascade="all, delete-orphan"
    )
    doc_refs: Mapped[list[DocReference]] = relationship(
        order_by="DocReference.position", cascade="all, delete-orphan"
    )


class Attachment(Base):
    """A file an article version links (a link for now; downloads come later)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("article_versions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")


class DocReference(Base):
    """A document number cited in an article version ("139/KH-UBND")."""

    __tablename__ = "doc_references"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("article_versions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str | None] = mapped_column(String(60))
    date: Mapped[date | None] = mapped_column(Date)
    issuer: Mapped[str | None] = mapped_column(Text)


class Download(Base):
    """One attachment URL fetched (or not): which stored file it gave."""

    __tablename__ = "downloads"

    url: Mapped[str] = mapped_column(String(2083), primary_key=True)  # as ArticleUrl.url
    sha256: Mapped[str | None] = mapped_column(ForeignKey("documents.sha256"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # downloaded | failed
    error: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    filename: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    # The WARC response record of the download that gave the file.
    warc_file: Mapped[str | None] = mapped_column(Text)
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)
    warc_length: Mapped[int | None] = mapped_column(BigInteger)


class Document(Base):
    """A stored attachment file, once per content (sha256), with what was read from it."""

    __tablename__ = "documents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    file_type: Mapped[str] = mapped_column(String(20))  # sniffed: pdf, docx, doc, xlsx, …
    filename: Mapped[str | None] = mapped_column(Text)
    first_url: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Text and metadata, filled by archive.documents.process_documents.
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    text: Mapped[str | None] = mapped_column(Text)
    text_method: Mapped[str | None] = mapped_column(String(20))
    ocr: Mapped[bool] = mapped_column(Boolean, default=False)
    pages: Mapped[int | None] = mapped_column(Integer)
    legacy_encoding: Mapped[str | None] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(Text)
    doc_kind: Mapped[str | None] = mapped_column(String(60))
    number: Mapped[str | None] = mapped_column(String(120), index=True)
    issuer: Mapped[str | None] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(Text)
    doc_date: Mapped[date | None] = mapped_column(Date)
    subject: Mapped[str | None] = mapped_column(Text)
    signer: Mapped[str | None] = mapped_column(Text)
    meta_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    # Everything archive.docmeta read (recipients, signer title, a draft's printed number and
    # partial date, …), as a JSON object; the columns above are what queries need.
    meta: Mapped[dict | None] = mapped_column(JSON)
    # Where ``number`` came from: "header" (printed in the file) or "article:<id>" when a
    # draft's blank number was completed from the article that published the file and cites
    # it (same kind, same symbol, same month); None when there is no number.
    number_source: Mapped[str | None] = mapped_column(String(120))


# --- staff accounts and collections (archive.users) -----------------------------------------


class User(Base):
    """A staff account of the web application. Only :mod:`archive.users` writes these rows."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-case (archive.users canonicalises it), so "Admin" and "admin" are one name.
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string format
    display_name: Mapped[str | None] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Collection(Base):
    """A user's named set of articles ("Kế hoạch CCHC 2024 cần đối chiếu")."""

    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    items: Mapped[list[CollectionItem]] = relationship(
        order_by="CollectionItem.position", cascade="all, delete-orphan"
    )


class CollectionItem(Base):
    """One article in one collection; ``position`` keeps the order the user added them in
    (a bulk add gives thousands of rows the same ``added_at``)."""

    __tablename__ = "collection_items"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[str] = mapped_column(ForeignKey("articles.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


# --- crawl locks and schedules (archive.locks, archive.schedules) ---------------------------


class CrawlLock(Base):
    """One portal being crawled, and by whom. Only :mod:`archive.locks` writes these rows.

    The primary key makes taking a lock one INSERT, atomic on SQLite and PostgreSQL: of two
    processes inserting the same slug, exactly one succeeds. ``token`` is new at each
    acquisition, so that a stale lock is taken over only if nobody took it over first.
    """

    __tablename__ = "crawl_locks"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(300))  # "cli pid 1234 on host", …
    token: Mapped[str] = mapped_column(String(32))
    pid: Mapped[int] = mapped_column(Integer)
    hostname: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Schedule(Base):
    """A recurring crawl: a target (slug, comma-separated slugs, or "all") and a crontab
    expression in a time zone. Only :mod:`archive.schedules` writes these rows."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(2000))
    cron: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # UTC. A next_run_at in the past when the scheduler starts is a run missed while it was
    # down: it fires once, then next_run_at moves to the first slot after now.
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_message: Mapped[str | None] = mapped_column(Text)


class ScheduleFire(Base):
    """One time a schedule came due: the crawl it started, or why it was skipped."""

    __tablename__ = "schedule_fires"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    scheduled_for: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # started | finished | failed | skipped | interrupted | abandoned
    status: Mapped[str] = mapped_column(String(20))
    slugs: Mapped[list] = mapped_column(JSON, default=list)  # the portals crawled
    busy: Mapped[dict] = mapped_column(JSON, default=dict)  # slug -> who holds its lock
    message: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    # slug -> Scrapyd job id, when the crawl was handed to Scrapyd (archive/scrapyd.py)
    jobs: Mapped[dict | None] = mapped_column(JSON)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EntryUnit(Base):
    """An archived entry (an article, or a document as ``doc:<sha256>``) and an administrative
    unit it belongs to: ``issuer`` (the portal's unit as it was on the publication date; for a
    document, the unit named in its issuer) or ``mention`` (a unit its text names). Filled by
    :func:`archive.unit_links.link_units`; ``unit_key`` is a key of ``admin_units``
    (``009@pre2025``), not a foreign key, so that linking needs no ``units load``."""

    __tablename__ = "entry_units"

    entry_id: Mapped[str] = mapped_column(String(140), primary_key=True)
    unit_key: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(10), primary_key=True)  # "issuer" | "mention"


class EntryUnitState(Base):
    """What an entry's links were computed from (content, the portal's unit code, the
    gazetteer's data and rules), hashed: a different value means they must be recomputed,
    and the search index re-indexes the entry."""

    __tablename__ = "entry_unit_states"

    entry_id: Mapped[str] = mapped_column(String(140), primary_key=True)
    state: Mapped[str] = mapped_column(String(40))


# A list of strings: an array on PostgreSQL (GIN-indexed, ``&&`` and ``@>``), JSON elsewhere.
_StringList = JSON().with_variant(postgresql.ARRAY(Text), "postgresql")


class SearchEntry(Base):
    """One entry of the PostgreSQL search backend (search/postgres.py): an article or a
    document as the search index sees it, with its terms as a ``tsvector`` made in Python by
    the index's own analyzer (search/analysis.py), so both backends match the same tokens.

    The table exists on SQLite too (one schema for both databases; the migrations are checked
    against the models there), where it stays empty: the Whoosh backend is SQLite's.
    ``published`` is the Vietnamese wall-clock time (naive), what filters and sorts read;
    ``pub`` the value as indexed (ISO date or datetime with offset), given back in hits."""

    __tablename__ = "search_entries"

    id: Mapped[str] = mapped_column(String(140), primary_key=True)
    type: Mapped[str] = mapped_column(String(10))  # "article" | "document"
    portal: Mapped[str] = mapped_column(String(100), index=True)
    topics: Mapped[list[str]] = mapped_column(_StringList)
    doc_kinds: Mapped[list[str]] = mapped_column(_StringList)  # kind slugs: "ke-hoach"
    units: Mapped[list[str]] = mapped_column(_StringList)  # unit keys: "009@pre2025"
    year: Mapped[int | None] = mapped_column(Integer)
    published: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    pub: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(64))  # what the entry was indexed from
    title: Mapped[str] = mapped_column(Text)
    lead: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    terms: Mapped[str] = mapped_column(Text().with_variant(postgresql.TSVECTOR(), "postgresql"))

    __table_args__ = (
        Index("ix_search_entries_terms", "terms", postgresql_using="gin"),
        Index("ix_search_entries_topics", "topics", postgresql_using="gin"),
        Index("ix_search_entries_doc_kinds", "doc_kinds", postgresql_using="gin"),
        Index("ix_search_entries_units", "units", postgresql_using="gin"),
    )
