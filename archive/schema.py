"""Typed items that cross from the scraper to the archive.

The spider yields plain dicts; the pipeline validates them into :class:`ArticleItem`. A page
that fails validation is counted and logged with its URL, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Topic = Literal["cchc", "dvhc"]


def _nfc(value: object) -> object:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def article_id(portal: str, canonical_url: str) -> str:
    """Readable stable id: portal slug + hash of the canonical URL."""
    digest = hashlib.sha1(canonical_url.encode("utf-8")).hexdigest()[:12]
    return f"{portal}-{digest}"


class _Model(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _normalise_text(cls, value: object) -> object:
        return _nfc(value)


class AttachmentLink(_Model):
    url: str = Field(pattern=r"^https?://")
    title: str = ""


class DocRefItem(_Model):
    number: str = Field(min_length=3)
    kind: str | None = None
    date: dt.date | None = None
    issuer: str | None = None


class ArticleItem(_Model):
    """One article as extracted from one fetched page."""

    portal: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")
    canonical_url: str = Field(pattern=r"^https?://")
    title: str = Field(min_length=1)
    published: datetime | date | None = None
    author: str | None = None
    views: int | None = Field(default=None, ge=0)
    lead: str | None = None
    body: str = Field(min_length=1)
    attachments: list[AttachmentLink] = []
    doc_refs: list[DocRefItem] = []
    topics: list[Topic] = []
    fetched_at: datetime
    raw_sha256: str | None = None
    crawl_run_id: int | None = None
    #: The WARC response record of the page (file in <data>/warc/ or an imported file's path).
    warc_file: str | None = None
    warc_offset: int | None = Field(default=None, ge=0)
    warc_length: int | None = Field(default=None, ge=0)

    @field_validator("published")
    @classmethod
    def _aware(cls, value: datetime | date | None) -> datetime | date | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("published datetime must be timezone-aware")
        return value

    @property
    def id(self) -> str:
        return article_id(self.portal, self.canonical_url)

    def content_hash(self) -> str:
        """Hash of what makes a new version: text, dates, attachments (not views)."""
        h = hashlib.sha256()
        published = self.published.isoformat() if self.published else ""
        parts = [self.title, published, self.author or "", self.lead or "", self.body]
        parts += [f"{a.url}\t{a.title}" for a in self.attachments]
        for part in parts:
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()
