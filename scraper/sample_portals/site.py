"""Base class of a simulated portal: pre-rendered pages plus routing shared by all families."""

from __future__ import annotations

import base64
import hashlib
import html
import mimetypes
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote

from .content import FILES_DIR, Article, load_articles
from .portals import PortalSpec

HTML_TYPE = "text/html; charset=utf-8"
# A 1x1 grey PNG served for every image an article or listing shows.
PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNoAAAAggCBd81ytgAAAABJRU5ErkJggg=="
)
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ROBOTS_TXT = "User-agent: *\nDisallow: /admin/\n"
TRACKING = "?utm_source=zalo&utm_medium=share"
FBCLID = "?fbclid=IwAR2mQ8xZ0dVnNpL7kq3Tb1sVh4cJt9uYw"

esc = html.escape


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def file_response(name: str, cache: dict[str, bytes]) -> Response:
    if name not in cache:
        cache[name] = (FILES_DIR / name).read_bytes()
    ctype = DOCX_TYPE if name.endswith(".docx") else mimetypes.guess_type(name)[0]
    disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
    return Response(
        200,
        cache[name],
        {"Content-Type": ctype or "application/octet-stream", "Content-Disposition": disposition},
    )


class PortalSite:
    """One portal: renders every page once for a base URL, then answers requests from memory.

    Subclasses (one per software family) implement the page templates and ``route``,
    which maps a path and its query parameters to a page key ("home", "list:<cat>:<n>",
    "article:<key>", "print:<key>") or None (the soft 404).
    """

    family = ""
    page_size = 2

    def __init__(self, spec: PortalSpec) -> None:
        self.spec = spec
        self.articles: list[Article] = load_articles(spec.slug)
        self.by_path = {a.path: a for a in self.articles}
        self.base = ""
        self.pages: dict[str, bytes] = {}
        self._files: dict[str, str] = {}  # href -> file name
        self._images: set[str] = set()
        self._file_cache: dict[str, bytes] = {}
        for a in self.articles:
            for att in a.attachments:
                if att.file:  # a broken link is answered by the soft 404 page
                    self._files[att.href] = att.file
            self._images.update(b.src for b in a.blocks if b.kind == "img")

    # ----- data helpers -------------------------------------------------------------
    def newest(self, category: str | None = None) -> list[Article]:
        items = [a for a in self.articles if category in (None, a.category)]
        return sorted(items, key=lambda a: a.published, reverse=True)

    def listing_entries(self, category: str) -> list[tuple[str, str, object, Article | None]]:
        """(path, title, published, article-or-None) newest first, removed article included."""
        rows = [(a.path, a.title, a.published, a) for a in self.newest(category)]
        removed = self.spec.removed
        if removed.category == category:
            rows.append((removed.path, removed.title, removed.published, None))
            rows.sort(key=lambda r: r[2], reverse=True)
        return rows

    def page_count(self, category: str) -> int:
        n = len(self.listing_entries(category))
        return max(1, -(-n // self.page_size))

    def related(self, article: Article, limit: int = 4) -> list[Article]:
        return [a for a in self.newest(article.category) if a is not article][:limit]

    def category_title(self, slug: str) -> str:
        return next(c.title for c in self.spec.categories if c.slug == slug)

    @staticmethod
    def summary(article: Article, limit: int = 220) -> str:
        text = article.lead or article.plain(article.blocks[0].text)
        return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "..."

    @staticmethod
    def hexid(path: str) -> str:
        return hashlib.md5(path.encode()).hexdigest().upper()

    # ----- rendering ----------------------------------------------------------------
    def build(self, base: str) -> None:
        """Render every page for ``base`` ("http://127.0.0.1:PORT")."""
        self.base = base
        pages = {"home": self.render_home(), "soft404": self.render_soft404()}
        for cat in self.spec.categories:
            for n in range(1, self.page_count(cat.slug) + 1):
                pages[f"list:{cat.slug}:{n}"] = self.render_listing(cat.slug, n)
        for a in self.articles:
            pages[f"article:{a.key}"] = self.render_article(a)
            pages[f"print:{a.key}"] = self.render_print(a)
        self.pages = {k: v.encode("utf-8") for k, v in pages.items()}

    def render_home(self) -> str:
        raise NotImplementedError

    def render_listing(self, category: str, page: int) -> str:
        raise NotImplementedError

    def render_article(self, article: Article) -> str:
        raise NotImplementedError

    def render_print(self, article: Article) -> str:
        raise NotImplementedError

    def render_soft404(self) -> str:
        raise NotImplementedError

    def route(self, path: str, params: dict[str, list[str]]) -> str | None:
        raise NotImplementedError

    # ----- request handling ---------------------------------------------------------
    def handle(self, path: str, query: str) -> Response:
        if path == "/robots.txt":
            return Response(200, ROBOTS_TXT.encode(), {"Content-Type": "text/plain; charset=utf-8"})
        if path == "/favicon.ico":
            return Response(404, b"Not Found", {"Content-Type": "text/plain; charset=utf-8"})
        if path in self._files:
            return file_response(self._files[path], self._file_cache)
        if path in self._images or path.startswith("/_img/"):
            return Response(200, PIXEL_PNG, {"Content-Type": "image/png"})
        key = self.route(path, parse_qs(query, keep_blank_values=True))
        body = self.pages.get(key or "soft404", self.pages["soft404"])
        return Response(200, body, {"Content-Type": HTML_TYPE})

    @staticmethod
    def int_param(params: dict[str, list[str]], name: str, default: int = 1) -> int:
        try:
            return int(params.get(name, [str(default)])[0])
        except ValueError:
            return default
