"""Both search backends (search/backend.py) for the tests of query semantics: Whoosh always,
PostgreSQL when the test server runs (``make test-pg``, tests/pg.py), on a database of its
own made from the template at the head revision."""

from __future__ import annotations

import itertools
import os

import pytest

from search.backend import SearchBackend, WhooshBackend
from search.index import SearchIndex
from tests import pg

_numbers = itertools.count()


@pytest.fixture(scope="module", params=["whoosh", "postgres"])
def backend_kind(request) -> str:
    if request.param == "postgres" and getattr(request.config, "pg_cluster", None) is None:
        pytest.skip("the postgres backend runs with the test PostgreSQL (make test-pg)")
    return request.param


@pytest.fixture(scope="module")
def make_backend(request, backend_kind: str, tmp_path_factory: pytest.TempPathFactory):
    """A factory of new, empty backends of this module's kind (closed, and their databases
    dropped, after the module). Keyword arguments go to Whoosh's SearchIndex."""
    made: list[SearchBackend] = []
    databases: list[str] = []
    cluster = getattr(request.config, "pg_cluster", None)

    def make(**whoosh_options) -> SearchBackend:
        if backend_kind == "whoosh":
            path = tmp_path_factory.mktemp("ix")
            backend: SearchBackend = WhooshBackend(path, SearchIndex(path, **whoosh_options))
        else:
            from archive.store import open_engine
            from search.postgres import PostgresBackend

            name = f"pa_search_{os.getpid()}_{next(_numbers)}"
            pg.create_database(cluster.server_url, name)
            databases.append(name)
            backend = PostgresBackend(open_engine(cluster.url(name)), owns_engine=True)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()
    if databases:
        from psycopg import sql

        with pg._admin(cluster.server_url) as conn:
            for name in databases:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
