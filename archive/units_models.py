"""Tables of the administrative-unit gazetteer (filled by :func:`archive.units.load_units`).

A unit is one GSO code *in one system*: the 63-province system that ended on 30 June 2025
(era ``pre2025``: provinces, districts, communes) or the two-tier 34-province system that began
on 1 July 2025 (era ``2025``: provinces, communes). The 2025 lists reuse the codes of the old
ones for different units (``00367`` was phường Thanh Xuân Bắc and is now phường Thanh Xuân;
``00004`` was Trúc Bạch and is now Ba Đình), so the key is ``<code>@<era>``: ``00367@2025``,
``00367@pre2025``. Within an era a code is one unit for its whole life, as GSO treats it: a
unit that absorbed a neighbour and took its name keeps its code, and its earlier names are rows
of :class:`AdminUnitName` (``00373@pre2025`` is phường Hạ Đình, formerly phường Kim Giang).
See docs/units.md.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from archive.models import Base

__all__ = ["AdminUnit", "AdminUnitName", "UnitSuccession"]


class AdminUnit(Base):
    """One administrative unit of one era, with its latest official name."""

    __tablename__ = "admin_units"

    key: Mapped[str] = mapped_column(String(20), primary_key=True)  # "00367@2025"
    code: Mapped[str] = mapped_column(String(8), index=True)  # GSO code: 2, 3 or 5 digits
    era: Mapped[str] = mapped_column(String(10))  # "2025" | "pre2025"
    level: Mapped[str] = mapped_column(String(10))  # "province" | "district" | "commune"
    kind: Mapped[str] = mapped_column(String(20))  # the level word: "phường", "huyện", "tỉnh"…
    name: Mapped[str] = mapped_column(String(200))  # "Phường Thanh Xuân"
    short_name: Mapped[str] = mapped_column(String(200))  # "Thanh Xuân"
    folded_name: Mapped[str] = mapped_column(String(200))  # "phuong thanh xuan"
    folded_short: Mapped[str] = mapped_column(String(200), index=True)  # "thanh xuan"
    # Not foreign keys: the loader writes whole eras at once and the order of a diff would
    # otherwise matter; archive.units checks that every parent exists.
    parent_key: Mapped[str | None] = mapped_column(String(20), index=True)
    province_key: Mapped[str | None] = mapped_column(String(20), index=True)
    # The district it belonged to in the older source when that differs (the communes of
    # huyện Nam Đông moved to huyện Phú Lộc on 1 January 2025).
    former_parent_key: Mapped[str | None] = mapped_column(String(20))
    valid_from: Mapped[date | None] = mapped_column(Date)  # None: before the data begins
    valid_to: Mapped[date | None] = mapped_column(Date)  # None: still valid, or end unknown
    source: Mapped[str] = mapped_column(String(120))


class AdminUnitName(Base):
    """Every name a unit is known by: its official name and its former names (a ward that
    absorbed a neighbour and took the neighbour's name; "tỉnh Thừa Thiên Huế" before it became
    "thành phố Huế"), each with and without the level word and folded."""

    __tablename__ = "admin_unit_names"
    __table_args__ = (UniqueConstraint("unit_key", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_key: Mapped[str] = mapped_column(ForeignKey("admin_units.key"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # the level word used with this name
    folded_name: Mapped[str] = mapped_column(String(200))
    folded_short: Mapped[str] = mapped_column(String(200), index=True)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(120))


class UnitSuccession(Base):
    """``from_key`` became (part of) ``to_key`` on ``effective``.

    ``kind``: ``merged_into`` (with others, into one unit), ``split_into`` (one row per part;
    ``main`` marks the part that took most of it, as the source judged), ``renamed_to`` (one
    to one; the name may be unchanged, e.g. a commune carried over into the 2025 system).
    """

    __tablename__ = "unit_succession"
    __table_args__ = (
        UniqueConstraint("from_key", "to_key"),
        Index("ix_unit_succession_to", "to_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_key: Mapped[str] = mapped_column(ForeignKey("admin_units.key"), index=True)
    to_key: Mapped[str] = mapped_column(ForeignKey("admin_units.key"))
    kind: Mapped[str] = mapped_column(String(20))
    effective: Mapped[date | None] = mapped_column(Date)  # None: date not in the data
    main: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(120))
