"""The web application over a copy of the crawled sample portals, plus one hostile article
(archived HTML carrying script and onerror payloads) and one staff account."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime

import pytest

from archive.config import Config
from archive.schema import ArticleItem
from archive.store import Archive
from tests.conftest import copy_archive

PASSWORD = "mat-khau-du-dai-2025"
HOSTILE_URL = "http://127.0.0.1:9/tin-tuc/bai-doc-hai.html"
HOSTILE_RAW = b"""<!doctype html><html><head><meta charset="utf-8">
<title>Tin</title><script>window.__xss = 'head-script'; alert('xss')</script></head>
<body onload="window.__xss='onload'">
<h1>&lt;script&gt;alert('tieu-de')&lt;/script&gt; K\xe1\xba\xbf ho\xe1\xba\xa1ch tuy\xc3\xaan truy\xe1\xbb\x81n</h1>
<p>\xc4\x90o\xe1\xba\xa1n c\xc3\xb3 \xe1\xba\xa3nh <img src="x" onerror="window.__xss='onerror'; alert(1)"></p>
<p><a href="javascript:window.__xss='href'">b\xe1\xba\xa5m v\xc3\xa0o \xc4\x91\xc3\xa2y</a></p>
<svg onload="window.__xss='svg'"><script>window.__xss='svg-script'</script></svg>
<iframe src="javascript:window.__xss='iframe'"></iframe>
<style>body { background: red }</style>
</body></html>"""
HOSTILE_TITLE = "<script>alert('tieu-de')</script> Kế hoạch tuyên truyền"
HOSTILE_BODY = (
    "Đoạn có ảnh <img src=x onerror=\"window.__xss='body'; alert(1)\">\n"
    "Một đoạn khác có <script>window.__xss='body-script'</script> ở giữa."
)

HOSTILE_EDIT = "Đoạn bổ sung sau khi sửa bài: thời hạn báo cáo là ngày 30/6/2024."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def web_config(crawled, tmp_path_factory) -> Config:
    from archive import users

    data = tmp_path_factory.mktemp("web") / "data"
    copy_archive(crawled["data"], data)
    config = Config.resolve(data)
    archive = Archive(config)
    try:
        portal_id = archive.upsert_portal(
            slug="xa-thu-nghiem", name="Cổng xã Thử Nghiệm", unit="xã Thử Nghiệm",
            base_url="http://127.0.0.1:9", family="generic",
        )  # fmt: skip
        item = ArticleItem(
            portal="xa-thu-nghiem",
            url=HOSTILE_URL,
            canonical_url=HOSTILE_URL,
            title=HOSTILE_TITLE,
            published=datetime(2024, 6, 1, 8, 0, tzinfo=UTC),
            body=HOSTILE_BODY,
            fetched_at=datetime.now(UTC),
            raw_sha256=archive.raw.put(HOSTILE_RAW),
            topics=["cchc"],
        )
        archive.store_articles([item], portal_id)
        # edited on the portal later: a second version, the first kept
        edited = item.model_copy(update={"body": HOSTILE_BODY + "\n" + HOSTILE_EDIT})
        archive.store_articles([edited], portal_id)
        users.create_user(archive, "canbo", PASSWORD, display_name="Cán bộ lưu trữ")
        users.create_user(archive, "nguoikhac", PASSWORD)
    finally:
        archive.close()
    from archive.cli import update_index

    update_index(config, show_progress=False)
    return config


@pytest.fixture(scope="session")
def hostile_id() -> str:
    from archive.schema import article_id

    return article_id("xa-thu-nghiem", HOSTILE_URL)


@pytest.fixture(scope="session")
def app(web_config):
    from archive.web.app import create_app

    return create_app(web_config, secret_key="test-secret")


@pytest.fixture(scope="session")
def server(app):
    """The application on a real HTTP server (uvicorn) on 127.0.0.1."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
