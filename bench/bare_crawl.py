"""The baseline of bench_crawl.py: bare Scrapy spiders fetching a given list of URLs.

No extraction, no pipeline, no robots.txt (the list already holds it): just Scrapy's
downloader. One crawler per portal, as the real crawl runs one per portal, so both sides
have the same concurrency. Prints the crawl stats as JSON.

    python bench/bare_crawl.py URLS.json [follow]  # {"portal": {"urls": [...], "starts": [...]}}
"""

from __future__ import annotations

import json
import os
import sys

import scrapy
from scrapy.crawler import CrawlerProcess


class BareSpider(scrapy.Spider):
    """``follow=False``: fetch the list. ``follow=True``: start from ``starts`` and follow
    every link that is in the list (discovery as the real crawl does it, no extraction)."""

    name = "bare"

    def __init__(self, urls: list[str], starts: list[str], follow: bool, **kwargs):
        super().__init__(**kwargs)
        self.urls, self.starts, self.follow = urls, starts, follow
        self.allowed = set(urls)

    async def start(self):
        for url in self.starts if self.follow else self.urls:
            yield scrapy.Request(url, dont_filter=not self.follow)

    def parse(self, response):
        if not self.follow or not hasattr(response, "css"):
            return
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            if url in self.allowed:
                yield scrapy.Request(url)


def main() -> None:
    groups = json.loads(open(sys.argv[1], encoding="utf-8").read())
    follow = len(sys.argv) > 2 and sys.argv[2] == "follow"
    # bench_scale.py measures what the crawl holds (memory_probe.py, beside this file).
    probe = {"memory_probe.MemoryProbe": 900} if os.environ.get("MEMORY_PROBE_OUT") else {}
    process = CrawlerProcess(
        {
            "EXTENSIONS": probe,
            "LOG_LEVEL": "WARNING",
            "ROBOTSTXT_OBEY": False,
            "AUTOTHROTTLE_ENABLED": False,
            "DOWNLOAD_DELAY": 0,
            "CONCURRENT_REQUESTS": 16,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
            "TELNETCONSOLE_ENABLED": False,
            "LOGSTATS_INTERVAL": 0,
        }
    )
    crawlers = []
    for group in groups.values():
        crawler = process.create_crawler(BareSpider)
        crawlers.append(crawler)
        process.crawl(crawler, urls=group["urls"], starts=group["starts"], follow=follow)
    process.start()
    out = []
    for c in crawlers:
        s = c.stats.get_stats()
        out.append(
            {
                "pages": s.get("response_received_count", 0),
                "start": s["start_time"].timestamp(),
                "finish": s["finish_time"].timestamp(),
            }
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
