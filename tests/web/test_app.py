"""The web application through its HTTP interface (Starlette's TestClient: the real app,
in process). The browser journey is in test_browser.py."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import HOSTILE_EDIT, PASSWORD


@pytest.fixture()
def client(app) -> TestClient:
    return TestClient(app)


def csrf_of(client: TestClient, path: str = "/login") -> str:
    html = client.get(path).text
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(client: TestClient, username: str = "canbo") -> None:
    token = csrf_of(client)
    r = client.post(
        "/login",
        data={"csrf": token, "username": username, "password": PASSWORD, "next": "/search"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def post(client: TestClient, path: str, data: dict, **kw):
    data = {"csrf": csrf_of(client, "/collections"), **data}
    return client.post(path, data=data, follow_redirects=False, **kw)


# --- search and its JSON twin ---------------------------------------------------------------


def test_search_without_diacritics_with_facets_and_json_twin(client):
    html = client.get("/search", params={"q": "sap xep don vi hanh chinh"})
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    data = client.get("/search.json", params={"q": "sap xep don vi hanh chinh"}).json()
    assert data["total"] > 0 and data["facets"]["topic"]["dvhc"] > 0
    assert f'<strong class="total">{data["total"]}</strong>' in html.text
    # the same page through content negotiation
    same = client.get("/search", params={"q": "sap xep don vi hanh chinh"},
                      headers={"Accept": "application/json"}).json()  # fmt: skip
    assert same["total"] == data["total"]
    # filters narrow, and live in the URL
    narrowed = client.get(
        "/search.json", params={"q": "sap xep don vi hanh chinh", "topic": "dvhc", "year": "2024"}
    ).json()
    assert 0 < narrowed["total"] <= data["total"]
    assert narrowed["filters"] == {
        "q": "sap xep don vi hanh chinh",
        "topic": "dvhc",
        "year": "2024",
    }
    assert all(h["published"].startswith("2024") for h in narrowed["hits"])


def test_document_numbers_find_the_plan_and_the_article(client):
    data = client.get("/search.json", params={"q": "139/KH-UBND"}).json()
    pages = {h["type"]: h["page"] for h in data["hits"]}
    assert set(pages) == {"article", "document"}
    doc = client.get(pages["document"] + ".json").json()
    assert doc["number"] == "139/KH-UBND" and doc["attached_by"]
    original = client.get(doc["file"])
    assert original.status_code == 200 and original.content[:2] == b"PK"
    assert original.headers["content-type"] == "application/octet-stream"
    assert original.headers["content-disposition"].startswith("attachment;")


def test_sorting_paging_and_unit_filter(client):
    newest = client.get("/search.json", params={"sort": "newest", "per_page": 5}).json()
    dates = [h["published"] for h in newest["hits"] if h["published"]]
    assert dates == sorted(dates, reverse=True)
    assert newest["next"] and "page=2" in newest["next"]
    unit = client.get("/search.json", params={"unit": "quận Thanh Xuân", "type": "article"}).json()
    assert unit["total"] == 10 and {h["portal"] for h in unit["hits"]} == {"quan-thanh-xuan"}


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"year": "20x4"}, "year"),
        ({"from": "2024-13-01"}, "from"),
        ({"from": "2024-05-01", "to": "2024-01-01"}, "from/to"),
        ({"sort": "random"}, "sort"),
        ({"type": "video"}, "type"),
        ({"topic": "xyz"}, "topic"),
        ({"page": "0"}, "page"),
        ({"per_page": "100000"}, "per_page"),
        ({"portal": "../../etc"}, "portal"),
        ({"q": "x" * 600}, "q"),
    ],
)
def test_bad_parameters_get_a_clear_400(client, params, fragment):
    r = client.get("/search.json", params=params)
    assert r.status_code == 400
    assert fragment in r.json()["error"] and "Traceback" not in r.text
    html = client.get("/search", params=params)
    assert html.status_code == 400 and "Lỗi 400" in html.text


# --- article, raw page, safety ----------------------------------------------------------------


def test_article_page_and_twin(client):
    hit = client.get("/search.json", params={"q": "139/KH-UBND", "type": "article"}).json()["hits"][
        0
    ]
    page = client.get(hit["page"])
    assert page.status_code == 200
    for text in ("Tệp đính kèm", "Văn bản được nhắc đến", "139/KH-UBND", "Trang lưu trữ gốc"):
        assert text in page.text
    data = client.get(hit["page"] + ".json").json()
    assert data["id"] == hit["id"] and data["attachments"][0]["document"]["number"] == "139/KH-UBND"
    assert data["versions"][0]["version"] == 1


def test_attachment_text_and_versions_on_the_article_page(client, hostile_id):
    hit = client.get("/search.json", params={"q": "139/KH-UBND", "type": "article"}).json()["hits"][
        0
    ]
    html = client.get(hit["page"]).text
    assert "Nội dung trích xuất" in html and "MỤC ĐÍCH, YÊU CẦU" in html  # the plan's text
    data = client.get(f"/articles/{hostile_id}.json").json()
    assert [v["version"] for v in data["versions"]] == [1, 2] and data["version"] == 2
    (change,) = data["changes"]
    assert change["diff"] == [["+", HOSTILE_EDIT]]
    html = client.get(f"/articles/{hostile_id}").text
    assert "Các phiên bản trước" in html and "Phiên bản 1 → 2" in html and HOSTILE_EDIT in html


def test_hostile_article_is_escaped_and_sanitised(client, hostile_id):
    r = client.get(f"/articles/{hostile_id}")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    html = r.text
    # the title and body carry markup as text: shown escaped
    assert "&lt;script&gt;alert(&#39;tieu-de&#39;)&lt;/script&gt;" in html
    # nothing executable survives anywhere in the page
    assert "<script" not in html.lower()
    assert not re.search(r"<[^>]+\son\w+\s*=", html, re.IGNORECASE)  # no event attribute
    assert "javascript:" not in html.lower()
    assert "<iframe" not in html.lower() and "<svg" not in html.lower()
    assert "<style" not in html.lower()
    # the archived page is there, cleaned: its text and its link without the javascript: URL
    assert "bấm vào đây" in html


@pytest.mark.parametrize(
    "path",
    [
        "/documents/../../etc/passwd/file",
        "/documents/%2e%2e%2f%2e%2e%2fetc%2fpasswd/file",
        "/documents/" + "a" * 63 + "/file",
        "/documents/" + "0" * 64 + "/file",
        "/articles/%2e%2e",
        "/articles/khong-co",
    ],
)
def test_downloads_cannot_escape_the_data_directory(client, path):
    r = client.get(path)
    assert r.status_code in (400, 404)
    assert "root:" not in r.text and "Traceback" not in r.text


# --- accounts, collections, CSRF --------------------------------------------------------------


def test_writing_needs_a_signed_in_user_and_a_csrf_token(client):
    assert client.get("/collections", follow_redirects=False).status_code == 303
    assert client.get("/collections.json").status_code == 401
    token = csrf_of(client)
    r = client.post("/collections", data={"csrf": token, "name": "x"}, follow_redirects=False)
    assert r.status_code == 401
    login(client)
    r = client.post("/collections", data={"name": "thiếu mã"}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post(
        "/collections", data={"name": "sai mã", "csrf": "forged"}, follow_redirects=False
    )
    assert r.status_code == 403


def test_wrong_password_is_refused(client):
    token = csrf_of(client)
    r = client.post("/login", data={"csrf": token, "username": "canbo", "password": "sai"})
    assert r.status_code == 401 and "Sai tên đăng nhập" in r.text


def test_repeated_wrong_passwords_are_throttled(web_config):
    from archive.web.app import create_app

    client = TestClient(create_app(web_config, secret_key="throttle"))
    for _ in range(5):
        token = csrf_of(client)
        r = client.post("/login", data={"csrf": token, "username": "canbo", "password": "sai"})
        assert r.status_code == 401
    token = csrf_of(client)
    r = client.post("/login", data={"csrf": token, "username": "canbo", "password": PASSWORD})
    assert r.status_code == 429 and "15 phút" in r.text  # even the right password, for now


def test_open_redirect_is_refused(client):
    token = csrf_of(client)
    r = client.post(
        "/login",
        data={"csrf": token, "username": "canbo", "password": PASSWORD,
              "next": "https://evil.example/"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.headers["location"] == "/search"


def test_collections_add_remove_note_export(client, hostile_id):
    login(client)
    r = post(client, "/collections", {"name": "Kế hoạch ĐVHC 2024", "note": "cho báo cáo"})
    cid = int(r.headers["location"].rsplit("/", 1)[1])
    # all results of a search, then one more by id
    search = "q=sap+xep+don+vi+hanh+chinh&topic=dvhc"
    expected = client.get(f"/search.json?{search}&type=article&per_page=100").json()
    r = post(client, f"/collections/{cid}/add", {"all_results": "1", "search": search})
    assert r.status_code == 303 and f"added={expected['total']}" in r.headers["location"]
    r = post(client, f"/collections/{cid}/add", {"article_id": hostile_id})
    assert "added=1" in r.headers["location"]
    again = post(client, f"/collections/{cid}/add", {"article_id": hostile_id})
    assert "added=0" in again.headers["location"]
    data = client.get(f"/collections/{cid}.json").json()
    ids = [a["id"] for a in data["articles"]]
    assert len(ids) == expected["total"] + 1 and ids[-1] == hostile_id
    post(client, f"/collections/{cid}/note", {"note": "ghi chú mới"})
    post(client, f"/collections/{cid}/remove", {"article_id": hostile_id})
    data = client.get(f"/collections/{cid}.json").json()
    assert data["note"] == "ghi chú mới" and hostile_id not in [a["id"] for a in data["articles"]]

    # exports of the collection: CSV with BOM, JSONL, ZIP with the original files
    rows = list(
        csv.reader(
            io.StringIO(client.get(f"/collections/{cid}/export.csv").content.decode("utf-8-sig"))
        )
    )
    assert rows[0][0] == "id" and len(rows) == expected["total"] + 1
    lines = client.get(f"/collections/{cid}/export.jsonl").text.splitlines()
    assert [json.loads(x)["id"] for x in lines] == [a["id"] for a in data["articles"]]
    bundle = zipfile.ZipFile(io.BytesIO(client.get(f"/collections/{cid}/export.zip").content))
    manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["counts"]["articles"] == expected["total"]
    assert manifest["description"]["collection"] == "Kế hoạch ĐVHC 2024"

    # another user cannot see, change or export it
    other = TestClient(client.app)
    login(other, "nguoikhac")
    assert other.get(f"/collections/{cid}.json").status_code == 404
    assert other.get(f"/collections/{cid}/export.csv").status_code == 404
    assert post(other, f"/collections/{cid}/add", {"article_id": hostile_id}).status_code == 404


def test_search_export_streams_every_match(client):
    total = client.get("/search.json", params={"q": "cai cach", "type": "article"}).json()["total"]
    with client.stream("GET", "/export.jsonl", params={"q": "cai cach"}) as r:
        assert r.status_code == 200 and r.headers["x-article-count"] == str(total)
        lines = [x for x in r.iter_lines() if x]
    assert len(lines) == total
    bad = client.get("/export.pdf", params={"q": "cai cach"})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "params",
    [{"q": "cai cach"}, {"q": "tuyên truyền", "sort": "newest"}, {"q": '"hành chính" -ubnd'},
     {"topic": "cchc"}, {"q": "kế hoạch", "unit": "quan thanh xuan"}],
)  # fmt: skip
def test_search_export_rows_are_the_search_s_articles(client, params):
    # the export finds its ids without ranking or snippets; they are the search's articles,
    # in the search's order (few matches)
    pages = client.get("/search.json", params={**params, "type": "article", "per_page": 100})
    expected = [h["id"] for h in pages.json()["hits"]]
    assert pages.json()["total"] == len(expected)
    lines = client.get("/export.jsonl", params=params).text.splitlines()
    assert [json.loads(x)["id"] for x in lines] == expected


def test_search_page_does_not_count_portals_on_every_render(client, monkeypatch):
    archive = client.app.state.archive
    client.get("/search", params={"q": "cai cach"})  # names known from here on
    calls = []
    original = archive.portal_status
    monkeypatch.setattr(archive, "portal_status", lambda: calls.append(1) or original())
    for unit in ("", "thanh xuan"):
        r = client.get("/search", params={"q": "cai cach", "unit": unit})
        assert r.status_code == 200 and "Thanh Xuân" in r.text
    assert calls == []
    client.get("/portals")  # the archivists' page counts them (and refreshes the names)
    assert calls


def test_archivists_pages(client):
    portals = client.get("/portals.json").json()["portals"]
    by_slug = {p["slug"]: p for p in portals}
    assert by_slug["quan-thanh-xuan"]["articles"] == 10
    assert by_slug["quan-thanh-xuan"]["last_run"]["status"] == "finished"
    assert (
        by_slug["quan-thanh-xuan"]["state"] == "ok" and by_slug["quan-thanh-xuan"]["reasons"] == []
    )
    assert by_slug["xa-thu-nghiem"]["state"] == "never crawled"
    assert "bình thường" in client.get("/portals").text
    runs = client.get("/runs.json").json()["runs"]
    assert runs and {"pages", "new", "errors", "stats"} <= set(runs[0])
    assert "Lượt thu thập" in client.get("/runs").text


def test_openapi_describes_the_json_api(client):
    spec = client.get("/openapi.json").json()
    for path in ("/search.json", "/articles/{article_id}.json", "/documents/{sha256}.json",
                 "/collections.json", "/portals.json", "/runs.json", "/export.{fmt}"):  # fmt: skip
        assert path in spec["paths"], path
    names = {p["name"] for p in spec["paths"]["/search.json"]["get"]["parameters"]}
    assert {"q", "portal", "unit", "topic", "type", "kind", "year", "from", "to", "sort"} <= names


def test_an_outdated_index_gets_a_clear_503(tmp_path):
    from archive.config import Config
    from archive.web.app import create_app
    from search.index import VERSION_FILE, SearchIndex

    config = Config.resolve(tmp_path)
    SearchIndex(config.index_dir).close()
    (config.index_dir / VERSION_FILE).write_text("1\n")
    client = TestClient(create_app(config, secret_key="x"))
    r = client.get("/search.json", params={"q": "x"})
    assert r.status_code == 503 and "portal-archive index" in r.json()["error"]


def test_export_writer_stops_when_the_client_goes_away():
    # the writer thread must not wait forever on a full queue (holding a database session)
    import threading

    from archive.web.app import _stream_writer

    ended = threading.Event()
    raised = []

    def write(out):
        try:
            for _ in range(10_000):
                out.write(b"x" * 100_000)
        except BaseException as exc:
            raised.append(type(exc))
            raise
        finally:
            ended.set()

    stream = _stream_writer(write)
    for _, _chunk in zip(range(3), stream, strict=False):
        pass
    stream.close()  # what the server does when the download is cancelled
    assert ended.wait(10) and raised == [BrokenPipeError]
    assert b"".join(_stream_writer(lambda out: out.write(b"abc" * 10))) == b"abc" * 10


def test_unit_filter_follows_the_reorganisation_and_says_so(client):
    # a 2025 ward, typed without diacritics: the wards it was formed from, and the note
    ward = client.get("/search.json", params={"unit": "phuong khuong dinh", "type": "article"})
    data = ward.json()
    assert data["unit"]["unit"]["key"] == "00364@2025"
    assert data["unit"]["note"].startswith("gồm các đơn vị trước sắp xếp: ")
    assert "phường Hạ Đình" in data["unit"]["note"]
    titles = {h["title"] for h in data["hits"]}
    assert (
        "Kế hoạch thông tin, tuyên truyền về thực hiện sắp xếp đơn vị hành chính giai đoạn 2023-2025"
        in titles
    )  # noqa: E501 - the Kim Giang voters' list
    page = client.get("/search", params={"unit": "phuong khuong dinh"}).text
    assert 'class="unit-note"' in page and "gồm các đơn vị trước sắp xếp" in page
    # the exports carry the same articles
    lines = client.get("/export.jsonl", params={"unit": "00364@2025"}).text.splitlines()
    assert {json.loads(x)["title"] for x in lines} == titles


def test_ambiguous_unit_offers_a_choice_and_an_unknown_one_is_a_400(client):
    page = client.get("/search", params={"unit": "Thanh Xuân"})
    assert page.status_code == 200 and 'class="unit-choices"' in page.text
    assert "/search?unit=009%40pre2025" in page.text  # quận Thanh Xuân
    assert "xã Thanh Xuân, huyện Sóc Sơn, thành phố Hà Nội" in page.text
    data = client.get("/search.json", params={"unit": "Thanh Xuân"}).json()
    assert data["total"] == 0 and "00367@2025" in {c["key"] for c in data["unit_choices"]}
    unknown = client.get("/search.json", params={"unit": "xa khong co ten nay"})
    assert unknown.status_code == 400 and "unit" in unknown.json()["error"]
    ambiguous_export = client.get("/export.csv", params={"unit": "Thanh Xuân"})
    assert ambiguous_export.status_code == 400


def test_article_page_shows_its_issuing_and_named_units(client):
    hits = client.get("/search.json", params={"q": "Tân Minh tuyên truyền"}).json()["hits"]
    (hit,) = [h for h in hits if h["title"].startswith("TÂN MINH")]
    data = client.get(f"/articles/{hit['id']}.json").json()
    assert [u["key"] for u in data["units"]["issuer"]] == ["601@pre2025"]
    assert data["units"]["issuer"][0]["place"] == "huyện Hàm Tân, tỉnh Bình Thuận"
    assert "23230@pre2025" in {u["key"] for u in data["units"]["mention"]}
    page = client.get(f"/articles/{hit['id']}").text
    assert "Đơn vị ban hành" in page and "thị trấn Tân Minh, huyện Hàm Tân" in page
