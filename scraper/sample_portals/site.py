"""Base class of a simulated portal: rendered pages plus routing shared by all families.

With validators on (SampleWorld's default), article pages, their print views and
attachments carry ``ETag`` (a hash of the bytes served) and ``Last-Modified`` (the article's
last change) and answer a matching ``If-None-Match`` / ``If-Modified-Since`` with
``304 Not Modified``; listings and the home page carry none, so a re-crawl always gets them
whole.
"""

from __future__ import annotations

import base64
import hashlib
import html
import mimetypes
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

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
VN = ZoneInfo("Asia/Ho_Chi_Minh")
#: A portal with at most this many pages renders them all when built (the sample portals,
#: the crawl benchmark); a bigger one renders each page when first asked for and keeps the
#: CACHE_PAGES most recently served (10,000 articles would otherwise hold ~1 GB).
EAGER_PAGES = 3_000
CACHE_PAGES = 2_000


def etag_of(body: bytes) -> str:
    """A strong entity tag: a hash of the bytes served."""
    return '"' + hashlib.blake2b(body, digest_size=10).hexdigest() + '"'


def http_date(local: datetime) -> str:
    """A naive Asia/Ho_Chi_Minh time as an HTTP date (``Mon, 17 Nov 2025 08:00:00 GMT``)."""
    return format_datetime(local.replace(tzinfo=VN).astimezone(UTC), usegmt=True)


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


def _tag(value: str) -> str:
    return value.strip().removeprefix("W/")


def is_not_modified(
    resp: Response, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    """Whether a 200 ``resp`` answers these request validators with 304 (RFC 9110 §13.1):
    ``If-None-Match`` decides when sent (weak comparison, ``*``); otherwise
    ``If-Modified-Since`` against ``Last-Modified``, to the second."""
    if resp.status != 200:
        return False
    etag, modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
    if if_none_match is not None:
        asked = {_tag(t) for t in if_none_match.split(",")}
        return etag is not None and ("*" in asked or _tag(etag) in asked)
    if not (if_modified_since and modified):
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unparseable date is ignored, as servers do
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return parsedate_to_datetime(modified) <= since


class _Pages(Mapping):
    """``site.pages``: every page of a site by key, rendered on first use."""

    def __init__(self, site: PortalSite) -> None:
        self.site = site

    def __getitem__(self, key: str) -> bytes:
        return self.site.rendered(key)[0]

    def __iter__(self) -> Iterator[str]:
        return iter(self.site.page_keys())

    def __len__(self) -> int:
        return sum(1 for _ in self.site.page_keys())


class PortalSite:
    """One portal: renders its pages for a base URL, then answers requests from memory.

    Subclasses (one per software family) implement the page templates and ``route``,
    which maps a path and its query parameters to a page key ("home", "list:<cat>:<n>",
    "article:<key>", "print:<key>") or None (the soft 404).

    ``articles`` (and ``by_path``) may be changed between crawls; ``build`` then serves
    the change (``SampleWorld.edit`` / ``publish`` do both). ``validators`` (set by
    SampleWorld, on by default there): article pages and attachments send ETag /
    Last-Modified and answer conditional requests with 304.
    """

    family = ""
    page_size = 2
    validators = False

    def __init__(self, spec: PortalSpec) -> None:
        self.spec = spec
        self.articles: list[Article] = load_articles(spec.slug)
        self.by_path = {a.path: a for a in self.articles}
        self.base = ""
        self._files: dict[str, str] = {}  # href -> file name
        self._file_dates: dict[str, datetime] = {}  # href -> first published with it
        self._images: set[str] = set()
        self._file_cache: dict[str, bytes] = {}
        self._file_etags: dict[str, str] = {}
        self._rendered: OrderedDict[str, tuple[bytes, str]] = OrderedDict()  # key -> body, etag
        self._cache_limit: int | None = None
        self._lock = threading.Lock()
        self._derived: dict[object, object] = {}  # sorted views of ``articles``
        self._derived_of: tuple[int, int] = (0, 0)
        self._index()

    def _index(self) -> None:
        """Articles by key, attachments and images by path (new dicts: requests may be
        answered meanwhile)."""
        files, dates = {}, {}
        for a in self.articles:
            for att in a.attachments:
                if att.file:  # a broken link is answered by the soft 404 page
                    files[att.href] = att.file
                    dates[att.href] = min(dates.get(att.href, a.published), a.published)
            self._images.update(b.src for b in a.blocks if b.kind == "img")
        self.by_key = {a.key: a for a in self.articles}
        self._files, self._file_dates = files, dates

    # ----- data helpers -------------------------------------------------------------
    def _view(self, key: object, make):
        """A view of ``articles`` computed once until they change (pages of a 10,000-article
        portal would otherwise sort them all again for every page)."""
        token = (id(self.articles), len(self.articles))
        if token != self._derived_of:
            self._derived, self._derived_of = {}, token
        found = self._derived.get(key)
        if found is None:
            found = self._derived[key] = make()
        return found

    def newest(self, category: str | None = None) -> list[Article]:
        """The articles of ``category`` (None: all), newest first; do not change the list."""

        def make() -> list[Article]:
            items = [a for a in self.articles if category in (None, a.category)]
            return sorted(items, key=lambda a: a.published, reverse=True)

        return self._view(("newest", category), make)

    def rank(self, article: Article) -> int:
        """``article``'s position in ``newest(article.category)``."""

        def make() -> dict[str, int]:
            return {a.key: i for i, a in enumerate(self.newest(article.category))}

        return self._view(("rank", article.category), make)[article.key]

    def listing_entries(self, category: str) -> list[tuple[str, str, object, Article | None]]:
        """(path, title, published, article-or-None) newest first, removed article included."""

        def make() -> list[tuple[str, str, object, Article | None]]:
            rows = [(a.path, a.title, a.published, a) for a in self.newest(category)]
            removed = self.spec.removed
            if removed.category == category:
                rows.append((removed.path, removed.title, removed.published, None))
                rows.sort(key=lambda r: r[2], reverse=True)
            return rows

        return self._view(("listing", category), make)

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
        """Serve the pages for ``base`` ("http://127.0.0.1:PORT") and the current
        ``articles``: all rendered now, or on demand for a portal of more than EAGER_PAGES."""
        self.base = base
        self._derived_of = (0, 0)
        self.by_path = {a.path: a for a in self.articles}
        self._index()
        keys = list(self.page_keys())
        eager = len(keys) <= EAGER_PAGES
        rendered = OrderedDict((k, self._render(k)) for k in keys) if eager else OrderedDict()
        with self._lock:
            self._rendered, self._cache_limit = rendered, None if eager else CACHE_PAGES

    @property
    def pages(self) -> Mapping[str, bytes]:
        """Every page by key (see ``route``)."""
        return _Pages(self)

    def page_keys(self) -> Iterator[str]:
        yield from ("home", "soft404")
        for cat in self.spec.categories:
            for n in range(1, self.page_count(cat.slug) + 1):
                yield f"list:{cat.slug}:{n}"
        for a in self.articles:
            yield f"article:{a.key}"
            yield f"print:{a.key}"

    def render(self, key: str) -> str:
        """The HTML of page ``key``."""
        kind, _, rest = key.partition(":")
        if kind == "home":
            return self.render_home()
        if kind == "soft404":
            return self.render_soft404()
        if kind == "list":
            category, _, n = rest.rpartition(":")
            return self.render_listing(category, int(n))
        if kind == "article":
            return self.render_article(self.by_key[rest])
        if kind == "print":
            return self.render_print(self.by_key[rest])
        raise KeyError(key)

    def _render(self, key: str) -> tuple[bytes, str]:
        body = self.render(key).encode("utf-8")
        return body, etag_of(body)

    def rendered(self, key: str) -> tuple[bytes, str]:
        """Page ``key``'s bytes and ETag, rendered on first use."""
        with self._lock:
            hit = self._rendered.get(key)
            if hit is not None:
                if self._cache_limit is not None:
                    self._rendered.move_to_end(key)
                return hit
        hit = self._render(key)  # outside the lock: two threads may render it, same bytes
        with self._lock:
            self._rendered[key] = hit
            if self._cache_limit is not None and len(self._rendered) > self._cache_limit:
                self._rendered.popitem(last=False)
        return hit

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
    def handle(self, path: str, query: str, headers: Mapping[str, str] | None = None) -> Response:
        """The answer to ``GET path?query``; with the request's ``headers``, a conditional
        request whose validators match gets ``304`` and no body."""
        resp = self._answer(path, query)
        if not (self.validators and headers is not None and "ETag" in resp.headers):
            return resp
        if is_not_modified(resp, headers.get("If-None-Match"), headers.get("If-Modified-Since")):
            kept = {k: resp.headers[k] for k in ("ETag", "Last-Modified") if k in resp.headers}
            return Response(304, b"", kept)
        return resp

    def _answer(self, path: str, query: str) -> Response:
        if path == "/robots.txt":
            return Response(200, ROBOTS_TXT.encode(), {"Content-Type": "text/plain; charset=utf-8"})
        if path == "/favicon.ico":
            return Response(404, b"Not Found", {"Content-Type": "text/plain; charset=utf-8"})
        if path in self._files:
            resp = file_response(self._files[path], self._file_cache)
            if self.validators:
                if path not in self._file_etags:
                    self._file_etags[path] = etag_of(resp.body)
                resp.headers["ETag"] = self._file_etags[path]
                resp.headers["Last-Modified"] = http_date(self._file_dates[path])
            return resp
        if path in self._images or path.startswith("/_img/"):
            return Response(200, PIXEL_PNG, {"Content-Type": "image/png"})
        key = self.route(path, parse_qs(query, keep_blank_values=True)) or "soft404"
        try:
            body, etag = self.rendered(key)
        except KeyError:
            key = "soft404"
            body, etag = self.rendered(key)
        headers = {"Content-Type": HTML_TYPE}
        kind, _, article_key = key.partition(":")
        if self.validators and kind in ("article", "print"):
            headers["ETag"] = etag
            headers["Last-Modified"] = http_date(self.by_key[article_key].last_modified)
        return Response(200, body, headers)

    @staticmethod
    def int_param(params: dict[str, list[str]], name: str, default: int = 1) -> int:
        try:
            return int(params.get(name, [str(default)])[0])
        except ValueError:
            return default
