"""Is each portal's crawl healthy? Read off its recorded crawl runs.

A portal is *failing* when its last crawl did not finish (unreachable, stopped), found no
article at all, had many articles rejected (a title or body no longer found), or when the share
of its articles missing a date jumped against its earlier crawls. The usual cause of the last
three is a layout change on the portal, which breaks the selectors without any error. Each
verdict carries a reason a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from archive.models import CrawlRun, Portal
from archive.store import Archive

#: A share of rejected articles above this marks the portal failing.
MAX_INVALID_SHARE = 0.2
#: A rise of the share of articles without a date by this much (0–1) marks it failing.
MAX_MISSING_DATE_RISE = 0.3
#: How many earlier finished runs make the baseline for the missing-date share.
BASELINE_RUNS = 5
#: Shares (rejected, without a date) are judged only over at least this many articles: an
#: incremental re-crawl that fetched two new articles says nothing about a layout.
MIN_ITEMS_FOR_SHARES = 10


@dataclass
class PortalHealth:
    slug: str
    name: str
    state: str  # "ok" | "failing" | "never crawled"
    reasons: list[str] = field(default_factory=list)
    articles: int = 0
    last_run: dict | None = None

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def _seen(run: CrawlRun) -> int:
    return run.articles_new + run.articles_updated + run.articles_unchanged


def _missing_date_share(run: CrawlRun) -> float | None:
    items = _seen(run) + run.items_invalid
    if items < MIN_ITEMS_FOR_SHARES:
        return None
    return (run.stats or {}).get("fields/missing/published", 0) / items


def judge(runs: list[CrawlRun]) -> tuple[str, list[str]]:
    """The verdict on one portal from its runs, newest first."""
    if not runs:
        return "never crawled", []
    last = runs[0]
    reasons: list[str] = []
    if last.status == "running" and last.finished_at is None:
        return "ok", ["a crawl is running"]
    if last.status != "finished":
        reasons.append(f"the last crawl did not finish ({last.status})")
    seen = _seen(last)
    stats = last.stats or {}
    # An incremental re-crawl that found only archived articles (skipped, or 304) is healthy.
    known = stats.get("incremental/articles_skipped_known", 0) + stats.get(
        "incremental/not_modified", 0
    )
    if last.status == "finished" and seen == 0 and not known and not last.items_invalid:
        reasons.append(
            f"the last crawl fetched {last.pages} page(s) but found no article: "
            "the listing or article layout may have changed"
        )
    total = seen + last.items_invalid
    all_rejected = last.items_invalid > 0 and seen == 0
    if all_rejected or (
        total >= MIN_ITEMS_FOR_SHARES and last.items_invalid / total > MAX_INVALID_SHARE
    ):
        missing = sorted(k.rsplit("/", 1)[1] for k in stats if k.startswith("item/invalid/"))
        reasons.append(
            f"{last.items_invalid} of {total} articles rejected"
            + (f" (missing: {', '.join(missing)})" if missing else "")
            + ": the article layout may have changed"
        )
    share = _missing_date_share(last)
    earlier = [
        s
        for s in (
            _missing_date_share(r) for r in runs[1 : 1 + BASELINE_RUNS] if r.status == "finished"
        )
        if s is not None
    ]
    if share is not None and earlier:
        baseline = sum(earlier) / len(earlier)
        if share - baseline >= MAX_MISSING_DATE_RISE:
            reasons.append(
                f"articles without a date rose from {baseline:.0%} to {share:.0%}: "
                "the date's place in the page may have changed"
            )
    return ("failing" if reasons else "ok"), reasons


def portal_health(archive: Archive, *, history: int = 1 + BASELINE_RUNS) -> list[PortalHealth]:
    """Every registered portal with its verdict, its article count and its last run."""
    status = {p["slug"]: p for p in archive.portal_status()}
    out: list[PortalHealth] = []
    with archive.session() as s:
        for portal in s.scalars(select(Portal).order_by(Portal.slug)):
            runs = list(
                s.scalars(
                    select(CrawlRun)
                    .where(CrawlRun.portal_id == portal.id)
                    .order_by(CrawlRun.id.desc())
                    .limit(history)
                )
            )
            state, reasons = judge(runs)
            info = status.get(portal.slug, {})
            out.append(
                PortalHealth(
                    slug=portal.slug,
                    name=portal.name,
                    state=state,
                    reasons=reasons,
                    articles=info.get("articles", 0),
                    last_run=info.get("last_run"),
                )
            )
    return out
