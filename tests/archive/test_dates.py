"""Publication dates: day first, local time, the shapes seen on real portals."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from archive.dates import VN_TZ, date_from_url, parse_date_text, parse_iso, to_iso


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ngày đăng 29/03/2024 | 16:32  | Lượt xem: 155", vn(2024, 3, 29, 16, 32)),
        ("Ngày đăng 18/03/2019 | 3:06 PM | View count: 107", vn(2019, 3, 18, 15, 6)),
        ("30/05/2022 10:43:AM", vn(2022, 5, 30, 10, 43)),
        ("(21:10 24/04/2017)", vn(2017, 4, 24, 21, 10)),
        ("18/03/2019 | 3:06 PM", vn(2019, 3, 18, 15, 6)),
        ("18/03/2019 | 12:05 AM", vn(2019, 3, 18, 0, 5)),
        ("18/03/2019 | 12:30 PM", vn(2019, 3, 18, 12, 30)),
        ("Đăng ngày 17 - 05 - 2024", date(2024, 5, 17)),
        ("Đăng ngày 30 - 05 - 2022 10:43:AM", vn(2022, 5, 30, 10, 43)),
        ("ngày 29 tháng 3 năm 2024", date(2024, 3, 29)),
        ("Thứ Năm, 21/04/2017", date(2017, 4, 21)),
        ("Thứ năm - 21/04/2017 21:10", vn(2017, 4, 21, 21, 10)),
        ("Chủ nhật, 05/05/2024 - 08:15", vn(2024, 5, 5, 8, 15)),
        ("Thứ 2 - 22/04/2024", date(2024, 4, 22)),
        ("21-04-2017", date(2017, 4, 21)),
        ("29.3.2024", date(2024, 3, 29)),
        ("2024-03-29T16:32:00+07:00", vn(2024, 3, 29, 16, 32)),
        ("29/03/2024 16:32:05", vn(2024, 3, 29, 16, 32, 5)),
        ("29/03/2024 08:15 SA", vn(2024, 3, 29, 8, 15)),
        ("29/03/2024 03:15 CH", vn(2024, 3, 29, 15, 15)),
        ("16h32 ngày 29/3/2024", vn(2024, 3, 29, 16, 32)),
        ("12/03/2025", date(2025, 3, 12)),  # never 3 December
    ],
)
def test_parse_date_text(text: str, expected: datetime | date) -> None:
    result = parse_date_text(text)
    assert result == expected
    assert type(result) is type(expected)


def test_nfd_and_nbsp_input() -> None:
    import unicodedata

    text = unicodedata.normalize("NFD", "Ngày đăng\u00a029/03/2024\u00a0|\u00a016:32")
    assert parse_date_text(text) == vn(2024, 3, 29, 16, 32)


@pytest.mark.parametrize(
    "text",
    ["", "31/02/2024", "Lượt xem: 155", "View count: 107", "không có ngày", "30/13/2024"],
)
def test_no_date(text: str) -> None:
    assert parse_date_text(text) is None


def test_view_count_is_not_a_time() -> None:
    assert parse_date_text("Ngày 29/03/2024 | Lượt xem: 12:30") == date(2024, 3, 29)
    assert parse_date_text("29/03/2024 | View count: 107") == date(2024, 3, 29)


def test_impossible_time_keeps_the_date() -> None:
    assert parse_date_text("29/03/2024 25:10") == date(2024, 3, 29)


def test_datetime_is_local_time() -> None:
    result = parse_date_text("29/03/2024 16:32")
    assert isinstance(result, datetime)
    assert result.utcoffset() == timedelta(hours=7)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-29T16:32:00+07:00", vn(2024, 3, 29, 16, 32)),
        ("2024-03-29T09:32:00Z", vn(2024, 3, 29, 16, 32)),
        ("2024-03-29T16:32:00.000+0700", vn(2024, 3, 29, 16, 32)),
        ("2024-03-29T16:32:00", vn(2024, 3, 29, 16, 32)),  # no offset: local time
        ("2024-03-29 16:32", vn(2024, 3, 29, 16, 32)),
        ("2024-03-29", date(2024, 3, 29)),
    ],
)
def test_parse_iso(value: str, expected: datetime | date) -> None:
    result = parse_iso(value)
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(result, datetime):
        assert result.utcoffset() == timedelta(hours=7)


@pytest.mark.parametrize("value", ["", "29/03/2024", "2024-02-30", "hôm nay", "2024-13-01T10:00"])
def test_parse_iso_rejects(value: str) -> None:
    assert parse_iso(value) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://hatinh.gov.vn/portal/Pages/2024-5-17/Slug-123456.aspx", date(2024, 5, 17)),
        ("/portal/Pages/2024-5-17/Slug-123456.aspx", date(2024, 5, 17)),
        ("https://xa.gov.vn/2024/05/17/ke-hoach-cchc/", date(2024, 5, 17)),
        ("https://xa.gov.vn/tin/20240517-ke-hoach", date(2024, 5, 17)),
        ("https://xa.gov.vn/tin/20240517093000/x", date(2024, 5, 17)),
        # Ids, slugs, queries and impossible dates are not publication dates.
        ("https://xa.gov.vn/vi/news/tin-tuc/ke-hoach-2023-2025-20240517.html", None),
        ("https://xa.gov.vn/tin/20240517.html", None),
        ("https://xa.gov.vn/tin-tuc/kh-123456.html?ItemID=20240517", None),
        ("https://xa.gov.vn/portal/Pages/2024-2-31/x.aspx", None),
        ("https://xa.gov.vn/2024/05/", None),
        # A web-archive capture time is not the publication date.
        ("https://web.archive.org/web/20240517093000/https://x.gov.vn/tin/a-1.html", None),
        (
            "https://web.archive.org/web/20240517093000id_/https://x.vn/2023/01/02/a",
            date(2023, 1, 2),
        ),
    ],
)
def test_date_from_url(url: str, expected: date | None) -> None:
    assert date_from_url(url) == expected


def test_to_iso() -> None:
    assert to_iso(vn(2024, 3, 29, 16, 32)) == "2024-03-29T16:32:00+07:00"
    assert to_iso(date(2024, 3, 29)) == "2024-03-29"
    assert to_iso(None) is None
    assert to_iso(parse_iso("2024-03-29T09:32:00.5Z")) == "2024-03-29T16:32:00+07:00"
    assert to_iso(datetime(2024, 3, 29, 16, 32)) == "2024-03-29T16:32:00+07:00"


def test_fixed_offset_without_tz_database(monkeypatch: pytest.MonkeyPatch) -> None:
    import zoneinfo

    from archive import dates

    def missing(key: str) -> None:
        raise zoneinfo.ZoneInfoNotFoundError(key)

    monkeypatch.setattr(zoneinfo, "ZoneInfo", missing)
    tz = dates._vn_tz()
    assert datetime(2024, 3, 29, tzinfo=tz).isoformat() == "2024-03-29T00:00:00+07:00"
