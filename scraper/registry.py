"""The portal registry: one TOML file per portal in ``scraper/portals/``.

A portal file holds values only::

    slug = "quan-thanh-xuan"
    name = "Cổng thông tin điện tử quận Thanh Xuân"
    unit = "Quận Thanh Xuân, thành phố Hà Nội"
    unit_code = "009"                       # GSO code, or a key: "009@pre2025"
    family = "liferay"                      # see scraper.platforms.FAMILIES
    base_url = "https://thanhxuan.hanoi.gov.vn/"
    start_urls = ["https://thanhxuan.hanoi.gov.vn/"]
    category_urls = ["https://thanhxuan.hanoi.gov.vn/cai-cach-hanh-chinh"]
    [selectors]                             # optional: override the family's selectors
    title = "h1.my-title"
    [settings]                              # optional: Scrapy settings for this portal
    DOWNLOAD_DELAY = 2

``unit_code`` names the portal's administrative unit by its GSO code (``portal-archive units
search NAME`` finds it): 2 digits for a province, 3 for a district, 5 for a commune. The 2025
lists reuse some commune codes for other units; for those, give the key ``CODE@pre2025`` or
``CODE@2025`` (docs/units.md). Articles are linked to the unit as it was on their publication
date (archive/unit_links.py).

Another directory can be used with ``--portals DIR`` or ``PORTAL_ARCHIVE_PORTALS``.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from archive.config import ENV_PORTALS
from scraper.platforms import FAMILIES, Platform

DEFAULT_DIR = Path(__file__).parent / "portals"
REQUIRED = ("slug", "name", "unit", "family", "base_url")
#: Required in a registry file; a portal crawled by URL alone (``crawl --url``) has none.
REQUIRED_IN_FILES = ("unit_code",)
KNOWN = (
    set(REQUIRED)
    | set(REQUIRED_IN_FILES)
    | {
        "start_urls",
        "category_urls",
        "selectors",
        "settings",
        "notes",
    }
)
_UNIT_CODE = re.compile(r"\d{2,5}(?:@(?:2025|pre2025))?")


class RegistryError(Exception):
    """A portal file is malformed: the message names the file and the key at fault."""


@dataclass(frozen=True)
class PortalEntry:
    slug: str
    name: str
    unit: str
    family: str
    base_url: str
    start_urls: tuple[str, ...] = ()
    category_urls: tuple[str, ...] = ()
    selectors: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    unit_code: str = ""
    path: Path | None = None

    @property
    def netlocs(self) -> frozenset[str]:
        """host:port of every URL the portal is configured with (its own site)."""
        urls = (self.base_url, *self.start_urls, *self.category_urls)
        return frozenset(urlsplit(u).netloc.lower() for u in urls)

    def as_dict(self) -> dict:
        return {
            "slug": self.slug,
            "name": self.name,
            "unit": self.unit,
            "family": self.family,
            "base_url": self.base_url,
            "start_urls": list(self.start_urls),
            "category_urls": list(self.category_urls),
            "selectors": self.selectors,
            "settings": self.settings,
            "unit_code": self.unit_code,
        }


def portals_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    return Path(directory or os.environ.get(ENV_PORTALS) or DEFAULT_DIR)


def load_file(path: Path) -> PortalEntry:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: cannot read: {exc}") from exc
    return entry_from_dict(data, path, required=REQUIRED + REQUIRED_IN_FILES)


def entry_from_dict(
    data: dict, path: Path | None = None, *, required: tuple[str, ...] = REQUIRED
) -> PortalEntry:
    where = str(path) if path else "<portal>"

    def fail(key: str, why: str) -> RegistryError:
        return RegistryError(f"{where}: key '{key}': {why}")

    for key in required:
        if key not in data:
            raise fail(key, "missing")
        if not isinstance(data[key], str) or not data[key].strip():
            raise fail(key, "must be a non-empty string")
    for key in data:
        if key not in KNOWN:
            raise fail(key, f"unknown key (known: {', '.join(sorted(KNOWN))})")
    code = data.get("unit_code", "")
    if not isinstance(code, str) or code.strip() and not _UNIT_CODE.fullmatch(code.strip()):
        raise fail(
            "unit_code",
            f'{code!r} is not a unit code: give the GSO code as a string ("009", '
            '"00367") or a key ("00367@pre2025"); `portal-archive units search NAME` finds it',
        )
    if data["family"] not in FAMILIES:
        raise fail(
            "family", f"unknown family {data['family']!r} (known: {', '.join(sorted(FAMILIES))})"
        )
    urls: dict[str, tuple[str, ...]] = {}
    for key in ("start_urls", "category_urls"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
            raise fail(key, "must be a list of URLs")
        for u in value:
            if urlsplit(u).scheme not in ("http", "https") or not urlsplit(u).netloc:
                raise fail(key, f"{u!r} is not an http(s) URL")
        urls[key] = tuple(value)
    if urlsplit(data["base_url"]).scheme not in ("http", "https"):
        raise fail("base_url", f"{data['base_url']!r} is not an http(s) URL")
    for key in ("selectors", "settings"):
        if not isinstance(data.get(key, {}), dict):
            raise fail(key, "must be a table")
    for key in data.get("selectors", {}):
        if not hasattr(Platform, key):
            raise fail(f"selectors.{key}", "not a selector name")
    if path is not None and path.stem != data["slug"]:
        raise fail("slug", f"must match the file name ({path.stem!r})")
    return PortalEntry(
        slug=data["slug"],
        name=data["name"],
        unit=data["unit"],
        family=data["family"],
        base_url=data["base_url"],
        start_urls=urls["start_urls"] or (data["base_url"],),
        category_urls=urls["category_urls"],
        selectors=dict(data.get("selectors", {})),
        settings=dict(data.get("settings", {})),
        unit_code=code.strip(),
        path=path,
    )


def load_all(directory: str | os.PathLike[str] | None = None) -> dict[str, PortalEntry]:
    root = portals_dir(directory)
    if not root.is_dir():
        raise RegistryError(f"{root}: portal directory does not exist")
    entries: dict[str, PortalEntry] = {}
    for path in sorted(root.glob("*.toml")):
        entry = load_file(path)
        entries[entry.slug] = entry
    return entries


def get(slug: str, directory: str | os.PathLike[str] | None = None) -> PortalEntry:
    entries = load_all(directory)
    if slug not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise RegistryError(f"no portal {slug!r} in {portals_dir(directory)} (known: {known})")
    return entries[slug]
