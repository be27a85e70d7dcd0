"""Scrapy settings of portal-archive (precedence: these < a portal's TOML [settings] <
command line). Politeness is on by default; crawls of loopback test portals switch the
delays off (see ``scraper.spiders.portal``)."""

from __future__ import annotations

import os

from archive.config import ENV_ALLOW_PRIVATE, truthy

BOT_NAME = "portal-archive"
SPIDER_MODULES = ["scraper.spiders"]
NEWSPIDER_MODULE = "scraper.spiders"

#: Identifies the bot; set PORTAL_ARCHIVE_CONTACT (a URL or e-mail) so site owners can reach you.
USER_AGENT = "portal-archive/0.1 (archive bot for Vietnamese local-government portals{})".format(
    f"; +{os.environ['PORTAL_ARCHIVE_CONTACT']}" if os.environ.get("PORTAL_ARCHIVE_CONTACT") else ""
)
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_DELAY = 1.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_TIMEOUT = 60
#: Scrapy starts this many asyncio worker tasks per response to process its output; a page
#: yields one item and a few dozen links, and the default of 100 made task creation the
#: crawl's largest cost (profiled: 70,000 tasks for 676 pages).
CONCURRENT_ITEMS = 4
RETRY_TIMES = 3
PORTAL_ARCHIVE_RETRY_BACKOFF = 1.0  # seconds before the first retry, doubled each time
PORTAL_ARCHIVE_RETRY_MAX_DELAY = 120.0  # the longest wait, Retry-After included
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
TELNETCONSOLE_ENABLED = False
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = os.environ.get("PORTAL_ARCHIVE_LOG_LEVEL", "INFO")

#: Refuse private, loopback and link-local addresses unless allowed (tests, demo).
ALLOW_PRIVATE = truthy(os.environ.get(ENV_ALLOW_PRIVATE))
#: Where the archive lives (None → PORTAL_ARCHIVE_DATA / the user's data directory).
PORTAL_ARCHIVE_DATA_DIR = None
PORTAL_ARCHIVE_DB = None
PORTAL_ARCHIVE_PORTALS_DIR = None
#: Items stored per database transaction.
PORTAL_ARCHIVE_BATCH = 100
#: Update the Whoosh index when a crawl ends.
PORTAL_ARCHIVE_INDEX_ON_CLOSE = True
#: How deep a generic crawl (``crawl <URL>``, no known family) goes from its start page.
GENERIC_DEPTH_LIMIT = 3

# Incremental re-crawls (scraper/incremental.py; docs/incremental.md).
#: Walk every listing page and fetch every article again (also ``-a full=1``); the first
#: crawl of a portal is always full.
PORTAL_ARCHIVE_FULL_CRAWL = False
#: Fully-known listing pages still walked after the first one, before a category stops
#: (0: stop at the first page whose articles are all archived).
PORTAL_ARCHIVE_OVERLAP_PAGES = 1
#: Known articles published within this many days are re-checked (conditional GET); 0: none.
PORTAL_ARCHIVE_RECHECK_DAYS = 14
#: Articles and fetch records are written at least this often (seconds), or per 100 items:
#: a killed crawl loses at most this much work (scraper/pipelines.py).
PORTAL_ARCHIVE_FLUSH_SECONDS = 1.0

DOWNLOADER_MIDDLEWARES = {
    "scraper.middlewares.SafeFetchMiddleware": 50,
    # Retries wait: exponential backoff, the server's Retry-After (429/503) honoured.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "scraper.middlewares.BackoffRetryMiddleware": 550,
    # Just outside the retries: records by kind what they gave up on (failed/* stats).
    "scraper.middlewares.FailedRequestsMiddleware": 540,
    # Next to the downloader: every exchange as sent and received, 3xx and retried 5xx
    # included, still content-encoded (docs/warc.md).
    "scraper.warc.WarcCaptureMiddleware": 950,
}
#: Write every HTTP exchange to WARC 1.1 files under <data>/warc/ (scraper/warc.py).
PORTAL_ARCHIVE_WARC = True
#: A WARC file is closed and a new one started once it reaches this size.
PORTAL_ARCHIVE_WARC_MAX_BYTES = 1024**3
#: An unchanged payload (same digest as the URL's last full record) is written as a revisit
#: record; False writes every payload in full.
PORTAL_ARCHIVE_WARC_REVISITS = True
# Crawls of a web archive's captures: ``crawl SLUG --source wayback`` (scraper/wayback.py,
# docs/warc.md). Only the archive is contacted, never the portal.
#: The Wayback Machine, or any server with its CDX API and ``id_`` captures.
PORTAL_ARCHIVE_WAYBACK_URL = "https://web.archive.org"
#: Requests per second to it, every one counted (CDX pages, captures, robots.txt, retries);
#: 0: no cap. The Internet Archive asks for low rates; a 429 or 503 pauses them all.
PORTAL_ARCHIVE_WAYBACK_RPS = 1.0
#: CDX rows asked for per listing page (``limit``; the next page by ``resumeKey``).
PORTAL_ARCHIVE_WAYBACK_PAGE_SIZE = 5000
#: How many failed URLs a run records (``failed/urls``); the counts by kind are complete.
PORTAL_ARCHIVE_FAILED_URLS_KEPT = 100
# Distributed crawls (scraper/distributed.py, docs/distributed.md): ``crawl SLUG --redis URL
# --workers N`` and ``crawl-worker RUN`` set the Redis URL, the run and the scheduler.
#: Redis keys of every run start with this (several archives may share one Redis).
PORTAL_ARCHIVE_REDIS_PREFIX = "portal-archive"
#: A worker whose last state report is older than this (seconds) is taken for dead: it no
#: longer keeps the others waiting for the links it might add.
PORTAL_ARCHIVE_WORKER_STALE = 60.0
#: The worker that seeds a run waits this long (seconds) at most for the run's local workers
#: to start, so that each gets its share of a small portal.
PORTAL_ARCHIVE_WORKERS_WAIT = 20.0
ITEM_PIPELINES = {
    "scraper.attachments.AttachmentsPipeline": 200,
    "scraper.pipelines.ArchivePipeline": 300,
}
#: Attachments larger than this are not downloaded (recorded as failed).
PORTAL_ARCHIVE_ATTACHMENT_MAXSIZE = 50 * 1024 * 1024
EXTENSIONS = {
    "scraper.extensions.CrawlProgress": 500,
    # Declared by dotted path so that scraper/ does not import search/ (scraper → archive ← search).
    "search.sync.IndexOnClose": 600,
}
PROGRESS_INTERVAL = 5.0
