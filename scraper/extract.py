"""Page understanding: what one fetched page is, and the article it carries.

``extract(html, url)`` classifies a page (article, listing, not_found, other) and pulls out
the article's fields. It parses with lxml (about 20x faster than BeautifulSoup on whole
pages, see shared/PERFORMANCE.md). Family selectors come first; generic extraction fills
whatever they miss, so an unknown layout still works.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree
from w3lib.url import url_query_cleaner

from archive.dates import date_from_url, parse_date_text, parse_iso, to_iso
from archive.docrefs import extract_doc_refs
from archive.legacy import decode_html_bytes, fix_legacy
from archive.text import clean
from archive.topics import classify
from scraper.platforms import Platform, detect_family, get_platform

# --- vocabularies (data, apart from the logic) --------------------------------------------

#: Query parameters that only track the visitor; removed from every URL.
TRACKING_PARAMS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "fbclid",
    "gclid",
    "zarsrc",
    "zalo_source",
    "_gl",
    "ref",
    "share",
)
#: Block-level tags: text inside them is its own paragraph.
BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 tr table thead tbody blockquote section article "
    "header footer pre figure figcaption dd dt dl hr address center form".split()
)
#: Never text.
DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "svg",
    "object",
    "embed",
    "button",
    "select",
    "input",
    "textarea",
    "nav",
)
#: class/id fragments of boilerplate blocks (generic extraction and body clean-up).
BOILERPLATE = re.compile(
    r"menu|navbar|navigation|breadcrumb|footer|header|sidebar|banner|hotline|counter|"
    r"thong-?ke|statistic|poll|binh-?chon|vote|comment|binh-?luan|related|tin-?khac|"
    r"other-?news|tin-?lien-?quan|share|social|print-?action|tags?-?list|pagination|pager",
    re.I,
)
#: Headings that start a related-news list inside an article container.
RELATED_HEADINGS = re.compile(
    r"^(các tin khác|tin liên quan|các tin liên quan|tin khác|bài viết liên quan|"
    r"những tin mới hơn|những tin cũ hơn|tin cùng chuyên mục|xem thêm)\s*:?$",
    re.I,
)
#: Texts of soft-404 pages (served with status 200).
SOFT_404 = re.compile(
    r"không tìm thấy|tài nguyên không được tìm thấy|trang (bạn )?(yêu cầu|tìm) không tồn tại|"
    r"page not found|404 not found|bài viết không tồn tại|nội dung không tồn tại",
    re.I,
)
VIEWS = re.compile(r"(?:lượt xem|lượt đọc|số lượt xem|view count|views?)\s*:?\s*([\d.,]+)", re.I)
ATTACHMENT_EXT = re.compile(r"\.(pdf|docx?|xlsx?|odt|ods|rtf|zip|rar|7z|pptx?)(?:$|[?#/])", re.I)
ATTACHMENT_PATH = re.compile(
    r"/documents/\d+/|[?&]download(=|&|$)|/DownloadFile|/file/download", re.I
)
#: Title suffixes that name the site, not the article.
TITLE_SITE_SUFFIX = re.compile(r"\s+[-|–—]\s+(cổng|trang) (thông tin|giao tiếp).*$", re.I)
#: Characters of TCVN3/VNI "garbage" that Unicode Vietnamese never uses: only text that
#: holds one is checked for legacy encodings (the check proper costs ~0.3 µs a character).
LEGACY_HINT = re.compile("[¸¶µ·¹¨ª«¬®§¾¼»×Þ÷þöñäëïüåæçøÿ]")
PARAGRAPH_END = re.compile(r"[.!?…:;”\"')\]]\s*(/\.)?$")


@dataclass
class Extraction:
    """What the extractor sees in one page (the ``extract --json`` object)."""

    kind: str
    url: str
    canonical_url: str
    title: str | None = None
    published: datetime | date | None = None
    author: str | None = None
    views: int | None = None
    lead: str | None = None
    body: str = ""
    attachments: list[dict] = field(default_factory=list)
    doc_refs: list[dict] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    family: str = "generic"
    #: Links the crawler may follow: article pages and listing pagination.
    article_links: list[str] = field(default_factory=list)
    page_links: list[str] = field(default_factory=list)
    #: The listing's next page, when the page says which one it is.
    next_page: str | None = None
    #: Items the family's listing selectors matched (a listing may hold a single item).
    listing_items: int = 0

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "url": self.url,
            "canonical_url": self.canonical_url,
            "title": self.title,
            "published": to_iso(self.published),
            "author": self.author,
            "views": self.views,
            "lead": self.lead,
            "body": self.body,
            "attachments": self.attachments,
            "doc_refs": self.doc_refs,
            "topics": self.topics,
        }


# --- URLs ---------------------------------------------------------------------------------


def clean_url(url: str) -> str:
    """Drop the fragment and tracking parameters; keep everything else as is."""
    url = url_query_cleaner(url, TRACKING_PARAMS, remove=True, keep_fragments=False)
    parts = urlsplit(url)
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def _abs(base: str, href: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if href.startswith(("javascript:", "mailto:", "tel:", "#", "data:")):
        return None
    return urljoin(base, href)


# --- text ---------------------------------------------------------------------------------


def block_paragraphs(el: lxml.html.HtmlElement) -> list[str]:
    """The element's text as paragraphs: one per block element, inline text joined."""
    out: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        text = _unlegacy("".join(buf))
        if text:
            out.append(text)
        buf.clear()

    def walk(node: lxml.html.HtmlElement) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        block = tag in BLOCK_TAGS
        if block:
            flush()
        if node.text and tag:
            buf.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                buf.append(child.tail)
        if block:
            flush()

    walk(el)
    flush()
    return out


def _unlegacy(raw: str) -> str:
    """Clean text, converting TCVN3/VNI legacy text to Unicode first (before clean(), which
    deletes the soft hyphen TCVN3 uses for "ư")."""
    if LEGACY_HINT.search(raw):
        raw = fix_legacy(raw)[0]
    return clean(raw)


def _text(el: lxml.html.HtmlElement | None) -> str:
    return _unlegacy(" ".join(el.itertext())) if el is not None else ""


def _strip(tree: lxml.html.HtmlElement) -> None:
    etree.strip_elements(
        tree, *DROP_TAGS, etree.Comment, etree.ProcessingInstruction, with_tail=False
    )


# --- the extractor ------------------------------------------------------------------------


def parse_html(html: str | bytes) -> lxml.html.HtmlElement:
    """Parse a page; an empty or unparseable document becomes an empty one."""
    if isinstance(html, bytes):
        html = decode_html_bytes(html)[0]
    if isinstance(html, str):
        # lxml refuses str with an XML encoding declaration, and NUL bytes.
        html = re.sub(r"^\s*<\?xml[^>]*>", "", html).replace("\x00", "")
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return lxml.html.document_fromstring("<html><body></body></html>")


def extract(
    html: str | bytes,
    url: str,
    *,
    family: str | None = None,
    platform: Platform | None = None,
    status: int = 200,
) -> Extraction:
    """Classify a page and extract its article. ``family`` None → detect it from markers."""
    if isinstance(html, bytes):
        html = decode_html_bytes(html)[0]  # once: detection, parsing and checks read the str
    if platform is None:
        platform = get_platform(family or detect_family(html[:200_000], url))
    tree = parse_html(html)
    url = clean_url(url)
    result = Extraction(
        kind="other", url=url, canonical_url=_canonical(tree, url), family=platform.name
    )
    result.article_links, result.page_links = _links(tree, url, platform)
    result.next_page = _next_page(tree, url, platform)
    result.listing_items = len(platform.select(tree, "listing_links"))
    # Links first: pagers often sit in <nav>, which the text clean-up removes.
    _strip(tree)

    title_el = _first(platform.select(tree, "title"))
    title = _text(title_el) or _meta(tree, "og:title") or _generic_title(tree)
    result.title = TITLE_SITE_SUFFIX.sub("", title).strip() or None

    # The soft-404 phrases are looked for in the raw page first: most pages have none, and
    # the element scan is the costly part.
    if status == 404 or (_may_be_soft_404(html) and _is_soft_404(tree, result.title)):
        result.kind = "not_found"
        return result

    if platform.print_url is not None and platform.print_url.search(url):
        # A print view repeats an article that lives at its canonical URL: not archived.
        return result

    container = _first(platform.select(tree, "body"))
    if container is None and result.listing_items >= 2:
        result.kind = "listing"  # the family's listing items, and no article body
        return result
    article_url = platform.is_article_url(url)
    if container is None and article_url is not False:
        container = _generic_container(tree)
    if container is None or (article_url is False and title_el is None):
        result.kind = "listing" if _looks_like_listing(tree, url, result) else "other"
        return result

    _fill_article(result, tree, container, platform)
    if not result.body or not result.title:
        result.kind = "listing" if _looks_like_listing(tree, url, result) else "other"
        return result
    if title_el is None and article_url is None and not _generic_article(result, container):
        result.kind = "listing" if _looks_like_listing(tree, url, result) else "other"
        return result
    result.kind = "article"
    return platform.post_process(result, tree)


def _fill_article(
    result: Extraction,
    tree: lxml.html.HtmlElement,
    container: lxml.html.HtmlElement,
    platform: Platform,
) -> None:
    # Date and views come from the page's own date element first (not the first date in
    # the text: bodies are full of dates of cited documents).
    date_el = _first(platform.select(tree, "date"))
    published = _element_date(date_el) if date_el is not None else None
    if published is None:
        published = _structured_date(tree)
    if published is None:
        published = _generic_date(tree, container)
    if published is None:
        published = date_from_url(result.url)
    result.published = published

    for el in platform.select(tree, "views") or ([date_el] if date_el is not None else []):
        m = VIEWS.search(_text(el))
        if m:
            result.views = int(re.sub(r"[.,]", "", m.group(1)))
            break

    # Attachments from download panels outside the body, and links inside it.
    attachments: dict[str, str] = {}
    for panel in platform.select(tree, "attachments"):
        _collect_attachments(panel, result.url, attachments)
    _collect_attachments(container, result.url, attachments)

    lead_el = _first(platform.select(tree, "lead"))
    if lead_el is None and platform.name == "generic":
        lead_el = _generic_lead(tree, container)
    lead = _text(lead_el) or None
    if lead_el is not None and _inside(lead_el, container):
        lead_el.drop_tree()

    author_el = _first(platform.select(tree, "author"))
    author = None
    if author_el is not None:
        author = _text(author_el) or None
        if author:
            author = (
                re.sub(r"^(tác giả( bài viết)?|tin, ảnh|người viết)\s*:\s*", "", author, flags=re.I)
                or None
            )
        if _inside(author_el, container):
            author_el.drop_tree()

    for el in platform.select(container, "remove"):
        el.drop_tree()
    _drop_boilerplate(container)

    paragraphs = block_paragraphs(container)
    paragraphs = _cut_related(paragraphs)
    # A right-aligned last line or a short line without final punctuation is the byline.
    byline = _trailing_byline(container, paragraphs)
    if byline:
        paragraphs = paragraphs[:-1]
        author = author or byline
    if lead and paragraphs and _same_start(paragraphs[0], lead):
        paragraphs = paragraphs[1:]
    body_parts = ([lead] if lead else []) + paragraphs
    result.lead = lead
    result.author = author
    result.body = "\n\n".join(body_parts)
    result.attachments = [{"url": u, "title": t} for u, t in attachments.items()]
    year = published.year if published else None
    text = result.body
    result.doc_refs = [
        {
            "number": r.number,
            "kind": r.kind,
            "date": r.date.isoformat() if r.date else None,
            "issuer": r.issuer,
        }
        for r in extract_doc_refs(text, default_year=year)
    ]
    result.topics = classify(result.title or "", lead, "\n".join(paragraphs))


def _element_date(el: lxml.html.HtmlElement) -> datetime | date | None:
    """The date an element shows; a machine-readable ``datetime`` attribute (``<time>``)
    adds the time a date-only text leaves out, when both name the same day."""
    shown = parse_date_text(_text(el))
    attr = el.get("datetime") or next(
        (t.get("datetime") for t in el.iter("time") if t.get("datetime")), None
    )
    exact = parse_iso(attr) if attr else None
    if exact is None:
        return shown
    if shown is None:
        return exact
    shown_day = shown.date() if isinstance(shown, datetime) else shown
    exact_day = exact.date() if isinstance(exact, datetime) else exact
    if shown_day != exact_day:
        return shown  # the page's visible date wins over a stale attribute
    return exact if isinstance(exact, datetime) and not isinstance(shown, datetime) else shown


def _first(items: list) -> lxml.html.HtmlElement | None:
    return items[0] if items else None


def _inside(el: lxml.html.HtmlElement, container: lxml.html.HtmlElement) -> bool:
    return any(a is container for a in el.iterancestors())


def _same_start(a: str, b: str) -> bool:
    n = min(len(a), len(b), 80)
    return n > 20 and a[:n] == b[:n]


def _meta(tree: lxml.html.HtmlElement, prop: str) -> str:
    for el in tree.xpath("//meta[@property=$p or @name=$p]", p=prop):
        content = clean(el.get("content") or "")
        if content:
            return content
    return ""


def _doc_title(tree: lxml.html.HtmlElement) -> str:
    el = tree.find(".//title")
    return _text(el)


def _canonical(tree: lxml.html.HtmlElement, url: str) -> str:
    for el in tree.xpath("//link[@rel='canonical'][@href]"):
        href = _abs(url, el.get("href"))
        if href and href.startswith(("http://", "https://")):
            return clean_url(href)
    og = _meta(tree, "og:url")
    if og.startswith(("http://", "https://")):
        return clean_url(og)
    return url


#: Cheap substrings every soft-404 text above contains (a case-insensitive regex over a
#: whole page cost 0.6 ms; these `in` tests cost microseconds).
SOFT_404_HINTS = (
    "tìm thấy",
    "Tìm thấy",
    "TÌM THẤY",
    "tồn tại",
    "TỒN TẠI",
    "not found",
    "Not Found",
    "NOT FOUND",
    "Not found",
)


def _may_be_soft_404(html: str) -> bool:
    return any(hint in html for hint in SOFT_404_HINTS)


def _is_soft_404(tree: lxml.html.HtmlElement, title: str | None) -> bool:
    body = tree.find("body")
    if title and SOFT_404.search(title):
        return True
    if body is None:
        return True
    # Only a short main text counts: a long article may quote "không tìm thấy".
    for el in tree.xpath(
        "//h1|//h2|//h3|//*[contains(@class,'error') or contains(@class,'404')"
        " or contains(@class,'not-found') or contains(@class,'status')]"
    ):
        text = _text(el)
        if text and len(text) < 120 and SOFT_404.search(text):
            return True
    return False


def _collect_attachments(root: lxml.html.HtmlElement, base: str, found: dict[str, str]) -> None:
    for a in root.iter("a"):
        href = _abs(base, a.get("href"))
        if not href or not href.startswith(("http://", "https://")):
            continue
        if ATTACHMENT_EXT.search(urlsplit(href).path + "?") or ATTACHMENT_PATH.search(href):
            title = _text(a) or a.get("title") or href.rsplit("/", 1)[-1]
            found.setdefault(href, title)


def _drop_boilerplate(container: lxml.html.HtmlElement) -> None:
    for el in list(container.iter()):
        if el is container or not isinstance(el.tag, str) or el.getparent() is None:
            continue
        marks = f"{el.get('class', '')} {el.get('id', '')}"
        if marks.strip() and BOILERPLATE.search(marks):
            el.drop_tree()


def _cut_related(paragraphs: list[str]) -> list[str]:
    for i, p in enumerate(paragraphs):
        if i > 0 and RELATED_HEADINGS.match(p):
            return paragraphs[:i]
    return paragraphs


def _trailing_byline(container: lxml.html.HtmlElement, paragraphs: list[str]) -> str | None:
    if len(paragraphs) < 2:
        return None
    last = paragraphs[-1]
    words = last.split()
    if len(words) > 8 or len(last) > 60:
        return None
    for el in reversed(list(container.iter("p", "div", "li", "span", "strong", "em"))):
        if clean(" ".join(el.itertext())) == last:
            style = (el.get("style") or "").replace(" ", "").lower()
            if "text-align:right" in style or (el.get("align") or "").lower() == "right":
                return last
            break
    if PARAGRAPH_END.search(last) or last.startswith("(") or last[0].islower():
        return None
    return last


def _structured_date(tree: lxml.html.HtmlElement) -> datetime | date | None:
    for prop in (
        "article:published_time",
        "datePublished",
        "pubdate",
        "dc.date",
        "DC.date.issued",
        "date",
    ):
        value = _meta(tree, prop)
        if value:
            parsed = parse_iso(value) or parse_date_text(value)
            if parsed:
                return parsed
    for el in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(el.text or "")
        except ValueError:
            continue
        for obj in data if isinstance(data, list) else [data]:
            if isinstance(obj, dict) and obj.get("datePublished"):
                parsed = parse_iso(str(obj["datePublished"]))
                if parsed:
                    return parsed
    for el in tree.xpath("//time[@datetime]"):
        parsed = parse_iso(el.get("datetime"))
        if parsed:
            return parsed
    return None


_DATE_CLASS = re.compile(r"date|time|ngay|publish|posted|meta", re.I)


def _generic_date(
    tree: lxml.html.HtmlElement, container: lxml.html.HtmlElement
) -> datetime | date | None:
    """A date element near the article: class names first, then short text lines."""
    for el in tree.iter():
        if not isinstance(el.tag, str) or _inside(el, container) or el is container:
            continue
        marks = f"{el.get('class', '')} {el.get('id', '')}"
        if _DATE_CLASS.search(marks):
            text = _text(el)
            if 6 <= len(text) <= 80:
                parsed = parse_date_text(text)
                if parsed:
                    return parsed
    # Short text right before the body (the line under the title).
    prev = container.getprevious()
    hops = 0
    while prev is not None and hops < 6:
        text = _text(prev)
        if 6 <= len(text) <= 80:
            parsed = parse_date_text(text)
            if parsed:
                return parsed
        prev = prev.getprevious()
        hops += 1
    return None


CHROME_TAGS = frozenset(("footer", "header", "nav", "aside"))


def _in_chrome(el: lxml.html.HtmlElement) -> bool:
    """Inside a footer, header, menu or other boilerplate block."""
    for a in el.iterancestors():
        if a.tag in CHROME_TAGS:
            return True
        marks = f"{a.get('class', '')} {a.get('id', '')}"
        if marks.strip() and BOILERPLATE.search(marks):
            return True
    return False


def _generic_container(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    """The element whose paragraphs carry the most text (a lean readability score)."""
    body = tree.find("body")
    if body is None:
        return None
    scores: dict[lxml.html.HtmlElement, float] = {}
    for p in body.iter("p", "pre", "td", "blockquote"):
        text = _text(p)
        if len(text) < 25 or _in_chrome(p):
            continue
        links = sum(len(_text(a)) for a in p.iter("a"))
        value = len(text) - 2 * links
        if value <= 0:
            continue
        parent = p.getparent()
        if parent is None:
            continue
        marks = f"{parent.get('class', '')} {parent.get('id', '')}"
        if BOILERPLATE.search(marks):
            continue
        scores[parent] = scores.get(parent, 0) + value
        grand = parent.getparent()
        if grand is not None:
            scores[grand] = scores.get(grand, 0) + value / 2
    if not scores:
        return None
    best, score = max(scores.items(), key=lambda kv: kv[1])
    return best if score >= 200 else None


#: class/id fragments of a lead (sapo) element.
LEAD_CLASS = re.compile(r"sapo|lead|summary|hometext|tom-?tat|trich-?dan|description|excerpt", re.I)
TITLE_CLASS = re.compile(r"title|tieu-?de|headline", re.I)


def _generic_title(tree: lxml.html.HtmlElement) -> str:
    """The headline: the longest heading or title-classed element that the <title> tag
    repeats (portal pages also carry portlet headings and the site name), else the first
    long h1, else <title>."""
    doc_title = _doc_title(tree)
    folded_doc = doc_title.casefold()
    first_h1, best = "", ""
    for el in tree.iter("h1", "h2", "div", "span", "p"):
        if el.tag not in ("h1", "h2"):
            marks = f"{el.get('class', '')} {el.get('id', '')}"
            if not TITLE_CLASS.search(marks) or BOILERPLATE.search(marks):
                continue
        text = _text(el)
        if not 15 <= len(text) <= 300 or el.find(".//a") is not None:
            continue
        if text.casefold() in folded_doc and len(text) > len(best):
            best = text  # the longest: the site's name is in <title> too
        if el.tag == "h1" and not first_h1:
            first_h1 = text
    return best or first_h1 or doc_title


def _generic_lead(
    tree: lxml.html.HtmlElement, container: lxml.html.HtmlElement
) -> lxml.html.HtmlElement | None:
    """An element classed as a lead (sapo), inside or just outside the body container."""
    for el in tree.iter("p", "div", "h2", "strong"):
        marks = f"{el.get('class', '')} {el.get('id', '')}"
        if marks.strip() and LEAD_CLASS.search(marks) and not BOILERPLATE.search(marks):
            text = _text(el)
            if 40 <= len(text) <= 800 and not el.findall(".//a"):
                return el
    return None


def _generic_article(result: Extraction, container: lxml.html.HtmlElement) -> bool:
    """A page whose main text is not a list of linked headlines, with a date."""
    linked_headlines = sum(
        1 for h in container.iter("h2", "h3", "h4") if h.find(".//a") is not None
    ) + sum(1 for a in container.iter("a") if len(_text(a).split()) >= 6)
    return len(result.body) >= 300 and result.published is not None and linked_headlines < 3


def _links(
    tree: lxml.html.HtmlElement, url: str, platform: Platform
) -> tuple[list[str], list[str]]:
    """Article links and pagination links the crawler may follow."""
    articles: dict[str, None] = {}
    pages: dict[str, None] = {}
    for a in platform.select(tree, "listing_links"):
        href = _abs(url, a.get("href"))
        if href:
            articles[clean_url(href)] = None
    for a in platform.select(tree, "pagination"):
        href = _abs(url, a.get("href"))
        if href:
            pages[clean_url(href)] = None
    if platform.article_url is not None or platform.listing_url is not None:
        art, lst, prt = platform.article_url, platform.listing_url, platform.print_url
        for a in tree.iter("a"):
            raw = a.get("href")
            # Match the raw href first (relative links carry the pattern too): urljoin is
            # the costly step and most links on a portal page are neither kind.
            if not raw or (prt is not None and prt.search(raw)):
                continue
            is_article = art is not None and art.search(raw)
            if not is_article and not (lst is not None and lst.search(raw)):
                continue
            href = _abs(url, raw)
            if href:
                (articles if is_article else pages)[clean_url(href)] = None
    if platform.article_url is None and platform.listing_links == ():
        # No family knowledge: same-site links whose text reads like a headline.
        host = urlsplit(url).netloc
        for a in tree.iter("a"):
            href = _abs(url, a.get("href"))
            if href and urlsplit(href).netloc == host and len(_text(a).split()) >= 6:
                articles.setdefault(clean_url(href), None)
    return list(articles), list(pages)


#: Link texts and classes of a pager's "next page" link.
NEXT_TEXT = re.compile(r"^(next|sau|tiếp|trang sau|tiếp theo|xem tiếp|›|»|>|>>|→)\W*$", re.I)
NEXT_CLASS = re.compile(r"(^|[\s_-])next([\s_-]|$)", re.I)
_PAGE_NUMBER = re.compile(r"(?:[?&](?:_101_cur|PageIndex|page|Page|p|trang)=|/page-?|/trang-)(\d+)")


def _next_page(tree: lxml.html.HtmlElement, url: str, platform: Platform) -> str | None:
    """The pager's next link: rel=next, a "next"-looking text or class, else the link to
    page n+1 of the pagination links (the current page number read from the URL)."""
    candidates = platform.select(tree, "pagination") or [
        a for a in tree.iter("a") if _PAGE_NUMBER.search(a.get("href") or "")
    ]
    for el in tree.xpath("//link[@rel='next'][@href]|//a[@rel='next'][@href]"):
        href = _abs(url, el.get("href"))
        if href:
            return clean_url(href)
    for a in candidates:
        text = _text(a)
        marks = f"{a.get('class', '')} {a.getparent().get('class', '') if a.getparent() is not None else ''}"
        if NEXT_TEXT.match(text) or NEXT_CLASS.search(marks):
            href = _abs(url, a.get("href"))
            if href and href.startswith(("http://", "https://")):
                return clean_url(href)
    m = _PAGE_NUMBER.search(url)
    current = int(m.group(1)) if m else 1
    for a in candidates:
        m = _PAGE_NUMBER.search(a.get("href") or "")
        if m and int(m.group(1)) == current + 1:
            href = _abs(url, a.get("href"))
            if href:
                return clean_url(href)
    return None


def _looks_like_listing(tree: lxml.html.HtmlElement, url: str, result: Extraction) -> bool:
    path = urlsplit(url).path
    if path in ("", "/") and not urlsplit(url).query:
        return False  # the home page is "other", even though it lists news
    return result.listing_items >= 1 or len(result.article_links) >= 2 or bool(result.page_links)
