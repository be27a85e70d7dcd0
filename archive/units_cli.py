"""``portal-archive units``: load, search and show the administrative-unit gazetteer.

A thin layer over :mod:`archive.units`; ``archive/cli.py`` adds it with :func:`add_cli` and
dispatches ``units`` to :func:`cmd_units`. Errors are :class:`archive.units.UnitsError` (an
``ArchiveError``), which the CLI prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from archive.config import Config


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a positive number")
    return n


def add_cli(subparsers: argparse._SubParsersAction, common_parent: argparse.ArgumentParser) -> None:
    """Add the ``units`` command (``load``, ``search``, ``show``) to the CLI's subparsers."""
    from archive.cli import _date  # the CLI's own date argument (YYYY-MM-DD or DD/MM/YYYY)

    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON")
    p = subparsers.add_parser(
        "units",
        parents=[common_parent],
        help="administrative units: load the gazetteer, search names, show a unit's history",
        description="The administrative-unit gazetteer: provinces, districts and communes of "
        "the 63-province system (until 30 June 2025) and the 34-province system (from 1 July "
        "2025), their names and how they became one another. Keys are CODE@ERA, e.g. "
        "00367@2025 and 00367@pre2025. See docs/units.md.",
    )
    actions = p.add_subparsers(dest="units_action", metavar="ACTION")
    actions.required = True
    actions.add_parser(
        "load",
        parents=[common_parent, as_json],
        help="fill the gazetteer tables from the data packages (re-running changes nothing)",
    )
    s = actions.add_parser(
        "search",
        parents=[common_parent, as_json],
        help="units by name, with or without diacritics and the level word",
        description="Units by name: 'thanh xuan', 'quận Thanh Xuân', 'tx Quảng Trị', "
        "'Tân Minh, Hàm Tân' (a comma adds the parent). Former names count.",
    )
    s.add_argument("name", nargs="+", help="the name (quotes optional)")
    s.add_argument("--on", type=_date, metavar="DATE", help="only units that existed that day")
    s.add_argument(
        "--level",
        help="province, district, commune, or a level word (tỉnh, quận, huyện, phường, xã…)",
    )
    s.add_argument("--province", help="only units in this province (name or code; either era)")
    s.add_argument("--limit", type=_positive, default=20, help="at most N units (default 20)")
    sh = actions.add_parser(
        "show",
        parents=[common_parent, as_json],
        help="a unit's names, parents, predecessors and successors",
    )
    sh.add_argument("code", help="a GSO code (00367: every era) or a key (00367@2025)")
    sh.add_argument(
        "--on", type=_date, metavar="DATE", help="also the unit(s) it was, or became, on DATE"
    )


def cmd_units(args: argparse.Namespace, config: Config) -> int:
    """``portal-archive units ACTION``."""
    from archive import units
    from archive.store import Archive

    archive = Archive(config)
    try:
        if args.units_action == "load":
            report = units.load_units(archive)
            if args.json:
                _dump(report.as_dict())
            else:
                _print_load(report)
            return 0
        g = _gazetteer(archive)
        if args.units_action == "search":
            return _search(g, args)
        if args.units_action == "show":
            return _show(g, args)
        raise units.UnitsError(f"unknown units action {args.units_action!r}")
    finally:
        archive.close()


def _gazetteer(archive):
    from archive import units

    try:
        return units.gazetteer(archive)
    except units.UnitsNotLoaded:
        print("loading the administrative units (first use)…", file=sys.stderr)
        units.load_units(archive)
        return units.gazetteer(archive)


def _print_load(report) -> None:
    parts = []
    for what, c in (
        ("units", report.units),
        ("names", report.names),
        ("links", report.successions),
    ):
        parts.append(
            f"{what}: {c.inserted} added, {c.updated} updated, {c.deleted} removed, "
            f"{c.unchanged} unchanged"
        )
    sources = ", ".join(f"{k} {v}" for k, v in sorted(report.versions.items()))
    rate = report.rows / report.seconds if report.seconds else 0
    print("; ".join(parts))
    print(f"{report.rows} rows in {report.seconds:.2f}s ({rate:,.0f} rows/s) from {sources}")


def _where(g, unit) -> str:
    return ", ".join(a.name for a in g.ancestors(unit.key) if a.key != unit.former_parent_key)


def _validity(unit) -> str:
    start = unit.valid_from.isoformat() if unit.valid_from else ""
    if unit.valid_to:
        end = unit.valid_to.isoformat()
    elif unit.end_known:
        end = ""
    else:
        end = "? (merged before 2025-07-01)"
    return f"{start} – {end}".strip()


def _search(g, args: argparse.Namespace) -> int:
    query = " ".join(args.name)
    matches = g.search(
        query, on=args.on, level=args.level, province=args.province, limit=args.limit
    )
    if args.json:
        _dump([{**m.as_dict(), "where": _where(g, m.unit)} for m in matches])
        return 0
    if not matches:
        when = f" on {args.on.isoformat()}" if args.on else ""
        print(f"no administrative unit named {query!r}{when}")
        return 0
    width = max(len(m.unit.key) for m in matches)
    for m in matches:
        label = m.unit.label
        if not m.current_name:
            label += f" (tên cũ: {m.matched_name})"
        where = _where(g, m.unit)
        print(f"{m.unit.key:<{width}}  {label}  [{where or 'cả nước'}]  {_validity(m.unit)}")
    return 0


def _show(g, args: argparse.Namespace) -> int:
    from archive.units import UnitsError

    found = g.get(args.code)
    if not found:
        raise UnitsError(
            f"no administrative unit {args.code!r} (a GSO code like 00367, or CODE@2025, "
            "CODE@pre2025; find codes with `portal-archive units search NAME`)"
        )
    histories = [g.history(u.key) for u in found]
    on = [g.unit_on(u.key, args.on) for u in found] if args.on else None
    closures = [g.closure(u.key) for u in found]
    if args.json:
        out = []
        for i, h in enumerate(histories):
            d = h.as_dict()
            d["note"] = closures[i].note_vi()
            d["covers"] = len(closures[i].keys)
            if on is not None:
                d["on"] = {"date": args.on.isoformat(), "units": [u.as_dict() for u in on[i]]}
            out.append(d)
        _dump(out)
        return 0
    for i, h in enumerate(histories):
        if i:
            print()
        _print_history(g, h, closures[i])
        if on is not None:
            units_then = ", ".join(f"{u.key} {u.label}" for u in on[i]) or "-"
            print(f"  on {args.on.isoformat()}: {units_then}")
    return 0


def _print_history(g, h, closure) -> None:
    u = h.unit
    era = "from 1 July 2025" if u.era == "2025" else "until 30 June 2025"
    print(f"{u.key}  {u.name}")
    print(
        f"  {u.level} ({u.kind}), the {'34' if u.era == '2025' else '63'}-province system ({era})"
    )
    if h.ancestors:
        print(f"  in: {', '.join(a.name for a in h.ancestors)}")
    print(f"  valid: {_validity(u)}")
    former = [n.name for n in h.names if not n.current]
    if former:
        print(f"  former names: {', '.join(former)}")
    if h.children:
        print(f"  units under it: {h.children}")
    if h.predecessors:
        print("  formed from:")
        for link in h.predecessors:
            print("    " + _link_line(link, backwards=True))
    if h.successors:
        print("  became:")
        for link in h.successors:
            print("    " + _link_line(link, backwards=False))
    elif h.successors_via_children:
        names = ", ".join(f"{x.label} ({x.key})" for x in h.successors_via_children)
        print(f"  its communes went to: {names}")
    elif u.era == "2025" or u.end_known and not u.valid_to:
        print("  became: - (still valid)")
    note = closure.note_vi()
    if note:
        print(f"  search note: {note}")


def _link_line(link, *, backwards: bool) -> str:
    s = link.succession
    when = s.effective.isoformat() if s.effective else "date unknown"
    how = {"merged_into": "merged", "split_into": "split", "renamed_to": "renamed"}[s.kind]
    if s.kind == "split_into":
        how += ", main part" if s.main else ", part"
    indent = "  " * (link.depth - 1)
    return f"{indent}{link.unit.key:<14} {link.unit.label}  ({how}, {when})"


def _dump(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))
