"""Bad input never crashes the extractor: empty, binary, huge, deeply nested, broken or
title-less pages give kind "other" (or a page kind) within bounded time."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.extract import extract

PAGES = sorted((Path(__file__).parent / "fixtures" / "pages").glob("*/*.html"))
KINDS = {"article", "listing", "not_found", "other"}
URL = "https://xa.example.gov.vn/tin-tuc/bai-viet-1.html"


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   ",
        "\x00\x01\x02",
        "<",
        "<html>",
        "<html><body></body></html>",
        "<p>Không có tiêu đề, chỉ một đoạn văn ngắn.</p>",
        "<html><head><title></title></head><body><div><p>x</div></span></table>",
        "<?xml version='1.0' encoding='utf-8'?><html><body><p>xml</p></body></html>",
    ],
)
def test_degenerate_pages(html):
    assert extract(html, URL).kind in ("other", "not_found")


def test_binary_bytes():
    junk = bytes(random.Random(1).randrange(256) for _ in range(50_000))
    assert extract(junk, URL).kind in KINDS


def test_deeply_nested():
    html = "<html><body>" + "<div>" * 20_000 + "<p>Nội dung.</p>" + "</div>" * 20_000
    started = time.perf_counter()
    assert extract(html, URL).kind in KINDS
    assert time.perf_counter() - started < 5


def test_twenty_megabyte_page():
    row = '<div class="menu"><a href="/tin-tuc/a-1.html">Tin tức</a> <span>Lượt xem: 3</span></div>'
    html = "<html><head><title>Trang</title></head><body>" + row * 230_000 + "</body></html>"
    assert len(html) > 20_000_000
    started = time.perf_counter()
    assert extract(html, URL).kind in KINDS
    assert time.perf_counter() - started < 30


def _mutate(page: str, ops: list[tuple[int, int, int]]) -> str:
    """Delete, duplicate or cut slices of a real page (unbalanced tags, cut entities…)."""
    for op, a, b in ops:
        if not page:
            break
        i, j = sorted((a % len(page), b % len(page)))
        if op == 0:
            page = page[:i] + page[j:]
        elif op == 1:
            page = page[:j] + page[i:j] + page[j:]
        else:
            page = page[:i] + "<div><table><tr><td>" + page[i:]
    return page


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(min_value=0, max_value=len(PAGES) - 1),
    ops=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 10**7), st.integers(0, 10**7)), max_size=6
    ),
    encoding=st.sampled_from(["str", "utf-8", "latin-1"]),
)
def test_mutated_pages_never_crash(index, ops, encoding):
    page = _mutate(PAGES[index].read_bytes().decode("utf-8", "replace"), ops)
    data = page if encoding == "str" else page.encode(encoding, "replace")
    result = extract(data, URL)
    assert result.kind in KINDS
    assert isinstance(result.body, str)
