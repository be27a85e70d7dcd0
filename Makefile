# portal-archive: the verbs the README and CI use.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
DEMO_DATA ?= demo-data

.PHONY: install system-deps demo serve screenshots test test-sqlite test-pg lint format bench bench-big clean

# A virtual environment with the project installed (editable) and its dev tools.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,distributed]'
	$(PY) -m search.warm  # compiles the search kernels once (numba caches them)
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

# pywb replays our WARC files in a test; it lives in its own environment because it pulls
# in brotlipy, which shadows the Brotli module Scrapy decodes with (docs/warc.md).
$(VENV)-replay/.installed:
	$(PYTHON) -m venv $(VENV)-replay
	$(VENV)-replay/bin/pip install --quiet 'pywb==2.10.0' 'wacz==0.6.0'
	@touch $@

# ReplayWeb.page (Webrecorder's browser replay, from the npm registry) opens our WACZ exports
# in a test: its two bundled files are all it needs (npm pack: no dependencies installed).
REPLAYWEB_VERSION = 2.5.3
REPLAYWEB = .replayweb/$(REPLAYWEB_VERSION)
$(REPLAYWEB)/sw.js:
	@command -v npm >/dev/null || { echo "npm is needed for the ReplayWeb.page test (Debian: nodejs npm)"; exit 1; }
	mkdir -p $(REPLAYWEB)
	cd $(REPLAYWEB) && npm pack --silent replaywebpage@$(REPLAYWEB_VERSION) >/dev/null && tar xzf replaywebpage-$(REPLAYWEB_VERSION).tgz package/sw.js package/ui.js package/LICENSE && mv package/* . && rmdir package && rm replaywebpage-$(REPLAYWEB_VERSION).tgz

# The whole suite twice, both passes at once: on SQLite and on a throwaway PostgreSQL server
# (tests/pg.py). test-sqlite and test-pg run one pass each.
test: install system-deps $(VENV)-replay/.installed $(REPLAYWEB)/sw.js
	@bash scripts/system-deps.sh --with-browser --with-redis --with-postgres
	@PY=$(PY) bash scripts/test-passes.sh

test-sqlite: install system-deps $(VENV)-replay/.installed $(REPLAYWEB)/sw.js
	@bash scripts/system-deps.sh --with-browser --with-redis
	$(PY) -m pytest -q -p no:cacheprovider

test-pg: install system-deps $(VENV)-replay/.installed $(REPLAYWEB)/sw.js
	@bash scripts/system-deps.sh --with-browser --with-redis --with-postgres
	PORTAL_ARCHIVE_TEST_DB=postgres $(PY) -m pytest -q -p no:cacheprovider

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
	$(PY) bench/bench_recrawl.py --out bench/results/recrawl.md
	$(PY) bench/bench_resume.py --out bench/results/resume.md
	$(PY) bench/bench_warc.py --out bench/results/warc.md
	$(PY) bench/bench_units.py --out bench/results/units.md
	@bash scripts/system-deps.sh --with-redis
	$(PY) bench/bench_distributed.py --out bench/results/distributed.md
	@bash scripts/system-deps.sh --with-postgres
	$(PY) bench/bench_search_backends.py --out bench/results/search_backends.md
	$(PY) bench/report.py

# The long ones (about 20 and 50 minutes): a 10,000-article portal, 100,000 articles on the web.
bench-big: install
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/bench_scale.py --out bench/results/scale.md
	$(PY) bench/bench_web.py --out bench/results/web.md
	$(PY) bench/report.py

clean:
	rm -rf $(VENV) $(VENV)-replay .replayweb $(DEMO_DATA) .pytest_cache build *.egg-info
