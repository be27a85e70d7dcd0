# portal-archive: the verbs the README and CI use.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
DEMO_DATA ?= demo-data

.PHONY: install system-deps demo serve screenshots test lint format bench clean

# A virtual environment with the project installed (editable) and its dev tools.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Tesseract (+ Vietnamese), antiword, catdoc from Debian: OCR and .doc attachments.
system-deps:
	@bash scripts/system-deps.sh

demo: install system-deps
	$(VENV)/bin/portal-archive --data-dir $(DEMO_DATA) demo

# The staff web application over the demo archive (make demo first).
serve: install
	$(VENV)/bin/portal-archive --data-dir $(DEMO_DATA) serve --port 8000

# Screenshots of the search and article pages for the README, taken by the browser test.
screenshots: install
	@bash scripts/system-deps.sh --with-browser
	PORTAL_ARCHIVE_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q -p no:cacheprovider tests/web/test_browser.py -k xlsx

test: install system-deps
	@bash scripts/system-deps.sh --with-browser
	$(PY) -m pytest -q -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/extraction.py --out bench/results/extraction.md
	$(PY) bench/bench_crawl.py --out bench/results/crawl.md
	$(PY) bench/bench_index.py --corpus sample --out bench/results/search.md
	$(PY) bench/bench_index.py --corpus generated --out bench/results/search_generated.md
	$(PY) bench/doctext.py --out bench/results/doctext.md
	$(PY) bench/docmeta.py --out bench/results/docmeta.md
	$(PY) bench/report.py

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache build *.egg-info
