"""The archive pipeline: invalid items are counted and logged with their URL, never stored
silently and never crashing the crawl."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from archive.config import Config
from archive.store import Archive
from scraper.pipelines import ArchivePipeline
from scraper.registry import entry_from_dict
from scraper.spiders.portal import PortalSpider


@pytest.fixture
def pipeline(tmp_path):
    crawler = get_crawler(
        PortalSpider, {"PORTAL_ARCHIVE_DATA_DIR": str(tmp_path), "PORTAL_ARCHIVE_BATCH": 2}
    )
    crawler.spider = PortalSpider(url="https://p.example.gov.vn/")
    crawler.spider.entry = entry_from_dict(
        {
            "slug": "p",
            "name": "P",
            "unit": "Xã P",
            "unit_code": "00406",
            "family": "generic",
            "base_url": "https://p.example.gov.vn/",
        }
    )
    crawler.stats.open_spider()
    pipe = ArchivePipeline.from_crawler(crawler)
    pipe.open_spider(crawler.spider)
    yield pipe, crawler, tmp_path


def good(n: int) -> dict:
    return {
        "portal": "p",
        "url": f"https://p.example.gov.vn/a-{n}.html",
        "canonical_url": f"https://p.example.gov.vn/a-{n}.html",
        "title": f"Bài {n}",
        "published": None,
        "author": None,
        "views": None,
        "lead": None,
        "body": "Nội dung về cải cách hành chính.",
        "attachments": [],
        "doc_refs": [],
        "topics": [],
        "fetched_at": datetime.now(UTC),
        "raw_sha256": None,
    }


def test_invalid_item_is_counted_and_logged(pipeline, caplog):
    pipe, crawler, data = pipeline
    bad = {**good(1), "title": "", "url": "https://p.example.gov.vn/broken.html"}
    with caplog.at_level(logging.WARNING), pytest.raises(DropItem) as err:
        pipe.process_item(bad, crawler.spider)
    assert "https://p.example.gov.vn/broken.html" in str(err.value)
    assert crawler.stats.get_value("item/invalid") == 1
    assert crawler.stats.get_value("item/invalid/title") == 1
    for n in range(2, 5):
        pipe.process_item(good(n), crawler.spider)
    pipe.close_spider(crawler.spider)
    archive = Archive(Config.resolve(data))
    (run,) = archive.runs()
    assert run["invalid"] == 1 and run["new"] == 3 and run["errors"] >= 1
    assert len(list(archive.iter_articles())) == 3
    archive.close()
