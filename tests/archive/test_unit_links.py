"""Articles linked to administrative units across the 2025 reorganisation (issue 8).

Real unit names throughout: quận Thanh Xuân (Hà Nội, ended 1 July 2025) and the wards it was
divided into; phường Thanh Xuân and phường Khương Đình (Hà Nội, from 1 July 2025); thị trấn
Tân Minh (huyện Hàm Tân, Bình Thuận) against the two xã Tân Minh of Hà Nội; tỉnh Ninh Thuận,
merged into tỉnh Khánh Hòa.
"""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from archive.config import Config
from archive.models import EntryUnit
from archive.schema import ArticleItem
from archive.store import Archive
from archive.unit_links import (
    AmbiguousUnit,
    link_units,
    portal_units,
    resolve_unit_filter,
)
from archive.units import UnitsError, default_gazetteer
from scraper import registry
from scraper.sample_portals.server import DATA_DIR
from search.index import SearchIndex
from search.query import search_ids
from search.sync import sync_index
from tests.conftest import run_cli

# --- through the CLI, on the crawl of the sample portals --------------------------------------


def _search(crawled, *args: str) -> dict:
    proc = run_cli(
        "--data-dir", str(crawled["data"]), "search", "--json", "--type", "article",
        "--limit", "100", *args, check=True,
    )  # fmt: skip
    return json.loads(proc.stdout)


def _titles(result: dict) -> set[str]:
    return {h["title"] for h in result["hits"]}


def _portal_articles(crawled, slug: str) -> set[str]:
    a = Archive(Config.resolve(crawled["data"]))
    try:
        return {r.title for r in a.iter_articles(portals=[slug])}
    finally:
        a.close()


def test_old_district_finds_its_portal_s_articles_typed_without_diacritics(crawled):
    result = _search(crawled, "--unit", "quan thanh xuan")
    assert result["unit"]["unit"]["key"] == "009@pre2025"
    assert result["unit"]["label"] == "quận Thanh Xuân"
    # issued by the district's portal (its 10 articles), whatever their text says
    assert _titles(result) == _portal_articles(crawled, "quan-thanh-xuan")
    assert len(result["hits"]) == 10


def test_old_district_note_names_what_it_absorbed(crawled):
    result = _search(crawled, "--unit", "huyen phu loc")
    assert result["unit"]["unit"]["key"] == "482@pre2025"
    # huyện Nam Đông was merged into huyện Phú Lộc on 1 January 2025
    assert result["unit"]["note"] == "gồm các đơn vị trước sắp xếp: huyện Nam Đông"
    assert _titles(result) == _portal_articles(crawled, "huyen-phu-loc")
    text = run_cli(
        "--data-dir", str(crawled["data"]), "search", "--unit", "huyện Phú Lộc", check=True
    ).stdout  # fmt: skip
    assert text.splitlines()[0] == (
        "unit: huyện Phú Lộc (482@pre2025) — gồm các đơn vị trước sắp xếp: huyện Nam Đông"
    )


def test_new_ward_finds_articles_of_the_wards_it_absorbed(crawled):
    # phường Thanh Xuân (2025) was formed from parts of Thượng Đình, Thanh Xuân Bắc, Thanh
    # Xuân Trung, Nhân Chính, Trung Hòa, Trung Văn and Thanh Xuân Nam
    result = _search(crawled, "--unit", "phuong thanh xuan, ha noi")
    assert result["unit"]["unit"]["key"] == "00367@2025"
    note = result["unit"]["note"]
    assert note.startswith("gồm các đơn vị trước sắp xếp: ")
    assert "phường Thượng Đình (một phần)" in note and "phường Thanh Xuân Bắc (một phần)" in note
    titles = _titles(result)
    # the 2022 sports day at the stadium of phường Thượng Đình
    assert "Khai mạc Đại hội Thể dục thể thao quận Thanh Xuân lần thứ IX năm 2022" in titles
    # the 2025 resolution that forms phường Thanh Xuân
    assert (
        "Quận Thanh Xuân triển khai Nghị quyết về sắp xếp đơn vị hành chính cấp xã của "
        "thành phố Hà Nội" in titles
    )
    # the voters' list of phường Kim Giang: Kim Giang went to phường Khương Đình, not here
    plan = "Kế hoạch thông tin, tuyên truyền về thực hiện sắp xếp đơn vị hành chính giai đoạn 2023-2025"
    assert plan not in titles
    # the district's other articles are not the ward's
    assert len(titles) < 10

    khuong_dinh = _search(crawled, "--unit", "phuong khuong dinh")
    assert khuong_dinh["unit"]["unit"]["key"] == "00364@2025"
    assert "phường Hạ Đình" in khuong_dinh["unit"]["note"]
    assert plan in _titles(khuong_dinh)


def test_mentioned_unit_in_another_district_s_text(crawled):
    # "UBND thị trấn Tân Minh" in an article of huyện Hàm Tân's portal: found by the town
    result = _search(crawled, "--unit", "thi tran Tan Minh")
    assert result["unit"]["unit"]["key"] == "23230@pre2025"
    titles = _titles(result)
    assert "TÂN MINH: Tăng cường tuyên truyền công tác cải cách hành chính" in titles
    assert titles < _portal_articles(crawled, "huyen-ham-tan")


def test_ambiguous_name_is_an_error_listing_the_units(crawled):
    proc = run_cli("--data-dir", str(crawled["data"]), "search", "--unit", "Tân Minh")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    message = proc.stderr
    assert "thị trấn Tân Minh, huyện Hàm Tân, tỉnh Bình Thuận" in message
    assert "xã Tân Minh, huyện Sóc Sơn, thành phố Hà Nội" in message
    assert "xã Tân Minh, huyện Thường Tín, thành phố Hà Nội" in message
    unknown = run_cli("--data-dir", str(crawled["data"]), "search", "--unit", "xa Khong Co")
    assert unknown.returncode == 2 and "no administrative unit named" in unknown.stderr


def test_export_by_unit_writes_those_articles_and_says_so(crawled, tmp_path):
    out = tmp_path / "thanh-xuan.zip"
    proc = run_cli(
        "--data-dir", str(crawled["data"]), "export", "--unit", "phường Thanh Xuân, Hà Nội",
        "-f", "zip", "-o", str(out), check=True,
    )  # fmt: skip
    assert "unit: phường Thanh Xuân (00367@2025) — gồm các đơn vị trước sắp xếp:" in proc.stderr
    wanted = _titles(_search(crawled, "--unit", "00367@2025"))
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
        rows = [json.loads(x) for x in z.read("articles.jsonl").decode().splitlines()]
    assert {r["title"] for r in rows} == wanted
    assert manifest["description"]["unit"]["unit"]["key"] == "00367@2025"
    assert manifest["description"]["unit"]["note"].startswith("gồm các đơn vị trước sắp xếp")


# --- the registry names units by code ---------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "label"),
    [
        ("sotttt-hanoi", "thành phố Hà Nội"),
        ("prtc-ninhthuan", "tỉnh Ninh Thuận"),
        ("xasonlinh-hatinh", "xã Sơn Lĩnh"),
    ],
)
def test_shipped_portals_name_their_unit_by_code(slug, label):
    entry = registry.get(slug)
    units = portal_units(default_gazetteer(), entry.unit_code)
    assert label in {u.label for u in units}


@pytest.mark.parametrize(
    ("slug", "key"),
    [("quan-thanh-xuan", "009@pre2025"), ("huyen-phu-loc", "482@pre2025"),
     ("huyen-ham-tan", "601@pre2025")],
)  # fmt: skip
def test_sample_portals_name_their_unit_by_code(tmp_path, slug, key):
    text = (DATA_DIR / slug / "site.toml").read_text(encoding="utf-8")
    (tmp_path / f"{slug}.toml").write_text(text.replace("{base}", "http://127.0.0.1:9"))
    entry = registry.get(slug, tmp_path)
    assert [u.key for u in portal_units(default_gazetteer(), entry.unit_code)] == [key]


def test_unit_code_of_two_unrelated_units_needs_its_era():
    g = default_gazetteer()
    # 18160 is xã Sơn Lĩnh before 2025 and xã Sơn Hồng, which absorbed it, after: one line
    assert {u.label for u in portal_units(g, "18160")} == {"xã Sơn Lĩnh", "xã Sơn Hồng"}
    with pytest.raises(UnitsError, match="no such administrative unit"):
        portal_units(g, "99999")
    with pytest.raises(UnitsError, match="expected a GSO code"):
        portal_units(g, "Thanh Xuân")


# --- stored articles: issuer on the publication date, same names kept apart -------------------


def _item(portal: str, n: int, title: str, body: str, published: date | None) -> ArticleItem:
    url = f"http://{portal}.gov.vn/tin/{n}.html"
    return ArticleItem.model_validate(
        dict(portal=portal, url=url, canonical_url=url, title=title, body=body,
             fetched_at=datetime.now(UTC), published=published)
    )  # fmt: skip


@pytest.fixture
def archive(tmp_path):
    a = Archive(Config.resolve(tmp_path))
    yield a
    a.close()


def _portal(archive: Archive, slug: str, unit: str, code: str) -> int:
    return archive.upsert_portal(
        slug, name=slug, unit=unit, base_url=f"http://{slug}.gov.vn/", family="generic",
        config={"unit_code": code},
    )  # fmt: skip


def _links(archive: Archive, entry_id: str) -> set[tuple[str, str]]:
    with archive.session() as s:
        rows = s.execute(
            select(EntryUnit.unit_key, EntryUnit.role).where(EntryUnit.entry_id == entry_id)
        )
        return {tuple(r) for r in rows}


def test_issuer_is_the_unit_as_it_was_on_the_publication_date(archive):
    pid = _portal(archive, "ninhthuan", "Tỉnh Ninh Thuận", "58")
    hn = _portal(archive, "hanoi", "Thành phố Hà Nội", "01")
    before = _item("ninhthuan", 1, "Hội nghị tổng kết", "Nội dung.", date(2024, 12, 20))
    after = _item("ninhthuan", 2, "Bàn giao hồ sơ", "Nội dung.", date(2025, 8, 5))
    undated = _item("ninhthuan", 3, "Giới thiệu", "Nội dung.", None)
    archive.store_articles([before, after, undated], pid)
    hn_old = _item("hanoi", 1, "Tin cũ", "Nội dung.", date(2024, 1, 2))
    hn_new = _item("hanoi", 2, "Tin mới", "Nội dung.", date(2025, 9, 1))
    archive.store_articles([hn_old, hn_new], hn)
    report = link_units(archive)
    assert report.linked == 5 and report.problems == []
    assert ("58@pre2025", "issuer") in _links(archive, before.id)
    # tỉnh Ninh Thuận was merged into tỉnh Khánh Hòa on 1 July 2025
    assert ("56@2025", "issuer") in _links(archive, after.id)
    assert ("58@pre2025", "issuer") in _links(archive, undated.id)
    assert ("01@pre2025", "issuer") in _links(archive, hn_old.id)
    assert ("01@2025", "issuer") in _links(archive, hn_new.id)


def test_same_name_in_different_provinces_kept_apart(archive, tmp_path):
    hamtan = _portal(archive, "hamtan", "Huyện Hàm Tân, tỉnh Bình Thuận", "601")
    socson = _portal(archive, "socson", "Huyện Sóc Sơn, thành phố Hà Nội", "016")
    a_town = _item(
        "hamtan", 1, "Tân Minh đẩy mạnh cải cách hành chính",
        "UBND thị trấn Tân Minh niêm yết công khai thủ tục hành chính.", date(2024, 12, 20),
    )  # fmt: skip
    a_commune = _item(
        "socson", 1, "Xã Tân Minh ra quân làm sạch đường làng",
        "Sáng 5/5, UBND xã Tân Minh phát động ra quân vệ sinh môi trường.", date(2024, 5, 5),
    )  # fmt: skip
    a_other = _item(
        "socson", 2, "Huyện Thường Tín lấy ý kiến cử tri",
        "Cử tri xã Tân Minh, huyện Thường Tín đồng thuận với đề án.", date(2024, 5, 6),
    )  # fmt: skip
    archive.store_articles([a_town], hamtan)
    archive.store_articles([a_commune, a_other], socson)
    index = SearchIndex(tmp_path / "index")
    sync_index(archive, index)
    # read in the portal's province: the town of Hàm Tân, the commune of Sóc Sơn
    assert ("23230@pre2025", "mention") in _links(archive, a_town.id)
    assert ("00406@pre2025", "mention") in _links(archive, a_commune.id)
    # "xã Tân Minh, huyện Thường Tín": the parent named after it decides
    assert ("10240@pre2025", "mention") in _links(archive, a_other.id)

    def found(value: str) -> set[str]:
        f = resolve_unit_filter(archive, value)
        return set(search_ids(index, "", units=f.keys))

    assert found("thi tran tan minh") == {a_town.id}
    assert found("xa tan minh, soc son") == {a_commune.id}
    assert found("Tân Minh, Thường Tín") == {a_other.id}
    with pytest.raises(AmbiguousUnit) as err:
        resolve_unit_filter(archive, "xa tan minh, ha noi")
    assert {c["key"] for c in err.value.candidates} == {"00406@pre2025", "10240@pre2025"}
    # the district filter covers its communes: Sóc Sơn's portal and its xã Tân Minh
    assert found("huyen soc son") == {a_commune.id, a_other.id}


def test_links_are_incremental_and_follow_the_registry(archive, tmp_path):
    pid = _portal(archive, "q", "Quận Thanh Xuân", "009")
    one = _item("q", 1, "Phường Kim Giang tổ chức hội nghị", "UBND phường Kim Giang họp.",
                date(2023, 3, 1))  # fmt: skip
    archive.store_articles([one], pid)
    index = SearchIndex(tmp_path / "index")
    first = sync_index(archive, index)
    assert first.indexed == 1
    assert _links(archive, one.id) == {("009@pre2025", "issuer"), ("00373@pre2025", "mention")}
    again = link_units(archive)
    assert again.linked == 0 and again.unchanged == 1
    assert sync_index(archive, index).indexed == 0
    # the registry now says the portal is the ward's: linked and indexed again
    _portal(archive, "q", "Phường Hạ Đình", "00373@pre2025")
    assert sync_index(archive, index).indexed == 1
    assert ("00373@pre2025", "issuer") in _links(archive, one.id)
    # a new version of the article is linked from its new text
    edited = _item("q", 1, "Phường Kim Giang tổ chức hội nghị",
                   "UBND phường Kim Giang và UBND phường Thượng Đình họp.", date(2023, 3, 1))  # fmt: skip
    assert archive.store_articles([edited], pid)["updated"] == 1
    assert sync_index(archive, index).indexed == 1
    assert ("00346@pre2025", "mention") in _links(archive, one.id)


def test_wrong_unit_code_is_reported_not_fatal(archive):
    pid = _portal(archive, "x", "Xã X", "99999")
    archive.store_articles([_item("x", 1, "Tin", "UBND quận Thanh Xuân họp.", None)], pid)
    report = link_units(archive)
    assert report.linked == 1
    assert report.problems == ["portal x: unit_code '99999': no such administrative unit"]
