"""SharePoint "Tân Dân" portals (Hà Tĩnh, Ninh Thuận, Điện Biên, Thừa Thiên Huế …).

URL scheme from real URLs (``/portal/Pages/2024-5-17/<Slug>-<id>.aspx``, ``?PageIndex=N``);
the markup classes (``tandan-*``, ``ms-rtestate-field``, ``ExternalClass…``) are the
documented hypothesis in shared/DOMAIN.md, matched by the sample portal.
"""

from __future__ import annotations

import re

from scraper.platforms.base import Platform


class TanDan(Platform):
    name = "tandan"
    markers = ("/portal/Pages/", "tandan-", "ms-rtestate-field", "_spPageContextInfo")
    article_url = re.compile(r"/portal/Pages/\d{4}-\d{1,2}-\d{1,2}/[^/?#]+\.aspx", re.I)
    listing_url = re.compile(r"[?&]PageIndex=\d+", re.I)
    title = ("h1.tandan-title", ".tandan-article-title", "h1.title")
    date = (".tandan-date", ".tandan-article-date", ".ngaydang")
    lead = (".tandan-sapo", ".tandan-article-summary", ".tandan-lead")
    body = (".tandan-article-body", "div.ms-rtestate-field", "div[class^='ExternalClass']")
    author = (".tandan-author",)
    views = (".tandan-views", ".tandan-date")
    attachments = (".tandan-attachments", ".tandan-files")
    remove = (".tandan-related", ".tandan-tools", ".tandan-other-news")
    listing_links = (".tandan-list-item a.tandan-item-title", ".tandan-news-list h3 a",
                     ".tandan-list h3 a")
    pagination = (".tandan-paging a", ".tandan-pager a")
