"""Portal software families. ``FAMILIES`` maps a family name to its :class:`Platform`."""

from __future__ import annotations

from scraper.platforms.aspnet import AspNet
from scraper.platforms.base import Platform, with_overrides
from scraper.platforms.drupal import Drupal
from scraper.platforms.liferay import Liferay
from scraper.platforms.nukeviet import NukeViet
from scraper.platforms.tandan import TanDan
from scraper.platforms.wordpress import WordPress

FAMILIES: dict[str, type[Platform]] = {
    cls.name: cls for cls in (Platform, Liferay, TanDan, NukeViet, Drupal, WordPress, AspNet)
}


def get_platform(name: str | None, overrides: dict[str, object] | None = None) -> Platform:
    """The platform for ``name`` (``None``/"generic" → generic extraction)."""
    cls = FAMILIES.get(name or "generic")
    if cls is None:
        raise KeyError(name)
    return with_overrides(cls(), overrides or {})


def detect_family(html: str, url: str = "") -> str:
    """Guess a page's family from its markup markers; "generic" when none fits."""
    best, score = "generic", 0
    for name, cls in FAMILIES.items():
        hits = sum(1 for m in cls.markers if m in html or m in url)
        if hits > score:
            best, score = name, hits
    return best if score >= 2 else "generic"


__all__ = ["FAMILIES", "Platform", "detect_family", "get_platform"]
