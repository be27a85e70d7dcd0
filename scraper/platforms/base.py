"""What a portal software family tells the extractor.

A family module subclasses :class:`Platform` and fills in named selectors (CSS, first match
wins) and URL patterns as data. Generic extraction works without any of them; a family only
sharpens it. A portal with a real oddity subclasses its family and overrides one hook,
:meth:`Platform.post_process`, with a dated comment saying why.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from lxml.cssselect import CSSSelector

if TYPE_CHECKING:
    from lxml.html import HtmlElement

    from scraper.extract import Extraction


SELECTOR_NAMES = (
    "title",
    "date",
    "lead",
    "body",
    "author",
    "views",
    "attachments",
    "remove",
    "listing_links",
    "pagination",
)
#: Fields of one element: their selectors are tried in order and the first that matches wins
#: (a sidebar block may share the node's classes and come earlier in the page). The other
#: names collect every match of every selector, in document order.
SINGLE = frozenset(("title", "date", "lead", "body", "author", "views"))
_COMPILED: dict[type, dict[str, list[CSSSelector]]] = {}


class Platform:
    """Selectors and hooks of one portal software family."""

    #: Family name used in portal TOML files (``family = "liferay"``).
    name: ClassVar[str] = "generic"
    #: Substrings of raw HTML that identify the family when a site is crawled by URL.
    markers: ClassVar[tuple[str, ...]] = ()
    #: An article page's URL (path + query) matches this.
    article_url: ClassVar[re.Pattern[str] | None] = None
    #: Print views of an article: never archived, the canonical article is fetched instead.
    print_url: ClassVar[re.Pattern[str] | None] = re.compile(
        r"[?&](print|in|printable|view=print)(=|&|$)|/print/|/print\.aspx|/in-bai-viet", re.I
    )
    #: Listing pages (category pages and their pagination).
    listing_url: ClassVar[re.Pattern[str] | None] = None

    title: ClassVar[tuple[str, ...]] = ()
    date: ClassVar[tuple[str, ...]] = ()
    lead: ClassVar[tuple[str, ...]] = ()
    body: ClassVar[tuple[str, ...]] = ()
    author: ClassVar[tuple[str, ...]] = ()
    views: ClassVar[tuple[str, ...]] = ()
    #: Download panels outside the body whose links are attachments.
    attachments: ClassVar[tuple[str, ...]] = ()
    #: Removed from the body container before its text is read (related lists, tools).
    remove: ClassVar[tuple[str, ...]] = ()
    #: Article links on listing and home pages.
    listing_links: ClassVar[tuple[str, ...]] = ()
    #: Pagination links on listing pages.
    pagination: ClassVar[tuple[str, ...]] = ()

    @property
    def compiled(self) -> dict[str, list[CSSSelector]]:
        # Compiled once per class: CSS → XPath translation costs more than the matching.
        cls = type(self)
        cached = _COMPILED.get(cls)
        if cached is None:
            cached = _COMPILED[cls] = {n: _compile(n, getattr(cls, n)) for n in SELECTOR_NAMES}
        return cached

    def select(self, tree: HtmlElement, name: str) -> list[HtmlElement]:
        selectors = self.compiled[name]
        if name in SINGLE:
            for sel in selectors:
                found = sel(tree)
                if found:
                    return found
            return []
        return selectors[0](tree) if selectors else []

    def is_article_url(self, url: str) -> bool | None:
        """True/False when the family's URL scheme decides, None when it cannot tell."""
        if self.article_url is None:
            return None
        return bool(self.article_url.search(url))

    def post_process(self, result: Extraction, tree: HtmlElement) -> Extraction:
        """Hook for a portal's oddity; the default returns ``result`` unchanged."""
        return result


def _compile(name: str, selectors: tuple[str, ...]) -> list[CSSSelector]:
    if not selectors:
        return []
    if name in SINGLE:
        return [CSSSelector(s) for s in selectors]
    return [CSSSelector(", ".join(selectors))]


def with_overrides(platform: Platform, overrides: dict[str, object]) -> Platform:
    """A copy of ``platform`` with selectors replaced by a portal's TOML ``[selectors]``."""
    if not overrides:
        return platform
    attrs: dict[str, object] = {}
    for key, value in overrides.items():
        if key not in Platform.__annotations__ and not hasattr(Platform, key):
            raise KeyError(key)
        if key.endswith("_url") and isinstance(value, str):
            attrs[key] = re.compile(value)
        else:
            attrs[key] = (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
    return type(f"{type(platform).__name__}WithOverrides", (type(platform),), attrs)()
