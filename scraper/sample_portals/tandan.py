"""SharePoint "Tân Dân" portal (huyện Phú Lộc). Markup modelled on the documented family."""

from __future__ import annotations

from datetime import datetime

from .content import Article
from .site import TRACKING, PortalSite, esc

VIEWSTATE = "/wEPDwUKMTY1NDU2MTA1MmRkZGVmYXVsdC5hc3B4L3RhbmRhbi9wb3J0YWwvZ292dm4="


def stamp(dt: datetime) -> str:
    """'30/05/2022 10:43:AM' (12-hour clock, colon before AM/PM, as in seed 002)."""
    hour = dt.hour % 12 or 12
    return f"{dt:%d/%m/%Y} {hour:02d}:{dt:%M}:{'AM' if dt.hour < 12 else 'PM'}"


def box(title: str, inner: str, cls: str) -> str:
    return (
        f'<div class="tandan-box {cls}"><div class="tandan-box-title">{esc(title)}</div>'
        f'<div class="tandan-box-content">{inner}</div></div>'
    )


class TandanSite(PortalSite):
    family = "tandan"

    def cat_path(self, slug: str) -> str:
        return f"/portal/Pages/{slug}.aspx"

    def page(self, title: str, canonical: str, main: str) -> str:
        s = self.spec
        menu = "".join(
            f'<li class="tandan-menu-item"><a href="{self.cat_path(c.slug)}">{esc(c.title)}</a></li>'
            for c in s.categories
        )
        return f"""<!DOCTYPE html>
<html dir="ltr" lang="vi-VN">
<head>
<meta charset="utf-8" />
<meta http-equiv="X-UA-Compatible" content="IE=10" />
<meta name="GENERATOR" content="Microsoft SharePoint" />
<title>{esc(title)}</title>
<link rel="canonical" href="{esc(canonical)}" />
<link rel="stylesheet" type="text/css" href="/_layouts/15/TanDan.Portal/css/tandan-portal.css" />
</head>
<body>
<form method="post" action="{esc(canonical.removeprefix(self.base))}" id="aspnetForm">
<div class="aspNetHidden"><input type="hidden" name="__VIEWSTATE" id="__VIEWSTATE" value="{VIEWSTATE}" /></div>
<a class="tandan-skip-link" href="#tandan-main">Truy cập nội dung luôn</a>
<div class="tandan-header">
<div class="tandan-banner"><a href="/"><img src="/_img/banner-phuloc.png" alt="{esc(s.name)}" /></a><span class="tandan-site-name">{esc(s.name.upper())}</span></div>
<div class="tandan-search"><span>Tìm kiếm tin tức</span><input type="text" name="q" /><input type="submit" value="Tìm" /></div>
<ul class="tandan-menu">
<li class="tandan-menu-item"><a href="/">Trang chủ</a></li>
<li class="tandan-menu-item"><a href="/portal/Pages/Gioi-thieu.aspx">Giới thiệu</a></li>
{menu}
<li class="tandan-menu-item"><a href="https://dichvucong.gov.vn/" target="_blank">Dịch vụ công trực tuyến</a></li>
<li class="tandan-menu-item"><a href="https://thuathienhue.gov.vn/" target="_blank">Cổng TTĐT tỉnh</a></li>
</ul>
</div>
<div class="tandan-wrapper">
<div class="tandan-main" id="tandan-main">
{main}
</div>
<div class="tandan-right">
{self.sidebar()}
</div>
</div>
<div class="tandan-footer">
<p class="tandan-footer-title">{esc(s.name.upper())}</p>
<p>Cơ quan chủ quản: UBND huyện Phú Lộc. Địa chỉ: {esc(s.address)}</p>
<p>Điện thoại: {esc(s.phone)} - Email: {esc(s.email)}</p>
<p><a href="https://tinnhiemmang.vn/danh-ba-tin-nhiem/phuloc" target="_blank"><img src="/_img/tin-nhiem-mang.png" alt="Chung nhan Tin Nhiem Mang" /></a>
<a href="https://chinhphu.vn/" target="_blank">Cổng TTĐT Chính phủ</a> | <a href="/admin/login">Quản trị</a></p>
</div>
</form>
</body>
</html>
"""

    def sidebar(self) -> str:
        s = self.spec
        return (
            box(
                "ĐƯỜNG DÂY NÓNG",
                f"<ul><li>Văn phòng HĐND và UBND huyện: {esc(s.phone)}</li>"
                "<li>Tiếp nhận phản ánh TTHC: 0234.3871999</li></ul>",
                "tandan-hotline",
            )
            + box(
                "Xem theo ngày",
                '<input type="text" class="tandan-datepicker" /> <input type="button" value="Xem" />',
                "tandan-xemtheongay",
            )
            + box(
                "Bình chọn",
                "<p>Bạn quan tâm nội dung nào trên Cổng thông tin?</p>"
                '<label><input type="radio" name="poll" /> Tin tức - Sự kiện</label>'
                '<label><input type="radio" name="poll" /> Văn bản chỉ đạo điều hành</label>'
                '<input type="button" value="Bình chọn" /> <input type="button" value="Xem kết quả" />',
                "tandan-poll",
            )
            + box(
                "Bản đồ số",
                '<a href="/portal/Pages/Ban-do-so.aspx"><img src="/_img/ban-do-so.png" alt="Bản đồ số" /></a>',
                "tandan-map",
            )
            + box(
                "Thống kê truy cập",
                f"<ul><li>Tổng truy cập {s.total_visits:,}</li><li>Truy cập hiện tại {s.online:,} khách</li></ul>".replace(
                    ",", "."
                ),
                "tandan-counter",
            )
        )

    def render_home(self) -> str:
        newest = self.newest()
        hot = "".join(
            f'<li><a href="{esc(a.path + TRACKING)}">{esc(a.title)}</a>'
            f' <span class="tandan-news-item-date">{a.published:%d/%m/%Y}</span></li>'
            for a in newest[:4]
        )
        blocks = [box("Tin nổi bật", f'<ul class="tandan-hot-news">{hot}</ul>', "tandan-hot")]
        for cat in self.spec.categories:
            items = "".join(
                f'<li><a href="{esc(a.path)}">{esc(a.title)}</a></li>'
                for a in self.newest(cat.slug)[:3]
            )
            blocks.append(
                box(
                    cat.title,
                    f'<ul>{items}</ul><a class="tandan-more" href="{self.cat_path(cat.slug)}">Xem thêm</a>',
                    "tandan-home-category",
                )
            )
        return self.page(self.spec.name, self.base + "/", "".join(blocks))

    def render_listing(self, category: str, page: int) -> str:
        rows = self.listing_entries(category)
        pages = self.page_count(category)
        start = (page - 1) * self.page_size
        items = []
        for path, title, published, art in rows[start : start + self.page_size]:
            summary = (
                self.summary(art) if art else "Lịch tiếp công dân định kỳ của lãnh đạo UBND huyện."
            )
            items.append(
                '<div class="tandan-news-item">'
                f'<a class="tandan-news-item-image" href="{esc(path)}"><img src="/_img/thumb.png" alt="" /></a>'
                f'<h3 class="tandan-news-item-title"><a href="{esc(path)}">{esc(title)}</a></h3>'
                f'<span class="tandan-news-item-date">{published:%d/%m/%Y}</span>'
                f'<div class="tandan-news-item-sapo">{esc(summary)}</div></div>'
            )
        base = self.cat_path(category)
        links = []
        if page > 1:
            links.append(
                f'<a class="tandan-page-prev" href="{base}?PageIndex={page - 1}">« Trang trước</a>'
            )
        for n in range(1, pages + 1):
            if n == page:
                links.append(f'<span class="tandan-page-current">{n}</span>')
            else:
                links.append(f'<a class="tandan-page-link" href="{base}?PageIndex={n}">{n}</a>')
        if page < pages:
            links.append(
                f'<a class="tandan-page-next" href="{base}?PageIndex={page + 1}">Trang sau »</a>'
            )
        title = self.category_title(category)
        main = (
            f'<div class="tandan-breadcrumb"><a href="/">Trang chủ</a> » <span>{esc(title)}</span></div>'
            f'<div class="tandan-category"><h2 class="tandan-category-title">{esc(title)}</h2>'
            f'<div class="tandan-news-list">{"".join(items)}</div>'
            f'<div class="tandan-paging"><span>Trang:</span> {" ".join(links)}</div></div>'
        )
        return self.page(title, self.base + base, main)

    def detail_html(self, a: Article) -> str:
        paras = []
        for b in a.blocks:
            if b.kind == "img":
                paras.append(
                    f'<p style="text-align: center;"><img src="{esc(b.src)}" alt="" /></p>'
                    f'<p style="text-align: center;"><em>{esc(b.text)}</em></p>'
                )
            else:
                paras.append(f'<p style="text-align: justify;">{a.paragraph_html(b.text)}</p>')
        if a.author:
            paras.append(
                f'<p class="tandan-news-author" style="text-align: right;"><strong>{esc(a.author)}</strong></p>'
            )
        views = (
            f'<span class="tandan-news-views">Lượt xem: {a.views}</span>'
            if a.views is not None
            else ""
        )
        lead = f'<div class="tandan-news-sapo"><p>{esc(a.lead)}</p></div>' if a.lead else ""
        return (
            f'<h1 class="tandan-news-title">{esc(a.title)}</h1>'
            f'<div class="tandan-news-info"><span class="tandan-news-date">{stamp(a.published)}</span> {views}</div>'
            f"{lead}"
            f'<div class="ms-rtestate-field"><div class="ExternalClass{self.hexid(a.path)}">'
            f"{''.join(paras)}</div></div>"
        )

    def render_article(self, a: Article) -> str:
        attachments = ""
        if a.attachments:
            links = "".join(
                f'<li><a class="tandan-attach-link" href="{esc(f.href)}" target="_blank">{esc(f.text)}</a></li>'
                for f in a.attachments
            )
            attachments = (
                '<div class="tandan-news-attachments"><div class="tandan-attach-title">Tập tin đính kèm</div>'
                f"<ul>{links}</ul></div>"
            )
        others = "".join(
            f'<li><a href="{esc(r.path)}">{esc(r.title)}</a> <span>({r.published:%d/%m/%Y})</span></li>'
            for r in self.related(a)
        )
        title = self.category_title(a.category)
        main = (
            f'<div class="tandan-breadcrumb"><a href="/">Trang chủ</a> » '
            f'<a href="{self.cat_path(a.category)}">{esc(title)}</a></div>'
            f'<div class="tandan-news-detail">{self.detail_html(a)}{attachments}'
            '<div class="tandan-news-tools">'
            f'<a class="tandan-print" href="{esc(a.path)}?print=1" target="_blank">In trang</a> '
            '<a class="tandan-sendmail" href="javascript:void(0)">Gửi email</a> '
            '<a class="tandan-share" href="https://www.facebook.com/sharer/sharer.php" target="_blank">Chia sẻ</a></div>'
            '<div class="tandan-other-news"><div class="tandan-other-title">CÁC TIN KHÁC</div>'
            f"<ul>{others}</ul></div></div>"
        )
        return self.page(a.title, self.base + a.path, main)

    def render_print(self, a: Article) -> str:
        return (
            '<!DOCTYPE html>\n<html lang="vi-VN"><head><meta charset="utf-8" />'
            f"<title>{esc(a.title)}</title>"
            f'<link rel="canonical" href="{esc(self.base + a.path)}" /></head>'
            f'<body class="tandan-print-page"><div class="tandan-news-detail">{self.detail_html(a)}</div>'
            "</body></html>\n"
        )

    def render_soft404(self) -> str:
        main = (
            '<div class="tandan-notfound"><h2>Không tìm thấy</h2>'
            "<p>Tài nguyên không được tìm thấy. Trang bạn yêu cầu không tồn tại hoặc đã bị gỡ bỏ.</p>"
            '<p><a href="/">Quay về trang chủ</a></p></div>'
        )
        return self.page("Không tìm thấy", self.base + "/", main)

    def route(self, path: str, params: dict[str, list[str]]) -> str | None:
        if path in ("/", "/portal/Pages/default.aspx"):
            return "home"
        for cat in self.spec.categories:
            if path == self.cat_path(cat.slug):
                n = self.int_param(params, "PageIndex")
                n = n if 1 <= n <= self.page_count(cat.slug) else 1
                return f"list:{cat.slug}:{n}"
        art = self.by_path.get(path)
        if art is None:
            return None
        return f"print:{art.key}" if params.get("print") == ["1"] else f"article:{art.key}"
