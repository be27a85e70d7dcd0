"""`portal-archive users …` and `portal-archive serve`, as a new user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.conftest import ROOT, run_cli
from tests.web.conftest import free_port


def test_users_add_list_passwd(tmp_path):
    data = ["--data-dir", str(tmp_path)]

    def users(*args, password=None):
        return subprocess.run(
            [sys.executable, "-m", "archive.cli", *data, "users", *args],
            input=password, capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip

    ok = users("add", "thu.thu", "--name", "Thủ thư", "--password-stdin",
               password="mot-mat-khau-dai\n")  # fmt: skip
    assert ok.returncode == 0 and "created" in ok.stdout
    again = users("add", "thu.thu", "--password-stdin", password="mot-mat-khau-dai\n")
    assert again.returncode == 2 and "error" in again.stderr and "Traceback" not in again.stderr
    weak = users("add", "nguoi-moi", "--password-stdin", password="ngan\n")
    assert weak.returncode == 2 and "password" in weak.stderr.lower()
    no_tty = users("add", "nguoi-moi2", password="")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    listed = users("list")
    assert "thu.thu" in listed.stdout and "Thủ thư" in listed.stdout
    changed = users("passwd", "thu.thu", "--password-stdin", password="mat-khau-moi-dai\n")
    assert changed.returncode == 0


def test_serve_answers_and_refuses_a_bad_port(tmp_path):
    bad = run_cli("--data-dir", str(tmp_path), "serve", "--port", "70000")
    assert bad.returncode == 2 and "--port" in bad.stderr and "Traceback" not in bad.stderr

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "--data-dir", str(tmp_path), "serve",
         "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/search.json", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(
                        proc.stderr.read().decode() if proc.poll() else "timeout"
                    ) from None
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["total"] == 0  # an empty archive
        page = httpx.get(f"http://127.0.0.1:{port}/search", timeout=5)
        assert "Lưu trữ cổng thông tin" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
