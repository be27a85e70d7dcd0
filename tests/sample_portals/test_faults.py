"""Faults on demand: every fault kind seen on the wire, budgets, seeded chance, counters, threads."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from scraper.sample_portals import PORTALS, SampleWorld
from scraper.sample_portals.faults import MIB, Fault, FaultPlan

SLUG = PORTALS[2]  # huyen-ham-tan (NukeViet)
OTHER = PORTALS[0]
TIMEOUT = 0.5  # the client's timeout: short, so the timeout fault costs half a second


@pytest.fixture(scope="module")
def world():
    with SampleWorld() as w:
        yield w


@pytest.fixture
def faults(world):
    """Set a plan for one test: ``faults(Fault(...), ...)``; cleared (and released) after it."""

    def use(*rules: Fault, seed: int = 0) -> FaultPlan:
        plan = FaultPlan(rules, seed=seed)
        world.set_faults(plan)
        return plan

    yield use
    world.clear_faults()


def fetch(url: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def raw(world, slug: str, path: str) -> http.client.HTTPResponse:
    """One GET without following redirects; the caller reads (or fails to read) the body."""
    parts = urlsplit(world.base_url(slug))
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", path)
    return conn.getresponse()


def logged(world, since: int) -> list[tuple[str, str, str, int | str]]:
    return world.requests[since:]


@pytest.mark.parametrize(
    ("status", "retry_after"), [(500, None), (502, None), (503, 7), (429, 2), (503, None)]
)
def test_status_with_retry_after_then_normal(world, faults, status, retry_after):
    plan = faults(
        Fault("status", portal=SLUG, path="/", status=status, retry_after=retry_after, times=1)
    )
    before = len(world.requests)
    code, headers, body = fetch(world.base_url(SLUG) + "/")
    assert code == status and headers.get("Retry-After") == (
        None if retry_after is None else str(retry_after)
    )
    assert headers["Content-Type"] == "text/html; charset=utf-8" and b"<h1>" in body
    assert fetch(world.base_url(SLUG) + "/")[0] == 200  # times=1: the retry succeeds
    assert [r[3] for r in logged(world, before)] == [status, 200]
    assert plan.fired == {"status": 1} and plan.matched == {"status": 2}


def test_portal_and_path_select_requests(world, faults):
    plan = faults(
        Fault("status", portal=SLUG, path="/vi/news/*", status=503),
        Fault("status", portal="*", regex=r"^/robots\.txt\?x=\d$", status=500),
    )
    assert fetch(world.base_url(SLUG) + "/vi/news/tin-tuc-su-kien/")[0] == 503
    assert fetch(world.base_url(SLUG) + "/")[0] == 200
    assert fetch(world.base_url(OTHER) + "/vi/news/tin-tuc-su-kien/")[0] == 200  # other portal
    assert fetch(world.base_url(OTHER) + "/robots.txt?x=1")[0] == 500  # regex sees the query
    assert fetch(world.base_url(OTHER) + "/robots.txt")[0] == 200
    assert plan.fired == {"status#1": 1, "status#2": 1}
    assert plan.events == [
        ("status#1", SLUG, "/vi/news/tin-tuc-su-kien/"),
        ("status#2", OTHER, "/robots.txt?x=1"),
    ]


def test_timeout_is_a_client_timeout_then_normal(world, faults):
    plan = faults(Fault("timeout", portal=SLUG, path="/", times=1))
    before = len(world.requests)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        fetch(world.base_url(SLUG) + "/", timeout=TIMEOUT)
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 1
    assert fetch(world.base_url(SLUG) + "/", timeout=TIMEOUT)[0] == 200
    assert [r[3] for r in logged(world, before)] == ["timeout", 200]
    assert plan.fired == {"timeout": 1}


def test_timeout_with_seconds_closes_without_an_answer(world, faults):
    faults(Fault("timeout", portal=SLUG, path="/", seconds=0.1))
    with pytest.raises(http.client.RemoteDisconnected):
        fetch(world.base_url(SLUG) + "/", timeout=2)


def test_slow_body_takes_the_delay_and_arrives_whole(world, faults):
    normal = fetch(world.base_url(SLUG) + "/")[2]
    faults(Fault("slow", portal=SLUG, path="/", seconds=0.4, chunks=4))
    started = time.monotonic()
    code, _, body = fetch(world.base_url(SLUG) + "/", timeout=TIMEOUT)  # each piece in time
    assert time.monotonic() - started >= 0.4
    assert code == 200 and body == normal


def test_drop_truncates_the_body(world, faults):
    normal = fetch(world.base_url(SLUG) + "/")[2]
    plan = faults(Fault("drop", portal=SLUG, path="/", fraction=0.25, times=2))
    before = len(world.requests)
    resp = raw(world, SLUG, "/")
    assert resp.status == 200 and int(resp.headers["Content-Length"]) == len(normal)
    with pytest.raises(http.client.IncompleteRead) as exc:
        resp.read()
    assert exc.value.partial == normal[: len(normal) // 4]
    with pytest.raises(http.client.IncompleteRead):  # what a crawler's urllib sees
        urllib.request.urlopen(world.base_url(SLUG) + "/", timeout=5).read()
    assert fetch(world.base_url(SLUG) + "/")[2] == normal
    assert [r[3] for r in logged(world, before)] == ["dropped", "dropped", 200]
    assert plan.fired == {"drop": 2}


def test_redirect_loop_to_itself(world, faults):
    faults(Fault("redirect_loop", portal=SLUG, path="/vi/*"))
    resp = raw(world, SLUG, "/vi/?a=1")
    assert resp.status == 302 and resp.headers["Location"] == "/vi/?a=1"
    with pytest.raises(urllib.error.HTTPError, match="infinite loop") as exc:
        fetch_following(world.base_url(SLUG) + "/vi/")
    assert exc.value.code == 302


def test_redirect_loop_between_two_urls(world, faults):
    plan = faults(Fault("redirect_loop", portal=SLUG, path="/vi/", loop="pair"))
    assert raw(world, SLUG, "/vi/").headers["Location"] == "/vi/?faultloop=1"
    assert raw(world, SLUG, "/vi/?faultloop=1").headers["Location"] == "/vi/"
    assert raw(world, SLUG, "/vi/?a=1").headers["Location"] == "/vi/?a=1&faultloop=1"
    assert raw(world, SLUG, "/vi/?a=1&faultloop=1").headers["Location"] == "/vi/?a=1"
    with pytest.raises(urllib.error.HTTPError, match="infinite loop"):
        fetch_following(world.base_url(SLUG) + "/vi/")
    assert {target for _, _, target in plan.events} >= {"/vi/", "/vi/?faultloop=1"}


def fetch_following(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:  # urllib follows and detects loops
        return r.read()


def test_charset_wrong_declares_windows_1252_for_utf8(world, faults):
    normal = fetch(world.base_url(SLUG) + "/")[2]
    faults(Fault("charset", portal=SLUG, charset="wrong"))
    _, headers, body = fetch(world.base_url(SLUG) + "/")
    assert headers["Content-Type"] == "text/html; charset=windows-1252"
    assert body == normal and "Hàm Tân" in body.decode("utf-8")
    assert "Hàm Tân" not in body.decode("windows-1252", errors="replace")
    png = fetch(world.base_url(SLUG) + "/_img/x.png")[1]
    assert png["Content-Type"] == "image/png"  # only text/* changes


@pytest.mark.parametrize("slug", PORTALS)  # each family writes its <meta> its own way
def test_charset_missing_everywhere(world, faults, slug):
    faults(Fault("charset", charset="missing", declared="iso-8859-1"))
    _, headers, body = fetch(world.base_url(slug) + "/")
    assert headers["Content-Type"] == "text/html"
    assert b"charset" not in body.lower() and b"<title>" in body and b"</html>" in body


def test_huge_page_is_padded_to_size(world, faults):
    normal = fetch(world.base_url(SLUG) + "/")[2]
    faults(Fault("huge", portal=SLUG, path="/", mb=1.5))
    _, headers, body = fetch(world.base_url(SLUG) + "/")
    assert len(body) == int(1.5 * MIB) == int(headers["Content-Length"])
    head, _, tail = normal.rpartition(b"</body>")
    assert body.startswith(head + b"<!-- x") and body.endswith(b" -->\n</body>" + tail)


def test_robots_disallow_adds_a_prefix(world, faults):
    plan = faults(Fault("robots_disallow", portal=SLUG, disallow="/vi/news/", times=1))
    assert fetch(world.base_url(SLUG) + "/")[0] == 200  # matches /robots.txt only
    text = fetch(world.base_url(SLUG) + "/robots.txt")[2].decode()
    assert text == "User-agent: *\nDisallow: /admin/\nDisallow: /vi/news/\n"
    assert "/vi/news/" not in fetch(world.base_url(SLUG) + "/robots.txt")[2].decode()  # next run
    assert "/vi/news/" not in fetch(world.base_url(OTHER) + "/robots.txt")[2].decode()
    assert plan.fired == {"robots_disallow": 1}


def test_times_then_normal_and_always(world, faults):
    plan = faults(
        Fault("status", name="twice", portal=SLUG, path="/vi/", status=502, times=2),
        Fault("status", name="always", portal=SLUG, path="/vi/news/", status=503),
    )
    assert [fetch(world.base_url(SLUG) + "/vi/")[0] for _ in range(4)] == [502, 502, 200, 200]
    assert [fetch(world.base_url(SLUG) + "/vi/news/")[0] for _ in range(4)] == [503] * 4
    assert plan.fired == {"twice": 2, "always": 4}
    plan.reset()
    assert plan.fired == {"twice": 0, "always": 0} and plan.events == []
    assert fetch(world.base_url(SLUG) + "/vi/")[0] == 502  # the budget is back


def test_probability_with_a_seed_is_deterministic(world, faults):
    paths = [f"/khong-co-{i}.html" for i in range(30)]

    def outcomes(order: list[str], seed: int) -> dict[tuple[str, int], int]:
        faults(Fault("status", portal=SLUG, path="/khong-co-*", probability=0.5), seed=seed)
        return {(p, n): fetch(world.base_url(SLUG) + p)[0] for p in order for n in range(2)}

    first = outcomes(paths, seed=7)
    again = outcomes(list(reversed(paths)), seed=7)  # another order, same attempts faulted
    other = outcomes(paths, seed=8)
    assert first == again
    assert 10 < list(first.values()).count(503) < 50
    assert first != other


def test_no_matching_rule_is_byte_identical(world, faults):
    url = world.base_url(SLUG) + "/vi/news/"
    code, headers, body = fetch(url)
    plan = faults(Fault("status", portal=OTHER), Fault("drop", path="/nowhere"))
    code2, headers2, body2 = fetch(url)
    headers.pop("Date"), headers2.pop("Date")
    assert (code2, headers2, body2) == (code, headers, body)
    assert plan.fired == {"status": 0, "drop": 0}


def test_plan_counts_exactly_under_concurrent_requests(world, faults):
    plan = faults(Fault("status", portal=SLUG, path="/vi/*", status=503, times=30))
    before = len(world.requests)
    codes: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            code = fetch(world.base_url(SLUG) + "/vi/")[0]
            with lock:
                codes.append(code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(503) == 30 and codes.count(200) == 170
    assert plan.fired == {"status": 30} and plan.matched == {"status": 200}
    assert len(plan.events) == 30
    statuses = [r[3] for r in logged(world, before)]
    assert statuses.count(503) == 30 and len(statuses) == 200


def test_world_takes_a_plan_at_start():
    plan = FaultPlan([Fault("status", status=500, times=1)])
    with SampleWorld(faults=plan) as w:
        assert fetch(w.base_url(SLUG) + "/")[0] == 500
        assert fetch(w.base_url(SLUG) + "/")[0] == 200
        w.clear_faults()
        assert w.faults is None and plan.fired == {"status": 1}


def test_plan_from_json_and_bad_rules(tmp_path):
    path = tmp_path / "faults.json"
    path.write_text(
        json.dumps(
            {
                "seed": 3,
                "rules": [
                    {"kind": "status", "status": 429, "retry_after": 5, "times": "always"},
                    {"kind": "drop", "portal": SLUG, "path": "/vi/*", "times": 1},
                ],
            }
        )
    )
    plan = FaultPlan.load(path)
    assert plan.seed == 3 and plan.rules[0].times is None and plan.rules[1].portal == SLUG
    assert plan.describe()[0] == "status: status 429 Retry-After 5 on * * (always)"
    bad = [
        [{"kind": "explode"}],
        [{"kind": "status", "portal": "huyen-khong-co"}],
        [{"kind": "status", "statuss": 500}],
        [{"kind": "status", "status": 200}],
        [{"kind": "status", "path": "/a*", "regex": "^/a"}],
        [{"kind": "status", "probability": 2}],
        [{"status": 500}],
        {"rules": [], "sede": 1},
    ]
    for data in bad:
        with pytest.raises(ValueError):
            FaultPlan.from_json(data)


def test_command_line_serves_faults_from_a_file(tmp_path):
    path = tmp_path / "faults.json"
    path.write_text(json.dumps([{"kind": "status", "status": 503, "retry_after": 1, "times": 1}]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "scraper.sample_portals", "--faults", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        urls = [proc.stdout.readline().split()[1] for _ in PORTALS]
        assert proc.stdout.readline().startswith("fault status: status 503 Retry-After 1")
        code, headers, _ = fetch(urls[0])
        assert code == 503 and headers["Retry-After"] == "1"
        assert fetch(urls[0])[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=5)
