"""Faults on demand for the sample portals: errors, hangs, slow and cut-off bodies, loops.

A ``FaultPlan`` is an ordered list of ``Fault`` rules. Before a portal answers, the first rule
that matches the request and still has budget (``times``) and luck (``probability``) decides
what goes on the wire instead of, or on top of, the normal response. No plan, or no rule that
fires: the normal response, byte for byte.

    plan = FaultPlan([Fault("status", portal="huyen-ham-tan", path="/vi/news/*", status=503,
                            retry_after=2, times=1)])
    world.set_faults(plan)      # or SampleWorld(faults=plan)
    ...                         # crawl
    assert plan.fired == {"status": 1}
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from .portals import PORTALS
from .site import Response

KINDS = ("status", "timeout", "slow", "drop", "redirect_loop", "charset", "huge", "robots_disallow")
MIB = 1 << 20
# The second URL of a redirect_loop "pair": the request URL with this query parameter added.
LOOP_MARK = "faultloop=1"
META_CHARSET = re.compile(rb"<meta\b[^>]*charset=[^>]*>", re.I)


@dataclass(frozen=True)
class Fault:
    """One rule of a plan: where it applies, what it does, how often.

    Where: ``portal`` (a slug; None or "*" = every portal) and either ``path``, a glob over the
    URL path (``"/vi/news/*"``), or ``regex``, searched in the path with its query
    (``r"_101_cur=3\\b"``).

    How often: ``times`` = fire on the first N matching requests, then answer normally (None =
    always). ``probability`` < 1 fires on that share of matching requests; the draw hashes the
    plan's seed, the rule, the URL and how many times that URL was asked, so one seed faults the
    same attempts of the same URLs whatever order a concurrent crawler asks them in.

    What (``kind``), with its parameters:

    - ``status``: answer ``status`` (default 503) with a small HTML page; ``retry_after``
      (seconds or an HTTP date) adds ``Retry-After``.
    - ``timeout``: accept the request and never answer; the connection closes after ``seconds``
      (None: when the plan is released, i.e. cleared, replaced or the world stops).
    - ``slow``: the normal response, its body sent in ``chunks`` pieces, ``seconds`` in all.
    - ``drop``: the normal headers (the full Content-Length), ``fraction`` of the body, then the
      connection closes: the client sees a truncated response.
    - ``redirect_loop``: 302 to the URL itself (``loop="self"``) or back and forth between the
      URL and the URL plus ``faultloop=1`` (``loop="pair"``).
    - ``charset``: ``"wrong"``: the UTF-8 bytes with Content-Type declaring ``declared``
      (windows-1252); ``"missing"``: no charset in Content-Type nor in any ``<meta>``.
      Only ``text/*`` responses change.
    - ``huge``: the normal response padded (an HTML comment before ``</body>``) to ``mb`` MiB.
    - ``robots_disallow``: /robots.txt gains ``Disallow: <disallow>`` (matches /robots.txt only).
    """

    kind: str
    portal: str | None = None
    path: str = "*"
    regex: str | None = None
    times: int | None = None
    probability: float = 1.0
    name: str = ""
    status: int = 503
    retry_after: int | str | None = None
    seconds: float | None = None
    chunks: int = 5
    fraction: float = 0.5
    loop: str = "self"
    charset: str = "wrong"
    declared: str = "windows-1252"
    mb: float = 5.0
    disallow: str = "/"
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        def fail(message: str) -> None:
            raise ValueError(f"fault {self.kind!r}: {message}")

        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(KINDS)}")
        if self.portal == "*":
            object.__setattr__(self, "portal", None)
        if self.portal is not None and self.portal not in PORTALS:
            fail(f"unknown portal {self.portal!r}; one of {', '.join(PORTALS)}")
        if self.regex is not None and self.path != "*":
            fail("give path (a glob) or regex, not both")
        try:
            pattern = re.compile(self.regex) if self.regex is not None else None
        except re.error as exc:
            fail(f"bad regex {self.regex!r}: {exc}")
        object.__setattr__(self, "_pattern", pattern)
        if self.times == "always":
            object.__setattr__(self, "times", None)
        if self.times is not None and (not isinstance(self.times, int) or self.times < 0):
            fail(f"times must be a count >= 0 or None (always), not {self.times!r}")
        if not 0 <= self.probability <= 1:
            fail(f"probability must be within 0..1, not {self.probability}")
        if self.kind == "status" and not 400 <= self.status <= 599:
            fail(f"status must be 4xx or 5xx, not {self.status}")
        if self.kind == "slow" and self.seconds is None:
            object.__setattr__(self, "seconds", 1.0)
        if self.seconds is not None and self.seconds < 0:
            fail(f"seconds must be >= 0, not {self.seconds}")
        if self.chunks < 1 or not 0 <= self.fraction < 1:
            fail("chunks must be >= 1 and fraction within [0, 1)")
        if self.loop not in ("self", "pair"):
            fail(f"loop must be 'self' or 'pair', not {self.loop!r}")
        if self.charset not in ("wrong", "missing"):
            fail(f"charset must be 'wrong' or 'missing', not {self.charset!r}")
        if self.mb <= 0 or not self.disallow.startswith("/"):
            fail("mb must be > 0 and disallow a path starting with /")

    def matches(self, slug: str, path: str, target: str) -> bool:
        """Whether the rule applies to ``path`` (``target`` = path with its query) on ``slug``."""
        if self.portal is not None and self.portal != slug:
            return False
        if self.kind == "robots_disallow" and path != "/robots.txt":
            return False
        if self._pattern is not None:
            return self._pattern.search(target) is not None
        return fnmatch.fnmatchcase(path, self.path)

    def detail(self) -> str:
        """What the rule does, in a few words."""
        if self.kind == "status":
            return f"status {self.status}" + (
                f" Retry-After {self.retry_after}" if self.retry_after is not None else ""
            )
        return (
            self.kind
            + " "
            + {
                "timeout": "until released" if self.seconds is None else f"{self.seconds}s",
                "slow": f"{self.seconds}s in {self.chunks} pieces",
                "drop": f"after {self.fraction:.0%} of the body",
                "redirect_loop": self.loop,
                "charset": self.declared if self.charset == "wrong" else "missing",
                "huge": f"{self.mb} MiB",
                "robots_disallow": self.disallow,
            }[self.kind]
        )

    def reshape(self, resp: Response, target: str) -> Response:
        """The response this rule sends in place of ``resp`` (a new object; pages are shared)."""
        headers = dict(resp.headers)
        body = resp.body
        if self.kind == "status":
            phrase = HTTPStatus(self.status).phrase
            text = f"<html><head><title>{self.status} {phrase}</title></head><body><h1>{phrase}</h1></body></html>"
            headers = {"Content-Type": "text/html; charset=utf-8"}
            if self.retry_after is not None:
                headers["Retry-After"] = str(self.retry_after)
            return Response(self.status, text.encode(), headers)
        if self.kind == "redirect_loop":
            location = target if self.loop == "self" else _toggle_mark(target)
            return Response(302, b"", {"Location": location, "Content-Type": "text/html"})
        ctype = headers.get("Content-Type", "")
        if self.kind == "charset" and ctype.startswith("text/"):
            mime = ctype.split(";", 1)[0].strip()
            if self.charset == "wrong":
                headers["Content-Type"] = f"{mime}; charset={self.declared}"
            else:
                headers["Content-Type"] = mime
                body = META_CHARSET.sub(b"", body)
        elif self.kind == "huge":
            filler = int(self.mb * MIB) - len(body) - len(b"<!--  -->\n")
            if filler > 0:
                cut = body.rfind(b"</body>")
                cut = len(body) if cut < 0 else cut
                body = body[:cut] + b"<!-- " + b"x" * filler + b" -->\n" + body[cut:]
        elif self.kind == "robots_disallow":
            body = body + f"Disallow: {self.disallow}\n".encode()
        return Response(resp.status, body, headers)


class FaultPlan:
    """Ordered fault rules plus what they did; thread-safe (the server answers in threads).

    ``fired`` counts the requests each rule faulted, ``matched`` those it matched (fired or
    not), ``events`` lists (rule name, portal slug, path with query) of every fault, in order.
    Rule names default to the kind; a name used twice becomes ``name#1``, ``name#2``...
    """

    def __init__(self, rules: Iterable[Fault] = (), *, seed: int = 0) -> None:
        self.rules = tuple(rules)
        self.seed = seed
        base = [rule.name or rule.kind for rule in self.rules]
        seen: dict[str, int] = {}
        self.names: tuple[str, ...] = ()
        for name in base:
            seen[name] = seen.get(name, 0) + 1
            suffix = f"#{seen[name]}" if base.count(name) > 1 else ""
            self.names += (name + suffix,)
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.reset()

    @classmethod
    def from_json(cls, data: list | dict) -> FaultPlan:
        """A plan from parsed JSON: a list of rules, or ``{"seed": N, "rules": [...]}``."""
        if isinstance(data, dict):
            if not set(data) <= {"seed", "rules"}:
                raise ValueError(f"a plan object has 'seed' and 'rules', not {sorted(data)}")
            return cls(cls.from_json(data.get("rules", [])).rules, seed=int(data.get("seed", 0)))
        keys = {f.name for f in fields(Fault) if f.init}
        rules = []
        for i, rule in enumerate(data):
            if not isinstance(rule, dict) or "kind" not in rule:
                raise ValueError(f"rule {i}: an object with a 'kind' is needed, not {rule!r}")
            if unknown := set(rule) - keys:
                raise ValueError(
                    f"rule {i}: unknown key(s) {sorted(unknown)}; known: {sorted(keys)}"
                )
            rules.append(Fault(**rule))
        return cls(rules)

    @classmethod
    def load(cls, path: str | Path) -> FaultPlan:
        """A plan from a JSON file (see ``from_json``)."""
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    def reset(self) -> None:
        """Forget counts, budgets and events."""
        with self._lock:
            self._fired = [0] * len(self.rules)
            self._matched = [0] * len(self.rules)
            self._asked: dict[tuple[int, str, str], int] = {}
            self._events: list[tuple[str, str, str]] = []

    def release(self) -> None:
        """Close the connections ``timeout`` rules hold now (and hurry ``slow`` ones along)."""
        with self._lock:
            released, self._released = self._released, threading.Event()
        released.set()

    @property
    def fired(self) -> dict[str, int]:
        with self._lock:
            return dict(zip(self.names, self._fired, strict=True))

    @property
    def matched(self) -> dict[str, int]:
        with self._lock:
            return dict(zip(self.names, self._matched, strict=True))

    @property
    def events(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self._events)

    def describe(self) -> list[str]:
        """One line per rule, for people: name, kind, where, how often."""
        lines = []
        for name, rule in zip(self.names, self.rules, strict=True):
            where = f"regex {rule.regex!r}" if rule.regex is not None else rule.path
            often = "always" if rule.times is None else f"first {rule.times}"
            if rule.probability < 1:
                often += f", p={rule.probability} (seed {self.seed})"
            lines.append(f"{name}: {rule.detail()} on {rule.portal or '*'} {where} ({often})")
        return lines

    def pick(self, slug: str, path: str, query: str) -> Fault | None:
        """The rule that faults this request, counted as fired, or None to answer normally."""
        target = path + (f"?{query}" if query else "")
        key_target = _drop_mark(target)  # both URLs of a redirect pair count as one
        with self._lock:
            for i, rule in enumerate(self.rules):
                if not rule.matches(slug, path, key_target):
                    continue
                self._matched[i] += 1
                asked = self._asked.get((i, slug, key_target), 0)
                self._asked[(i, slug, key_target)] = asked + 1
                if rule.times is not None and self._fired[i] >= rule.times:
                    continue
                if (
                    rule.probability < 1
                    and self._draw(i, slug, key_target, asked) >= rule.probability
                ):
                    continue
                self._fired[i] += 1
                self._events.append((self.names[i], slug, target))
                return rule
        return None

    def _draw(self, index: int, slug: str, target: str, asked: int) -> float:
        text = f"{self.seed}|{index}|{slug}|{target}|{asked}".encode()
        return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") / 2**64

    def serve(
        self,
        rule: Fault,
        handler: BaseHTTPRequestHandler,
        resp: Response,
        send_body: bool,
        log: Callable[[int | str], None],
    ) -> None:
        """Put ``rule``'s answer to the request on ``handler``'s wire; ``log`` gets what was sent
        (the status, or "timeout" / "dropped") before anything that blocks."""
        resp = rule.reshape(resp, handler.path)
        released = self._released
        if rule.kind == "timeout":
            log("timeout")
            handler.close_connection = True
            released.wait(rule.seconds)
            return
        if rule.kind == "drop":
            log("dropped")
            _send_head(handler, resp, max(len(resp.body), 1))
            if send_body:
                handler.wfile.write(resp.body[: int(len(resp.body) * rule.fraction)])
            handler.wfile.flush()
            handler.close_connection = True
            return
        log(resp.status)
        if rule.kind != "slow":
            _send_head(handler, resp, len(resp.body))
            if send_body:
                handler.wfile.write(resp.body)
            return
        try:
            if not send_body:
                released.wait(rule.seconds)
                _send_head(handler, resp, len(resp.body))
                return
            _send_head(handler, resp, len(resp.body))
            handler.wfile.flush()
            size = max(1, -(-len(resp.body) // rule.chunks))
            for i in range(rule.chunks):
                released.wait(rule.seconds / rule.chunks)
                handler.wfile.write(resp.body[i * size : (i + 1) * size])
                handler.wfile.flush()
        except OSError:  # the client gave up on the slow body
            handler.close_connection = True


def _send_head(handler: BaseHTTPRequestHandler, resp: Response, length: int) -> None:
    handler.send_response(resp.status)
    for name, value in resp.headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(length))
    handler.end_headers()


def _drop_mark(target: str) -> str:
    if LOOP_MARK not in target:
        return target
    path, _, query = target.partition("?")
    rest = "&".join(p for p in query.split("&") if p != LOOP_MARK)
    return path + (f"?{rest}" if rest else "")


def _toggle_mark(target: str) -> str:
    if _drop_mark(target) != target:
        return _drop_mark(target)
    return target + ("&" if "?" in target else "?") + LOOP_MARK
