"""Drupal 8/9 portals (An Giang's districts and others).

Attachments under ``/sites/default/files/YYYY-MM/`` are real (shared/samples/real); the node
markup (``node--type-article``, ``field--name-*``, ``views-row``, ``pager__item``) is Drupal
core's default, as in the simulated pages of tests/fixtures/pages/drupal.
"""

from __future__ import annotations

import re

from scraper.platforms.base import Platform


class Drupal(Platform):
    name = "drupal"
    markers = (
        'content="Drupal',
        "drupal-settings-json",
        "/sites/default/files/",
        "field--name-",
        "node--type-",
    )
    # Title-only slugs: no URL tells an article; the listing selectors do.
    listing_url = re.compile(r"[?&]page=\d+")
    title = ("h1.page-title span.field--name-title", "h1.page-title")
    date = ("div.node__meta span.field--name-created", "div.node__meta")
    lead = ("div.field--name-field-tom-tat", "div.field--name-field-summary")
    # Only a node's body: custom blocks in the sidebars have a field--name-body too.
    body = ("article.node--type-article div.field--name-body", "article.node div.field--name-body")
    author = ("div.field--name-field-tac-gia .field__item", "div.field--name-field-author")
    attachments = ("div.field--name-field-file-dinh-kem", "div.field--type-file")
    remove = ("div.field--name-field-tin-lien-quan",)
    listing_links = (".view-content .views-row .views-field-title a",)
    pagination = ("nav.pager a", "li.pager__item a")
