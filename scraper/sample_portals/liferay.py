"""Liferay 6.2 portal (quận Thanh Xuân), rebuilt from the sotttt.hanoi.gov.vn pages."""

from __future__ import annotations

from datetime import datetime

from .content import Article
from .site import FBCLID, TRACKING, PortalSite, esc

PAGER_QUERY = (
    "?p_p_id=101&p_p_lifecycle=0&p_p_state=normal&p_p_mode=view&p_p_col_id=column-1"
    "&p_p_col_pos=1&p_p_col_count=2&_101_delta=2&_101_keywords=&_101_advancedSearch=false"
    "&_101_andOperator=true&p_r_p_564233524_resetCur=false&_101_cur={n}"
)


def clock(dt: datetime) -> str:
    """'29/03/2024 | 04:32 PM' (12-hour clock, as the asset publisher prints it)."""
    hour = dt.hour % 12 or 12
    return f"{dt:%d/%m/%Y} | {hour:02d}:{dt:%M} {'AM' if dt.hour < 12 else 'PM'}"


def portlet(pid: str, title: str, inner: str, borderless: bool = False) -> str:
    cls = "portlet-borderless " if borderless else ""
    return (
        f'<div class="portlet-boundary portlet-boundary_{pid.split("_INSTANCE")[0]}_ portlet-static '
        f'portlet-static-end {cls}" id="p_p_id_{pid}_" > <span id="p_{pid}"></span>'
        f'<section class="portlet" id="portlet_{pid}"> <header class="portlet-topper">'
        f'<h1 class="portlet-title"> <span class="portlet-title-icon"> &nbsp; </span>'
        f'<span class="portlet-title-text">{esc(title)}</span> </h1> </header>'
        f'<div class="portlet-content"> <div class=" portlet-content-container" style="">'
        f'<div class="portlet-body">{inner}</div></div></div></section></div>\n'
    )


class LiferaySite(PortalSite):
    family = "liferay"

    # ----- chrome -----------------------------------------------------------------
    def page(self, title: str, canonical: str, main: str) -> str:
        s = self.spec
        menu = "".join(
            f'<li class="" > <a href="/{c.slug}" >{esc(c.title)}</a> </li>' for c in s.categories
        )
        return f"""<!DOCTYPE html>
<html class="aui ltr" dir="ltr" lang="vi-VN">
<head>
<meta charset="utf-8" />
<title>{esc(title)} - {esc(s.name)}</title>
<meta content="text/html; charset=UTF-8" http-equiv="content-type" />
<link href="{esc(canonical)}" rel="canonical" />
<link href="/quanthanhxuan-theme/images/favicon.ico" rel="Shortcut Icon" />
<link class="lfr-css-file" href="/quanthanhxuan-theme/css/main.css?browserId=other&amp;themeId=quanthanhxuan_WAR_quanthanhxuantheme&amp;languageId=vi_VN&amp;b=6201" rel="stylesheet" type="text/css" />
<script type="text/javascript">var Liferay={{Browser:{{}},ThemeDisplay:{{getLayoutURL:function(){{return"/"}},getLanguageId:function(){{return"vi_VN"}},isSignedIn:function(){{return false}}}}}};</script>
<script type="text/javascript">Liferay.Portlet.list=["101","85_INSTANCE_hotline","86_INSTANCE_thongke"];</script>
</head>
<body class=" yui3-skin-sam controls-visible signed-out public-page site">
<a href="#main-content" id="skip-to-content">Truy cập nội dung luôn</a>
<div class="body">
<div id="header"><div class="boder_top1"><div id="contentheader">
<a class="logo" href="/"><img alt="{esc(s.name)}" src="/_img/banner.png" /></a>
<h2 class="site-name">{esc(s.name.upper())}</h2>
<div class="egov_date"><div id="point_portal_egov_date"></div><div id="point_portal_egov_clock"></div></div>
</div></div></div>
<div><nav id="navigation" role="navigation"><div id="menu"><div class="center clearfix">
<ul class="navi">
<li class="" > <a href="/" >Trang chủ</a> </li>
<li class="" > <a href="/gioi-thieu-chung" >GIỚI THIỆU CHUNG</a> </li>
{menu}
<li class="" > <a href="https://dichvucong.gov.vn/" target="_blank">Dịch vụ công</a> </li>
<li class="" > <a href="/hoi-dap" >Hỏi đáp</a> </li>
</ul>
<div class="nav-search"> <input type="text" name="search" value="  ---Nhập từ tìm kiếm---  " class="txtTimKiem" id="txtTimKiem"/> <input type="button" class="search_button" id="btn_search"> </div>
</div></div></nav></div>
<div class"after_main"></div>
<div id="main"><div class="so_4thn" id="main-content" role="main"><div class="portlet-layout row-fluid">
<div class="portlet-column portlet-column-first span9" id="column-1"><div class="portlet-dropzone portlet-column-content portlet-column-content-first" id="layout-column_column-1">
{main}
</div></div>
<div class="portlet-column portlet-column-last span3" id="column-2"><div class="portlet-dropzone portlet-column-content portlet-column-content-last" id="layout-column_column-2">
{self.sidebar()}
</div></div>
</div></div></div>
<div class="footer-wrapper"><div id="footer" class="clearfix">
<p class="vetrang"><a href="#">| Về đầu trang |</a><a href="/admin/login"> Đăng nhập |</a></p>
<div class="footleft">
<h3>{esc(s.name.upper())}</h3>
<p>Cơ quan chủ quản: Ủy ban nhân dân quận Thanh Xuân</p>
<p>Địa chỉ: {esc(s.address)} - Điện thoại: {esc(s.phone)}; Email: {esc(s.email)}</p>
<p>® Ghi rõ nguồn: “{esc(s.name)}” khi phát hành lại thông tin từ nguồn này.</p>
</div>
<div class="footright"><a href="https://tinnhiemmang.vn/danh-ba-tin-nhiem/quanthanhxuan" target="_blank" title="Chung nhan Tin Nhiem Mang"><img src="/_img/tin-nhiem-mang.png" alt="Chung nhan Tin Nhiem Mang" /></a>
<a href="https://chinhphu.vn/" target="_blank">Cổng TTĐT Chính phủ</a> | <a href="https://hanoi.gov.vn/" target="_blank">Cổng giao tiếp điện tử Hà Nội</a></div>
</div></div>
</div>
</body>
</html>
"""

    def sidebar(self) -> str:
        s = self.spec
        hotline = (
            '<div class="hotline"><h3>ĐƯỜNG DÂY NÓNG</h3><ul>'
            "<li><span>UBND Quận</span></li><li>Tiếp công dân <strong>024.62933647</strong></li>"
            f"<li>Giải quyết TTHC <strong>{esc(s.phone)}</strong></li>"
            "<li>An toàn thực phẩm <strong>0868216873</strong></li></ul></div>"
        )
        stats = (
            '<div class="total-visitor"><ul>'
            f'<li><span class="tracking-label">Đang online:</span> {s.online}</li>'
            '<li><span class="tracking-label">Lượt truy cập trong tuần:</span> 48347</li>'
            '<li><span class="tracking-label">Lượt truy cập trong tháng:</span> 154744</li>'
            '<li><span class="tracking-label">Lượt truy cập trong năm:</span> 941147</li>'
            f'<li><span class="tracking-label">Tổng số truy cập:</span> {s.total_visits}</li>'
            "</ul></div>"
        )
        poll = (
            '<form class="poll" action="/c/portal/poll" method="post">'
            "<p>Khả năng đáp ứng thông tin của Cổng TTĐT ?</p>"
            '<label><input type="radio" name="choice" value="a" /> Đáp ứng tốt</label>'
            '<label><input type="radio" name="choice" value="b" /> Bình thường</label>'
            '<label><input type="radio" name="choice" value="c" /> Chưa đáp ứng</label>'
            '<input type="submit" value="Bình chọn" /></form>'
        )
        maps = (
            '<div class="journal-content-article"><p><a href="/ban-do-so">'
            '<img alt="Bản đồ số" src="/_img/ban-do-so.png" /></a> Bản đồ số</p>'
            '<p><a href="https://dichvucong.gov.vn/" target="_blank">Cổng Dịch vụ công quốc gia</a></p></div>'
        )
        return (
            portlet("85_INSTANCE_hotline", "Đường dây nóng", hotline)
            + portlet("86_INSTANCE_thongke", "Thống kê truy cập", stats)
            + portlet("56_INSTANCE_bando", "Bản đồ số", maps, borderless=True)
            + portlet("86_INSTANCE_binhchon", "Bình chọn", poll)
        )

    def asset_publisher(self, title: str, inner: str) -> str:
        return (
            '<div class="portlet-boundary portlet-boundary_101_  portlet-static portlet-static-end '
            'portlet-borderless portlet-asset-publisher " id="p_p_id_101_" > <span id="p_101"></span>'
            '<div class="portlet-borderless-container" style=""> <div class="portlet-body">'
            f'<div class="dd_chuyenmuc"><span class="trangchu"><a href="/">Trang chủ</a></span>'
            f'<span class="tintuc"><p>{esc(title)}</p></span></div>'
            f"{inner}</div></div></div>"
        )

    # ----- pages ------------------------------------------------------------------
    def render_home(self) -> str:
        newest = self.newest()
        hot = "".join(
            f'<li> <div class="title_news"> <a href="{esc(a.path + TRACKING)}" title="{esc(a.title)}">'
            f' {esc(a.title)} <span class="date_content_asset"> ({a.published:%d/%m/%Y}) </span> </a> </div> </li>'
            for a in newest[:4]
        )
        top = newest[0]
        blocks = [
            portlet(
                "1_WAR_portalnewspublisherportlet_INSTANCE_noibat",
                "Tin nổi bật",
                '<div class="news-wrapper "><div class="box_hot_news"><div class="title_news">'
                f'<a href="{esc(top.path)}">{esc(top.title)}</a></div>'
                f'<div class="news_lead">{esc(self.summary(top))}</div></div>'
                f'<div class="box_sub_hot_news"><ul>{hot}</ul></div></div>',
            )
        ]
        for cat in self.spec.categories:
            items = "".join(
                f'<li><a href="{esc(a.path)}">{esc(a.title)}</a>'
                f' <span class="date_content_asset">({a.published:%d/%m/%Y})</span></li>'
                for a in self.newest(cat.slug)[:3]
            )
            blocks.append(
                portlet(
                    f"1_WAR_portalnewspublisherportlet_INSTANCE_{cat.slug.replace('-', '')}",
                    cat.title,
                    f'<ul class="list-news">{items}</ul><a class="icon-detail" href="/{cat.slug}">Xem tiếp</a>',
                )
            )
        return self.page("Trang chủ", self.base + "/", "".join(blocks))

    def render_listing(self, category: str, page: int) -> str:
        rows = self.listing_entries(category)
        total, size, pages = len(rows), self.page_size, self.page_count(category)
        start = (page - 1) * size
        items = []
        for i, (path, title, published, art) in enumerate(rows[start : start + size]):
            href = path + (FBCLID if page == 2 and i == 1 else "")
            summary = (
                self.summary(art)
                if art
                else "Thông báo lịch tiếp công dân định kỳ của lãnh đạo UBND quận."
            )
            items.append(
                '<div class="asset-bounddary"> <div class="asset-abstract "> '
                '<div class="asset-content normal-news"> <div class="asset-image">'
                f'<a href="{esc(href)}"><img src="/_img/thumb.png" alt=""/></a> </div>'
                '<div class="asset-content-custom" > <h3 class="asset-title">'
                f' <a href="{esc(href)}">{esc(title)}</a> </h3>'
                f' <div class="assetPublishDate block_timer"> {clock(published)} </div>'
                f' <div class="asset-summary"> {esc(summary)} </div> </div> </div>'
                ' <div class="asset-metadata"> </div> </div> </div>\n'
            )

        def link(n: int) -> str:
            return esc(f"/{category}" + PAGER_QUERY.format(n=n))

        menu = "".join(
            f'<li class="custom-paging" role="presentation"> <a href="{link(n)}" class=" taglib-icon"'
            f' role="menuitem" > <span class="taglib-text-icon">{n}</span> </a> </li>'
            for n in range(1, pages + 1)
        )

        def button(cls: str, n: int, label: str, enabled: bool) -> str:
            if not enabled:
                return f'<li class="disabled {cls}"> <a href="javascript:;"> {label} </a> </li>'
            return f'<li class="{cls}"> <a href="{link(n)}" target="_self"> {label} </a> </li>'

        pager = (
            '<div class="taglib-page-iterator" id="_101_ocerSearchContainerPageIterator">'
            '<div class="clearfix lfr-pagination"> <div class="lfr-pagination-config">'
            '<div class="lfr-pagination-page-selector"> <div class="btn-group lfr-icon-menu current-page-menu custom-paging">'
            f'<a class="dropdown-toggle direction-down btn" href="javascript:;" title=" {page} ">'
            f'<span class="lfr-icon-menu-text"> {page} </span><i class="caret"></i> </a>'
            f'<ul class="dropdown-menu lfr-menu-list direction-down">{menu}</ul></div></div>'
            '<div class="lfr-pagination-delta-selector"> <div style="margin-right: 5px"> Trang </div> </div> </div>'
            f'<small class="search-results"> Hiển thị {start + 1} - {min(start + size, total)} of {total} kết quả. </small>'
            '<ul class="pager lfr-pagination-buttons">'
            + button(" first", 1, "&larr; Đầu tiên", page > 1)
            + button("", page - 1, "Trước", page > 1)
            + button("", page + 1, "next", page < pages)
            + button(" last", pages, "Cuối cùng &rarr;", page < pages)
            + "</ul></div></div>"
        )
        title = self.category_title(category)
        main = self.asset_publisher(
            title, '<div class="subscribe-action"></div>' + "".join(items) + pager
        )
        return self.page(title, f"{self.base}/{category}", main)

    def article_html(self, a: Article) -> str:
        paras = []
        for b in a.blocks:
            if b.kind == "img":
                paras.append(
                    f'<p style="text-align: center;"><img alt="" src="{esc(b.src)}" style="width: 600px;" /></p>'
                    f'<p style="text-align: center;"><em>{esc(b.text)}</em></p>'
                )
            else:
                paras.append(f'<p style="text-align: justify;">{a.paragraph_html(b.text)}</p>')
        author = (
            f'<p align="right" class="view-content-author"> <strong><em>{esc(a.author)}</em></strong> </p>'
            if a.author
            else ""
        )
        views = f" &nbsp;|&nbsp;Lượt xem: {a.views}" if a.views is not None else ""
        lead = (
            f'<div class="sapo-wrapper clearfix"> <p class="sapo"> <strong>{esc(a.lead)}</strong> </p> </div>'
            if a.lead
            else ""
        )
        return (
            f'<div class="asset-full-content-title">{esc(a.title)}</div>'
            f'<div class="assetPublishDate block_timer"> Ngày đăng {clock(a.published)}{views} </div>'
            '<div class="asset-full-content show-asset-title"> <!-- -->'
            f'<div class="asset-content" id="_101_{a.path.split("/view_content/")[1].split("-")[0]}">'
            f'{lead}<div class="journal-content-article"> {"".join(paras)} {author} </div> </div> </div>'
        )

    def render_article(self, a: Article) -> str:
        related = "".join(
            f'<li><a href="{esc(r.path)}">{esc(r.title)}</a></li>' for r in self.related(a)
        )
        comment = (
            '<div class="comment-form"><h4>Viết bình luận</h4><form action="/c/portal/comment" method="post">'
            '<label>Họ tên:(*)</label><input name="name" /><label>Số điện thoại:</label><input name="phone" />'
            '<label>Tiêu đề:(*)</label><input name="subject" /><label>Nội dung:(*)</label><textarea name="body"></textarea>'
            '<label>Mã xác nhận:</label><img src="/_img/captcha.png" alt="" /> <a href="javascript:;">Lấy lại mã bảo mật</a>'
            '<input type="submit" value="Gửi" /></form></div>'
        )
        inner = (
            "<div>"
            + self.article_html(a)
            + f'<div class="print-action"><a href="{esc(a.path)}?print=1" target="_blank">In bài viết</a></div>'
            + '<div class="related_asset"> <div class="related_asset_title">Các tin khác</div>'
            + f'<ul class="related_asset_list">{related}</ul> </div>'
            + comment
            + "</div>"
        )
        main = portlet("101", self.category_title(a.category), inner)
        return self.page(a.title, self.base + a.path, main)

    def render_print(self, a: Article) -> str:
        return (
            '<!DOCTYPE html>\n<html lang="vi-VN"><head><meta charset="utf-8" />'
            f"<title>{esc(a.title)}</title>"
            f'<link href="{esc(self.base + a.path)}" rel="canonical" />'
            '<meta name="robots" content="noindex" /></head>'
            '<body class="print-page" onload="window.print()">'
            f'<div class="print-header">{esc(self.spec.name)}</div>'
            f"<div>{self.article_html(a)}</div></body></html>\n"
        )

    def render_soft404(self) -> str:
        main = (
            '<section class="portlet" id="portlet_status"> <header class="portlet-topper">'
            '<h1 class="portlet-title"> <span class="portlet-title-icon"> &nbsp; </span>'
            '<span class="portlet-title-text">Trạng thái</span> </h1> </header>'
            '<div class="portlet-content"> <h3 class="alert alert-error"> Không tìm thấy </h3>'
            " Tài nguyên không được tìm thấy. <br /><br />"
            '<div class="separator"><!-- --></div>'
            '<a href="javascript:history.go(-1);">&laquo; Quay lại</a> </div> </section>'
        )
        return self.page("Trạng thái", self.base + "/", main)

    def route(self, path: str, params: dict[str, list[str]]) -> str | None:
        if path == "/":
            return "home"
        cats = {c.slug for c in self.spec.categories}
        if path.lstrip("/") in cats:
            n = self.int_param(params, "_101_cur")
            n = n if 1 <= n <= self.page_count(path.lstrip("/")) else 1
            return f"list:{path.lstrip('/')}:{n}"
        art = self.by_path.get(path)
        if art is None:
            return None
        return f"print:{art.key}" if params.get("print") == ["1"] else f"article:{art.key}"
