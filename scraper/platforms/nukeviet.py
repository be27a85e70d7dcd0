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
    article_url = re.compile(r"/news/[^/]+/[^/?#]+-\d+\.html?$")
    listing_url = re.compile(r"/news/[^/]+/page-\d+/?$")
    title = ("div.news_column h1.title", "h1.title")
    date = ("span.h-date", "div.news_column .text-muted span.h-date")
    lead = ("div.hometext",)
    body = ("#news-bodyhtml", "div.bodytext")
    author = ("div.news_column p.h5.text-right", ".author")
    views = ("div.news_column", )
    attachments = ("div.download", "#news-attachments", ".news-download-file")
    remove = ("div.news_column .related", "ul.related")
    listing_links = ("div.news_column h3 a", "div.news-list h3 a", "h3.title a")
    pagination = ("ul.pagination a", "div.generate_page a")
