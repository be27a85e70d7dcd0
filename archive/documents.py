"""Attachments as documents: their text, their official header, and the articles that
publish or cite them.

``process_documents`` reads every stored file not processed yet (text with
:mod:`archive.doctext`, header with :mod:`archive.docmeta`). ``document_articles`` links a
document to the articles that attach it and to those whose ``doc_refs`` cite it: same
number, same year and same issuer (numbers restart every year and every UBND uses
``KH-UBND``, so a number alone is not an identity).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy import select

from archive.models import (
    ArticleVersion,
    Attachment,
    DocReference,
    Document,
    Download,
)
from archive.store import Archive, utcnow
from archive.text import fold_lower

#: Abbreviations written either way in issuers ("UBND" = "Ủy ban nhân dân").
ISSUER_ABBREVIATIONS = (
    ("uy ban nhan dan", "ubnd"),
    ("hoi dong nhan dan", "hdnd"),
    ("thanh pho", "tp"),
)
_LEVEL_WORDS = re.compile(r"\b(tinh|thanh pho|tp|quan|huyen|thi xa|phuong|xa|thi tran)\b")


def issuer_key(issuer: str | None) -> str | None:
    """A comparable form of an issuer: folded, abbreviations unified, spaces collapsed."""
    if not issuer:
        return None
    key = fold_lower(issuer)
    for long, short in ISSUER_ABBREVIATIONS:
        key = key.replace(long, short)
    return " ".join(re.sub(r"[^\w\s]", " ", key).split()) or None


def _names_someone(cited: str | None) -> bool:
    """A cited issuer precise enough to identify one body ("UBND quận Thanh Xuân", not a
    bare "UBND quận")."""
    key = issuer_key(cited)
    return bool(key and _LEVEL_WORDS.search(key) and len(key.split()) >= 3)


def _issuer_matches(document: str | None, cited: str | None) -> bool:
    """The cited issuer names the document's issuer ("UBND quận Thanh Xuân" ~ "ỦY BAN NHÂN
    DÂN QUẬN THANH XUÂN"); a bare "UBND quận" names no one in particular and does not."""
    a, b = issuer_key(document), issuer_key(cited)
    if not a or not b or not _names_someone(cited):
        return False
    return a.endswith(b) or b.endswith(a) or a == b


def _year(number: str, when: date | None) -> int | None:
    m = re.search(r"/(\d{4})/", number)
    return int(m.group(1)) if m else (when.year if when else None)


@dataclass
class DocumentLinks:
    attached_by: list[str]  # article ids that link the file
    cited_by: list[str]  # article ids whose doc_refs cite it (number + year + issuer)


def document_articles(archive: Archive, sha256: str) -> DocumentLinks:
    with archive.session() as s:
        doc = s.get(Document, sha256)
        if doc is None:
            return DocumentLinks([], [])
        attached = sorted(
            set(
                s.scalars(
                    select(ArticleVersion.article_id)
                    .join(Attachment, Attachment.version_id == ArticleVersion.id)
                    .join(Download, Download.url == Attachment.url)
                    .where(Download.sha256 == sha256, ArticleVersion.is_current.is_(True))
                )
            )
        )
        cited: set[str] = set()
        if doc.number:
            year = _year(doc.number, doc.doc_date)
            rows = s.execute(
                select(DocReference, ArticleVersion.article_id)
                .join(ArticleVersion, ArticleVersion.id == DocReference.version_id)
                .where(DocReference.number == doc.number, ArticleVersion.is_current.is_(True))
            )
            for ref, article_id in rows:
                if year is not None and _year(ref.number, ref.date) not in (year,):
                    continue
                if _issuer_matches(doc.issuer, ref.issuer):
                    cited.add(article_id)
        return DocumentLinks(attached, sorted(cited))


def process_documents(
    archive: Archive,
    *,
    force: bool = False,
    ocr: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Extract text and header metadata of every stored document not processed yet."""
    from archive.docmeta import parse_document
    from archive.doctext import DocTextError, extract_text

    with archive.session() as s:
        query = select(Document.sha256, Document.filename)
        if not force:
            query = query.where(Document.processed_at.is_(None))
        todo = list(s.execute(query))
    for n, (sha, filename) in enumerate(todo, 1):
        path = archive.config.attachments_dir / sha[:2] / sha
        values: dict = {"processed_at": utcnow(), "error": None}
        try:
            result = extract_text(path.read_bytes(), filename, ocr=ocr)
        except (DocTextError, OSError) as exc:
            values["error"] = str(exc)[:500]
        else:
            meta = parse_document(result.text)
            values.update(
                meta=_jsonable(asdict(meta)),
                number_source="header" if meta.number else None,
                text=result.text,
                text_method=result.method,
                ocr=result.ocr,
                pages=result.pages,
                legacy_encoding=result.legacy_encoding,
                doc_kind=meta.kind,
                number=meta.number,
                issuer=meta.issuer,
                place=meta.place,
                doc_date=meta.date,
                subject=meta.subject,
                signer=meta.signer,
                meta_complete=meta.complete,
            )
        with archive.session() as s:
            doc = s.get(Document, sha)
            for key, value in values.items():
                setattr(doc, key, value)
        if progress:
            progress(n, len(todo))
    complete_draft_numbers(archive)
    return len(todo)


def _symbol(number: str) -> str:
    """The symbol part of a number, comparable: "139/KH-UBND" and "/KH-UBND" -> "kh-ubnd"."""
    return fold_lower(number.rsplit("/", 1)[-1]).strip()


def complete_draft_numbers(archive: Archive) -> int:
    """Give a draft whose number is blank ("Số: /KH-UBND") the number the article that
    publishes it cites, when exactly one citation of that article fits: same kind, same
    symbol, a date in the draft's month (or year). The source is recorded
    (``number_source = "article:<id>"``) and the date completed from the citation; a draft
    with no fitting citation, or several, keeps its blank number. Returns how many were
    completed."""
    completed = 0
    with archive.session() as s:
        drafts = s.scalars(
            select(Document).where(Document.number.is_(None), Document.processed_at.isnot(None))
        ).all()
        for doc in drafts:
            meta = doc.meta or {}
            raw = meta.get("number_raw")
            if not raw or not doc.doc_kind:
                continue
            partial = meta.get("date_partial") or (doc.doc_date.isoformat() if doc.doc_date else "")
            rows = s.execute(
                select(DocReference, ArticleVersion.article_id)
                .join(ArticleVersion, ArticleVersion.id == DocReference.version_id)
                .join(Attachment, Attachment.version_id == ArticleVersion.id)
                .join(Download, Download.url == Attachment.url)
                .where(Download.sha256 == doc.sha256, ArticleVersion.is_current.is_(True))
            ).all()
            fits: dict[str, tuple[DocReference, str]] = {}
            for ref, article_id in rows:
                if _symbol(ref.number) != _symbol(raw) or ref.kind != doc.doc_kind:
                    continue
                if ref.date is None or not ref.date.isoformat().startswith(partial):
                    continue
                if _names_someone(ref.issuer) and not _issuer_matches(doc.issuer, ref.issuer):
                    continue  # the article attaches it, but cites another body's plan
                fits.setdefault(ref.number, (ref, article_id))
            if len(fits) != 1:
                continue
            ref, article_id = next(iter(fits.values()))
            doc.number = ref.number
            doc.number_source = f"article:{article_id}"
            if doc.doc_date is None:
                doc.doc_date = ref.date
            completed += 1
    return completed


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
