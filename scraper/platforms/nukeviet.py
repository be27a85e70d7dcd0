"""NukeViet 4 portals (many district and commune sites).

URL scheme and classes from NukeViet 4's default theme (``/vi/news/<cat>/<alias>-<id>.html``,
``h1.title``, ``div.hometext``, ``#news-bodyhtml``, download panel "Tài liệu đính kèm").
"""

from __future__ import annotations

import re

from scraper.platforms.base import Platform


class NukeViet(Platform):
    name = "nukeviet"
    markers = ("nukeviet", "NukeViet", "/vi/news/", "news-bodyhtml")
    article_url = re.compile(r"/news/(?!print/)[^/]+/[^/?#]+-\d+\.html?$")
    print_url = re.compile(r"/news/print/|[?&]print(=|&|$)")
    listing_url = re.compile(r"/news/[^/]+/page-\d+/?$")
    title = ("h1.title",)
    date = ("div.row.margin-bottom-lg span.h5", "span.h-date")
    lead = ("div.hometext",)
    body = ("div#news-bodyhtml", "div.bodytext")
    author = ("p.author span.author-name", "p.author")
    views = ("li.hitstotal",)
    attachments = ("div.news-download-file", "div.download")
    remove = ("div.other-news", "ul.related")
    listing_links = ("div.news_column h3 a", "div.viewcat_page_new h3 a")
    pagination = ("ul.pagination a", "div.generate_page a")
