"""A WACZ export opens in ReplayWeb.page (issue 7): Webrecorder's replay, as its users embed
it (``<replay-web-page>`` with its service worker), in headless Debian Chromium, served from
127.0.0.1 with the WACZ beside it. ``make test`` fetches ReplayWeb.page's two bundled files
from the npm registry into .replayweb/ (Makefile)."""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import shutil
import threading
import zipfile
from pathlib import Path

import pytest

from archive.config import Config
from archive.export_warc import write_wacz
from archive.store import Archive
from tests.conftest import ROOT
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

REPLAYWEB = ROOT / ".replayweb" / "2.5.3"


def _need(path: Path, what: str) -> None:
    if not path.exists():
        message = f"{what} is missing: `make test` installs it ({path})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: ANN002 - http.server's signature
        pass


@pytest.fixture(scope="module")
def site(crawled, tmp_path_factory):
    """The page, ReplayWeb.page's files and a WACZ of the Thanh Xuân portal's articles."""
    _need(REPLAYWEB / "sw.js", "ReplayWeb.page")
    root = tmp_path_factory.mktemp("replayweb")
    (root / "replay").mkdir()
    shutil.copy(REPLAYWEB / "ui.js", root / "ui.js")
    shutil.copy(REPLAYWEB / "sw.js", root / "replay" / "sw.js")
    archive = Archive(Config.resolve(crawled["data"]))
    try:
        ids = [r.id for r in archive.iter_articles(portals=["quan-thanh-xuan"])]
        with (root / "export.wacz").open("wb") as fh:
            write_wacz(archive, ids, fh, description={"portal": "quan-thanh-xuan"})
    finally:
        archive.close()
    with zipfile.ZipFile(root / "export.wacz") as z:
        pages = [json.loads(x) for x in z.read("pages/pages.jsonl").decode().splitlines()[1:]]
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"root": root, "base": f"http://127.0.0.1:{server.server_address[1]}", "pages": pages}
    server.shutdown()


def test_replayweb_page_replays_an_article_from_the_wacz(site):
    _need(Path(CHROMIUM), "chromium")
    from playwright.sync_api import sync_playwright

    page_ = max(site["pages"], key=lambda p: p["ts"])  # any article of the export
    (site["root"] / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><script src="./ui.js"></script>'
        '</head><body><replay-web-page source="export.wacz" replayBase="./replay/" '
        f'embed="replayonly" url="{html.escape(page_["url"])}"></replay-web-page></body></html>',
        encoding="utf-8",
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{site['base']}/index.html")
            replayed = None
            # The service worker loads the WACZ, then the page renders (in ~3 s). Now and then
            # the replay frame never comes (2 loads in 20 here, still nothing after 180 s in
            # two CI runs); a reload then replays at once (both times), as it would for a user.
            for second in range(1, 121):
                for frame in page.frames:
                    if "/replay/w/" in frame.url and "mp_/" in frame.url:
                        try:
                            replayed = frame.title()
                        except Exception:  # noqa: BLE001 - still loading: ask again
                            replayed = None
                if replayed:
                    break
                if second % 30 == 0:
                    page.reload()
                page.wait_for_timeout(1000)
        finally:
            browser.close()
    # the archived page itself, as the portal served it (its <title> carries the headline)
    assert replayed and page_["title"] in replayed, (replayed, page_["title"])
