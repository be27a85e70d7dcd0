"""Crawls handed to a Scrapyd server instead of run here (docs/distributed.md).

The project is deployed to Scrapyd with ``scrapyd-deploy`` (scrapy.cfg's ``[deploy]``
targets); ``portal-archive scheduler --scrapyd URL`` then starts each scheduled crawl with
Scrapyd's ``schedule.json`` (one job per portal: spider ``portal``, ``portal=<slug>``, the
archive's data directory and database as settings) instead of a child process. The
scheduler keeps the portals' locks while the jobs run, follows them with ``listjobs.json``
and records the fire as finished once every job has ended and recorded a finished crawl
run (the pipeline keeps a job's id in its run as ``scrapyd/job``); stopping the scheduler
cancels them (``cancel.json``: Scrapyd stops a job as Ctrl-C does).

:class:`ScrapydCrawl` has the few methods of :class:`subprocess.Popen` the scheduler uses,
so a job is followed, stopped and recorded as a local crawl process is.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from archive.config import Config
from archive.store import Archive, ArchiveError

#: The project name scrapy.cfg deploys under.
DEFAULT_PROJECT = "portal_archive"
#: The spider every job runs.
SPIDER = "portal"


class ScrapydError(ArchiveError):
    """Scrapyd could not be reached, or refused a request (its message is given)."""


class Scrapyd:
    """A Scrapyd server's JSON API: schedule, list and cancel jobs of one project."""

    def __init__(self, url: str, project: str = DEFAULT_PROJECT, *, timeout: float = 30.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ScrapydError(f"Scrapyd URL {url!r}: expected http(s)://HOST:PORT/")
        self.url = url if url.endswith("/") else url + "/"
        self.project = project
        self.timeout = timeout

    def call(self, endpoint: str, data: dict | Sequence[tuple[str, str]] | None = None) -> dict:
        """GET (no ``data``) or POST ``endpoint``; the answer, whose status must be ok."""
        url = urllib.parse.urljoin(self.url, endpoint)
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
        try:
            with urllib.request.urlopen(url, data=body, timeout=self.timeout) as resp:
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise ScrapydError(f"Scrapyd {url}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ScrapydError(f"cannot reach Scrapyd at {self.url}: {exc}") from None
        except ValueError:
            raise ScrapydError(f"Scrapyd {url}: the answer is not JSON") from None
        if answer.get("status") != "ok":
            raise ScrapydError(f"Scrapyd {endpoint}: {answer.get('message') or answer}")
        return answer

    def schedule(self, slug: str, *, settings: dict[str, str], args: dict[str, str]) -> str:
        """Start a crawl of portal ``slug``; its job id."""
        data = [("project", self.project), ("spider", SPIDER), ("portal", slug)]
        data += [("setting", f"{k}={v}") for k, v in settings.items()]
        data += list(args.items())
        return self.call("schedule.json", data)["jobid"]

    def job_states(self) -> dict[str, str]:
        """Job id → pending, running or finished, for the project's jobs Scrapyd knows."""
        answer = self.call(f"listjobs.json?project={urllib.parse.quote(self.project)}")
        return {
            job["id"]: state
            for state in ("pending", "running", "finished")
            for job in answer.get(state, [])
        }

    def cancel(self, job: str) -> None:
        self.call("cancel.json", {"project": self.project, "job": job})


def job_settings(
    config: Config, *, data_dir: str | os.PathLike[str] | None = None, allow_private: bool = False
) -> dict[str, str]:
    """The settings of a job: the archive (``data_dir`` when the Scrapyd host sees the data
    directory under another path), private addresses when allowed."""
    settings = {
        "PORTAL_ARCHIVE_DATA_DIR": str(Path(data_dir) if data_dir else config.data_dir),
        "PORTAL_ARCHIVE_DB": config.db_url,
    }
    if allow_private:
        settings["ALLOW_PRIVATE"] = "True"
    return settings


class ScrapydCrawl:
    """The Scrapyd jobs of one scheduled fire, followed as a crawl process is: ``poll()``
    is None while a job is pending or running, then 0 when every job recorded a finished
    crawl run, else 1; ``send_signal`` cancels the jobs still going."""

    pid = None

    def __init__(self, scrapyd: Scrapyd, jobs: dict[str, str], config: Config):
        self.scrapyd = scrapyd
        self.jobs = dict(jobs)  # slug → job id
        self.config = config
        self.returncode: int | None = None
        self.outcome: dict[str, str] = {}  # job id → status of its crawl run

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        try:
            states = self.scrapyd.job_states()
        except ScrapydError:
            return None  # Scrapyd unreachable for a moment: ask again at the next tick
        # A job Scrapyd no longer lists (restarted, or beyond jobs_to_keep) has ended.
        if any(states.get(job, "finished") != "finished" for job in self.jobs.values()):
            return None
        self.outcome = self._run_statuses()
        finished = all(self.outcome.get(job) == "finished" for job in self.jobs.values())
        self.returncode = 0 if finished else 1
        return self.returncode

    def _run_statuses(self) -> dict[str, str]:
        wanted = set(self.jobs.values())
        archive = Archive(self.config)
        try:
            runs = archive.runs(limit=500)
        finally:
            archive.close()
        return {
            r["stats"]["scrapyd/job"]: r["status"]
            for r in runs
            if r["stats"].get("scrapyd/job") in wanted
        }

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"scrapyd jobs {self.jobs}", timeout)
            time.sleep(1.0)
        return self.returncode

    def send_signal(self, _sig: int) -> None:
        for job in self.jobs.values():
            try:
                self.scrapyd.cancel(job)
            except ScrapydError:
                pass  # ended meanwhile, or Scrapyd gone


def launcher(
    scrapyd: Scrapyd,
    config: Config,
    *,
    portals_dir: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    allow_private: bool = False,
):
    """The scheduler's way to start a crawl of ``slugs`` on Scrapyd: one job per portal.
    The registry directory is given to each job (a deployed egg is a zip file, in which
    the spider cannot read the TOML files)."""
    from scraper import registry

    registry_dir = Path(portals_dir) if portals_dir else registry.portals_dir(None)
    settings = job_settings(config, data_dir=data_dir, allow_private=allow_private)

    def launch(slugs: Sequence[str], holder: str) -> ScrapydCrawl:
        jobs: dict[str, str] = {}
        try:
            for slug in slugs:
                jobs[slug] = scrapyd.schedule(
                    slug,
                    settings=settings,
                    args={"trigger": "scheduler", "portals_dir": str(registry_dir.resolve())},
                )
        except ScrapydError:
            for job in jobs.values():  # all or nothing: the fire is recorded as failed
                try:
                    scrapyd.cancel(job)
                except ScrapydError:
                    pass
            raise
        return ScrapydCrawl(scrapyd, jobs, config)

    return launch
