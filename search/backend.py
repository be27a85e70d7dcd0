"""The search backend: one small interface, two engines.

* ``whoosh`` (the default): the embedded Whoosh index in ``<data>/index``
  (:mod:`search.index`, :mod:`search.query`); needs nothing but the data directory.
* ``postgres``: PostgreSQL full-text search in the archive's own database
  (:mod:`search.postgres`): a ``search_entries`` table with a GIN-indexed ``tsvector``, for
  archives on PostgreSQL that outgrow one machine's index directory.

Chosen by ``$PORTAL_ARCHIVE_SEARCH`` (``whoosh`` or ``postgres``); the postgres backend is
refused, with a message saying so, when the database is not PostgreSQL. Both take the same
query language, filters, facets and sorts, give the same :class:`~search.query.SearchResult`,
and are kept in step with the database by the same :func:`search.sync.sync_index`; the
tests in tests/search run against both. docs/search.md says which to choose.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from archive.config import Config
from archive.store import ArchiveError

if TYPE_CHECKING:
    from archive.store import Archive
    from search.index import IndexDoc, SearchIndex
    from search.query import SearchResult
    from search.sync import SyncReport

__all__ = ["BACKENDS", "ENV_SEARCH", "SearchBackend", "SearchBackendError", "WhooshBackend",
           "backend_name", "open_backend"]  # fmt: skip

#: ``whoosh`` (default) or ``postgres``.
ENV_SEARCH = "PORTAL_ARCHIVE_SEARCH"
BACKENDS = ("whoosh", "postgres")


class SearchBackendError(ArchiveError):
    """The configured search backend cannot be used (printed as one line by the CLI)."""


class SearchBackend(ABC):
    """What the CLI, the web application and the checks need of a search engine.

    ``search`` and ``search_ids`` take the arguments of :func:`search.query.search` and
    :func:`search.query.search_ids` (query language, filters, sort, paging, snippet texts)
    and give the same results. ``sync`` brings the backend in step with the archive
    (incremental; ``rebuild`` re-indexes everything) under the backend's writer lock.
    ``update`` and ``delete`` write entries directly (the tests and benchmarks use them).
    ``indexed_states`` maps every indexed id to the state it was indexed from. ``on_wait``
    is told, in a line, what holds a sync up (another indexer; an outdated index rebuilt).
    """

    name: str
    #: Whoosh only: make an index of an earlier version anew instead of refusing it.
    rebuild_outdated: bool = False

    @abstractmethod
    def search(
        self,
        query: str,
        *,
        portal: str | list[str] | None = None,
        topic: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        type: str | None = None,  # noqa: A002 - the facet's name
        doc_kind: str | list[str] | None = None,
        year: int | list[int] | None = None,
        units: Collection[str] | None = None,
        sort: str = "relevance",
        page: int = 1,
        per_page: int = 10,
        text_for: Callable[[str], str | None] | None = None,
        texts_for: Callable[[Sequence[str]], Mapping[str, str]] | None = None,
        facets: bool = True,
    ) -> SearchResult: ...

    @abstractmethod
    def search_ids(self, query: str, **kwargs: object) -> list[str]: ...

    @abstractmethod
    def sync(
        self,
        archive: Archive,
        *,
        rebuild: bool = False,
        progress: Callable[[int, int], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> SyncReport: ...

    @abstractmethod
    def update(
        self,
        docs: Iterable[IndexDoc],
        *,
        progress: Callable[[int], None] | None = None,
        bulk: bool = False,
    ) -> int:
        """Add or replace entries by id; ``bulk``: a rebuild (Whoosh: larger commits, no
        merging)."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> int: ...

    @abstractmethod
    def indexed_states(self) -> dict[str, str]: ...

    @abstractmethod
    def doc_count(self) -> int: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> SearchBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WhooshBackend(SearchBackend):
    """The Whoosh index in ``path``, opened on first use. An index of an earlier version
    raises :class:`search.index.IndexVersionError` there, unless ``rebuild_outdated`` (then
    it is made anew, empty); ``sync`` always rebuilds it."""

    name = "whoosh"

    def __init__(
        self, path: Path, index: SearchIndex | None = None, *, rebuild_outdated: bool = False
    ) -> None:
        self.path = Path(path)
        self._index = index
        self.rebuild_outdated = rebuild_outdated

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            from search.index import SearchIndex
            from search.sync import indexer_lock, open_index

            if self.rebuild_outdated:
                with indexer_lock(self.path):
                    self._index, _rebuilt = open_index(self.path)
            else:
                self._index = SearchIndex(self.path)
        return self._index

    def search(self, query: str, **kwargs) -> SearchResult:  # type: ignore[override]
        from search.query import search

        return search(self.index, query, **kwargs)

    def search_ids(self, query: str, **kwargs) -> list[str]:
        from search.query import search_ids

        return search_ids(self.index, query, **kwargs)

    def sync(self, archive, *, rebuild=False, progress=None, on_wait=None):  # noqa: ANN001
        from search.sync import indexer_lock, open_index, sync_index

        with indexer_lock(self.path, on_wait=on_wait):
            self.close()  # a rebuild removes the directory under an open index
            self._index, rebuilt = open_index(self.path, rebuild=rebuild)
            if rebuilt and not rebuild and on_wait:
                on_wait("rebuilding the search index (built by an earlier version)")
            return sync_index(archive, self._index, rebuild=rebuilt, progress=progress)

    def update(self, docs, *, progress=None, bulk=False) -> int:  # noqa: ANN001
        return self.index.update(docs, progress=progress, bulk=bulk)

    def delete(self, ids) -> int:  # noqa: ANN001
        return self.index.delete(ids)

    def indexed_states(self) -> dict[str, str]:
        return self.index.indexed_hashes()

    def doc_count(self) -> int:
        return self.index.doc_count()

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None


def backend_name(environ: Mapping[str, str] = os.environ) -> str:
    """The configured backend's name (``$PORTAL_ARCHIVE_SEARCH``, default ``whoosh``)."""
    name = environ.get(ENV_SEARCH, "").strip().lower() or "whoosh"
    if name in ("postgresql", "pg"):
        name = "postgres"
    if name not in BACKENDS:
        raise SearchBackendError(
            f"{ENV_SEARCH}={environ.get(ENV_SEARCH)!r}: expected one of {', '.join(BACKENDS)}"
        )
    return name


def open_backend(
    config: Config, archive: Archive | None = None, *, name: str | None = None
) -> SearchBackend:
    """The search backend ``config`` and ``$PORTAL_ARCHIVE_SEARCH`` (or ``name``) ask for.

    The postgres backend uses ``archive``'s engine when given (else opens its own on the
    archive's database, migrated to the head revision); it is refused when the database
    is not PostgreSQL."""
    name = name or backend_name()
    if name == "whoosh":
        return WhooshBackend(config.index_dir)
    if not config.db_url.startswith("postgresql"):
        raise SearchBackendError(
            f"{ENV_SEARCH}=postgres needs the archive's database on PostgreSQL "
            f"(--db or $PORTAL_ARCHIVE_DB postgresql+psycopg://…); this archive's is "
            f"{config.db_url.split(':', 1)[0]}: unset {ENV_SEARCH} to use the Whoosh index"
        )
    from search.postgres import PostgresBackend

    if archive is not None:
        return PostgresBackend(archive.engine)
    from archive.migrate import ensure_schema
    from archive.store import open_engine

    engine = open_engine(config.db_url)
    try:
        ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return PostgresBackend(engine, owns_engine=True)
