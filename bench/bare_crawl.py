"""The baseline of bench_crawl.py: bare Scrapy spiders fetching a given list of URLs.

No extraction, no pipeline, no robots.txt (the list already holds it): just Scrapy's
downloader. One crawler per portal, as the real crawl runs one per portal, so both sides
have the same concurrency. Prints the crawl stats as JSON.

    python bench/bare_crawl.py URLS.json   # {"portal": [url, ...], ...}
"""

from __future__ import annotations

import json
import sys

import scrapy
from scrapy.crawler import CrawlerProcess


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, urls: list[str], **kwargs):
        super().__init__(**kwargs)
        self.urls = urls

    async def start(self):
        for url in self.urls:
            yield scrapy.Request(url, dont_filter=True)

    def parse(self, response):
        return None


def main() -> None:
    groups = json.loads(open(sys.argv[1], encoding="utf-8").read())
    process = CrawlerProcess({
        "LOG_LEVEL": "WARNING", "ROBOTSTXT_OBEY": False, "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0, "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
        "TELNETCONSOLE_ENABLED": False, "LOGSTATS_INTERVAL": 0,
    })
    crawlers = []
    for urls in groups.values():
        crawler = process.create_crawler(BareSpider)
        crawlers.append(crawler)
        process.crawl(crawler, urls=urls)
    process.start()
    out = []
    for c in crawlers:
        s = c.stats.get_stats()
        out.append({"pages": s.get("response_received_count", 0),
                    "start": s["start_time"].timestamp(), "finish": s["finish_time"].timestamp()})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
