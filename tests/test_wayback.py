"""Crawling the Wayback Machine's captures of a portal (``crawl --source wayback``,
scraper/wayback.py, scraper/spiders/wayback.py) against the fake Wayback Machine built from
the sample portals (scraper/sample_portals/wayback.py); never the real service.

Every sample article comes back from its captures with its original URL, publication date
and the capture time as first sight; duplicate captures are fetched once, noise never; a
changed page gives a second version; attachments come from their captures or are recorded
as not in the web archive; --from/--to select captures by time; a 429 pauses the crawl;
the request rate stays under the cap; a second crawl fetches no capture again.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote_plus, urlsplit

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archive.config import Config
from archive.models import Article, ArticleVersion, Download, RawResponse
from archive.store import Archive, _aware
from scraper.sample_portals import PORTALS
from scraper.sample_portals.wayback import CHANGED_TEXT, FakeWayback
from scraper.wayback import (
    capture_time,
    cdx_time,
    cdx_url,
    original_headers,
    parse_cdx_json,
)
from tests.conftest import copy_archive, run_cli
from tests.test_warc import warc_files, warcio_check


@pytest.fixture(scope="module")
def fake(sample_world):
    with FakeWayback(sample_world) as fake:
        yield fake


@pytest.fixture(scope="module")
def registry(sample_world, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wayback-portals")
    sample_world.write_registry(path)
    return path


def crawl_wayback(fake, registry, data: Path, *targets: str, rps: str = "0", extra=()):
    return run_cli(
        "--data-dir", str(data), "crawl", *(targets or ["all"]), "--portals", str(registry),
        "--allow-private", "--no-index", "--source", "wayback", "--wayback-url", fake.url,
        "-s", f"PORTAL_ARCHIVE_WAYBACK_RPS={rps}", *extra, check=True,
    )  # fmt: skip


def open_archive(data: Path) -> Archive:
    return Archive(Config.resolve(data))


def captures_asked(requests) -> list[str]:
    """The original URLs of the ``/web/<time>id_/<url>`` requests, in order."""
    return [path.split("id_/", 1)[1] for _t, path, _status in requests if path.startswith("/web/")]


@pytest.fixture(scope="module")
def crawled(fake, sample_world, registry, tmp_path_factory):
    """Every sample portal crawled from the fake Wayback Machine (CDX pages of 7 rows), then
    crawled a second time."""
    data = tmp_path_factory.mktemp("wayback") / "data"
    portal_before = len(sample_world.requests)
    start = len(fake.requests)
    first = crawl_wayback(fake, registry, data, extra=("-s", "PORTAL_ARCHIVE_WAYBACK_PAGE_SIZE=7"))
    middle = len(fake.requests)
    archive = open_archive(data)
    try:
        with archive.session() as s:
            counts = {
                "articles": len(s.scalars(select(Article.id)).all()),
                "versions": len(s.scalars(select(ArticleVersion.id)).all()),
            }
    finally:
        archive.close()
    second = crawl_wayback(fake, registry, data)
    return {
        "data": data,
        "first": first,
        "second": second,
        "counts": counts,
        "requests": fake.requests[start:middle],
        "second_requests": fake.requests[middle:],
        "portal_requests": sample_world.requests[portal_before:],
    }


@pytest.fixture(scope="module")
def archived(crawled):
    archive = open_archive(crawled["data"])
    try:
        records = list(archive.iter_articles())
        runs = archive.runs(limit=100)
        with archive.session() as s:
            fetches = s.execute(
                select(RawResponse.url, RawResponse.via, RawResponse.fetched_at,
                       RawResponse.status, RawResponse.crawl_run_id)
            ).all()  # fmt: skip
            versions = s.execute(
                select(ArticleVersion.article_id, ArticleVersion.version, ArticleVersion.body,
                       ArticleVersion.fetched_at, ArticleVersion.url)
                .order_by(ArticleVersion.article_id, ArticleVersion.version)
            ).all()  # fmt: skip
            downloads = {d.url: (d.status, d.error, d.sha256) for d in s.scalars(select(Download))}
    finally:
        archive.close()
    return {"records": records, "runs": runs, "fetches": fetches, "versions": versions,
            "downloads": downloads}  # fmt: skip


# --- the archive's answers, as the real servers give them ------------------------------------


def test_parse_cdx_json_reads_the_documented_answer():
    # The JSON example of wayback-cdx-server's README ("Resumption Key").
    text = """[["urlkey","timestamp","original","mimetype","statuscode","digest","length"],
 ["org,archive)/", "19970126045828", "http://www.archive.org:80/", "text/html", "200", "Q4YULN754FHV2U6Q5JUT6Q2P57WEWNNY", "1415"],
 ["org,archive)/", "19971011050034", "http://www.archive.org:80/", "text/html", "200", "XAHDNHZ5P3GSSSNJ3DMEOJF7BMCCPZR3", "1402"],
 [],
 ["org%2Carchive%29%2F+19980109140106%21"]]"""
    rows, resume = parse_cdx_json(text)
    assert resume == "org%2Carchive%29%2F+19980109140106%21"
    assert [r["timestamp"] for r in rows] == ["19970126045828", "19971011050034"]
    assert rows[0]["original"] == "http://www.archive.org:80/"
    assert parse_cdx_json("[]") == ([], None)
    assert parse_cdx_json("") == ([], None)


def test_cdx_query_asks_json_by_digest_with_a_resume_key():
    url = cdx_url("https://web.archive.org", "xa.gov.vn", time_from="2023", time_to="2024",
                  limit=50, resume_key="vn,gov,xa)/ 20240101000001")  # fmt: skip
    parts = urlsplit(url)
    assert parts.path == "/cdx/search/cdx"
    assert "url=xa.gov.vn/*" in parts.query and "output=json" in parts.query
    assert "collapse=digest" in parts.query and "collapse=urlkey" not in parts.query
    assert "filter=statuscode:200" in parts.query and "showResumeKey=true" in parts.query
    assert "from=2023" in parts.query and "to=2024" in parts.query and "limit=50" in parts.query
    assert parts.query.endswith("&resumeKey=vn,gov,xa)/ 20240101000001")  # sent as printed
    assert cdx_time("2024") == "2024" and cdx_time(None) is None
    with pytest.raises(ValueError):
        cdx_time("24")


def test_capture_time_and_original_headers():
    from scrapy.http import Headers

    url = "https://web.archive.org/web/20240131083015id_/http://xa.gov.vn/a.html?id=1"
    assert capture_time(url) == datetime(2024, 1, 31, 8, 30, 15, tzinfo=UTC)
    memento = Headers({"Memento-Datetime": "Wed, 02 Jul 2025 08:15:00 GMT"})
    assert capture_time("https://x/", memento) == datetime(2025, 7, 2, 8, 15, tzinfo=UTC)
    headers = Headers({
        "Content-Type": "text/html; charset=utf-8", "Server": "nginx",
        "X-Archive-Orig-Content-Disposition": 'attachment; filename="kh.pdf"',
        "X-Archive-Orig-Content-Length": "12", "Memento-Datetime": "x",
    })  # fmt: skip
    orig = original_headers(headers)
    assert orig["Content-Disposition"] == b'attachment; filename="kh.pdf"'
    assert orig["Content-Type"] == b"text/html; charset=utf-8"
    assert (
        b"Server" not in orig and b"Content-Length" not in orig and b"Memento-Datetime" not in orig
    )


def _cdx(fake, **params) -> tuple[list[dict], str | None]:
    from urllib.parse import urlencode

    query = urlencode(list(params.items()), doseq=True, safe="*:,/")
    status, body = fake.cdx(query)
    assert status == 200
    return parse_cdx_json(body.decode())


def test_fake_cdx_answers_as_the_real_server(fake, sample_world):
    host = urlsplit(sample_world.base_url("quan-thanh-xuan")).netloc
    everything, _ = _cdx(fake, url=f"{host}/*", output="json")
    assert [(r["urlkey"], r["timestamp"]) for r in everything] == sorted(
        (r["urlkey"], r["timestamp"]) for r in everything
    )
    assert {r["mimetype"] for r in everything} >= {"text/html", "warc/revisit", "image/png"}
    # collapse=urlkey keeps the first capture of each URL only (so it is not what we ask)
    per_url, _ = _cdx(fake, url=f"{host}/*", output="json", collapse="urlkey")
    assert len(per_url) == len({r["urlkey"] for r in everything})
    assert fake.changed in {r["original"] for r in per_url}
    assert len([r for r in per_url if r["original"] == fake.changed]) == 1
    # collapse=digest keeps the changed page's two versions, drops identical neighbours
    by_digest, _ = _cdx(fake, url=f"{host}/*", output="json", collapse="digest",
                        filter="statuscode:200")  # fmt: skip
    assert len([r for r in by_digest if r["original"] == fake.changed]) == 2
    assert not [r for r in by_digest if r["mimetype"] == "warc/revisit"]
    assert {r["statuscode"] for r in by_digest} == {"200"}
    # limit + resume key: pages that add up to the whole answer
    pages, resume = [], None
    while True:
        params = {"url": f"{host}/*", "output": "json", "collapse": "digest", "limit": "4",
                  "showResumeKey": "true", "filter": "statuscode:200"}  # fmt: skip
        if resume:  # printed URL-encoded: decoded, as a query string's value is
            params["resumeKey"] = unquote_plus(resume)
        rows, resume = _cdx(fake, **params)
        pages.append(rows)
        if not resume:
            break
    # A page's collapse starts afresh (a new query, as on the real server): a duplicate can
    # open the next page, which is why the spider also keeps one capture per URL and digest.
    paged = [r for p in pages for r in p]
    kept = [r for i, r in enumerate(paged) if i == 0 or
            (r["urlkey"], r["digest"]) != (paged[i - 1]["urlkey"], paged[i - 1]["digest"])]  # fmt: skip
    assert len(pages) > 2 and kept == by_digest
    # from/to: inclusive prefixes of the 14-digit time
    in_2025, _ = _cdx(fake, url=f"{host}/*", output="json", **{"from": "2025", "to": "2025"})
    assert in_2025 and {r["timestamp"][:4] for r in in_2025} == {"2025"}
    fields, _ = _cdx(fake, url=f"{host}/*", output="json", fl="timestamp,original", limit="1")
    assert set(fields[0]) == {"timestamp", "original"}


def test_fake_capture_redirects_to_the_nearest(fake):
    url, when = next(iter(fake.articles["huyen-phu-loc"].items()))
    stamp = when.strftime("%Y%m%d%H%M%S")
    status, headers, body = fake.capture(stamp, url)
    assert status == 200 and body and dict(headers)["Link"] == f'<{url}>; rel="original"'
    status, headers, _ = fake.capture("20000101000000", url)
    assert status == 302 and dict(headers)["Location"].endswith(f"/web/{stamp}id_/{url}")
    assert fake.capture(stamp, url + "-gone")[0] == 404


# --- a crawl of the fake archive ---------------------------------------------------------------


@pytest.mark.parametrize("slug", PORTALS)
def test_every_article_from_the_archive(archived, sample_world, slug):
    expected = {e["canonical_url"]: e for e in sample_world.expected(slug)}
    got = {r.canonical_url: r for r in archived["records"] if r.portal == slug}
    assert set(got) == set(expected)  # no soft 404, listing or print view among them
    for url, exp in expected.items():
        record = got[url]
        assert record.url == url  # the original URL, not the archive's
        assert record.published == exp["published"], url
        assert record.title == exp["title"], url
        body = " ".join(record.body.split())
        assert body.startswith(exp["body_start"]) and body.endswith(exp["body_end"]), url
        assert [a["url"] for a in record.attachments] == [a["url"] for a in exp["attachments"]]


def test_first_seen_is_the_capture_time(archived, fake):
    first = {url: when for by_url in fake.articles.values() for url, when in by_url.items()}
    for record in archived["records"]:
        assert _aware(record.first_seen) == first[record.canonical_url], record.canonical_url
    for _aid, _n, _body, fetched_at, url in archived["versions"]:
        assert _aware(fetched_at) <= datetime(2026, 12, 1, tzinfo=UTC)  # a capture time
        assert _aware(fetched_at) >= first[url]


def test_fetch_records_name_the_original_url_and_the_capture(archived, fake):
    captures = [row for row in archived["fetches"] if row.via]
    assert captures
    for url, via, fetched_at, status, _run in captures:
        assert via == f"{fake.url}/web/{_aware(fetched_at):%Y%m%d%H%M%S}id_/{url}"
        assert status == 200 and not url.startswith(fake.url)
    # the CDX pages and robots.txt are recorded as what they were: exchanges with the archive
    assert {urlsplit(u).path for u, via, *_ in archived["fetches"] if not via} == {
        "/robots.txt",
        "/cdx/search/cdx",
    }


def test_duplicate_captures_fetched_once_noise_never(crawled, fake):
    asked = Counter(captures_asked(crawled["requests"]))
    assert fake.duplicates and all(asked[url] == 1 for url in fake.duplicates)
    assert asked[fake.changed] == 2  # its two contents
    assert [url for url, n in asked.items() if n > 1] == [fake.changed]
    assert not set(asked) & fake.noise  # home, listings, images, css, 404, print view
    articles = {url for by_url in fake.articles.values() for url in by_url}
    assert articles <= set(asked)
    # a removed article's soft 404 looks like any page until it is read: fetched, not stored
    assert fake.removed <= set(asked)
    # the CDX listing came in pages of 7 rows
    listing = [p for _t, p, _s in crawled["requests"] if p.startswith("/cdx/")]
    assert len(listing) > len(PORTALS) and sum("resumeKey=" in p for p in listing) > 0


def test_changed_page_gives_a_second_version(archived, fake):
    aid = next(r.id for r in archived["records"] if r.canonical_url == fake.changed)
    versions = [(n, body, at) for a, n, body, at, _u in archived["versions"] if a == aid]
    assert [n for n, *_ in versions] == [1, 2]
    assert CHANGED_TEXT not in versions[0][1] and CHANGED_TEXT in versions[1][1]
    assert _aware(versions[1][2]) == fake.changed_at
    record = next(r for r in archived["records"] if r.id == aid)
    assert _aware(record.last_seen) == fake.changed_at


def test_attachments_from_their_captures_or_not_in_the_archive(archived, fake, sample_world):
    linked = {a["url"] for r in archived["records"] for a in r.attachments}
    downloads = archived["downloads"]
    assert linked == set(downloads)
    for url in fake.not_captured:
        assert downloads[url][:2] == ("failed", "not in the web archive")
    captured = {c.original: c.body for c in fake.captures if c.original in linked}
    assert captured
    import hashlib

    for url, body in captured.items():
        status, _error, sha = downloads[url]
        assert status == "downloaded" and sha == hashlib.sha256(body).hexdigest()
    assert {url for url, (status, *_) in downloads.items() if status != "downloaded"} == (
        linked - set(captured)
    )


def test_the_portals_are_never_contacted(crawled):
    assert crawled["portal_requests"] == []


def test_runs_recorded_as_wayback_crawls(archived):
    runs = archived["runs"]
    assert len(runs) == 2 * len(PORTALS)
    for run in runs:
        assert run["trigger"] == "cli" and run["status"] == "finished"
        assert run["stats"]["incremental/mode"] == "wayback"


def test_runs_command_shows_the_mode(crawled):
    out = run_cli("--data-dir", str(crawled["data"]), "runs", check=True).stdout
    assert sum(" wayback " in line for line in out.splitlines()) == 2 * len(PORTALS)


def test_second_crawl_fetches_and_stores_nothing_new(crawled, archived):
    assert not captures_asked(crawled["second_requests"])
    paths = {urlsplit(p).path for _t, p, _s in crawled["second_requests"]}
    assert paths == {"/robots.txt", "/cdx/search/cdx"}
    second = archived["runs"][: len(PORTALS)]  # newest first
    assert all(r["new"] == r["updated"] == 0 for r in second)
    assert crawled["counts"] == {
        "articles": len(archived["records"]),
        "versions": len(archived["versions"]),
    }


def test_first_crawl_of_the_site_after_the_archive_walks_every_listing(crawled, registry, tmp_path):
    """The archive held the portal's articles, but no crawl of the site ever walked its
    listings: the site's first crawl resumes (every listing page, known articles skipped)
    rather than stopping at the first pages of known articles."""
    data = tmp_path / "data"
    copy_archive(crawled["data"], data)
    archive = open_archive(data)
    try:
        assert [r["status"] for r in archive.interrupted_runs("huyen-ham-tan")] == [
            "finished",
            "finished",
        ]  # the two wayback runs
    finally:
        archive.close()
    run_cli("--data-dir", str(data), "crawl", "huyen-ham-tan", "--portals", str(registry),
            "--allow-private", "--no-index", check=True)  # fmt: skip
    archive = open_archive(data)
    try:
        run = archive.runs(limit=1)[0]
        assert archive.interrupted_runs("huyen-ham-tan") == []  # the site's crawl finished
    finally:
        archive.close()
    assert run["stats"]["incremental/mode"] == "resume"
    assert run["new"] == 0 and run["status"] == "finished"


def test_captures_written_as_the_original_urls(crawled, fake):
    files = warc_files(crawled["data"])
    assert warcio_check(files).returncode == 0
    seen = 0
    for f in files:
        with f.open("rb") as fh:
            for record in ArchiveIterator(fh):
                h = record.rec_headers
                source = h.get_header("WARC-Source-URI")
                if record.rec_type != "response" or not source:
                    continue
                seen += 1
                url = h.get_header("WARC-Target-URI")
                assert source.startswith(f"{fake.url}/web/") and source.endswith("id_/" + url)
                assert h.get_header("WARC-Date").startswith(
                    capture_time(source).strftime("%Y-%m-%dT%H:%M:%S")
                )
                assert h.get_header("WARC-Creation-Date")
    assert seen >= sum(len(v) for v in fake.articles.values())
    index = (crawled["data"] / "warc" / "index.cdxj").read_text()
    assert fake.changed in index and "/web/" not in index.split(" ", 1)[0]


def test_from_to_selects_captures_by_time(fake, registry, tmp_path):
    data = tmp_path / "data"
    before = len(fake.requests)
    crawl_wayback(fake, registry, data, "huyen-ham-tan", "--from", "2025", "--to", "2025")
    archive = open_archive(data)
    try:
        urls = {r.canonical_url for r in archive.iter_articles()}
    finally:
        archive.close()
    in_2025 = {url for url, when in fake.articles["huyen-ham-tan"].items() if when.year == 2025}
    assert in_2025 and urls == in_2025
    listing = [p for _t, p, _s in fake.requests[before:] if p.startswith("/cdx/")]
    assert listing and all("from=2025" in p and "to=2025" in p for p in listing)


def test_429_pauses_every_request_then_the_crawl_goes_on(fake, registry, tmp_path):
    data = tmp_path / "data"
    before = len(fake.requests)
    fake.throttle(2, retry_after="2")
    crawl_wayback(fake, registry, data, "huyen-phu-loc")
    log = fake.requests[before:]
    throttled = [i for i, (_t, _p, status) in enumerate(log) if status == 429]
    assert len(throttled) == 2
    after = log[throttled[-1] + 1]
    assert after[0] - log[throttled[-1]][0] >= 1.9  # Retry-After: 2, for every request
    archive = open_archive(data)
    try:
        urls = {r.canonical_url for r in archive.iter_articles()}
        (run,) = archive.runs()
    finally:
        archive.close()
    assert urls == set(fake.articles["huyen-phu-loc"])
    assert run["status"] == "finished" and run["stats"]["wayback/http_429"] == 2


def test_requests_stay_under_the_rate_cap(fake, registry, tmp_path):
    """Three portals crawled at once share the cap (one crawler each in the process)."""
    data = tmp_path / "data"
    before = len(fake.requests)
    crawl_wayback(fake, registry, data, rps="5")
    times = [t for t, _p, _s in fake.requests[before:]]
    assert len(times) > 30
    # Over two seconds: the fake server stamps a request when its thread gets to run, so a
    # loaded machine can stamp several spaced requests within one second.
    most = max(sum(1 for u in times if t <= u < t + 2.0) for t in times)
    assert most <= 12, f"{most} requests in two seconds at 5 requests/s"
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate <= 5.2


def test_source_options_are_checked(registry, tmp_path, fake):
    env = {"PORTAL_ARCHIVE_ALLOW_PRIVATE": ""}
    proc = run_cli("--data-dir", str(tmp_path), "crawl", "huyen-ham-tan", "--portals",
                   str(registry), "--from", "2024", env=env)  # fmt: skip
    assert proc.returncode == 2 and "--source wayback" in proc.stderr
    proc = run_cli("--data-dir", str(tmp_path), "crawl", "huyen-ham-tan", "--portals",
                   str(registry), "--source", "wayback", "--wayback-url", fake.url, env=env)  # fmt: skip
    assert proc.returncode == 2 and "--allow-private" in proc.stderr
