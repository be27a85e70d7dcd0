"""The staff web application: search, read, collect, export (``portal-archive serve``).

A thin layer over the functions the CLI uses (:func:`search.query.search`,
:class:`archive.store.Archive`, :mod:`archive.export`, :mod:`archive.bundle`,
:mod:`archive.users`), rendered on the server with Jinja2 templates in Vietnamese. As in
Datasette, every HTML page has a JSON twin (the same path with ``.json``, or ``Accept:
application/json``), the query lives in the URL, exports stream, and the API is described at
``/openapi.json``.

Safety: archived HTML is untrusted. It is sanitised with nh3 (ammonia) before it is shown, the
Content-Security-Policy allows no inline script and no third-party resource, and templates
escape everything else. Browsing is open; writing (collections) needs a signed-in user (argon2
password hashes, signed session cookie) and a CSRF token. Every parameter is validated: a bad
one gets a 400 with a message, never a traceback.
"""

from __future__ import annotations

import difflib
import functools
import io
import os
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from archive.config import Config
from archive.docrefs import kind_label
from archive.store import DOCUMENT_ID_PREFIX, Archive
from archive.unit_links import AmbiguousUnit
from archive.web.operations import Operations
from archive.web.operations import register as register_operations

HERE = Path(__file__).resolve().parent
PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 500
MAX_QUERY = 500
PORTALS_TTL = 30.0  # seconds the portal names and units are kept (see portal_names)
EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "jsonl": ("application/x-ndjson; charset=utf-8", "jsonl"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "zip": ("application/zip", "zip"),
    "warc": ("application/warc", "warc.gz"),
    "wacz": ("application/wacz", "wacz"),
}
TOPIC_LABELS = {"cchc": "Cải cách hành chính", "dvhc": "Sắp xếp ĐVHC"}
TYPE_LABELS = {"article": "Bài viết", "document": "Văn bản đính kèm"}
SORT_LABELS = {"relevance": "Liên quan nhất", "newest": "Mới nhất", "oldest": "Cũ nhất"}
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ARTICLE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,150}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


class BadRequest(Exception):
    """A parameter that cannot be used: answered with 400 and the message."""


# --- parameters -------------------------------------------------------------------------------


@dataclass
class SearchParams:
    """A search as it lives in the URL: validated, and written back by :meth:`url`."""

    q: str = ""
    portal: list[str] = field(default_factory=list)
    unit: str = ""
    topic: str = ""
    type: str = ""
    kind: list[str] = field(default_factory=list)
    year: list[int] = field(default_factory=list)
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def parse(cls, request: Request) -> SearchParams:
        qp = request.query_params

        def one(name: str) -> str:
            return (qp.get(name) or "").strip()

        p = cls()
        p.q = one("q")
        if len(p.q) > MAX_QUERY:
            raise BadRequest(f"q: câu tìm quá dài (tối đa {MAX_QUERY} ký tự)")
        p.portal = [v for v in qp.getlist("portal") if v]
        for slug in p.portal:
            if not _SLUG.match(slug):
                raise BadRequest(f"portal: {slug!r} không phải mã cổng hợp lệ")
        p.unit = one("unit")[:200]
        p.topic = one("topic")
        if p.topic and p.topic not in TOPIC_LABELS:
            raise BadRequest("topic: chỉ nhận 'cchc' hoặc 'dvhc'")
        p.type = one("type")
        if p.type and p.type not in TYPE_LABELS:
            raise BadRequest("type: chỉ nhận 'article' hoặc 'document'")
        p.kind = [v.strip()[:60] for v in qp.getlist("kind") if v.strip()]
        for v in qp.getlist("year"):
            if not v:
                continue
            if not v.isdigit() or not 1900 <= int(v) <= 2100:
                raise BadRequest(f"year: {v!r} không phải năm hợp lệ (1900–2100)")
            p.year.append(int(v))
        p.date_from = _date_param(one("from"), "from")
        p.date_to = _date_param(one("to"), "to")
        if p.date_from and p.date_to and p.date_from > p.date_to:
            raise BadRequest("from/to: ngày bắt đầu sau ngày kết thúc")
        p.sort = one("sort") or "relevance"
        if p.sort not in SORT_LABELS:
            raise BadRequest("sort: chỉ nhận relevance, newest hoặc oldest")
        p.page = _int_param(one("page"), "page", 1, MAX_PAGE, 1)
        p.per_page = _int_param(one("per_page"), "per_page", 1, MAX_PER_PAGE, PER_PAGE)
        return p

    def items(self, **changes: Any) -> list[tuple[str, str]]:
        values = {**self.__dict__, **changes}
        out: list[tuple[str, str]] = []
        if values["q"]:
            out.append(("q", values["q"]))
        out += [("portal", v) for v in values["portal"]]
        for name in ("unit", "topic", "type"):
            if values[name]:
                out.append((name, values[name]))
        out += [("kind", v) for v in values["kind"]]
        out += [("year", str(v)) for v in values["year"]]
        if values["date_from"]:
            out.append(("from", values["date_from"].isoformat()))
        if values["date_to"]:
            out.append(("to", values["date_to"].isoformat()))
        if values["sort"] != "relevance":
            out.append(("sort", values["sort"]))
        if values["page"] != 1:
            out.append(("page", str(values["page"])))
        if values["per_page"] != PER_PAGE:
            out.append(("per_page", str(values["per_page"])))
        return out

    def query_string(self, **changes: Any) -> str:
        return urlencode(self.items(**changes))

    def toggle(self, name: str, value: Any) -> str:
        """The query string with ``value`` added to or removed from filter ``name``."""
        current = getattr(self, name)
        if isinstance(current, list):
            new = [v for v in current if v != value] if value in current else [*current, value]
        else:
            new = "" if current == value else value
        return self.query_string(**{name: new, "page": 1})


def _date_param(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}: {value!r} không phải ngày dạng YYYY-MM-DD") from None


def _int_param(value: str, name: str, low: int, high: int, default: int) -> int:
    if not value:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(f"{name}: cần một số từ {low} đến {high}")
    return int(value)


def _param(name: str, description: str, schema: dict, *, many: bool = False) -> dict:
    if many:
        schema = {"type": "array", "items": schema}
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, **({"style": "form", "explode": True} if many else {})}  # fmt: skip


#: The search parameters, for the OpenAPI document (they are parsed by SearchParams.parse).
SEARCH_PARAMETERS = [
    _param("q", "words (with or without diacritics), \"phrases\", document numbers, -exclusions",
           {"type": "string", "maxLength": MAX_QUERY}),
    _param("portal", "portal slug", {"type": "string"}, many=True),
    _param("unit", "administrative unit of the portal (folded substring)", {"type": "string"}),
    _param("topic", "topic", {"type": "string", "enum": list(TOPIC_LABELS)}),
    _param("type", "articles or attached documents", {"type": "string", "enum": list(TYPE_LABELS)}),
    _param("kind", "document kind (Kế hoạch, ke-hoach…)", {"type": "string"}, many=True),
    _param("year", "issue or publication year", {"type": "integer", "minimum": 1900,
                                                  "maximum": 2100}, many=True),
    _param("from", "published on or after", {"type": "string", "format": "date"}),
    _param("to", "published on or before", {"type": "string", "format": "date"}),
    _param("sort", "order", {"type": "string", "enum": list(SORT_LABELS)}),
    _param("page", "page number", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
    _param("per_page", "hits per page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}),
]  # fmt: skip
SEARCH_OPENAPI = {"parameters": SEARCH_PARAMETERS}


# --- the application --------------------------------------------------------------------------


def secret_key_for(config: Config) -> str:
    """``PORTAL_ARCHIVE_SECRET``, else a random key kept in the data directory (0600)."""
    env = os.environ.get("PORTAL_ARCHIVE_SECRET")
    if env:
        return env
    path = config.data_dir / "web-secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def create_app(
    config: Config, *, secret_key: str | None = None, operations: Operations | None = None
) -> FastAPI:
    """The web application over the archive in ``config``'s data directory; ``operations``
    says how crawls started from the web run (the registry, loopback allowed or not)."""
    from search.backend import SearchBackend, open_backend
    from search.index import IndexVersionError

    config.ensure()
    archive = Archive(config)
    index_lock = threading.Lock()
    throttle = _LoginThrottle()
    state: dict[str, Any] = {"index": None}

    def index() -> SearchBackend:
        if state["index"] is None:
            state["index"] = open_backend(config, archive)
        return state["index"]

    app = FastAPI(
        title="portal-archive",
        description="Lưu trữ cổng thông tin điện tử cấp huyện, cấp xã: tìm kiếm, đọc, sưu tập, "
        "xuất dữ liệu. Every HTML page has a JSON twin (`.json`).",
        docs_url=None,  # Swagger UI loads scripts from a CDN: not under this CSP
        redoc_url=None,
    )
    app.state.archive = archive
    app.state.config = config
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key or secret_key_for(config),
        session_cookie="pa_session",
        same_site="lax",
        https_only=False,
        max_age=14 * 24 * 3600,
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(
        TOPIC_LABELS=TOPIC_LABELS,
        TYPE_LABELS=TYPE_LABELS,
        SORT_LABELS=SORT_LABELS,
        kind_label=kind_label,
        getattr_list=getattr,
    )
    templates.env.filters["vn_date"] = _vn_date
    templates.env.filters["filesize"] = _filesize
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    # --- helpers ----------------------------------------------------------------------------

    def wants_json(request: Request) -> bool:
        if request.url.path.endswith(".json"):
            return True
        accept = request.headers.get("accept", "")
        return "application/json" in accept and "text/html" not in accept

    def user_of(request: Request) -> dict | None:
        return request.session.get("user")

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(32)
        return token

    def page(
        request: Request, template: str, context: dict, data: Any, status: int = 200
    ) -> Response:
        if wants_json(request):
            return JSONResponse(_jsonable(data), status_code=status)
        context = {
            "request": request,
            "user": user_of(request),
            "csrf": csrf_token(request),
            **context,
        }
        return templates.TemplateResponse(request, template, context, status_code=status)

    def error(request: Request, status: int, message: str) -> Response:
        if wants_json(request):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"request": request, "user": user_of(request), "csrf": csrf_token(request),
             "status": status, "message": message},
            status_code=status,
        )  # fmt: skip

    async def form_of(request: Request) -> dict[str, Any]:
        """The posted form, after the CSRF check (field ``csrf`` or header X-CSRF-Token)."""
        form = await request.form()
        sent = form.get("csrf") or request.headers.get("x-csrf-token") or ""
        expected = request.session.get("csrf") or ""
        if not expected or not secrets.compare_digest(str(sent), expected):
            raise StarletteHTTPException(
                403, "Phiên làm việc đã hết hạn hoặc thiếu mã CSRF: tải lại trang và thử lại."
            )
        return {k: form.getlist(k) if len(form.getlist(k)) > 1 else form.get(k) for k in form}

    def require_user(request: Request) -> dict:
        user = user_of(request)
        if user is None:
            raise _LoginRequired()
        return user

    portal_cache: dict[str, Any] = {"at": None, "rows": []}

    def remember_portals(rows: list[dict]) -> list[dict]:
        portal_cache["rows"] = [
            {k: r.get(k, "") for k in ("slug", "name", "unit", "unit_code")} for r in rows
        ]
        portal_cache["at"] = time.monotonic()
        return portal_cache["rows"]

    def portal_names() -> list[dict]:
        """Slug, name and unit of every portal, for the search page and the unit filter.
        ``Archive.portal_status()`` also counts every portal's articles (20 ms at 100,000
        articles), so it is asked at most every :data:`PORTALS_TTL` seconds (and whenever
        the portals page is shown); a portal registered since shows up within that time."""
        at = portal_cache["at"]
        if at is None or time.monotonic() - at > PORTALS_TTL:
            return remember_portals(archive.portal_status())
        return portal_cache["rows"]

    @functools.lru_cache(maxsize=256)
    def unit_filter(value: str):
        """The administrative unit ``value`` names, with what a filter by it covers
        (archive/unit_links.py). Unknown: a 400; several units: :class:`AmbiguousUnit`,
        which the search page turns into a choice."""
        from archive.unit_links import resolve_unit_filter
        from archive.units import UnitsError

        try:
            return resolve_unit_filter(archive, value)
        except AmbiguousUnit:
            raise
        except UnitsError as exc:
            raise BadRequest(f"unit: {exc}") from None

    def article_units(entry_id: str) -> dict[str, list[dict]]:
        """The units an article was issued by (as on its date) and names, with their places."""
        from archive.unit_links import entry_units, units_gazetteer

        links = entry_units(archive, [entry_id]).get(entry_id, {})
        g = units_gazetteer(archive)
        out: dict[str, list[dict]] = {}
        for role, keys in links.items():
            out[role] = [
                {"key": k, "place": g.place(k) if k in g.units else k,
                 "era": "từ 1/7/2025" if k.endswith("@2025") else "trước 1/7/2025"}
                for k in keys
            ]  # fmt: skip
        return out

    def search_filters(params: SearchParams) -> dict[str, Any]:
        """The keyword arguments of search() and search_ids() for ``params``."""
        return {
            "units": unit_filter(params.unit).keys if params.unit else None,
            "portal": params.portal or None,
            "topic": params.topic or None,
            "date_from": params.date_from,
            "date_to": params.date_to,
            "type": params.type or None,
            "doc_kind": params.kind or None,
            "year": params.year or None,
            "sort": params.sort,
        }

    def run_search(params: SearchParams):
        filters = search_filters(params)
        with index_lock:
            return index().search(
                params.q,
                **filters,
                page=params.page,
                per_page=params.per_page,
                texts_for=archive.bodies,  # one query for the page's snippets
            )

    def matching_article_ids(params: SearchParams, limit: int = 100_000) -> list[str]:
        """The ids of the articles a search finds (for exports and "add all"): the search
        pages' order up to search.query.RANK_IDS_LIMIT matches, else index order; no
        snippets, no facets, no stored fields."""
        filters = {**search_filters(params), "type": "article"}
        with index_lock:
            return index().search_ids(params.q, **filters, limit=limit)

    # --- errors -----------------------------------------------------------------------------

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> Response:
        return error(request, 400, str(exc))

    @app.exception_handler(AmbiguousUnit)
    async def ambiguous_unit(request: Request, exc: AmbiguousUnit) -> Response:
        return error(request, 400, f"unit: {exc}")

    @app.exception_handler(IndexVersionError)
    async def index_outdated(request: Request, exc: IndexVersionError) -> Response:
        return error(
            request, 503,
            "Chỉ mục tìm kiếm do phiên bản cũ tạo ra: chạy `portal-archive index` rồi tải lại "
            f"trang. ({exc})",
        )  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        parts = [f"{'.'.join(str(x) for x in e['loc'][1:])}: {e['msg']}" for e in exc.errors()]
        return error(request, 400, "Tham số không hợp lệ — " + "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "Lỗi"
        if exc.status_code == 404 and message == "Not Found":
            message = "Không tìm thấy trang này."
        return error(request, exc.status_code, message)

    @app.exception_handler(_LoginRequired)
    async def login_required(request: Request, exc: _LoginRequired) -> Response:
        if wants_json(request) or request.method != "GET":
            return error(request, 401, "Cần đăng nhập để làm việc này.")
        return RedirectResponse(f"/login?{urlencode({'next': _local_path(request)})}", 303)

    # --- search -----------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/search", 307)

    @app.get(
        "/search",
        response_class=HTMLResponse,
        summary="Tìm kiếm (HTML)",
        openapi_extra=SEARCH_OPENAPI,
    )
    @app.get("/search.json", summary="Tìm kiếm (JSON)", openapi_extra=SEARCH_OPENAPI)
    def search_page(request: Request) -> Response:
        params = SearchParams.parse(request)
        unit, choices = None, []
        try:
            if params.unit:
                unit = unit_filter(params.unit)
            result = run_search(params)
        except AmbiguousUnit as exc:
            # "Thanh Xuân": a district, a 2025 ward, communes of four provinces: let them choose
            from search.query import SearchResult

            choices = exc.candidates
            result = SearchResult(total=0, hits=[], page=1, per_page=params.per_page,
                                  query=params.q, facets={})  # fmt: skip
        data = {
            "unit": unit.as_dict() if unit else None,
            "unit_choices": choices,
            "query": params.q,
            "filters": dict(params.items(page=1)),
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "facets": result.facets,
            "hits": [_hit_json(h) for h in result.hits],
            "next": f"/search.json?{params.query_string(page=params.page + 1)}"
            if params.page * params.per_page < result.total
            else None,
        }
        portals = portal_names()
        # the portals' own units, to filter by with one click (any other: type its name)
        units = sorted({(p["unit_code"], p["unit"] or p["unit_code"]) for p in portals
                        if p["unit_code"]}, key=lambda u: u[1])  # fmt: skip
        collections = []
        user = user_of(request)
        if user and not wants_json(request):
            from archive.users import list_collections

            collections = list_collections(archive, user["id"])
        pages = max(1, -(-result.total // params.per_page))
        return page(
            request,
            "search.html",
            {"p": params, "result": result, "pages": pages, "units": units,
             "unit": unit, "unit_choices": choices,
             "portal_names": {x["slug"]: x["name"] for x in portals},
             "collections": collections, "years": _year_options(result)},
            data,
        )  # fmt: skip

    # --- articles and documents -------------------------------------------------------------

    @app.get("/articles/{article_id}", response_class=HTMLResponse, summary="Bài viết (HTML)")
    @app.get("/articles/{article_id}.json", summary="Bài viết (JSON)")
    def article_page(request: Request, article_id: str) -> Response:
        article_id = article_id.removesuffix(".json")
        if not _ARTICLE_ID.match(article_id):
            raise BadRequest("mã bài viết không hợp lệ")
        found = archive.article_page(article_id)
        if found is None:
            raise StarletteHTTPException(404, f"Không có bài viết {article_id} trong kho.")
        record = found["record"]
        versions = found["versions"]
        changes = [
            {"from": a["version"], "to": b["version"], "fetched_at": b["fetched_at"],
             "title_changed": a["title"] != b["title"], "diff": _diff(a["body"], b["body"])}
            for a, b in zip(versions, versions[1:], strict=False)
        ]  # fmt: skip
        raw_html = None
        mine = []
        if not wants_json(request):
            if found["raw_sha256"]:
                raw_html = _sanitised_raw(archive, found["raw_sha256"])
            user = user_of(request)
            if user:
                from archive.users import list_collections

                mine = list_collections(archive, user["id"])
        warc = found.get("warc")
        capture = f"/articles/{article_id}/capture" if warc else None
        units = article_units(article_id)
        data = {
            **record.as_dict(),
            "units": units,
            "attachments": found["attachments"],
            "versions": [{k: v for k, v in x.items() if k != "body"} for x in versions],
            "changes": changes,
            "raw_sha256": found["raw_sha256"],
            "capture": {"url": capture, **warc} if warc else None,
        }
        return page(
            request,
            "article.html",
            {"a": record, "attachments": found["attachments"], "changes": changes,
             "versions": versions, "raw_html": raw_html, "collections_of_user": mine,
             "capture": capture, "units": units},
            data,
        )  # fmt: skip

    @app.get("/articles/{article_id}/capture", summary="Bản ghi WARC của bài viết")
    def article_capture(article_id: str) -> Response:
        """The WARC record of the current version's capture (a one-record .warc.gz)."""
        from archive.warcfiles import WarcRecordError, warc_record

        if not _ARTICLE_ID.match(article_id):
            raise BadRequest("mã bài viết không hợp lệ")
        found = archive.article_page(article_id)
        warc = found and found.get("warc")
        if not warc:
            raise StarletteHTTPException(404, f"Bài viết {article_id} không có bản ghi WARC.")
        try:
            record = warc_record(config, warc["file"], int(warc["offset"]))
        except WarcRecordError as exc:
            raise StarletteHTTPException(404, f"Không đọc được bản ghi WARC: {exc}") from None
        return Response(
            record.data,
            media_type="application/warc",
            headers={"Content-Disposition": f'attachment; filename="{record.download_name}"'},
        )

    @app.get("/documents/{sha256}", response_class=HTMLResponse, summary="Văn bản (HTML)")
    @app.get("/documents/{sha256}.json", summary="Văn bản (JSON)")
    def document_page(request: Request, sha256: str) -> Response:
        sha256 = sha256.removesuffix(".json")
        if not _SHA256.match(sha256):
            raise BadRequest("mã văn bản phải là sha256 (64 ký tự hex)")
        doc = archive.document_page(sha256)
        if doc is None:
            raise StarletteHTTPException(404, "Không có văn bản này trong kho.")
        data = {
            **{k: v for k, v in doc.items() if k not in ("attached_by", "cited_by")},
            "attached_by": [r.id for r in doc["attached_by"]],
            "cited_by": [r.id for r in doc["cited_by"]],
            "file": f"/documents/{sha256}/file",
        }
        return page(request, "document.html", {"d": doc}, data)

    @app.get("/documents/{sha256}/file", summary="Tệp gốc của văn bản")
    def document_file(sha256: str) -> Response:
        if not _SHA256.match(sha256):
            raise BadRequest("mã văn bản phải là sha256 (64 ký tự hex)")
        root = config.attachments_dir.resolve()
        path = (root / sha256[:2] / sha256).resolve()
        if root not in path.parents or not path.is_file():
            raise StarletteHTTPException(404, "Tệp gốc không có trong kho.")
        doc = archive.document_page(sha256)
        name = (doc or {}).get("filename") or f"{sha256[:12]}.{(doc or {}).get('file_type', 'bin')}"
        return FileResponse(
            path,
            media_type="application/octet-stream",  # always a download, never rendered
            filename=_download_name(name),
        )

    # --- archivists' pages ------------------------------------------------------------------

    @app.get("/portals", response_class=HTMLResponse, summary="Các cổng (HTML)")
    @app.get("/portals.json", summary="Các cổng (JSON)")
    def portals_page(request: Request) -> Response:
        from archive import locks
        from archive.health import portal_health

        rows = archive.portal_status()
        remember_portals(rows)
        health = {h.slug: h for h in portal_health(archive)}
        crawling = {h["slug"]: h["holder"] for h in locks.held(archive) if not h.get("stale")}
        try:
            registered = set(operations.known_slugs())
        except Exception:  # a broken registry: the page still shows the archive
            registered = set()
        for row in rows:
            verdict = health.get(row["slug"])
            row["state"] = verdict.state if verdict else "never crawled"
            row["reasons"] = verdict.reasons if verdict else []
            row["crawling"] = crawling.get(row["slug"])
            row["registered"] = row["slug"] in registered
        return page(request, "portals.html", {"portals": rows}, {"portals": rows})

    @app.get("/runs", response_class=HTMLResponse, summary="Các lượt thu thập (HTML)")
    @app.get("/runs.json", summary="Các lượt thu thập (JSON)")
    def runs_page(request: Request) -> Response:
        limit = _int_param(request.query_params.get("limit", ""), "limit", 1, 1000, 50)
        rows = archive.runs(limit=limit)
        return page(request, "runs.html", {"runs": rows}, {"runs": rows})

    # --- archivists' operations: schedules, crawl now (archive/web/operations.py) -----------

    operations = operations or Operations()
    register_operations(
        app, archive=archive, config=config, ops=operations, page=page, error=error,
        form_of=form_of, require_user=require_user, wants_json=wants_json,
    )  # fmt: skip

    # --- sign in ----------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse, summary="Đăng nhập")
    def login_form(request: Request) -> Response:
        nxt = _safe_next(request.query_params.get("next"))
        return page(request, "login.html", {"next": nxt, "failed": False}, {"next": nxt})

    @app.post("/login", summary="Đăng nhập")
    async def login(request: Request) -> Response:
        from archive.users import authenticate

        form = await form_of(request)
        nxt = _safe_next(form.get("next"))
        username = str(form.get("username", ""))[:100]
        client = request.client.host if request.client else "?"
        if throttle.blocked(username, client):
            return error(request, 429, "Đăng nhập sai quá nhiều lần: thử lại sau 15 phút.")
        info = authenticate(archive, username, str(form.get("password", "")))
        if info is None:
            throttle.failed(username, client)
            return page(
                request, "login.html", {"next": nxt, "failed": True},
                {"error": "Sai tên đăng nhập hoặc mật khẩu."}, status=401,
            )  # fmt: skip
        request.session.clear()
        request.session["user"] = {"id": info.id, "username": info.username,
                                   "name": info.display_name or info.username,
                                   "admin": bool(info.is_admin)}  # fmt: skip
        request.session["csrf"] = secrets.token_urlsafe(32)
        return RedirectResponse(nxt, 303)

    @app.post("/logout", summary="Đăng xuất")
    async def logout(request: Request) -> Response:
        await form_of(request)
        request.session.clear()
        return RedirectResponse("/search", 303)

    # --- collections ------------------------------------------------------------------------

    @app.get("/collections", response_class=HTMLResponse, summary="Bộ sưu tập của tôi")
    @app.get("/collections.json", summary="Bộ sưu tập của tôi (JSON)")
    def collections_page(request: Request) -> Response:
        from archive.users import list_collections

        user = require_user(request)
        rows = list_collections(archive, user["id"])
        return page(request, "collections.html", {"collections": rows},
                    {"collections": [_jsonable(c.__dict__) for c in rows]})  # fmt: skip

    @app.post("/collections", summary="Tạo bộ sưu tập")
    async def create_collection(request: Request) -> Response:
        from archive.users import UserError, create_collection

        user = require_user(request)
        form = await form_of(request)
        try:
            cid = create_collection(
                archive, user["id"], str(form.get("name", "")).strip(), str(form.get("note", ""))
            )
        except UserError as exc:
            raise BadRequest(str(exc)) from None
        back = _safe_next(form.get("next"), default=f"/collections/{cid}")
        return RedirectResponse(back, 303)

    @app.get("/collections/{cid}", response_class=HTMLResponse, summary="Một bộ sưu tập")
    @app.get("/collections/{cid}.json", summary="Một bộ sưu tập (JSON)")
    def collection_page(request: Request, cid: str) -> Response:
        from archive.users import collection_article_ids

        user = require_user(request)
        collection = _own_collection(archive, user, cid)
        ids = collection_article_ids(archive, user["id"], collection.id)
        by_id = {r.id: r for r in archive.iter_articles(ids=ids)}
        records = [by_id[i] for i in ids if i in by_id]
        data = {**_jsonable(collection.__dict__),
                "articles": [_jsonable(_article_brief(r)) for r in records]}  # fmt: skip
        return page(request, "collection.html", {"c": collection, "articles": records}, data)

    @app.post("/collections/{cid}/add", summary="Thêm bài vào bộ sưu tập")
    async def collection_add(request: Request, cid: str) -> Response:
        from archive.users import UserError, add_items

        user = require_user(request)
        form = await form_of(request)
        collection = _own_collection(archive, user, str(form.get("collection") or cid))
        ids = _as_list(form.get("article_id"))
        if form.get("all_results"):
            params = SearchParams.parse(_FormQuery(request, form.get("search", "")))
            ids = matching_article_ids(params)
        ids = [i for i in ids if not i.startswith(DOCUMENT_ID_PREFIX)]
        if not ids:
            raise BadRequest("chưa chọn bài viết nào")
        for i in ids:
            if not _ARTICLE_ID.match(i):
                raise BadRequest(f"mã bài viết không hợp lệ: {i!r}")
        try:
            added = add_items(archive, user["id"], collection.id, ids)
        except UserError as exc:
            raise BadRequest(str(exc)) from None
        if wants_json(request):
            return JSONResponse({"added": added, "collection": collection.id})
        back = _safe_next(form.get("next"), default=f"/collections/{collection.id}")
        sep = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{sep}added={added}&to={collection.id}", 303)

    @app.post("/collections/{cid}/remove", summary="Bỏ bài khỏi bộ sưu tập")
    async def collection_remove(request: Request, cid: str) -> Response:
        from archive.users import remove_items

        user = require_user(request)
        form = await form_of(request)
        collection = _own_collection(archive, user, cid)
        remove_items(archive, user["id"], collection.id, _as_list(form.get("article_id")))
        return RedirectResponse(f"/collections/{collection.id}", 303)

    @app.post("/collections/{cid}/note", summary="Ghi chú cho bộ sưu tập")
    async def collection_note(request: Request, cid: str) -> Response:
        from archive.users import set_note

        user = require_user(request)
        form = await form_of(request)
        collection = _own_collection(archive, user, cid)
        set_note(archive, user["id"], collection.id, str(form.get("note", ""))[:10_000])
        return RedirectResponse(f"/collections/{collection.id}", 303)

    @app.post("/collections/{cid}/delete", summary="Xóa bộ sưu tập")
    async def collection_delete(request: Request, cid: str) -> Response:
        from archive.users import delete_collection

        user = require_user(request)
        await form_of(request)
        collection = _own_collection(archive, user, cid)
        delete_collection(archive, user["id"], collection.id)
        return RedirectResponse("/collections", 303)

    # --- exports ----------------------------------------------------------------------------

    @app.get(
        "/export.{fmt}",
        summary="Xuất kết quả tìm kiếm (csv, jsonl, xlsx, zip)",
        openapi_extra=SEARCH_OPENAPI,
    )
    def export_search(request: Request, fmt: str) -> Response:
        params = SearchParams.parse(request)
        ids = matching_article_ids(params)
        description = {"query": params.q, **dict(params.items(page=1))}
        if params.unit:  # what the unit covered, as the search page says it
            description["unit"] = unit_filter(params.unit).as_dict()
        return export_response(fmt, ids, description, f"tim-kiem-{date.today():%Y%m%d}")

    @app.get("/collections/{cid}/export.{fmt}", summary="Xuất một bộ sưu tập")
    def export_collection(request: Request, cid: str, fmt: str) -> Response:
        from archive.users import collection_article_ids

        user = require_user(request)
        collection = _own_collection(archive, user, cid)
        ids = collection_article_ids(archive, user["id"], collection.id)
        return export_response(fmt, ids, {"collection": collection.name, "note": collection.note},
                               f"bo-suu-tap-{collection.id}")  # fmt: skip

    def export_response(fmt: str, ids: list[str], description: dict, stem: str) -> Response:
        if fmt not in EXPORT_FORMATS:
            raise BadRequest(f"định dạng xuất {fmt!r} không có; chọn: {', '.join(EXPORT_FORMATS)}")
        media_type, ext = EXPORT_FORMATS[fmt]
        order = {i: n for n, i in enumerate(ids)}

        def records():
            rows = list(archive.iter_articles(ids=ids)) if len(ids) <= 2000 else None
            if rows is None:  # large: stream in database order, memory stays flat
                yield from archive.iter_articles(ids=ids)
                return
            yield from sorted(rows, key=lambda r: order.get(r.id, 0))

        def write(out: IO[bytes]) -> None:
            if fmt in ("warc", "wacz"):  # the original captures, byte for byte (docs/warc.md)
                from archive.export_warc import write_wacz, write_warc

                if fmt == "warc":
                    write_warc(archive, ids, out, description=description)
                else:
                    write_wacz(archive, ids, out, description=description, title=stem)
            elif fmt == "zip":
                from archive.bundle import write_bundle

                write_bundle(archive, records(), out, description=description)
            else:
                from archive.export import write_export

                write_export(records(), out, fmt)

        return StreamingResponse(
            _stream_writer(write),
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{stem}.{ext}"',
                     "X-Article-Count": str(len(ids))},
        )  # fmt: skip

    return app


# --- small helpers ----------------------------------------------------------------------------


class _LoginRequired(Exception):
    pass


class _LoginThrottle:
    """At most :attr:`LIMIT` failed sign-ins per username and per client address in
    :attr:`WINDOW` seconds (in memory: one process)."""

    LIMIT = 5
    WINDOW = 15 * 60

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.WINDOW]
        self._failures[key] = times
        return times

    def blocked(self, username: str, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            keys = (f"u:{username.strip().lower()}", f"c:{client}")
            return any(len(self._recent(k, now)) >= self.LIMIT for k in keys)

    def failed(self, username: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"u:{username.strip().lower()}", f"c:{client}"):
                self._recent(key, now).append(now)


class _FormQuery:
    """A search carried in a form field (the query string of the results page)."""

    def __init__(self, request: Request, query: str):
        from starlette.datastructures import QueryParams

        self.query_params = QueryParams(str(query or "").lstrip("?"))
        self.url = request.url


def _own_collection(archive: Archive, user: dict, cid: str):
    from archive.users import get_collection

    if not str(cid).isdigit():
        raise BadRequest("mã bộ sưu tập phải là số")
    collection = get_collection(archive, user["id"], int(cid))
    if collection is None:
        raise StarletteHTTPException(404, "Không có bộ sưu tập này (hoặc không phải của bạn).")
    return collection


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _safe_next(value: Any, default: str = "/search") -> str:
    """Only a local path: never an absolute URL to another site (open redirect)."""
    text = str(value or "")
    if not text.startswith("/") or text.startswith("//") or "\\" in text or "\n" in text:
        return default
    return text


def _local_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _download_name(name: str) -> str:
    from archive.bundle import safe_filename

    return safe_filename(name) or "tep-dinh-kem"


def _stream_writer(write: Callable[[IO[bytes]], None]) -> Iterator[bytes]:
    """Run ``write(out)`` in a thread; yield what it writes as it writes it (the exporters
    accept non-seekable streams), so a large export starts downloading at once. When the
    client goes away (the generator is closed), the writer's next write raises
    BrokenPipeError, so the thread and its database session end instead of waiting forever
    on a full queue."""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=64)
    gone = threading.Event()

    def put(item: bytes | BaseException | None) -> None:
        while not gone.is_set():
            try:
                chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        if not isinstance(item, BaseException) and item is not None:
            raise BrokenPipeError("the client closed the connection")

    class Pipe(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: Any) -> int:
            if data:
                put(bytes(data))
            return len(data)

    def run() -> None:
        try:
            out = io.BufferedWriter(Pipe(), buffer_size=1 << 16)
            write(out)
            out.flush()
        except BaseException as exc:  # noqa: BLE001 - handed to the response side
            put(exc)
        else:
            put(None)

    threading.Thread(target=run, daemon=True, name="export").start()
    try:
        while True:
            item = chunks.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        gone.set()


def _sanitised_raw(archive: Archive, sha256: str) -> str | None:
    """The archived page's body, cleaned by nh3: no script, no style, no event handler, no
    javascript: URL; links open in a new tab without a referrer."""
    import nh3

    from archive.legacy import decode_html_bytes

    try:
        body = archive.raw.get(sha256)
    except (OSError, KeyError):
        return None
    html, _enc = decode_html_bytes(body)
    tags = set(nh3.ALLOWED_TAGS) - {"img"} | {"figure", "figcaption", "section", "article"}
    return nh3.clean(
        html,
        tags=tags,
        clean_content_tags={"script", "style", "noscript", "template", "iframe", "object"},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        attributes={"a": {"href", "title"}, "td": {"colspan", "rowspan"},
                    "th": {"colspan", "rowspan"}},
    )  # fmt: skip


def _diff(old: str, new: str) -> list[tuple[str, str]]:
    """Paragraph-level changes between two versions: ("-", removed) and ("+", added)."""
    a, b = old.split("\n"), new.split("\n")
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag in ("delete", "replace"):
            out += [("-", x) for x in a[i1:i2] if x.strip()]
        if tag in ("insert", "replace"):
            out += [("+", x) for x in b[j1:j2] if x.strip()]
    return out


def _year_options(result) -> list[str]:
    return list(result.facets.get("year", {}))


def _hit_json(h) -> dict:
    return {
        "id": h.id,
        "type": h.type,
        "title": h.title,
        "portal": h.portal,
        "url": h.url,
        "published": h.published.isoformat() if h.published else None,
        "topics": h.topics,
        "doc_kinds": [kind_label(k) for k in h.doc_kinds],
        "score": h.score,
        "snippet": h.snippet,
        "page": f"/documents/{h.id[len(DOCUMENT_ID_PREFIX) :]}"
        if h.type == "document"
        else f"/articles/{h.id}",
    }


def _article_brief(r) -> dict:
    return {"id": r.id, "title": r.title, "portal": r.portal, "unit": r.unit,
            "published": r.published, "url": r.canonical_url, "topics": r.topics}  # fmt: skip


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "as_dict"):
        return _jsonable(value.as_dict())
    return value


def _vn_date(value: Any, with_time: bool = True) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        from datetime import UTC

        from search.index import VN_TZ

        if value.tzinfo is None:  # the database keeps UTC; SQLite gives it back naive
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(VN_TZ)
        return value.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")
    return value.strftime("%d/%m/%Y")


def _filesize(n: int | None) -> str:
    if not n:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
