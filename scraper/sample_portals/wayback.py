"""A fake Wayback Machine built from the sample portals, on 127.0.0.1: its CDX API and its
raw ``id_`` captures, for tests and benchmarks (never the real service).

It answers as the Internet Archive's servers do (wayback-cdx-server, the Wayback Machine):

- ``GET /cdx/search/cdx?url=<host>/*&output=json&fl=…&collapse=…&filter=…&from=…&to=…
  &limit=N&showResumeKey=true&resumeKey=…``: the captures sorted by SURT key and time, as
  a JSON array of arrays with a header row; ``from``/``to`` inclusive prefixes of the
  14-digit time; ``filter=[!]field:regex`` (whole-value match); ``collapse=field[:N]``
  drops a line whose field equals the last kept line's (each collapse in turn, as the
  server's ``CollapseFieldFilter``: ``collapse=urlkey`` keeps the first capture of a URL
  only); ``limit`` rows, then ``[]`` and ``[<resume key>]`` (``urlkey`` + space + the
  time with its last digit increased, URL-encoded); the next page starts at the resume
  key. Gzip when the client accepts it, as the real server.
- ``GET /web/<14 digits>id_/<original URL>``: the capture's bytes as archived, with its
  status, ``Content-Type``, the original headers as ``X-Archive-Orig-*``,
  ``Memento-Datetime`` and ``Link``; a time without a capture redirects (302) to the
  nearest one, a URL never captured is 404.
- ``GET /robots.txt``.

The captures: each sample portal's robots.txt, home and category pages (and a listing's
second page), every article (first captured in the second half of 2025 or the first half
of 2026, alternately: ``--from``/``--to`` tell them apart), a second capture with the same
bytes of every third article (collapsed), one article captured again with a paragraph
added (a second version), the attachments but one (``not_captured``), and noise: an image,
a stylesheet, a 404, a print view, the soft-404 page of a removed article and a
``warc/revisit`` row. ``throttle(n)`` answers the next ``n`` requests with 429 and a
``Retry-After``; ``requests`` logs ``(monotonic time, path, status)`` of each.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import threading
import tomllib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from time import monotonic
from urllib.parse import parse_qs, quote_plus, urlsplit

from archive.warcfiles import url_key

from .content import Block
from .server import SampleWorld

#: Every field the CDX server knows, in its default order.
CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
CHANGED_TEXT = "Cập nhật: Ủy ban nhân dân đã bổ sung danh mục hồ sơ kèm theo kế hoạch."
_CAPTURE_PATH = re.compile(r"^/web/(\d{1,14})id_/(https?://.+)$", re.S)


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _when(value: str) -> datetime:
    """A 1-14 digit time, completed to the start of its period ("2025" → 1 January 2025)."""
    full = (value + "19700101000000"[len(value) :])[:14]
    try:
        return datetime.strptime(full, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return datetime(int(full[:4]), 1, 1, tzinfo=UTC)


def sha1_base32(body: bytes) -> str:
    return base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


@dataclass(frozen=True)
class FakeCapture:
    """One line of the fake archive's index, with what it serves."""

    original: str
    timestamp: str
    statuscode: str  # "200", "404"…; "-" for a revisit
    mimetype: str  # "warc/revisit" for a revisit row
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def urlkey(self) -> str:
        return url_key(self.original)

    @property
    def digest(self) -> str:
        return sha1_base32(self.body)

    @property
    def servable(self) -> bool:
        return self.mimetype != "warc/revisit"

    def field(self, name: str) -> str:
        """The value of a CDX field (KeyError: not a field)."""
        if name not in CDX_FIELDS:
            raise KeyError(name)
        if name == "length":
            return str(len(gzip.compress(self.body, mtime=0)) + 400)
        return str(getattr(self, name))


class FakeWayback:
    """The fake archive of a running :class:`SampleWorld` (see the module docstring).

    Attributes the tests read: ``url`` (base URL), ``captures`` (every index line),
    ``articles`` (slug → article URL → its first capture time), ``changed`` (the URL
    captured again with new content) and ``changed_at``, ``duplicates`` (URLs captured
    twice with the same bytes), ``not_captured`` (attachment URLs without a capture),
    ``noise`` (URLs of captures a crawl has no reason to fetch: home, listings, images…),
    ``removed`` (captures of the soft-404 page of removed articles), ``requests``.
    """

    def __init__(self, world: SampleWorld, host: str = "127.0.0.1"):
        self.world = world
        self.host = host
        self.captures: list[FakeCapture] = []
        self.articles: dict[str, dict[str, datetime]] = {}
        self.changed = ""
        self.changed_at: datetime | None = None
        self.duplicates: set[str] = set()
        self.not_captured: set[str] = set()
        self.noise: set[str] = set()
        self.removed: set[str] = set()
        self.requests: list[tuple[float, str, int]] = []
        self._throttle = 0
        self._retry_after = "1"
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._index: list[FakeCapture] = []

    # --- the captures --------------------------------------------------------------------

    def _add(self, url: str, when: datetime, *, status: int | None = None, body=None, headers=None,
             mimetype: str | None = None) -> FakeCapture:  # fmt: skip
        """A capture of ``url`` at ``when``: what the sample portal answers now, unless
        ``body`` (and ``headers``) are given."""
        if body is None:
            slug = next(s for s in self.world.portals if url.startswith(self.world.base_url(s)))
            parts = urlsplit(url)
            resp = self.world.sites[slug].handle(parts.path or "/", parts.query)
            status, body, headers = resp.status, resp.body, dict(resp.headers)
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "text/html; charset=utf-8")
        headers["Date"] = format_datetime(when, usegmt=True)
        headers["Content-Length"] = str(len(body))
        ctype = mimetype or headers["Content-Type"].split(";", 1)[0].strip().lower()
        capture = FakeCapture(url, stamp(when), str(status or 200), ctype, body,
                              tuple(headers.items()))  # fmt: skip
        self.captures.append(capture)
        return capture

    def build(self) -> None:
        """Capture the sample portals (deterministic: the same world gives the same index)."""
        from scraper.extract import extract

        world = self.world
        for p, slug in enumerate(world.portals):
            site = world.sites[slug]
            base = world.base_url(slug)
            registry = tomllib.loads(world.registry_toml(slug))
            early = datetime(2025, 7, 1, 6, 0, tzinfo=UTC) + timedelta(hours=p)
            self._add(base + "/robots.txt", early)
            for i, url in enumerate(
                dict.fromkeys([*registry["start_urls"], *registry["category_urls"]])
            ):
                page = self._add(url, early + timedelta(minutes=i + 1))
                if url in registry["category_urls"]:
                    links = extract(page.body.decode("utf-8"), url, family=site.family).page_links
                    for link in links[:1]:  # a listing's second page
                        self._add(link, early + timedelta(minutes=30 + i))
                        self.noise.add(link)
            self.noise.update(
                {base + "/robots.txt", *registry["start_urls"], *registry["category_urls"]}
            )
            # Noise: an image, a stylesheet, a 404, the soft 404 of a removed article.
            self._add(base + "/_img/banner.png", early + timedelta(minutes=40))
            self._add(base + "/css/main.css", early + timedelta(minutes=41), body=b"body{margin:0}",
                      headers={"Content-Type": "text/css"})  # fmt: skip
            self._add(base + "/favicon.ico", early + timedelta(minutes=42))
            self._add(base + site.spec.removed.path, early + timedelta(minutes=43))
            self.noise.update(base + path for path in (
                "/_img/banner.png", "/css/main.css", "/favicon.ico"))  # fmt: skip
            self.removed.add(base + site.spec.removed.path)

            files: dict[str, datetime] = {}
            self.articles[slug] = {}
            for i, article in enumerate(site.newest()):
                url = base + article.path
                if i % 2 == 0:
                    when = datetime(2025, 7 + i % 6, 2 + i, 8, 15, tzinfo=UTC) + timedelta(hours=p)
                else:
                    when = datetime(2026, 1 + i % 6, 2 + i, 9, 30, tzinfo=UTC) + timedelta(hours=p)
                first = self._add(url, when)
                self.articles[slug][url] = when
                for att in article.attachments:
                    if att.file:
                        files.setdefault(base + att.href, when + timedelta(minutes=1))
                if i % 3 == 0 and i > 0:  # captured again, the same bytes: collapsed
                    self._add(url, datetime(2026, 9, 1 + i, 7, 0, tzinfo=UTC) + timedelta(hours=p))
                    self.duplicates.add(url)
                if i == 1:  # a revisit row (same digest): no payload of its own
                    self.captures.append(replace(first, timestamp=stamp(when + timedelta(days=30)),
                                                 statuscode="-", mimetype="warc/revisit"))  # fmt: skip
                if p == 0 and not self.changed and i % 2 == 0 and i and len(article.blocks) > 1:
                    # Edited after its first capture: a paragraph added in the middle.
                    self.changed, self.changed_at = url, datetime(2026, 10, 5, 10, 0, tzinfo=UTC)
                    blocks = (article.blocks[0], Block("p", CHANGED_TEXT), *article.blocks[1:])
                    body = site.render_article(replace(article, blocks=blocks)).encode("utf-8")
                    headers = {"Content-Type": "text/html; charset=utf-8"}
                    self._add(url, self.changed_at, body=body, headers=headers)
                if p == 0 and i == 0:  # its print view: an alias, never archived
                    self._add(url + "?print=1", when + timedelta(minutes=2))
                    self.noise.add(url + "?print=1")
            if files:
                left_out = max(files)  # one attachment the archive never captured
                self.not_captured.add(left_out)
                for url, when in sorted(files.items()):
                    if url != left_out:
                        self._add(url, when)
        self._index = sorted(self.captures, key=lambda c: (c.urlkey, c.timestamp))

    # --- answers -------------------------------------------------------------------------

    def cdx(self, query: str) -> tuple[int, bytes]:
        """The CDX server's answer to ``query`` (status, JSON body)."""
        params = parse_qs(query, keep_blank_values=True)
        url = (params.get("url") or [""])[0]
        if not url:
            return 400, b"url parameter is required"
        match = (params.get("matchType") or ["exact"])[0]
        if url.endswith("*"):
            url, match = url[:-1], "prefix"
        key = url_key(url if "://" in url else "http://" + url)
        if match not in ("exact", "prefix"):
            return 400, f"matchType={match} is not supported by this fake".encode()
        fields = (params.get("fl") or [",".join(CDX_FIELDS)])[0].split(",")
        time_from = (params.get("from") or [""])[0]
        time_to = (params.get("to") or [""])[0]
        limit = int((params.get("limit") or ["0"])[0] or 0)
        resume = (params.get("resumeKey") or [""])[0]
        filters = []
        for f in params.get("filter", []):
            negate = f.startswith("!")
            name, _, regex = f.lstrip("!").partition(":")
            filters.append((negate, name, re.compile(regex)))
        collapsers = []
        for c in params.get("collapse", []):
            name, _, n = c.partition(":")
            collapsers.append([name, int(n) if n else 0, None])
        rows, last = [], None
        for line in self._index:
            if match == "exact" and line.urlkey != key:
                continue
            if match == "prefix" and not line.urlkey.startswith(key):
                continue
            if resume and f"{line.urlkey} {line.timestamp}" < resume:
                continue
            if time_from and line.timestamp < time_from:
                continue
            if time_to and line.timestamp > time_to and not line.timestamp.startswith(time_to):
                continue
            if any(bool(rx.fullmatch(line.field(n))) == neg for neg, n, rx in filters):
                continue
            if not _collapse_keeps(collapsers, line):
                continue
            rows.append([line.field(f) for f in fields])
            last = line
            if limit and len(rows) >= limit:
                break
        if not rows:
            return 200, b"[]\n"
        out = [fields, *rows]
        if params.get("showResumeKey") == ["true"] and limit and len(rows) >= limit:
            resume_key = f"{last.urlkey} {last.timestamp[:-1]}{chr(ord(last.timestamp[-1]) + 1)}"
            out += [[], [quote_plus(resume_key, safe="*")]]
        text = "[" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in out) + "]\n"
        return 200, text.encode("utf-8")

    def capture(self, when: str, original: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """The Wayback Machine's answer to ``/web/<when>id_/<original>``."""
        key = url_key(original)
        found = [c for c in self._index if c.urlkey == key and c.servable]
        if not found:
            return (
                404,
                [("Content-Type", "text/html")],
                b"<p>Wayback Machine has not archived that URL.</p>",
            )
        exact = [c for c in found if c.timestamp == when]
        if not exact:
            asked = _when(when)
            nearest = min(found, key=lambda c: (abs(_when(c.timestamp) - asked), c.timestamp))
            return (
                302,
                [("Location", f"{self.url}/web/{nearest.timestamp}id_/{nearest.original}")],
                b"",
            )
        c = exact[-1]
        headers = [("Content-Type", dict(c.headers).get("Content-Type", c.mimetype))]
        headers += [(f"X-Archive-Orig-{name}", value) for name, value in c.headers]
        headers += [
            ("Memento-Datetime", format_datetime(_when(c.timestamp), usegmt=True)),
            ("Link", f'<{c.original}>; rel="original"'),
        ]
        return int(c.statuscode), headers, c.body

    # --- the server ----------------------------------------------------------------------

    def throttle(self, count: int, retry_after: str = "1") -> None:
        """Answer the next ``count`` requests with ``429 Too Many Requests``."""
        with self._lock:
            self._throttle, self._retry_after = count, retry_after

    def _log(self, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((monotonic(), path, status))

    def _take_throttle(self) -> bool:
        with self._lock:
            if self._throttle > 0:
                self._throttle -= 1
                return True
            return False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeWayback:
        if self._server is not None:
            return self
        self.world.start()
        self._server = _Server((self.host, 0), _handler(self))
        self.build()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="fake-wayback", daemon=True,
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> FakeWayback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _collapse_keeps(collapsers: list[list], line: FakeCapture) -> bool:
    """The server's CollapseFieldFilter: each collapse in turn, the first duplicate drops
    the line (later collapses then keep their last value)."""
    for collapser in collapsers:
        name, length, previous = collapser
        value = line.field(name)
        if length > 0:
            value = value[:length]
        if previous is not None and value == previous:
            return False
        collapser[2] = value
    return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _handler(fake: FakeWayback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "nginx"
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            fake._log(self.path, status)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            if fake._take_throttle():
                self._send(429, [("Retry-After", fake._retry_after),
                                 ("Content-Type", "text/plain")], b"Too Many Requests")  # fmt: skip
                return
            parts = urlsplit(self.path)
            if parts.path == "/robots.txt":
                body = b"User-agent: *\nDisallow: /save/\n"
                self._send(200, [("Content-Type", "text/plain")], body)
                return
            if parts.path == "/cdx/search/cdx":
                try:
                    status, body = fake.cdx(parts.query)
                except (KeyError, ValueError, re.error) as exc:  # as the server: a 400
                    status, body = 400, f"bad query: {exc}".encode()
                headers = [("Content-Type", "application/json" if status == 200 else "text/plain")]
                if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                    body = gzip.compress(body, mtime=0)
                    headers.append(("Content-Encoding", "gzip"))
                self._send(status, headers, body)
                return
            m = _CAPTURE_PATH.match(self.path)
            if m is None:
                self._send(404, [("Content-Type", "text/plain")], b"Not Found")
                return
            asked = m.group(1)
            status, headers, body = fake.capture(stamp(_when(asked)) if len(asked) < 14 else asked,
                                                 m.group(2))  # fmt: skip
            self._send(status, headers, body)

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler
