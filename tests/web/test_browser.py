"""Staff use the application in a real browser: headless Debian Chromium driven by
Playwright against the application on a real HTTP server (uvicorn on 127.0.0.1).

Set PORTAL_ARCHIVE_SCREENSHOTS=DIR to keep screenshots of the search and article pages
(`make screenshots` writes docs/screenshots/)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.web.conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make test` installs it (scripts/system-deps.sh)")
        pytest.skip("chromium not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(accept_downloads=True, locale="vi-VN",
                                  viewport={"width": 1280, "height": 900})  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    target = os.environ.get("PORTAL_ARCHIVE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / name), full_page=False)


def test_search_filter_read_collect_export_xlsx(page, server, tmp_path):
    from openpyxl import load_workbook

    # sign in and make a collection
    page.goto(f"{server}/login")
    page.fill("input[name=username]", "canbo")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Đăng nhập')")
    page.goto(f"{server}/collections")
    page.fill("input[name=name]", "Sắp xếp ĐVHC 2024")
    page.click("button:has-text('Tạo')")
    assert page.locator("h1").inner_text() == "Sắp xếp ĐVHC 2024"

    # search without diacritics
    page.goto(f"{server}/search")
    page.fill("input[name=q]", "sap xep don vi hanh chinh")
    page.click(".searchbar button[type=submit]")
    total = int(page.locator("strong.total").inner_text())
    assert total > 0
    assert "q=sap+xep+don+vi+hanh+chinh" in page.url  # the search lives in the URL
    # filter by topic, then by year, with the facets
    page.click("[data-facet=topic] a:has-text('Sắp xếp ĐVHC')")
    page.click("[data-facet=year] a:has-text('2024')")
    assert "topic=dvhc" in page.url and "year=2024" in page.url
    filtered = int(page.locator("strong.total").inner_text())
    assert 0 < filtered <= total
    for meta in page.locator(".hit .meta").all_inner_texts():
        assert "/2024" in meta
    screenshot(page, "search.png")

    # open the first article
    first = page.locator(".hit.article a.title").first
    title = first.inner_text()
    first.click()
    assert page.locator("article > h1").inner_text() == title
    screenshot(page, "article.png")
    # add it to the collection
    page.select_option("#collection-select", label="Sắp xếp ĐVHC 2024")
    page.click("button:has-text('Thêm vào bộ sưu tập')")
    assert "Đã thêm" in page.locator(".flash").inner_text()
    page.goto(f"{server}/collections")
    page.click("a:has-text('Sắp xếp ĐVHC 2024')")
    assert page.locator(".hits .title").all_inner_texts() == [title]

    # export it as XLSX and open the file
    with page.expect_download() as info:
        page.click("a:has-text('Excel')")
    path = tmp_path / "export.xlsx"
    info.value.save_as(path)
    assert info.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(path).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2  # header and the one article
    assert title in rows[1]
    assert not page.errors  # type: ignore[attr-defined]


def test_archived_payloads_show_as_text_and_no_script_runs(page, server, hostile_id):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{server}/articles/{hostile_id}")
    # the payloads in the extracted text are shown as text
    assert page.locator("article > h1").inner_text().startswith("<script>alert('tieu-de')</script>")
    assert "<img src=x onerror=" in page.locator(".body").inner_text()
    # open the archived page (sanitised) and wait a moment for anything to fire
    page.click("section.raw summary")
    assert "bấm vào đây" in page.locator(".raw-page").inner_text()
    page.click(".raw-page a")  # a javascript: link would run here: it has no href left
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []
    assert page.locator("script").count() == 0
