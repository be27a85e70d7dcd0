"""Publication dates of Vietnamese portal articles.

Portals print dates day first, in local time (Asia/Ho_Chi_Minh, UTC+7), in many shapes::

    Ngày đăng 29/03/2024 | 16:32          30/05/2022 10:43:AM
    (21:10 24/04/2017)                    18/03/2019 | 3:06 PM | View count: 107
    Đăng ngày 17 - 05 - 2024              ngày 29 tháng 3 năm 2024
    Thứ năm - 21/04/2017 21:10            Chủ nhật, 05/05/2024 - 08:15
    2024-03-29T16:32:00+07:00             /portal/Pages/2024-5-17/Slug-123.aspx

Generic parsers read 12/03/2025 as 3 December, so nothing here guesses month first.
:func:`parse_date_text` reads a page's *date element*, not an article body: it takes the first
valid date in the text and the clock time printed next to it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from urllib.parse import urlsplit

__all__ = ["VN_TZ", "date_from_url", "parse_date_text", "parse_iso", "to_iso"]


def _vn_tz() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Ho_Chi_Minh")
    except (ImportError, KeyError, OSError):  # no tz database (Windows without `tzdata`)
        # Vietnam has kept UTC+7 without DST since 1975, so a fixed offset is exact for
        # everything a portal has published.
        return timezone(timedelta(hours=7), "ICT")


VN_TZ: tzinfo = _vn_tz()

# Plausible publication years: older values are typos or ids, not dates.
MIN_YEAR = 1990
MAX_YEAR = 2100

# Counters printed inside date elements; removed before looking for a clock time so that
# "Lượt xem: 155" or "View count: 1:07"-like noise can never become a time.
COUNTER_LABELS = re.compile(
    r"(?:lượt\s+(?:xem|truy\s+cập|đọc)|số\s+lượt\s+xem|view\s*count|views?|hits?|lần\s+xem)"
    r"\s*[:：]?\s*[\d.,:]+",
    re.IGNORECASE,
)

# Full ISO 8601 timestamps (meta tags / JSON-LD copied into text).
ISO_DATETIME = re.compile(
    r"(?<!\d)\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?!\d)"
)
ISO_DATE_ONLY = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")

# Day-first numeric dates: 29/03/2024, 21-04-2017, 17 - 05 - 2024, 29.3.2024.
DMY = re.compile(r"(?<![\d/])(\d{1,2})\s*([/.-])\s*(\d{1,2})\s*\2\s*(\d{4})(?!\d)")
# "ngày 29 tháng 3 năm 2024" (the "ngày" is optional).
DMY_WORDS = re.compile(
    r"(?<!\d)(\d{1,2})\s+tháng\s+(\d{1,2})\s*,?\s+năm\s+(\d{4})(?!\d)", re.IGNORECASE
)
# Year first: 2024-5-17 (SharePoint URLs), 2024-03-29 (ISO without time).
YMD = re.compile(r"(?<![\d/.-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d-])")

MONTHS_EN = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH_EN = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
# English templates ("View count" pages): "17 May 2024", "May 17, 2024".
DMY_EN = re.compile(rf"(?<!\d)(\d{{1,2}})\s+{_MONTH_EN},?\s+(\d{{4}})(?!\d)", re.IGNORECASE)
MDY_EN = re.compile(rf"\b{_MONTH_EN}\s+(\d{{1,2}}),?\s+(\d{{4}})(?!\d)", re.IGNORECASE)

# Clock times: 16:32, 16:32:05, 3:06 PM, 10:43:AM, 8:15 SA, 16h32, 16 giờ 32 (phút).
TIME = re.compile(
    r"(?<![\d:.,/])(\d{1,2})(?:\s*:\s*(\d{2})(?:\s*:\s*(\d{2}))?|h(\d{2})|\s*giờ(?:\s*(\d{1,2})"
    r"(?:\s*phút)?)?)(?![\d/])"
    r"(?:\s*:?\s*(a\.?m\.?|p\.?m\.?|sa|ch|sáng|trưa|chiều|tối|đêm)(?!\w))?",
    re.IGNORECASE,
)
# Meridiem markers: AM/PM, and the Vietnamese "SA" (sáng) / "CH" (chiều) of Windows locales.
MERIDIEM_AM = frozenset({"am", "a.m.", "a.m", "sa", "sáng"})
MERIDIEM_PM = frozenset({"pm", "p.m.", "p.m", "ch", "chiều", "tối"})
MERIDIEM_NOON = frozenset({"trưa"})  # 12 giờ trưa = 12:00, 1 giờ trưa = 13:00
MERIDIEM_NIGHT = frozenset({"đêm"})  # 11 giờ đêm = 23:00, 2 giờ đêm = 02:00

# How far (in characters) a clock time may sit from the date it belongs to.
TIME_WINDOW = 30

# Dates inside URL paths. Article ids are never read as dates: only whole path segments
# shaped like dates count, and 8-digit runs only at the start of a segment.
URL_YMD_DASH = re.compile(r"/((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})(?=[/_.]|$)")
URL_YMD_SLASH = re.compile(r"/((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})(?=[/?#]|$)")
URL_COMPACT = re.compile(r"/(20\d{2})(\d{2})(\d{2})(?:(?=[/_-])|\d{6}(?![\d]))")
# Web-archive prefixes carry the *capture* time, never the publication time.
ARCHIVE_PREFIX = re.compile(
    r"^.*?/(?:web|wayback)/\d{4,14}(?:[a-z]{2}_)?/(?=https?:|[\w-]+(?:\.[\w-]+)+(?::\d+)?/)",
    re.IGNORECASE,
)

_SPACES = re.compile(r"[\u00a0\u2007\u202f\u200b\ufeff\s]+")


def _clean(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _valid_date(year: int, month: int, day: int) -> date | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _find_date(text: str) -> tuple[date, int, int] | None:
    """The first valid date in ``text`` with its span."""
    found: list[tuple[int, int, date]] = []
    for pattern, order in (
        (DMY, "dmy"),
        (DMY_WORDS, "dmy"),
        (YMD, "ymd"),
        (DMY_EN, "den"),
        (MDY_EN, "men"),
    ):
        for m in pattern.finditer(text):
            g = m.groups()
            if order == "dmy":
                day, month, year = int(g[0]), int(g[-2]), int(g[-1])
            elif order == "ymd":
                year, month, day = int(g[0]), int(g[1]), int(g[2])
            elif order == "den":
                day, month, year = int(g[0]), MONTHS_EN[g[1][:3].lower()], int(g[2])
            else:
                month, day, year = MONTHS_EN[g[0][:3].lower()], int(g[1]), int(g[2])
            value = _valid_date(year, month, day)
            if value is not None:
                found.append((m.start(), m.end(), value))
                break
    if not found:
        return None
    start, end, value = min(found, key=lambda item: item[0])
    return value, start, end


def _clock(m: re.Match[str]) -> time | None:
    hour = int(m.group(1))
    minute_text = m.group(2) or m.group(4) or m.group(5)
    minute = int(minute_text) if minute_text else 0
    second = int(m.group(3)) if m.group(3) else 0
    marker = (m.group(6) or "").lower()
    if marker in MERIDIEM_AM:
        if not 0 <= hour <= 12:
            return None
        hour = 0 if hour == 12 else hour
    elif marker in MERIDIEM_PM:
        if not 1 <= hour <= 23:
            return None
        if hour < 12:
            hour += 12
    elif marker in MERIDIEM_NOON and hour < 3:
        hour += 12
    elif marker in MERIDIEM_NIGHT and 6 <= hour < 12:
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59):
        return None
    return time(hour, minute, second)


def _find_time(text: str, start: int, end: int) -> time | None:
    """The clock time nearest to the date at ``text[start:end]``, if close enough."""
    best: tuple[int, time] | None = None
    for m in TIME.finditer(text):
        if m.start() < end and m.end() > start:
            continue  # inside the date itself
        if m.group(2) is None and m.group(4) is None and "giờ" not in m.group(0).lower():
            continue
        gap = start - m.end() if m.end() <= start else m.start() - end
        if gap > TIME_WINDOW:
            continue
        value = _clock(m)
        if value is not None and (best is None or gap < best[0]):
            best = (gap, value)
    return best[1] if best else None


def parse_date_text(text: str | None) -> datetime | date | None:
    """The publication date shown by a page's date element.

    Returns a tz-aware ``datetime`` in :data:`VN_TZ` when a clock time is printed next to
    the date, a ``date`` when only the day is shown, and ``None`` when the text holds no
    valid date (31/02/2024 is not a date). Day first always; view counters are ignored.
    """
    if not text:
        return None
    text = _clean(text)
    iso = ISO_DATETIME.search(text)
    if iso:
        parsed = parse_iso(iso.group(0))
        if parsed is not None:
            return parsed
    text = COUNTER_LABELS.sub(" ", text)
    found = _find_date(text)
    if found is None:
        return None
    value, start, end = found
    clock = _find_time(text, start, end)
    if clock is None:
        return value
    return datetime.combine(value, clock, tzinfo=VN_TZ)


def parse_iso(value: str | None) -> datetime | date | None:
    """An ISO 8601 date or timestamp (meta tags, JSON-LD, ``<time datetime>``).

    Timestamps come back tz-aware in :data:`VN_TZ` (converted when they carry another
    offset, assumed local when they carry none); a bare ``YYYY-MM-DD`` comes back as a
    ``date``. Anything else (including day-first text) gives ``None``: use
    :func:`parse_date_text` for that.
    """
    if not value:
        return None
    value = _clean(value)
    m = ISO_DATE_ONLY.match(value)
    if m:
        return _valid_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if not re.match(r"\d{4}-?\d{2}-?\d{2}[T ]\d", value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=VN_TZ)
    return parsed.astimezone(VN_TZ)


def date_from_url(url: str | None) -> date | None:
    """A publication date encoded in an article URL's path, where unambiguous.

    Accepts ``/2024-5-17/`` (SharePoint "Tân Dân" portals), ``/2024/05/17/`` and a segment
    starting with ``20240517`` (optionally followed by ``hhmmss``). Ids and query strings
    are never read, and a web-archive prefix (``/web/20240517093000/``, the capture time)
    is skipped.
    """
    if not url:
        return None
    url = ARCHIVE_PREFIX.sub("", url.strip(), count=1)
    try:
        path = urlsplit(url if "//" in url else "//x/" + url.lstrip("/")).path
    except ValueError:
        return None
    for pattern in (URL_YMD_DASH, URL_YMD_SLASH, URL_COMPACT):
        for m in pattern.finditer(path):
            value = _valid_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if value is not None:
                return value
    return None


def to_iso(value: datetime | date | None) -> str | None:
    """``2024-03-29T16:32:00+07:00`` for a datetime (local time), ``2024-03-29`` for a date."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.replace(tzinfo=VN_TZ) if value.tzinfo is None else value.astimezone(VN_TZ)
        return value.replace(microsecond=0).isoformat()
    return value.isoformat()
