"""The three simulated portals: names, units, categories and chrome details."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Category:
    slug: str  # the category's own path element (family-specific form)
    title: str


@dataclass(frozen=True)
class RemovedArticle:
    """An article a listing still links to but which answers with the soft 404."""

    category: str
    path: str
    title: str
    published: datetime


@dataclass(frozen=True)
class PortalSpec:
    slug: str
    name: str
    unit: str
    family: str
    categories: tuple[Category, ...]
    removed: RemovedArticle
    address: str
    phone: str
    email: str
    online: int
    total_visits: int


PORTAL_SPECS: dict[str, PortalSpec] = {
    "quan-thanh-xuan": PortalSpec(
        slug="quan-thanh-xuan",
        name="Cổng thông tin điện tử quận Thanh Xuân",
        unit="Quận Thanh Xuân, thành phố Hà Nội",
        family="liferay",
        categories=(
            Category("cai-cach-hanh-chinh", "Cải cách hành chính"),
            Category("tin-tuc-su-kien", "Tin tức - Sự kiện"),
        ),
        removed=RemovedArticle(
            "tin-tuc-su-kien",
            "/tin-tuc-su-kien/-/view_content/4701122-thong-bao-lich-tiep-cong-dan-thang-10-nam-2023.html",
            "Thông báo lịch tiếp công dân tháng 10 năm 2023",
            datetime(2023, 10, 2, 9, 12),
        ),
        address="Số 9 Khương Đình, phường Hạ Đình, quận Thanh Xuân, thành phố Hà Nội",
        phone="024.38585652",
        email="ubnd_thanhxuan@hanoi.gov.vn",
        online=1191,
        total_visits=11566766,
    ),
    "huyen-phu-loc": PortalSpec(
        slug="huyen-phu-loc",
        name="Cổng thông tin điện tử huyện Phú Lộc",
        unit="Huyện Phú Lộc, tỉnh Thừa Thiên Huế",
        family="tandan",
        categories=(
            Category("Cai-cach-hanh-chinh", "Cải cách hành chính"),
            Category("Tin-tuc-su-kien", "Tin tức - Sự kiện"),
        ),
        removed=RemovedArticle(
            "Tin-tuc-su-kien",
            "/portal/Pages/2021-3-2/Thong-bao-lich-tiep-cong-dan-dinh-ky-thang-3-nam-2021-7hq2mx.aspx",
            "Thông báo lịch tiếp công dân định kỳ tháng 3 năm 2021",
            datetime(2021, 3, 2, 8, 30),
        ),
        address="Số 112 Lý Thánh Tông, thị trấn Phú Lộc, huyện Phú Lộc, tỉnh Thừa Thiên Huế",
        phone="0234.3871234",
        email="phuloc@thuathienhue.gov.vn",
        online=2349,
        total_visits=8264117,
    ),
    "huyen-ham-tan": PortalSpec(
        slug="huyen-ham-tan",
        name="Cổng thông tin điện tử huyện Hàm Tân",
        unit="Huyện Hàm Tân, tỉnh Bình Thuận",
        family="nukeviet",
        categories=(
            Category("cai-cach-hanh-chinh", "Cải cách hành chính"),
            Category("tin-tuc-su-kien", "Tin tức - Sự kiện"),
        ),
        removed=RemovedArticle(
            "tin-tuc-su-kien",
            "/vi/news/tin-tuc-su-kien/thong-bao-tuyen-dung-vien-chuc-giao-duc-nam-2022-1101.html",
            "Thông báo tuyển dụng viên chức giáo dục năm 2022",
            datetime(2022, 11, 3, 15, 0),
        ),
        address="Khu phố 1, thị trấn Tân Nghĩa, huyện Hàm Tân, tỉnh Bình Thuận",
        phone="0252.3878234",
        email="ubndhamtan@binhthuan.gov.vn",
        online=1,
        total_visits=1,
    ),
}

PORTALS: tuple[str, ...] = tuple(PORTAL_SPECS)
