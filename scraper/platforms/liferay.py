"""Liferay 6.2 / 7 portals (Hà Nội, Nghệ An and their districts).

Selectors read off the real sotttt.hanoi.gov.vn pages (HTTrack mirror of 27 Aug 2022) in
shared/samples/real/: asset-publisher full view, lead ``p.sapo`` outside the body div.
"""

from __future__ import annotations

import re

from scraper.platforms.base import Platform


class Liferay(Platform):
    name = "liferay"
    markers = ("Liferay.", "p_p_id_101_", "/-/view_content/", "journal-content-article")
    article_url = re.compile(r"/-/view_content/\d+")
    listing_url = re.compile(r"_101_cur=\d+")
    title = ("div.asset-full-content-title", "h3.header-title span")
    date = ("div.asset-full-content div.assetPublishDate", "div.assetPublishDate")
    lead = ("p.sapo", "div.sapo-wrapper")
    body = ("div.journal-content-article",)
    author = ("p.view-content-author",)
    views = ("div.assetPublishDate",)
    remove = ("div.related_asset", "div.taglib-social-bookmarks", "div.print-action")
    listing_links = ("div.asset-abstract h3.asset-title a", "div.asset-abstract a.asset-title")
    pagination = ("ul.lfr-pagination-buttons a", "div.taglib-page-iterator a")
