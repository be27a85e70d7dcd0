"""For scrapyd-deploy only, which builds its egg with ``setup.py bdist_egg`` (and would
write a setup.py of its own, packing every package including tests): the metadata, the
packages and Scrapy's ``settings`` entry point are pyproject.toml's. Install with pip."""

from setuptools import setup

setup()
