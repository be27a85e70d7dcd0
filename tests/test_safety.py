"""The crawler fetches only http(s) and refuses private and loopback addresses unless allowed."""

from __future__ import annotations

import pytest

from scraper.middlewares import check_url
from tests.conftest import run_cli


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/",
        "http://localhost/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://0.0.0.0/",
    ],
)
def test_private_and_loopback_refused_by_default(url):
    assert check_url(url, allow_private=False)
    assert check_url(url, allow_private=True) is None


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.gov.vn/x", "gopher://a/"])
def test_only_http_and_https(url):
    assert "not http(s)" in check_url(url, allow_private=True)


def test_public_address_allowed():
    assert check_url("http://8.8.8.8/", allow_private=False) is None


def test_crawl_of_loopback_without_flag_is_refused(tmp_path):
    proc = run_cli(
        "--data-dir",
        str(tmp_path),
        "crawl",
        "http://127.0.0.1:9/",
        env={"PORTAL_ARCHIVE_ALLOW_PRIVATE": ""},
    )
    assert proc.returncode == 2
    assert "private/loopback" in proc.stderr and "--allow-private" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_crawl_of_file_url_is_refused(tmp_path):
    proc = run_cli("--data-dir", str(tmp_path), "crawl", "file:///etc/passwd")
    assert proc.returncode == 2 and "not http(s)" in proc.stderr
