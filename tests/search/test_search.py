from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from search import query as whoosh_query
from search.backend import SearchBackend
from search.index import VN_TZ, IndexDoc, SearchIndex
from search.query import build_query

# Unedited copies of shared/samples/seeds.
SEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "seeds"

# seed file stem prefix -> (portal, unit, published, topics)
SEED_META = {
    "000": (
        "quan-thanh-xuan",
        "quận Thanh Xuân",
        datetime(2024, 3, 29, 16, 32, tzinfo=VN_TZ),
        ["dvhc"],
    ),
    "001": ("quan-thanh-xuan", "quận Thanh Xuân", date(2024, 3, 25), ["dvhc"]),
    "002": (
        "huyen-phu-loc",
        "huyện Phú Lộc",
        datetime(2022, 5, 30, 10, 43, tzinfo=VN_TZ),
        ["cchc"],
    ),
    "003": (
        "quan-hai-ba-trung",
        "quận Hai Bà Trưng",
        datetime(2017, 4, 24, 21, 10, tzinfo=VN_TZ),
        ["cchc"],
    ),
    "004": ("thi-tran-tan-minh", "thị trấn Tân Minh", date(2023, 12, 1), ["cchc"]),
}


def seed_docs() -> list[IndexDoc]:
    docs = []
    for path in sorted(SEEDS.glob("*.txt")):
        portal, unit, published, topics = SEED_META[path.name[:3]]
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
        prose = [ln for ln in lines if len(ln) > 60]
        docs.append(
            IndexDoc(
                id=f"seed-{path.name[:3]}",
                portal=portal,
                unit=unit,
                title=prose[0],
                lead=prose[1],
                body="\n".join(prose[2:]),
                published=published,
                topics=topics,
                doc_numbers=[],
                url=f"https://example.gov.vn/{path.name[:3]}.html",
                content_hash=f"h-{path.name[:3]}",
            )
        )
    assert len(docs) == 5
    return docs


def small(doc_id: str, body: str, *, title: str = "Tin ngắn", published=None, **kw) -> IndexDoc:
    fields = dict(
        id=doc_id,
        portal="xa-thu-nghiem",
        unit="xã Thử Nghiệm",
        title=title,
        lead=None,
        body=body,
        published=published or date(2025, 1, 15),
        topics=[],
        doc_numbers=[],
        url=f"https://xa.example.gov.vn/{doc_id}",
        content_hash=f"h-{doc_id}",
    )
    fields.update(kw)
    return IndexDoc(**fields)


FILLER = " Nội dung được thông báo tới các cơ quan, đơn vị trên địa bàn để biết và thực hiện."

SMALL_DOCS = [
    small("accent-exact", "Đẩy mạnh cải cách trong năm nay." + FILLER),
    small("accent-other", "Đẩy mạnh cái cách trong năm nay." + FILLER),
    small("accent-none", "Day manh cai cach trong nam nay." + FILLER),
    small("tone-new", "Tổ hoà giải ở cơ sở và công trình thuỷ lợi." + FILLER),
    small("tone-old", "Tổ hòa giải hoạt động tốt, công trình thủy điện." + FILLER),
    small(
        "nfd-doc",
        unicodedata.normalize("NFD", "Triển khai dịch vụ công trực tuyến mức độ 3 tại Đắk Lắk."),
        title=unicodedata.normalize("NFD", "Dịch vụ công ở Đắk Lắk"),
    ),
    small("level-4", "Cung cấp dịch vụ công trực tuyến mức độ 4 cho người dân." + FILLER),
    small("apart", "Hành chính công được cải cách mạnh mẽ, từng bước hiện đại." + FILLER),
    small(
        "qd-doc",
        "Thực hiện Quyết định số 07/2022/QĐ-UBND ngày 10/3/2022 và Công văn 123/UBND-VP.",
        published=date(2022, 3, 12),
    ),
    small("cited-only", "Văn bản đính kèm, xem file.", doc_numbers=["9999/KH-UBND"]),
    small(
        "utc-late",
        "Bản tin đêm về phòng chống thiên tai.",
        published=datetime(2024, 3, 29, 20, 0, tzinfo=UTC),  # 30/3 03:00 in Hà Nội
    ),
    small("undated", "Bản tin không ghi ngày đăng về phòng chống thiên tai.", published=None),
    small("html-doc", "Cảnh báo <script>alert(1)</script> & lừa đảo qua mạng." + FILLER),
]
# "undated" must really have no date: small() would default it
SMALL_DOCS[-2].published = None


# The tests of query semantics run on every backend (tests/search/conftest.py): ``index`` is
# a SearchBackend. Those about Whoosh itself (its scores, segments, writer processes, index
# versions) take ``whoosh_index``, a SearchIndex.


@pytest.fixture(scope="module")
def index(make_backend) -> SearchBackend:
    ix = make_backend()
    assert ix.update(seed_docs() + SMALL_DOCS) == 5 + len(SMALL_DOCS)
    return ix


@pytest.fixture(scope="module")
def whoosh_index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    ix = SearchIndex(tmp_path_factory.mktemp("ix"))
    assert ix.update(seed_docs() + SMALL_DOCS) == 5 + len(SMALL_DOCS)
    yield ix
    ix.close()


def search(index: SearchBackend | SearchIndex, query: str, **kw):
    if isinstance(index, SearchIndex):
        return whoosh_query.search(index, query, **kw)
    return index.search(query, **kw)


@pytest.fixture(scope="module")
def bodies() -> dict[str, str]:
    return {d.id: d.body for d in seed_docs() + SMALL_DOCS}


def ids(index: SearchBackend | SearchIndex, q: str, **kw) -> list[str]:
    return [h.id for h in search(index, q, per_page=100, facets=False, **kw).hits]


# --- matching ----------------------------------------------------------------------------------


def test_diacritic_free_query_finds_accented_text(index: SearchBackend):
    found = ids(index, "cai cach hanh chinh")
    assert {"seed-002", "seed-003", "seed-004", "apart"} <= set(found)
    assert "seed-000" not in found  # no "cải cách" in the plan on ĐVHC


def test_d_bar_folds_both_ways(index: SearchBackend):
    assert {"seed-000", "seed-001"} <= set(ids(index, "DVHC"))
    assert set(ids(index, "ĐVHC")) == set(ids(index, "dvhc"))
    assert "nfd-doc" in ids(index, "dak lak")
    assert "accent-none" in ids(index, "đẩy")  # accented query also matches folded text


@pytest.mark.parametrize("query", ["hoà giải", "hòa giải", "HOÀ GIẢI"])
def test_both_tone_placements_find_each_other(index: SearchBackend, query: str):
    assert set(ids(index, f'"{query}"')) == {"tone-new", "tone-old"}
    assert set(ids(index, query)[:2]) == {"tone-new", "tone-old"}


def test_folded_phrase_finds_both_tone_placements(index: SearchBackend):
    assert {"tone-new", "tone-old"} <= set(ids(index, '"hoa giai"'))


def test_tone_placement_for_uy(index: SearchBackend):
    assert {"tone-new", "tone-old"} <= set(ids(index, "thuỷ"))
    assert {"tone-new", "tone-old"} <= set(ids(index, "thủy"))


def test_nfd_document_and_nfd_query(index: SearchBackend):
    assert ids(index, "Đắk Lắk") == ["nfd-doc"]
    assert ids(index, unicodedata.normalize("NFD", "Đắk Lắk")) == ["nfd-doc"]
    assert ids(index, unicodedata.normalize("NFD", '"dịch vụ công ở Đắk Lắk"')) == ["nfd-doc"]


def test_single_digit_numbers(index: SearchBackend):
    # seed 003: "dịch vụ công trực tuyến mức độ 3, 4"
    assert set(ids(index, '"mức độ 3"')) == {"nfd-doc", "seed-003"}
    assert ids(index, '"muc do 4"') == ["level-4"]
    assert "level-4" not in ids(index, '"mức độ 3"')


def test_phrase_must_not_match_words_apart(index: SearchBackend):
    loose = set(ids(index, "cải cách hành chính"))
    phrase = set(ids(index, '"cải cách hành chính"'))
    assert "apart" in loose
    assert "apart" not in phrase
    assert {"seed-002", "seed-003"} <= phrase


def test_phrase_without_diacritics(index: SearchBackend):
    assert set(ids(index, '"cai cach hanh chinh"')) == set(ids(index, '"cải cách hành chính"'))


@pytest.mark.parametrize(
    "query", ["139/KH-UBND", "139/kh-ubnd", "139 /KH-UBND", "139/KH.UBND", '"139/KH-UBND"']
)
def test_document_number_whole(index: SearchBackend, query: str):
    assert ids(index, query) == ["seed-000"]


@pytest.mark.parametrize("query", ["07/2022/QĐ-UBND", "7/2022/QD-UBND", "07/2022/qđ-ubnd"])
def test_document_number_with_year_and_qd_variants(index: SearchBackend, query: str):
    assert ids(index, query) == ["qd-doc"]


def test_document_number_is_not_its_parts(index: SearchBackend):
    assert ids(index, "139/KH-UBND") == ["seed-000"]
    assert ids(index, "139/NQ-CP") == []  # same number, other document
    assert "qd-doc" in ids(index, "123/UBND-VP")


def test_party_document_numbers(index: SearchBackend):
    assert ids(index, "37-NQ/TW") == ["seed-001"]


def test_document_number_from_doc_numbers_field(index: SearchBackend):
    assert ids(index, "9999/KH-UBND") == ["cited-only"]
    assert "seed-002" in ids(index, "5843/KH-UBND")  # cited in the text


def test_exclusion(index: SearchBackend):
    assert ids(index, '"hòa giải" -thủy') == []
    assert ids(index, '"hòa giải" -điện') == ["tone-new"]
    assert ids(index, '"hòa giải" -"thủy lợi"') == ["tone-old"]
    assert ids(index, '-"thủy lợi" "hòa giải"') == ["tone-old"]


def test_excluding_an_accented_word_keeps_other_spellings(index: SearchBackend):
    here = {"portal": "xa-thu-nghiem"}
    assert set(ids(index, "đẩy mạnh", **here)) == {"accent-exact", "accent-other", "accent-none"}
    assert set(ids(index, "đẩy mạnh -cái", **here)) == {"accent-exact", "accent-none"}
    assert set(ids(index, "đẩy mạnh -cai", **here)) == set()


# --- ranking -----------------------------------------------------------------------------------


def rank(found: list[str], doc_id: str) -> int:
    return found.index(doc_id)


def test_exact_accent_matches_rank_first(index: SearchBackend):
    found = ids(index, "cải cách đẩy mạnh")
    assert set(found) >= {"accent-exact", "accent-other", "accent-none"}
    assert rank(found, "accent-exact") < min(
        rank(found, "accent-other"), rank(found, "accent-none")
    )
    found = ids(index, "cái cách đẩy mạnh")
    assert rank(found, "accent-other") < min(
        rank(found, "accent-exact"), rank(found, "accent-none")
    )
    # every document with the exact spelling ranks above every folded-only match
    found = ids(index, "cái cách")
    assert found[0] == "accent-other"


def test_exact_accent_phrase_ranks_first(index: SearchBackend):
    found = ids(index, '"đẩy mạnh cải cách"')
    assert set(found) >= {"accent-exact", "accent-other", "accent-none"}
    assert rank(found, "accent-exact") < min(
        rank(found, "accent-other"), rank(found, "accent-none")
    )


def test_folded_query_does_not_prefer_any_spelling(index: SearchBackend):
    result = search(index, '"day manh cai cach"', facets=False)
    scores = {h.id: h.score for h in result.hits}
    assert scores["accent-exact"] == pytest.approx(scores["accent-other"], rel=0.2)


def test_title_is_boosted(index: SearchBackend):
    found = ids(index, "dịch vụ công")
    assert found[0] == "nfd-doc"  # in the title there, in the body elsewhere


# --- filters, facets, sorting --------------------------------------------------------------------


def test_empty_query_with_filter_lists_everything_matching(index: SearchBackend):
    assert set(ids(index, "", portal="quan-thanh-xuan")) == {"seed-000", "seed-001"}
    assert set(ids(index, "", portal=["quan-thanh-xuan", "huyen-phu-loc"])) == {
        "seed-000",
        "seed-001",
        "seed-002",
    }
    assert search(index, "").total == 5 + len(SMALL_DOCS)


def test_filter_matching_nothing_returns_nothing(index: SearchBackend):
    # Whoosh reads an empty filter set as "no filter": it must not leak every match
    for kw in ({"portal": "no-such-portal"}, {"date_from": date(2099, 1, 1)}):
        result = search(index, "tuyên truyền", **kw)
        assert (result.total, result.hits) == (0, []), kw
        assert search(index, "", **kw).hits == [], kw


def test_topic_filter(index: SearchBackend):
    assert set(ids(index, "", topic="dvhc")) == {"seed-000", "seed-001"}
    assert set(ids(index, "tuyên truyền", topic="cchc")) == {"seed-002", "seed-003", "seed-004"}


def test_date_filter_is_inclusive_and_works_with_date_only_docs(index: SearchBackend):
    day = date(2024, 3, 25)
    assert ids(index, "", date_from=day, date_to=day) == ["seed-001"]  # a date-only doc
    assert set(ids(index, "", date_from=day, date_to=date(2024, 3, 29))) == {
        "seed-000",  # 29/3 16:32: the whole last day counts
        "seed-001",
    }
    assert ids(index, "", date_from=date(2024, 3, 29), date_to=date(2024, 3, 29)) == ["seed-000"]
    assert ids(index, "", date_from=date(2024, 3, 30), date_to=date(2024, 3, 30)) == ["utc-late"]
    assert set(ids(index, "tuyên truyền", date_to=date(2022, 12, 31))) == {
        "seed-002",
        "seed-003",
    }
    assert "undated" not in ids(index, "thiên tai", date_from=date(2000, 1, 1))
    assert "undated" in ids(index, "thiên tai")


def test_facet_counts(index: SearchBackend):
    result = search(index, "tuyên truyền")
    assert result.total == 5
    assert result.facets["portal"] == {
        "quan-thanh-xuan": 2,
        "huyen-phu-loc": 1,
        "quan-hai-ba-trung": 1,
        "thi-tran-tan-minh": 1,
    }
    assert result.facets["topic"] == {"cchc": 3, "dvhc": 2}
    assert result.facets["year"] == {"2024": 2, "2023": 1, "2022": 1, "2017": 1}
    filtered = search(index, "tuyên truyền", portal="quan-thanh-xuan")
    assert filtered.facets["portal"] == {"quan-thanh-xuan": 2}


def test_sort_newest_and_oldest(index: SearchBackend):
    newest = ids(index, "tuyên truyền", sort="newest")
    assert newest == ["seed-000", "seed-001", "seed-004", "seed-002", "seed-003"]
    assert ids(index, "tuyên truyền", sort="oldest") == list(reversed(newest))
    thien_tai = ids(index, "thiên tai", sort="newest")
    assert thien_tai == ["utc-late", "undated"]
    assert ids(index, "thiên tai", sort="oldest") == ["utc-late", "undated"]  # undated last


def test_paging(index: SearchBackend):
    all_ids = ids(index, "", sort="oldest")
    page2 = search(index, "", sort="oldest", page=2, per_page=4, facets=False)
    assert [h.id for h in page2.hits] == all_ids[4:8]
    assert page2.total == len(all_ids)


def test_hit_fields(index: SearchBackend):
    (hit,) = search(index, "139/KH-UBND").hits
    assert hit.portal == "quan-thanh-xuan"
    assert hit.published == datetime(2024, 3, 29, 16, 32, tzinfo=VN_TZ)
    assert hit.topics == ["dvhc"]
    assert hit.url.endswith("000.html")
    assert hit.title.startswith("Kế hoạch thông tin")
    (hit,) = search(index, "37-NQ/TW").hits
    assert hit.published == date(2024, 3, 25)


# --- snippets ------------------------------------------------------------------------------------


def test_snippet_highlights_folded_and_exact_matches(index: SearchBackend, bodies: dict[str, str]):
    hits = search(index, "cai cach", text_for=bodies.get).hits
    by_id = {h.id: h.snippet for h in hits}
    assert "<b>cải</b> <b>cách</b>" in by_id["accent-exact"]
    assert "<b>cái</b> <b>cách</b>" in by_id["accent-other"]
    assert "<b>cai</b> <b>cach</b>" in by_id["accent-none"]


def test_snippet_escapes_html(index: SearchBackend, bodies: dict[str, str]):
    (hit,) = search(index, '"lừa đảo"', text_for=bodies.get).hits
    assert "<script>" not in hit.snippet
    assert "&lt;script&gt;" in hit.snippet
    assert "&amp;" in hit.snippet
    assert "<b>lừa</b> <b>đảo</b>" in hit.snippet


def test_snippet_on_nfd_body(index: SearchBackend, bodies: dict[str, str]):
    (hit,) = search(index, "Đắk Lắk", text_for=bodies.get).hits
    assert "<b>Đắk</b> <b>Lắk</b>" in hit.snippet


def test_snippet_falls_back_to_the_lead(index: SearchBackend):
    (hit,) = search(index, "139/KH-UBND", text_for=lambda _id: None).hits
    assert "<b>139/KH-UBND</b>" in hit.snippet  # the number is in seed 000's lead


def test_build_query_empty():
    assert build_query("") is None
    assert build_query("   ") is None


# --- writing -------------------------------------------------------------------------------------


def test_update_replaces_and_delete_removes(make_backend):
    ix = make_backend()
    docs = seed_docs()
    assert ix.update(docs) == 5
    changed = small(
        "seed-002", "Nội dung mới về chuyển đổi số.", title="Tiêu đề mới", content_hash="new"
    )
    # the same id twice in one call: written once, last wins
    assert ix.update([small("seed-002", "bản nháp", content_hash="draft"), changed]) == 1
    assert ix.doc_count() == 5
    assert ids(ix, '"chuyển đổi số"') == ["seed-002"]
    assert ids(ix, '"bản nháp"') == []
    assert ids(ix, "131/KH-UBND") == []  # the old text is gone
    hashes = ix.indexed_states()
    assert hashes["seed-002"] == "new"
    assert hashes == {**{d.id: d.content_hash for d in docs}, "seed-002": "new"}
    assert ix.delete(["seed-002", "missing"]) == 1
    assert ix.doc_count() == 4
    assert "seed-002" not in ix.indexed_states()
    assert ids(ix, '"chuyển đổi số"') == []
    assert ix.delete(["seed-002"]) == 0


def test_bulk_update_with_worker_processes_loses_nothing(tmp_path: Path):
    ix = SearchIndex(tmp_path / "ix", procs=2, batch_size=300)
    base = date(2020, 1, 1)

    def docs(version: str) -> list[IndexDoc]:
        return [
            small(
                f"bulk-{i}",
                f"Bài số {i} về cải cách hành chính phiên bản {version}." + FILLER,
                published=base + timedelta(days=i),
                content_hash=f"{version}-{i}",
            )
            for i in range(450)
        ]

    seen: list[int] = []
    assert ix.update(docs("một"), progress=seen.append) == 450
    assert seen == [300, 450]
    assert ix.doc_count() == 450
    assert ix.update(docs("hai")) == 450
    assert ix.doc_count() == 450
    assert search(ix, "phiên bản một", facets=False).total == 0
    assert search(ix, "phiên bản hai", facets=False).total == 450
    assert set(ix.indexed_hashes().values()) == {f"hai-{i}" for i in range(450)}
    ix.close()


def test_snippet_without_a_body_match_is_the_plain_lead_or_body(index: SearchBackend):
    (hit,) = search(
        index, '"Dịch vụ công ở Đắk Lắk"', text_for=lambda _id: "Chỉ có <tiêu đề>."
    ).hits
    assert hit.id == "nfd-doc"
    assert hit.snippet == "Chỉ có &lt;tiêu đề&gt;."


def test_every_exact_spelling_outranks_the_folded_only_match(index: SearchBackend):
    found = ids(index, "cải cách")
    exact = {"accent-exact", "apart", "seed-002", "seed-003", "seed-004"}  # contain "cải cách"
    assert exact <= set(found)
    assert max(rank(found, d) for d in exact) < rank(found, "accent-none")


def test_index_built_by_another_analyzer_version_is_refused(tmp_path: Path):
    from search.analysis import VietnameseAnalyzer
    from search.index import IndexVersionError

    SearchIndex(tmp_path / "ix").close()
    original = VietnameseAnalyzer.version
    VietnameseAnalyzer.version = original + 1
    try:
        with pytest.raises(IndexVersionError):
            SearchIndex(tmp_path / "ix")
    finally:
        VietnameseAnalyzer.version = original
    SearchIndex(tmp_path / "ix").close()


def test_index_of_an_earlier_schema_is_refused_then_rebuilt(tmp_path: Path):
    from search.index import VERSION_FILE, IndexVersionError
    from search.sync import open_index

    ix = SearchIndex(tmp_path / "ix")
    ix.update([small("old", "cải cách hành chính")])
    ix.close()
    (tmp_path / "ix" / VERSION_FILE).unlink()  # as an index built before documents
    with pytest.raises(IndexVersionError, match="index --rebuild"):
        SearchIndex(tmp_path / "ix")
    rebuilt, must_fill = open_index(tmp_path / "ix")
    assert must_fill and rebuilt.doc_count() == 0
    rebuilt.close()
    again, must_fill = open_index(tmp_path / "ix")
    assert not must_fill
    again.close()


def _documents_index(ix: SearchBackend) -> SearchBackend:
    ix.update(
        [
            IndexDoc(
                id="doc:plan2024",
                portal="quan-thanh-xuan",
                unit="quận Thanh Xuân",
                title="Kế hoạch 139/KH-UBND: Thông tin, tuyên truyền về sắp xếp ĐVHC",
                lead=None,
                body="I. MỤC ĐÍCH, YÊU CẦU ... tuyên truyền sắp xếp đơn vị hành chính",
                published=None,  # a draft: "ngày tháng 3 năm 2024"
                year=2024,
                doc_numbers=["139/KH-UBND"],
                type="document",
                doc_kinds=["Kế hoạch"],
            ),
            IndexDoc(
                id="doc:decision2022",
                portal="huyen-an-phu",
                unit="huyện An Phú",
                title="Quyết định 07/2022/QĐ-UBND: Ban hành Quy định chức năng",
                lead=None,
                body="Quyết định về chức năng, nhiệm vụ; tuyên truyền",
                published=date(2022, 6, 16),
                doc_numbers=["07/2022/QĐ-UBND"],
                type="document",
                doc_kinds=["Quyết định"],
            ),
            small(
                "article-citing",
                "UBND quận ban hành Kế hoạch số 139/KH-UBND về tuyên truyền",
                published=date(2024, 3, 29),
                doc_numbers=["139/KH-UBND"],
                doc_kinds=["Kế hoạch"],
            ),
            small("article-other", "tuyên truyền pháp luật", published=date(2024, 5, 2)),
        ]
    )
    return ix


def test_documents_filters_and_facets(make_backend):
    ix = _documents_index(make_backend())
    try:
        found = search(ix, "139/KH-UBND")
        assert {h.id: h.type for h in found.hits} == {
            "doc:plan2024": "document",
            "article-citing": "article",
        }
        assert found.facets["type"] == {"article": 1, "document": 1}
        assert found.facets["doc_kind"] == {"ke-hoach": 2}
        assert found.facets["year"] == {"2024": 2}  # the draft's year without a full date

        def ids_for(**kw) -> set[str]:
            return {h.id for h in search(ix, "tuyên truyền", per_page=50, **kw).hits}

        assert ids_for(type="document") == {"doc:plan2024", "doc:decision2022"}
        assert ids_for(type="article") == {"article-citing", "article-other"}
        # kind by label, folded words or slug; documents of that kind and articles citing one
        for kind in ("Kế hoạch", "ke hoach", "ke-hoach", "KẾ HOẠCH"):
            assert ids_for(doc_kind=kind) == {"doc:plan2024", "article-citing"}, kind
        assert ids_for(doc_kind="Quyết định", year=2022) == {"doc:decision2022"}
        assert ids_for(doc_kind="Quyết định", year=2024) == set()
        assert ids_for(type="document", year=[2022, 2024]) == {"doc:plan2024", "doc:decision2022"}
        with pytest.raises(ValueError, match="type must be one of"):
            search(ix, "x", type="page")
    finally:
        ix.close()


# --- the engine against Whoosh running the same query ---------------------------------------------

REFERENCE_QUERIES = [
    "cai cach hanh chinh",
    "cải cách",
    "cái cách đẩy mạnh",
    "dịch vụ công",
    '"đẩy mạnh cải cách"',
    '"day manh cai cach"',
    '"hòa giải" -thủy',
    '"hòa giải" -"thủy lợi"',
    "đẩy mạnh -cái",
    "139/KH-UBND",
    "tuyên truyền",
    '"dịch vụ công" trực tuyến mức độ',
    "khủng long",
]


@pytest.mark.parametrize("query", REFERENCE_QUERIES)
def test_matches_and_scores_are_whoosh_s(whoosh_index: SearchIndex, query: str):
    """search() reads posting lists itself; what it finds and how it scores must be what
    Whoosh computes for build_query() (BM25F, the same statistics)."""
    expected = {
        hit["id"]: hit.score
        for hit in whoosh_index.searcher().search(build_query(query), limit=None)
    }
    result = search(whoosh_index, query, per_page=100, facets=False)
    assert result.total == len(expected)
    assert {h.id for h in result.hits} == set(expected)
    for h in result.hits:
        assert h.score == pytest.approx(expected[h.id], rel=1e-9), h.id
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("query", ['"hòa giải" -thủy', "cai cach", '"cải cách hành chính"'])
def test_filtered_totals_count_what_whoosh_finds(whoosh_index: SearchIndex, query: str):
    from whoosh import query as Q

    searcher = whoosh_index.searcher()
    allowed = set(searcher.docs_for_query(Q.Term("portal", "xa-thu-nghiem")))
    expected = set(searcher.docs_for_query(build_query(query))) & allowed
    result = search(whoosh_index, query, portal="xa-thu-nghiem", per_page=100)
    assert result.total == len(expected)
    assert sum(result.facets["portal"].values()) == len(expected)


def test_every_word_must_match(make_backend):
    # staff expect all words: a document with only some of them is not a hit
    ix = make_backend()
    ix.update(
        [
            small("all-three", "Sắp xếp đơn vị hành chính cấp tỉnh năm 2025."),
            small("two-of-three", "Sắp xếp đơn vị hành chính cấp huyện."),
            small("apart", "Đơn vị đã sắp xếp lại; tỉnh vẫn giữ bộ máy hành chính."),
            small("in-title", "Nội dung chi tiết.", title="Sắp xếp tỉnh"),
        ]
    )
    try:
        assert set(ids(ix, "sắp xếp tỉnh")) == {"all-three", "apart", "in-title"}
        assert set(ids(ix, "sap xep tinh huyen")) == set()
        assert ids(ix, "sắp xếp huyện") == ["two-of-three"]
        assert ids(ix, '"sắp xếp đơn vị" tỉnh') == ["all-three"]
    finally:
        ix.close()


@pytest.mark.parametrize(
    ("query", "kw"),
    [
        ("cai cach", {}),
        ("tuyên truyền", {"sort": "newest"}),
        ("tuyên truyền", {"portal": "quan-thanh-xuan"}),
        ('"hòa giải" -thủy', {}),
        ("", {"topic": "cchc"}),
        ("", {"date_from": date(2024, 1, 1)}),
        ("khủng long", {}),
    ],
)
def test_search_ids_are_the_ranked_search_s(index: SearchBackend, query: str, kw: dict):
    ranked = ids(index, query, **kw)
    assert index.search_ids(query, **kw) == ranked  # few matches: in page order
    unscored = index.search_ids(query, rank_limit=0, **kw)
    assert sorted(unscored) == sorted(ranked)
    if kw.get("sort") != "newest":
        assert index.search_ids(query, rank_limit=0, limit=2, **kw) == unscored[:2]


def test_sort_newest_is_by_date_across_segments(make_backend):
    ix = make_backend(procs=1)
    base = date(2021, 1, 1)
    for batch in range(3):  # three commits: three segments
        ix.update(
            [
                small(
                    f"s{batch}-{i}",
                    "Bản tin tuyên truyền.",
                    published=base + timedelta(days=7 * i + batch),
                )
                for i in range(5)
            ]
        )
    try:
        newest = search(ix, "tuyên truyền", sort="newest", per_page=100, facets=False)
        dates = [h.published for h in newest.hits]
        assert dates == sorted(dates, reverse=True) and newest.total == 15
        page2 = search(ix, "tuyên truyền", sort="newest", page=2, per_page=4, facets=False)
        assert [h.id for h in page2.hits] == [h.id for h in newest.hits[4:8]]
    finally:
        ix.close()


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    """600 short articles over a small vocabulary, titles and bodies varied: pages of a few
    hits out of hundreds of matches, where search() skips matches that cannot make the page."""
    words = ["cải", "cách", "hành", "chính", "tuyên", "truyền", "sắp", "xếp", "đơn", "vị",
             "cai", "cach", "xã", "phường"]  # fmt: skip
    docs = []
    for i in range(600):
        body = [words[(i * 7 + k * (i % 5 + 1)) % len(words)] for k in range(8 + i % 29)]
        title = [words[(i * 3 + k) % len(words)] for k in range(1 + i % 4)]
        docs.append(
            small(f"m{i}", " ".join(body), title=" ".join(title), published=date(2024, 1, 1))
        )
    ix = SearchIndex(tmp_path_factory.mktemp("many"), procs=1)
    ix.update(docs)
    yield ix
    ix.close()


@pytest.mark.parametrize(
    "query", ["cải cách", "cai cach hanh chinh", "tuyên truyền xã", '"hành chính" cải', "vị"]
)
def test_a_page_of_few_hits_is_whoosh_s_ranking(many: SearchIndex, query: str):
    ranked = many.searcher().search(build_query(query), limit=None)
    expected = [hit.score for hit in ranked]
    by_id = {hit["id"]: hit.score for hit in ranked}
    assert len(expected) > 100
    for page, per_page in ((1, 5), (2, 5), (1, 20), (7, 3)):
        result = search(many, query, page=page, per_page=per_page, facets=False)
        start = (page - 1) * per_page
        assert [h.score for h in result.hits] == pytest.approx(
            expected[start : start + per_page], rel=1e-9
        )
        for h in result.hits:
            assert h.score == pytest.approx(by_id[h.id], rel=1e-9)
        assert result.total == len(expected)


def test_a_very_long_entry_is_indexed_and_found_to_its_end(make_backend):
    # PostgreSQL keeps tsvector positions up to 16,383 (docs/search.md): a word after that
    # is still found (stored without a position), the entry is not refused
    ix = make_backend()
    filler = " ".join(["thủ tục hành chính"] * 6000)  # 18,000 words, the same 4 words
    ix.update([small("long", f"Mở đầu kế hoạch. {filler} Kết thúc bằng khủng long.")])
    assert ids(ix, "khủng long") == ["long"]
    assert ids(ix, '"mở đầu kế hoạch"') == ["long"]
    assert ids(ix, '"thủ tục hành chính"') == ["long"]


@pytest.mark.parametrize(
    "query",
    ["'", "\\", "a'b", "x:*", "!", "a & b | !c", "<->", '"', '""', "-", "- -x", "--x", "(", "%",
     "139/", "/KH-UBND", "'; DROP TABLE search_entries; --", "\x00", "đ" * 300],
)  # fmt: skip
def test_odd_queries_are_searched_not_refused(index: SearchBackend, query: str):
    # the query language has no syntax errors: what is not a word is not searched for
    result = search(index, query, facets=True)
    assert result.total >= 0
    assert index.search_ids(query) is not None
