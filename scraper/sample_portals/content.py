"""Articles of the sample portals, loaded from ``data/<slug>/articles.toml``.

The body mini-language: paragraphs separated by a blank line; a paragraph
``!img <src> | <caption>`` is an image followed by its caption; ``[[text|N]]`` inside a
paragraph is an inline link to ``attachments[N]``.
"""

from __future__ import annotations

import html
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
FILES_DIR = DATA_DIR / "files"

#: The real An Giang attachments (unedited copies of shared/samples/real, see its
#: SOURCES.md), by their name there → the file the sample portals serve. The tests and
#: benchmarks read them from here: one copy in the repository.
REAL_FILES = {
    "anphu.angiang.gov.vn__cv-lay-y-kien.pdf": "cv-lay-y-kien.pdf",
    "anphu.angiang.gov.vn__qd-07-2022-qd-ubnd-chuc-nang-phong-kt-ht-signed.pdf": "qd-07-2022-qd-ubnd-signed.pdf",
    "anphu.angiang.gov.vn__qd-07-2022-qd-ubnd-chuc-nang-phong-kt-ht.docx": "qd-07-2022-qd-ubnd.docx",
    "anphu.angiang.gov.vn__tb-thu-hoi-dat-signed.pdf": "tb-thu-hoi-dat-signed.pdf",
    "longxuyen.angiang.gov.vn__qd-04-2021-ubnd-cho-moi-chuc-nang-phong-tnmt-signed.pdf": "qd-04-2021-qd-ubnd-signed.pdf",
}


def real_file(name: str) -> Path:
    """A real attachment by its name in shared/samples/real."""
    return FILES_DIR / REAL_FILES[name]


_LINK = re.compile(r"\[\[(?P<text>[^|\]]+)\|(?P<index>\d+)\]\]")


@dataclass(frozen=True)
class Attachment:
    file: str  # name under data/files/; "" for a broken link (the server's soft 404 answers)
    href: str  # root-relative URL it is served at
    text: str  # link text


@dataclass(frozen=True)
class Block:
    kind: str  # "p" or "img"
    text: str  # paragraph text (may hold [[text|N]] links) or the image caption
    src: str = ""


@dataclass(frozen=True)
class Article:
    key: str
    category: str
    path: str
    title: str
    published: datetime  # naive, Asia/Ho_Chi_Minh
    author: str | None
    views: int | None
    lead: str | None
    blocks: tuple[Block, ...]
    attachments: tuple[Attachment, ...]
    modified: datetime | None = None  # naive, Asia/Ho_Chi_Minh; None: never edited

    @property
    def last_modified(self) -> datetime:
        """When the article last changed (its Last-Modified): edited, else published."""
        return self.modified or self.published

    def paragraph_html(self, text: str, inline_links: bool = True) -> str:
        """Escape ``text`` and turn its ``[[text|N]]`` markers into links."""
        out, pos = [], 0
        for m in _LINK.finditer(text):
            out.append(html.escape(text[pos : m.start()]))
            label = html.escape(m["text"])
            if inline_links:
                href = html.escape(self.attachments[int(m["index"])].href)
                out.append(f'<a href="{href}" target="_blank">{label}</a>')
            else:
                out.append(label)
            pos = m.end()
        out.append(html.escape(text[pos:]))
        return "".join(out)

    def plain(self, text: str) -> str:
        return _LINK.sub(lambda m: m["text"], text)

    def body_text(self) -> str:
        """Lead, paragraphs and captions joined by newlines (what expected.json describes)."""
        parts = [self.lead] if self.lead else []
        parts += [self.plain(b.text) for b in self.blocks]
        return "\n".join(parts)


def _nfc(value: str | None) -> str | None:
    return None if value is None else unicodedata.normalize("NFC", value.strip())


def parse_blocks(body: str) -> tuple[Block, ...]:
    """A body in the mini-language (see the module docstring) → its blocks."""
    blocks = []
    for raw in re.split(r"\n\s*\n", body.strip()):
        para = " ".join(raw.split())
        if para.startswith("!img "):
            src, _, caption = para[5:].partition("|")
            blocks.append(Block("img", _nfc(caption), src.strip()))
        elif para:
            blocks.append(Block("p", _nfc(para)))
    return tuple(blocks)


def load_articles(slug: str) -> list[Article]:
    """All articles of portal ``slug`` in file order."""
    with open(DATA_DIR / slug / "articles.toml", "rb") as fh:
        raw = tomllib.load(fh)
    articles = []
    for item in raw["article"]:
        articles.append(
            Article(
                key=item["key"],
                category=item["category"],
                path=item["path"],
                title=_nfc(item["title"]),
                published=datetime.fromisoformat(item["published"]),
                author=_nfc(item.get("author")),
                views=item.get("views"),
                lead=_nfc(item.get("lead")),
                blocks=parse_blocks(item["body"]),
                attachments=tuple(Attachment(**a) for a in item.get("attachments", [])),
            )
        )
    return articles


_PATH_ID_END = re.compile(r"(\w+)(\.(?:html?|aspx))$")


def replicate(articles: list[Article], scale: int) -> list[Article]:
    """The articles plus ``scale - 1`` dated-back copies of each, for benchmarks.

    Copy k gets a unique path (the id before the extension gains ``k`` as four digits), a
    numbered title and a date k weeks earlier; texts and attachments stay the same.
    """
    from dataclasses import replace
    from datetime import timedelta

    out = list(articles)
    for k in range(1, scale):
        for a in articles:
            path = _PATH_ID_END.sub(lambda m, k=k: f"{m[1]}{k:04d}{m[2]}", a.path)
            out.append(
                replace(
                    a,
                    key=f"{a.key}-x{k}",
                    path=path,
                    title=f"{a.title} ({k})",
                    published=a.published - timedelta(weeks=k),
                )
            )
    return out
