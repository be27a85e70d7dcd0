"""Archivists' operations in the web application: schedules, and a crawl started now.

Reading is open like the rest of the application (``/schedules`` and its JSON twin);
changing a schedule or starting a crawl needs a signed-in *archivist* (an account made with
``portal-archive users add NAME --admin``) and the CSRF token. The functions are the ones the
CLI uses (:mod:`archive.schedules`, :mod:`archive.locks`): a crawl started here is the same
``portal-archive crawl`` process the scheduler starts, recorded with the trigger ``web``, and
it takes the portal's lock like every other crawl, so a portal already being crawled is
refused here and left out there.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from archive import locks, schedules
from archive.config import Config
from archive.store import Archive, utcnow

log = logging.getLogger(__name__)


@dataclass
class Operations:
    """How crawls started from the web run: the registry and whether loopback is allowed
    (the demo and the tests crawl the sample portals on 127.0.0.1)."""

    portals_dir: Path | None = None
    allow_private: bool = False

    def known_slugs(self) -> list[str]:
        return schedules.registry_slugs(self.portals_dir)


class Forbidden(Exception):
    """A signed-in user who is not an archivist asked for an archivist's action."""


def register(
    app: FastAPI,
    *,
    archive: Archive,
    config: Config,
    ops: Operations,
    page: Callable[..., Response],
    error: Callable[[Request, int, str], Response],
    form_of: Callable[[Request], Any],
    require_user: Callable[[Request], dict],
    wants_json: Callable[[Request], bool],
) -> None:
    """Add the schedule pages and the crawl action to ``app`` (called by ``create_app``)."""

    def require_archivist(request: Request) -> dict:
        user = require_user(request)
        if not user.get("admin"):
            raise Forbidden()
        return user

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return error(
            request,
            403,
            "Chỉ người lưu trữ (tài khoản quản trị: portal-archive users add TÊN --admin) "
            "mới được lập lịch và thu thập.",
        )

    def done(request: Request, where: str, data: dict, status: int = 200) -> Response:
        if wants_json(request):
            return JSONResponse(data, status_code=status)
        return RedirectResponse(where, 303)

    @app.get("/schedules", response_class=HTMLResponse, summary="Lịch thu thập (HTML)")
    @app.get("/schedules.json", summary="Lịch thu thập (JSON)")
    def schedules_page(request: Request) -> Response:
        items = [i.as_dict() for i in schedules.list_schedules(archive)]
        fires = schedules.history(archive, None, limit=30)
        try:
            slugs = ops.known_slugs()
        except Exception as exc:  # a broken registry: the page still lists the schedules
            log.warning("portal registry: %s", exc)
            slugs = []
        data = {"schedules": items, "fires": fires}
        context = {**data, "slugs": slugs, "default_timezone": schedules.DEFAULT_TIMEZONE}
        return page(request, "schedules.html", context, data)

    @app.post("/schedules", summary="Thêm lịch thu thập")
    async def schedule_add(request: Request) -> Response:
        require_archivist(request)
        form = await form_of(request)
        target = str(form.get("target") or "").strip()
        cron = str(form.get("cron") or "").strip()
        zone = str(form.get("timezone") or schedules.DEFAULT_TIMEZONE).strip()
        if not target or not cron:
            return error(request, 400, "Cần chọn cổng (hoặc all) và biểu thức cron.")
        try:
            info = schedules.add(
                archive, target, cron, timezone=zone, known_slugs=ops.known_slugs()
            )
        except schedules.ScheduleError as exc:
            return error(request, 400, str(exc))
        return done(request, "/schedules", info.as_dict(), 201)

    @app.post("/schedules/{schedule_id}/{action}", summary="Tạm dừng, tiếp tục, xoá một lịch")
    async def schedule_action(request: Request, schedule_id: int, action: str) -> Response:
        require_archivist(request)
        await form_of(request)
        verb = {"pause": schedules.pause, "resume": schedules.resume, "remove": schedules.remove}
        if action not in verb:
            return error(request, 404, f"Không có thao tác {action!r} (pause, resume, remove).")
        try:
            info = verb[action](archive, schedule_id)
        except schedules.ScheduleError as exc:
            return error(request, 404, str(exc))
        return done(request, "/schedules", info.as_dict())

    @app.post("/portals/{slug}/crawl", summary="Thu thập một cổng ngay")
    async def crawl_now(request: Request, slug: str) -> Response:
        require_archivist(request)
        await form_of(request)
        if slug not in ops.known_slugs():
            return error(request, 404, f"Không có cổng {slug!r} trong danh mục.")
        busy = {h["slug"]: h for h in locks.held(archive) if not h.get("stale")}
        if slug in busy:
            return error(
                request, 409, f"Cổng {slug} đang được thu thập ({locks.describe(busy[slug])})."
            )
        process = start_crawl(config, ops, slug)
        data = {"portal": slug, "pid": process.pid, "started_at": utcnow().isoformat()}
        return done(request, "/portals", data, 202)


def start_crawl(config: Config, ops: Operations, slug: str) -> subprocess.Popen:
    """``portal-archive crawl SLUG --trigger web`` in its own session, so that it outlives
    a restart of the web server; its output goes to ``logs/`` in the data directory. The
    crawl takes the portal's lock itself: of two started at once, one leaves it out."""
    argv = schedules.crawl_argv(
        config, [slug], portals_dir=ops.portals_dir, allow_private=ops.allow_private,
        trigger="web",
    )  # fmt: skip
    logs = config.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    with open(logs / f"crawl-{slug}-{stamp}.log", "ab") as out:
        process = subprocess.Popen(
            [*argv, "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=schedules.child_env(config),
            start_new_session=True,
        )
    # Reaped when it ends (no zombie while the server runs); its run record says how it went.
    threading.Thread(target=process.wait, name=f"crawl-{slug}", daemon=True).start()
    return process
