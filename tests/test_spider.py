"""One broken page never stops a crawl: it is counted and logged, and the crawl goes on."""

from __future__ import annotations

from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from scraper.extract import extract
from scraper.spiders.portal import PortalSpider


def _spider():
    crawler = get_crawler(PortalSpider, {})
    spider = PortalSpider(url="https://p.example.gov.vn/")
    spider._set_crawler(crawler)  # from_crawler would adjust settings get_crawler froze
    crawler.spider = spider
    crawler.stats.open_spider()
    return spider, crawler.stats


def _response(body: bytes, url: str = "https://p.example.gov.vn/a.html") -> HtmlResponse:
    return HtmlResponse(url, body=body, encoding="utf-8", request=Request(url))


def test_broken_pages_are_counted_not_fatal():
    spider, stats = _spider()
    for body in (b"", b"   ", b"\x00\xff\xfe garbage <<<", b"<html><body></body></html>"):
        assert list(spider.parse(_response(body))) == []
    assert stats.get_value("pages/error", 0) == 0  # handled as pages, not crashes
    assert stats.get_value("pages/other", 0) + stats.get_value("pages/not_found", 0) == 4


def test_extract_survives_empty_and_garbage():
    for html in ("", "   ", "\x00garbage", "<p>x</p>"):
        assert extract(html, "https://p.example.gov.vn/").kind in ("other", "not_found")
