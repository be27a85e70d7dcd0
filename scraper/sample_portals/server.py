"""SampleWorld: the three simulated portals served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import functools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from .content import DATA_DIR, replicate
from .faults import FaultPlan
from .liferay import LiferaySite
from .nukeviet import NukevietSite
from .portals import PORTAL_SPECS, PORTALS
from .site import PortalSite
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
            resp = site.handle(parts.path or "/", parts.query)
            if fault is not None:  # faults.py puts its own answer on the wire
                log = functools.partial(world._log, slug, self.command, self.path)
                plan.serve(fault, self, resp, send_body, log)
                return
            world._log(slug, self.command, self.path, resp.status)
            self.send_response(resp.status)
            for name, value in resp.headers.items():
                self.send_header(name, value)
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
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port_base: int | None = None,
        *,
        scale: int = 1,
        page_size: int | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        """``scale`` > 1 adds dated-back copies of every article and ``page_size`` changes
        the listing size: a bigger world for benchmarks (its ground truth is the 1x one)."""
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
