"""Full-text search over the archive: a Whoosh index with a Vietnamese analyzer.

``search.index.SearchIndex`` writes and reads the index, ``search.query.search`` runs queries
(``search.query.search_ids`` finds the ids only: exports), ``search.postings`` reads posting
lists in bulk for them, ``search.analysis.VietnameseAnalyzer`` turns text into folded + exact
tokens.
"""

from __future__ import annotations

from search.index import IndexDoc, SearchIndex
from search.query import Hit, SearchResult, search, search_ids

__all__ = ["Hit", "IndexDoc", "SearchIndex", "SearchResult", "search", "search_ids"]
