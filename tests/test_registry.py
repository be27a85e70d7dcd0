from __future__ import annotations

import pytest

from scraper import registry
from scraper.registry import RegistryError
from tests.conftest import run_cli

GOOD = """
slug = "xa-a"
name = "Trang TTĐT xã A"
unit = "Xã A"
unit_code = "00406"
family = "nukeviet"
base_url = "https://xaa.example.gov.vn/"
category_urls = ["https://xaa.example.gov.vn/vi/news/cai-cach-hanh-chinh/"]
[settings]
DOWNLOAD_DELAY = 3
"""


def write(tmp_path, name, text):
    (tmp_path / f"{name}.toml").write_text(text, encoding="utf-8")


def test_shipped_registry_loads():
    entries = registry.load_all()
    assert "sotttt-hanoi" in entries
    assert all(e.path.stem == slug for slug, e in entries.items())


def test_good_file(tmp_path):
    write(tmp_path, "xa-a", GOOD)
    entry = registry.get("xa-a", tmp_path)
    assert entry.family == "nukeviet"
    assert entry.start_urls == ("https://xaa.example.gov.vn/",)
    assert entry.settings == {"DOWNLOAD_DELAY": 3}
    assert entry.netlocs == {"xaa.example.gov.vn"}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (GOOD.replace('family = "nukeviet"', 'family = "joomla"'), "family"),
        (GOOD.replace('unit = "Xã A"\n', ""), "unit"),
        (GOOD.replace('unit_code = "00406"\n', ""), "unit_code"),
        (GOOD.replace('unit_code = "00406"', 'unit_code = "Xã Tân Minh"'), "unit_code"),
        (GOOD.replace('unit_code = "00406"', "unit_code = 406"), "unit_code"),
        (GOOD.replace('base_url = "https', 'base_url = "ftp'), "base_url"),
        (GOOD.replace('category_urls = ["https', 'category_urls = ["file'), "category_urls"),
        ('colour = "red"\n' + GOOD, "colour"),
        (
            GOOD.replace("[settings]", "[selectors]\nheadline = 'h1'\n[settings]"),
            "selectors.headline",
        ),
    ],
)
def test_malformed_file_names_file_and_key(tmp_path, text, key):
    write(tmp_path, "xa-a", text)
    with pytest.raises(RegistryError) as err:
        registry.load_all(tmp_path)
    assert "xa-a.toml" in str(err.value) and f"'{key}'" in str(err.value)


def test_invalid_toml_names_file(tmp_path):
    write(tmp_path, "broken", 'slug = "broken\n')
    with pytest.raises(RegistryError, match="broken.toml"):
        registry.load_all(tmp_path)


def test_slug_must_match_file_name(tmp_path):
    write(tmp_path, "other", GOOD)
    with pytest.raises(RegistryError, match="'slug'"):
        registry.load_all(tmp_path)


def test_portals_command_lists_and_reports_errors(tmp_path):
    write(tmp_path, "xa-a", GOOD)
    proc = run_cli("portals", "--portals", str(tmp_path), check=True)
    assert "xa-a" in proc.stdout and "nukeviet" in proc.stdout
    write(tmp_path, "xa-b", GOOD.replace('"xa-a"', '"xa-b"').replace("nukeviet", "joomla"))
    proc = run_cli("portals", "--portals", str(tmp_path))
    assert proc.returncode == 2
    assert "xa-b.toml" in proc.stderr and "'family'" in proc.stderr
    assert "Traceback" not in proc.stderr
