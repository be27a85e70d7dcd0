"""NukeViet 4 portal (huyện Hàm Tân), modelled on the default theme's news module."""

from __future__ import annotations

import re
from datetime import datetime

from .content import Article
from .site import FBCLID, TRACKING, PortalSite, esc

WEEKDAYS = ("Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu", "Thứ bảy", "Chủ nhật")
ALIAS_ID = re.compile(r"/(?P<alias>[^/]+)-(?P<id>\d+)\.html$")


def publtime(dt: datetime) -> str:
    """'Thứ năm - 21/04/2017 21:10' (weekday prefix, 24-hour clock)."""
    return f"{WEEKDAYS[dt.weekday()]} - {dt:%d/%m/%Y %H:%M}"


def panel(title: str, inner: str) -> str:
    return (
        '<div class="panel panel-default"><div class="panel-heading">'
        f'{esc(title)}</div><div class="panel-body">{inner}</div></div>'
    )


class NukevietSite(PortalSite):
    family = "nukeviet"

    def cat_path(self, slug: str, page: int = 1) -> str:
        return f"/vi/news/{slug}/" + (f"page-{page}/" if page > 1 else "")

    def print_path(self, a: Article) -> str:
        m = ALIAS_ID.search(a.path)
        return f"/vi/news/print/{m['alias']}-{m['id']}.html"

    def page(self, title: str, canonical: str, main: str, crumbs: str = "") -> str:
        s = self.spec
        menu = "".join(
            f'<li><a title="{esc(c.title)}" href="{self.cat_path(c.slug)}">{esc(c.title)}</a></li>'
            for c in s.categories
        )
        return f"""<!DOCTYPE html>
<html lang="vi" xmlns="http://www.w3.org/1999/xhtml" prefix="og: http://ogp.me/ns#">
<head>
<title>{esc(title)} - {esc(s.name)}</title>
<meta charset="utf-8" />
<meta name="generator" content="NukeViet v4.5" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<link rel="canonical" href="{esc(canonical)}" />
<link rel="StyleSheet" href="/themes/default/css/nukeviet.css" />
<link rel="StyleSheet" href="/themes/default/css/news.css" />
</head>
<body>
<noscript><div class="alert alert-danger">Trình duyệt của bạn đã tắt chức năng hỗ trợ JavaScript.</div></noscript>
<a class="sr-only sr-only-focusable" href="#body">Truy cập nội dung luôn</a>
<div class="body-bg"><div class="wraper">
<header><div class="container"><div id="header" class="row">
<div class="logo col-xs-24 col-sm-24 col-md-8"><a title="{esc(s.name)}" href="/"><img src="/uploads/logo.png" alt="{esc(s.name)}" /></a>
<span class="site_name">{esc(s.name)}</span><span class="site_description">{esc(s.unit)}</span></div>
</div></div></header>
<nav class="second-nav" id="menusite"><div class="container"><div class="row"><div class="bg box-shadow">
<div class="navbar navbar-default navbar-static-top" role="navigation"><ul class="nav navbar-nav">
<li><a title="Trang nhất" href="/"><em class="fa fa-lg fa-home">&nbsp;</em> Trang nhất</a></li>
<li><a title="Giới thiệu" href="/vi/about/">Giới thiệu</a></li>
{menu}
<li><a title="Dịch vụ công" href="https://dichvucong.gov.vn/" target="_blank">Dịch vụ công</a></li>
<li><a title="Liên hệ" href="/vi/contact/">Liên hệ</a></li>
</ul></div></div></div></div></nav>
<section><div class="container" id="body">
<nav class="third-nav"><div class="row"><div class="bg"><div class="breadcrumbs-wrap"><ul class="breadcrumbs list-none">
<li><a href="/" title="Trang nhất"><span><em class="fa fa-lg fa-home"></em></span></a></li>{crumbs}</ul></div></div></div></nav>
<div class="row">
<div class="col-sm-16 col-md-18" id="content">
{main}
</div>
<div class="col-sm-8 col-md-6">
{self.sidebar()}
</div>
</div>
</div></section>
</div>
<footer id="footer"><div class="wraper"><div class="container"><div class="row">
<div class="col-xs-24 col-sm-24 col-md-12">
<p class="footer-title">{esc(s.name.upper())}</p>
<p>Địa chỉ: {esc(s.address)}</p>
<p>Điện thoại: {esc(s.phone)} - Email: {esc(s.email)}</p>
</div>
<div class="col-xs-24 col-sm-24 col-md-12">
<a href="https://tinnhiemmang.vn/danh-ba-tin-nhiem/hamtan" target="_blank"><img src="/uploads/tin-nhiem-mang.png" alt="Chung nhan Tin Nhiem Mang" /></a>
<img src="/uploads/ipv6-ready.png" alt="ipv6 ready" />
<a href="https://chinhphu.vn/" target="_blank">Cổng TTĐT Chính phủ</a> | <a href="https://binhthuan.gov.vn/" target="_blank">Cổng TTĐT tỉnh Bình Thuận</a>
</div></div></div></div></footer>
</div>
</body>
</html>
"""

    def sidebar(self) -> str:
        s = self.spec
        return (
            panel(
                "ĐƯỜNG DÂY NÓNG",
                f"<ul><li>Văn phòng HĐND và UBND huyện: {esc(s.phone)}</li>"
                "<li>Tiếp nhận phản ánh, kiến nghị: 0252.3878999</li></ul>",
            )
            + panel(
                "Thống kê truy cập",
                '<ul class="counter list-none display-table">'
                f'<li><em class="fa fa-bolt fa-lg fa-horizon"></em>Đang truy cập: {s.online}</li>'
                '<li><em class="fa fa-filter fa-lg fa-horizon"></em>Hôm nay: 1</li>'
                '<li><em class="fa fa-calendar-o fa-lg fa-horizon"></em>Trong tuần: 1</li>'
                '<li><em class="fa fa-bars fa-lg fa-horizon"></em>Tháng hiện tại: 1</li>'
                f'<li><em class="fa fa-bars fa-lg fa-horizon"></em>Tổng lượt truy cập: {s.total_visits}</li></ul>',
            )
            + panel(
                "Bình chọn",
                "<p>Bạn biết đến Cổng thông tin điện tử huyện qua kênh nào?</p>"
                '<label><input type="radio" name="vote" /> Mạng xã hội</label>'
                '<label><input type="radio" name="vote" /> Báo, đài</label>'
                '<input type="button" value="Bình chọn" /> <input type="button" value="Kết quả" />',
            )
            + panel(
                "Đăng nhập",
                '<a href="/admin/login">Đăng nhập thành viên</a> | <a href="/vi/ban-do-so/">Bản đồ số</a>',
            )
        )

    def crumb(self, slug: str) -> str:
        return (
            f'<li><a href="{self.cat_path(slug)}" title="{esc(self.category_title(slug))}">'
            f"<span>{esc(self.category_title(slug))}</span></a></li>"
        )

    def render_home(self) -> str:
        newest = self.newest()
        top = "".join(
            f'<li class="clearfix"><a href="{esc(a.path + TRACKING)}" title="{esc(a.title)}">{esc(a.title)}</a></li>'
            for a in newest[:4]
        )
        blocks = [panel("Tin mới", f'<ul class="list-none list-items">{top}</ul>')]
        for cat in self.spec.categories:
            items = "".join(
                f'<li><a href="{esc(a.path)}" title="{esc(a.title)}">{esc(a.title)}</a></li>'
                for a in self.newest(cat.slug)[:3]
            )
            blocks.append(
                panel(
                    cat.title,
                    f'<ul class="list-none">{items}</ul><a href="{self.cat_path(cat.slug)}">Xem tiếp</a>',
                )
            )
        return self.page(self.spec.name, self.base + "/", "".join(blocks))

    def render_listing(self, category: str, page: int) -> str:
        rows = self.listing_entries(category)
        pages = self.page_count(category)
        start = (page - 1) * self.page_size
        items = []
        for i, (path, title, published, art) in enumerate(rows[start : start + self.page_size]):
            href = path + (FBCLID if page == 1 and i == 1 else "")
            summary = (
                self.summary(art)
                if art
                else "Thông báo tuyển dụng viên chức các trường học trên địa bàn huyện."
            )
            views = (
                f'<li><em class="fa fa-eye">&nbsp;</em> Lượt xem: {art.views}</li>'
                if art and art.views
                else ""
            )
            items.append(
                '<div class="news_column panel panel-default"><div class="panel-body">'
                f'<a href="{esc(href)}" title="{esc(title)}" class="pull-left"><img class="img-thumbnail" src="/uploads/thumb.png" alt="" /></a>'
                f'<h3><a href="{esc(href)}" title="{esc(title)}">{esc(title)}</a></h3>'
                '<div class="text-muted"><ul class="list-unstyled list-inline">'
                f'<li><em class="fa fa-clock-o">&nbsp;</em> {published:%d/%m/%Y %H:%M}</li>{views}</ul></div>'
                f'<div class="text-justify">{esc(summary)}</div></div></div>'
            )
        links = []
        if page > 1:
            links.append(f'<li><a href="{self.cat_path(category, page - 1)}">&laquo;</a></li>')
        for n in range(1, pages + 1):
            if n == page:
                links.append(f'<li class="active"><a href="#">{n}</a></li>')
            else:
                links.append(f'<li><a href="{self.cat_path(category, n)}">{n}</a></li>')
        if page < pages:
            links.append(f'<li><a href="{self.cat_path(category, page + 1)}">&raquo;</a></li>')
        main = (
            f'<div class="viewcat_page_new">{"".join(items)}</div>'
            f'<div class="text-center"><ul class="pagination">{"".join(links)}</ul></div>'
        )
        title = self.category_title(category)
        return self.page(
            title, self.base + self.cat_path(category, page), main, self.crumb(category)
        )

    def detail_html(self, a: Article) -> str:
        paras = []
        for b in a.blocks:
            if b.kind == "img":
                paras.append(
                    f'<div style="text-align: center;"><img alt="anh tin bai" src="{esc(b.src)}" width="600" /></div>'
                    f'<p style="text-align: center;"><em>{esc(b.text)}</em></p>'
                )
            else:
                paras.append(f'<p style="text-align: justify;">{a.paragraph_html(b.text)}</p>')
        lead = (
            f'<div class="clearfix"><div class="hometext m-bottom" itemprop="description">{esc(a.lead)}</div></div>'
            if a.lead
            else ""
        )
        return (
            f'<h1 class="title margin-bottom-lg" itemprop="headline">{esc(a.title)}</h1>'
            '<div class="row margin-bottom-lg"><div class="col-md-12">'
            f'<span class="h5">{publtime(a.published)}</span></div></div>'
            f"{lead}"
            f'<div id="news-bodyhtml" class="bodytext margin-bottom-lg">{"".join(paras)}</div>'
        )

    def render_article(self, a: Article) -> str:
        tools = (
            '<div class="col-md-12"><ul class="list-inline text-right">'
            '<li><a class="dimgray" rel="nofollow" title="Gửi bài viết qua email" href="javascript:void(0);"><em class="fa fa-envelope fa-lg">&nbsp;</em></a></li>'
            f'<li><a class="dimgray" rel="nofollow" title="In ra" href="{self.print_path(a)}"><em class="fa fa-print fa-lg">&nbsp;</em></a></li>'
            "</ul></div>"
        )
        author = (
            '<div class="margin-bottom-lg"><p class="h5 text-right author">'
            f'<strong>Tác giả bài viết: </strong><span class="author-name">{esc(a.author)}</span></p></div>'
            if a.author
            else ""
        )
        files = ""
        if a.attachments:
            rows = "".join(
                '<div class="list-group-item">'
                f'<a class="download-link" href="{esc(f.href)}" title="{esc(f.text)}">{esc(f.text)}</a>'
                ' <span class="badge">Tải về</span></div>'
                for f in a.attachments
            )
            files = (
                '<div class="news-download-file panel panel-default"><div class="panel-heading">'
                f'<strong>Tài liệu đính kèm</strong></div><div class="list-group">{rows}</div></div>'
            )
        views = (
            '<div class="news_column panel panel-default"><div class="panel-body"><ul class="list-inline">'
            f'<li class="hitstotal"><em class="fa fa-eye">&nbsp;</em> Lượt xem: {a.views}</li></ul></div></div>'
            if a.views is not None
            else ""
        )
        same = self.newest(a.category)
        idx = self.rank(a)
        newer, older = same[max(0, idx - 2) : idx], same[idx + 1 : idx + 3]

        def rel(title: str, items: list[Article]) -> str:
            if not items:
                return ""
            lis = "".join(
                f'<li><em class="fa fa-angle-right">&nbsp;</em><a href="{esc(r.path)}" title="{esc(r.title)}">'
                f"{esc(r.title)}</a> <em>({r.published:%d/%m/%Y})</em></li>"
                for r in items
            )
            return f'<p class="h3"><strong>{title}</strong></p><ul class="related list-items">{lis}</ul>'

        comment = (
            '<div class="news_column panel panel-default" id="idcomment"><div class="panel-heading">Viết bình luận</div>'
            '<div class="panel-body"><form method="post" action="/vi/comment/post/">'
            '<label>Họ tên:(*)</label><input name="name" /><label>Email:</label><input name="email" />'
            '<label>Nội dung:(*)</label><textarea name="content"></textarea>'
            '<label>Mã xác nhận:</label><img src="/uploads/captcha.png" alt="" /><input name="code" />'
            '<input type="submit" value="Gửi bình luận" /></form></div></div>'
        )
        detail = self.detail_html(a).replace(
            "</span></div></div>", f"</span></div>{tools}</div>", 1
        )
        main = (
            '<div class="news_column panel panel-default" itemtype="http://schema.org/NewsArticle" itemscope>'
            f'<div class="panel-body">{detail}{author}{files}</div></div>'
            f"{views}{comment}"
            '<div class="news_column panel panel-default"><div class="panel-body other-news">'
            f"{rel('Những tin mới hơn', newer)}{rel('Những tin cũ hơn', older)}</div></div>"
        )
        return self.page(a.title, self.base + a.path, main, self.crumb(a.category))

    def render_print(self, a: Article) -> str:
        return (
            '<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8" />'
            f"<title>{esc(a.title)}</title>"
            f'<link rel="canonical" href="{esc(self.base + a.path)}" />'
            '<link rel="StyleSheet" href="/themes/default/css/print.css" /></head>'
            f'<body><div id="print"><div id="hd_print"><h2>{esc(self.spec.name)}</h2></div>'
            f'<div id="content">{self.detail_html(a)}</div>'
            f'<div id="footer"><p>URL của bản tin này: {esc(self.base + a.path)}</p></div></div></body></html>\n'
        )

    def render_soft404(self) -> str:
        main = (
            '<div class="alert alert-danger text-center" id="nv-404">'
            "<h2>Không tìm thấy</h2><p>Tài nguyên không được tìm thấy. Có thể bài viết đã bị xóa hoặc "
            'đường dẫn không đúng.</p><p><a href="/">Về trang chủ</a></p></div>'
        )
        return self.page("Không tìm thấy", self.base + "/", main)

    def route(self, path: str, params: dict[str, list[str]]) -> str | None:
        if path in ("/", "/vi/", "/vi/news/"):
            return "home"
        for cat in self.spec.categories:
            for n in range(1, self.page_count(cat.slug) + 1):
                if path == self.cat_path(cat.slug, n):
                    return f"list:{cat.slug}:{n}"
        art = self.by_path.get(path)
        if art is not None:
            return f"article:{art.key}"
        for a in self.articles:
            if path == self.print_path(a):
                return f"print:{a.key}"
        return None
