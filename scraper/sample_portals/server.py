"""SampleWorld: the three simulated portals served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import functools
import json
import re
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from .content import DATA_DIR, Article, Block, parse_blocks, replicate
from .faults import FaultPlan
from .liferay import LiferaySite
from .nukeviet import NukevietSite
from .portals import PORTAL_SPECS, PORTALS
from .site import VN, PortalSite
from .tandan import TandanSite

FAMILIES: dict[str, type[PortalSite]] = {
    "liferay": LiferaySite,
    "tandan": TandanSite,
    "nukeviet": NukevietSite,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _handler(world: SampleWorld, slug: str, site: PortalSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "Apache-Coyote/1.1" if site.family == "liferay" else "Microsoft-IIS/10.0"
        protocol_version = "HTTP/1.1"
        # Headers and body leave in one segment: with keep-alive, separate small writes
        # hit Nagle + delayed ACK and stall each response ~40 ms (measured: 16 pages/s).
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def _serve(self, send_body: bool) -> None:
            parts = urlsplit(self.path)
            plan = world.faults
            fault = plan.pick(slug, parts.path or "/", parts.query) if plan else None
            resp = site.handle(parts.path or "/", parts.query, self.headers)
            if fault is not None:  # faults.py puts its own answer on the wire
                log = functools.partial(world._log, slug, self.command, self.path)
                plan.serve(fault, self, resp, send_body, log)
                return
            world._log(slug, self.command, self.path, resp.status)
            self.send_response(resp.status)
            for name, value in resp.headers.items():
                self.send_header(name, value)
            if resp.status != 304:  # a 304 has no body, and no length of its own
                self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if send_body:
                self.wfile.write(resp.body)

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            self._serve(True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._serve(False)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # silence the per-request stderr line

    return Handler


class SampleWorld:
    """Start/stop the sample portals; one ThreadingHTTPServer per portal, daemon threads.

    ``port_base=None`` picks ephemeral ports; otherwise portal i listens on port_base + i.
    ``requests`` records (slug, method, path_with_query, status) of every request served;
    a faulted request logs the status it got, or "timeout" / "dropped".
    ``faults`` (also ``set_faults`` / ``clear_faults`` while serving): a ``FaultPlan``.
    ``validators`` (default True): article pages, print views and attachments send ``ETag``
    and ``Last-Modified`` and answer matching conditional requests with 304.

    Between two crawls, ``edit`` changes an article and ``publish`` adds one; both are
    served at once.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port_base: int | None = None,
        *,
        scale: int = 1,
        page_size: int | None = None,
        faults: FaultPlan | None = None,
        validators: bool = True,
    ) -> None:
        """``scale`` > 1 adds dated-back copies of every article and ``page_size`` changes
        the listing size: a bigger world for benchmarks (its ground truth is the 1x one).
        Scale 1000 is 10,000 articles per portal; pages are then rendered on demand."""
        self.host = host
        self.port_base = port_base
        self.sites: dict[str, PortalSite] = {
            slug: FAMILIES[PORTAL_SPECS[slug].family](PORTAL_SPECS[slug]) for slug in PORTALS
        }
        for site in self.sites.values():
            if scale > 1:
                site.articles = replicate(site.articles, scale)
                site.by_path = {a.path: a for a in site.articles}
            if page_size:
                site.page_size = page_size
            site.validators = validators
        self.faults = faults
        self.requests: list[tuple[str, str, str, int | str]] = []
        self._lock = threading.Lock()
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []

    def _log(self, slug: str, method: str, path: str, status: int | str) -> None:
        with self._lock:
            self.requests.append((slug, method, path, status))

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Fault requests from now on by ``plan`` (None: none); a replaced plan lets go of the
        connections its timeouts hold."""
        old, self.faults = self.faults, plan
        if old is not None and old is not plan:
            old.release()

    def clear_faults(self) -> None:
        self.set_faults(None)

    def start(self) -> SampleWorld:
        if self._servers:
            return self
        try:
            for i, slug in enumerate(PORTALS):
                port = 0 if self.port_base is None else self.port_base + i
                site = self.sites[slug]
                server = _Server((self.host, port), _handler(self, slug, site))
                self._servers[slug] = server
                site.build(self.base_url(slug))
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name=f"sample-portal-{slug}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.faults is not None:
            self.faults.release()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=2)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> SampleWorld:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def portals(self) -> tuple[str, ...]:
        return tuple(PORTALS)

    def base_url(self, slug: str) -> str:
        host, port = self._servers[slug].server_address[:2]
        return f"http://{host}:{port}"

    def _fill(self, slug: str, text: str) -> str:
        return text.replace("{base}", self.base_url(slug))

    def registry_toml(self, slug: str) -> str:
        return self._fill(slug, (DATA_DIR / slug / "site.toml").read_text(encoding="utf-8"))

    def write_registry(self, directory: Path) -> list[Path]:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for slug in PORTALS:
            path = directory / f"{slug}.toml"
            path.write_text(self.registry_toml(slug), encoding="utf-8")
            paths.append(path)
        return paths

    def expected(self, slug: str) -> list[dict]:
        raw = json.loads((DATA_DIR / slug / "expected.json").read_text(encoding="utf-8"))
        return json.loads(self._fill(slug, json.dumps(raw, ensure_ascii=False)))

    # --- changing the world between crawls -------------------------------------------

    def article(self, slug: str, which: int | str) -> Article:
        """An article of portal ``slug``: by position among all its articles newest first
        (0: the newest), or by path, URL or key."""
        site = self.sites[slug]
        if isinstance(which, int):
            return site.newest()[which]
        path = which
        if "://" in which:
            path = urlsplit(which).path
        found = site.by_path.get(path) or site.by_key.get(which)
        if found is None:
            raise KeyError(f"{slug}: no article {which!r}")
        return found

    def url(self, slug: str, article: Article) -> str:
        """The article's canonical URL on the running world."""
        return self.base_url(slug) + article.path

    def edit(
        self,
        slug: str,
        which: int | str,
        *,
        new_body_text: str | None = None,
        title: str | None = None,
        lead: str | None = None,
        modified: datetime | None = None,
    ) -> Article:
        """Change an article (``which`` as in :meth:`article`) as a portal editor does: a new
        body (the mini-language of content.py), title or lead. Its page, ETag and
        Last-Modified (``modified``, default now, always later than before) change; the
        edited article is returned."""
        site = self.sites[slug]
        old = self.article(slug, which)
        when = modified or _now()
        if modified is None and when <= old.last_modified:
            when = old.last_modified + timedelta(seconds=1)
        changes: dict = {"modified": when}
        if new_body_text is not None:
            changes["blocks"] = parse_blocks(new_body_text)
        if title is not None:
            changes["title"] = title
        if lead is not None:
            changes["lead"] = lead
        new = replace(old, **changes)
        site.articles[site.articles.index(old)] = new
        self._rebuild(site)
        return new

    def publish(
        self,
        slug: str,
        category: str | None = None,
        *,
        title: str | None = None,
        body_text: str | None = None,
        published: datetime | None = None,
    ) -> Article:
        """A new article in ``category`` (default: the portal's first), published now unless
        ``published`` says otherwise (naive, Asia/Ho_Chi_Minh): it appears at the top of
        its category's listing and pushes the others down. Built on the category's newest
        article (layout, author, lead) with its own path, title and text, and no
        attachments; returned."""
        site = self.sites[slug]
        category = category or site.spec.categories[0].slug
        template = site.newest(category)[0]
        n = 1
        while True:
            path = _PATH_ID_END.sub(lambda m, n=n: f"{m[1]}9{n:05d}{m[2]}", template.path)
            if path not in site.by_path and f"new-{n}" not in site.by_key:
                break
            n += 1
        title = title or f"Thông báo số {n}/TB-UBND về việc tiếp nhận hồ sơ trực tuyến"
        if body_text is not None:
            blocks = parse_blocks(body_text)
        else:  # the template's text without its links (the new article has no attachments)
            blocks = (Block("p", f"{title}."),) + tuple(
                replace(b, text=template.plain(b.text)) for b in template.blocks
            )
        article = replace(
            template,
            key=f"new-{n}",
            path=path,
            title=title,
            published=published or _now(),
            modified=None,
            blocks=blocks,
            attachments=(),
        )
        site.articles.append(article)
        self._rebuild(site)
        return article

    def _rebuild(self, site: PortalSite) -> None:
        if site.base:  # started: serve the change now (else start() builds it)
            site.build(site.base)
        else:
            site.by_path = {a.path: a for a in site.articles}
            site.by_key = {a.key: a for a in site.articles}


#: The id before the extension of a sample article's path ("...-1523.html").
_PATH_ID_END = re.compile(r"(\w+)(\.(?:html?|aspx))$")


def _now() -> datetime:
    """Now on the portals' clock (naive, Asia/Ho_Chi_Minh, whole seconds)."""
    return datetime.now(VN).replace(tzinfo=None, microsecond=0)
