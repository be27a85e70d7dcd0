"""Home-made ASP.NET WebForms district CMSs (``Default.aspx?ItemID=N``,
``/tin-tuc/<cat>/<slug>-<id>.html``; table layout, ``__VIEWSTATE``), as in
tests/fixtures/pages/custom. The header shows today's date ("Hôm nay: …"): only the
``DateNews`` element is the publication date.
"""

from __future__ import annotations

import re

from scraper.platforms.base import Platform


class AspNet(Platform):
    name = "aspnet"
    markers = ("TitleNews", "ContentNews", "DateNews", "ListTitle", "__VIEWSTATE")
    article_url = re.compile(r"/tin-tuc/[^/]+/[^/?#]+-\d+\.html?$|[?&]ItemID=\d+", re.I)
    print_url = re.compile(r"/Print\.aspx|[?&]print=", re.I)
    listing_url = re.compile(r"[?&]Page=\d+")
    title = ("span.TitleNews",)
    date = ("span.DateNews",)
    lead = ("span.Summary",)
    body = ("div.ContentNews",)
    attachments = ("td.Attach",)
    remove = ("div.tinkhac", "table.OtherNews")
    listing_links = ("a.ListTitle",)
    pagination = ("td.Paging a",)
