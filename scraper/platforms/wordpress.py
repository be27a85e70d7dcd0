"""WordPress commune sites (xã/phường).

``entry-title``, ``entry-content``, ``time.entry-date`` and ``/page/N/`` are WordPress
theme conventions (``_s``-style themes), as in tests/fixtures/pages/wordpress.
"""

from __future__ import annotations

import re

from scraper.platforms.base import Platform


class WordPress(Platform):
    name = "wordpress"
    markers = ("/wp-content/", "/wp-includes/", "wp-json", 'content="WordPress', "entry-content")
    listing_url = re.compile(r"/page/\d+/?$")
    title = ("h1.entry-title",)
    date = ("time.entry-date.published", "time.entry-date")
    # A bold first paragraph is the lead (kept only when the bold text is the whole paragraph).
    lead = ("div.entry-content > p:first-child > strong",)
    body = ("div.entry-content",)
    author = ("span.byline .author a", "span.byline .author")
    remove = ("div.related-posts", "div.jp-relatedposts", "div.sharedaddy")
    listing_links = ("article h2.entry-title a", "h2.entry-title a")
    pagination = ("nav.pagination a", "div.nav-links a")
