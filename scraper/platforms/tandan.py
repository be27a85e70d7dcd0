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
    markers = (
        "/portal/Pages/",
        "tandan-",
        "ms-rtestate-field",
        "_spPageContextInfo",
        "ExternalClass",
    )
    article_url = re.compile(r"/portal/Pages/\d{4}-\d{1,2}-\d{1,2}/[^/?#]+\.aspx", re.I)
    listing_url = re.compile(r"[?&]PageIndex=\d+", re.I)
    title = ("h1.tandan-news-title", "h1.tandan-title", ".tandan-article-title")
    date = ("span.tandan-news-date", ".tandan-date", ".tandan-article-date")
    lead = ("div.tandan-news-sapo", ".tandan-sapo", ".tandan-article-summary")
    body = (
        "div.ms-rtestate-field > div[class^='ExternalClass']",
        "div.ms-rtestate-field",
        ".tandan-article-body",
    )
    author = ("p.tandan-news-author", ".tandan-author")
    views = ("span.tandan-news-views", ".tandan-views")
    attachments = ("div.tandan-news-attachments", ".tandan-attachments")
    remove = ("div.tandan-other-news", "div.tandan-news-tools", ".tandan-related")
    listing_links = ("div.tandan-news-item h3.tandan-news-item-title a", ".tandan-news-list h3 a")
    pagination = ("div.tandan-paging a", ".tandan-pager a")
