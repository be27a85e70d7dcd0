"""Imported at the start of every Python process the tests start when they run on
PostgreSQL (tests/conftest.py puts this directory on PYTHONPATH): archives there get their
data directory's database, as in the test process (tests/pg.py)."""

import os
import sys

if os.environ.get("PORTAL_ARCHIVE_TEST_PG_SERVER"):
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        from tests.pg import route_archives

        route_archives()
    except ImportError:  # a Python without portal-archive (pywb's environment)
        pass
