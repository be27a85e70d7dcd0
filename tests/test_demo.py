"""`portal-archive demo` (what `make demo` runs) end to end, twice: the second run changes
nothing."""

from __future__ import annotations

import hashlib
import zipfile

from tests.conftest import run_cli


def test_demo_runs_end_to_end_and_again_changes_nothing(tmp_path):
    first = run_cli("--data-dir", str(tmp_path), "demo", check=True, timeout=900)
    out = first.stdout
    assert "Traceback" not in first.stderr
    assert "articles: 30 (30 versions" in out
    assert "[document] Kế hoạch 139/KH-UBND" in out  # the plan found beside its article
    assert "document number read from 5, completed from the publishing article for 1" in out
    assert "attachment links failed: 1" in out
    bundle = tmp_path / "exports" / "archive.zip"
    with zipfile.ZipFile(bundle) as zf:
        assert zf.testzip() is None
        for line in zf.read("SHA256SUMS").decode().splitlines():
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(zf.read(name)).hexdigest() == digest, name
        assert sum(n.startswith("files/") for n in zf.namelist()) == 7

    second = run_cli("--data-dir", str(tmp_path), "demo", check=True, timeout=900)
    assert "articles: 30 (30 versions" in second.stdout  # no new versions
    assert "0 indexed" in second.stdout
