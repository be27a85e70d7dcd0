"""The Whoosh full-text index of archived articles.

The index stores only what a hit list needs (id, title, portal, url, publication date,
topics, lead); the caller supplies body text for highlights. Facets and sorting read columns
(``portal``, ``topicset``, ``year``, ``published``, ``dated``), never stored fields.

Writer setup (measured by ``bench/bench_index.py`` on 2 cores, see docs/benchmarks_search.md):
a multiprocessing writer (``procs=2``, ``multisegment=True``) for batches of at least
:data:`MP_MIN_DOCS` documents, a plain writer below that (starting worker processes costs more
than it saves), ``limitmb`` per process, and one commit per ``batch_size`` documents so memory
stays bounded and a crash loses at most one batch. The incremental path (a few changed
articles) is the plain writer's.
"""

from __future__ import annotations

import io
import itertools
import os
import pickle
import shutil
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import whoosh
from whoosh import index as whoosh_index
from whoosh.codec import whoosh3
from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.filedb.structfile import BufferFile
from whoosh.searching import Searcher
from whoosh.writing import PostingPool

from archive.docrefs import kind_slug
from archive.store import ArchiveError
from search import blocks
from search.analysis import PairAnalyzer, VietnameseAnalyzer, VietnamesePositions

__all__ = [
    "ENV_PAIRS",
    "IndexDoc",
    "IndexSettingError",
    "IndexVersionError",
    "SCHEMA_VERSION",
    "SearchIndex",
    "TITLE_BOOST",
    "VN_TZ",
    "field_lengths",
    "kind_slug",
    "make_schema",
    "pairs_wanted",
]

VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")  # no DST since 1975
TITLE_BOOST = 2.5
MP_MIN_DOCS = 60  # measured crossover: 30 docs 154 vs 143/s, 60 docs 178 vs 190/s, 300: 202 vs 362
DEFAULT_PROCS = max(1, min(2, os.cpu_count() or 1))  # 3 was no better than 2 on 2 cores
DEFAULT_LIMITMB = 768  # per process; 10k articles: 256 -> 185/s, 768 -> 375/s (worker RSS ~610 MB)
DEFAULT_BATCH_SIZE = 20_000
#: A bulk load (``update(bulk=True)``: a rebuild) commits this many documents at a time and
#: merges nothing: its segments (``BULK_BATCH_SIZE / procs`` documents) are then too big for
#: :func:`merge_tiered` to merge ten of them, so later commits do not merge them either.
BULK_BATCH_SIZE = 50_000
#: Merging (see :func:`merge_tiered`): this many segments of one size tier are merged into
#: one, but never into a segment of more than ``MAX_MERGED_DOCS`` documents.
MERGE_FACTOR = 10
MAX_MERGED_DOCS = 100_000
#: Bumped when fields change; an index of another version is rebuilt (it is derived data).
#: 2: documents (attachments) beside articles, document kinds; 3: positions stored as raw
#: 32-bit arrays (search.analysis.VietnamesePositions), for fast phrase checks; 5: the
#: ``pairs`` field (search.analysis.PairAnalyzer).
SCHEMA_VERSION = 5
VERSION_FILE = "PORTAL_ARCHIVE_SCHEMA"
#: ``off`` makes new indexes without the word pairs of phrases (``pairs``): indexing 1.6-1.8x as
#: fast and the index half to two thirds the size; phrases checked on the words' positions
#: (bench/results/search.md, search_generated.md; docs/search.md).
ENV_PAIRS = "PORTAL_ARCHIVE_PHRASE_PAIRS"


# --- whoosh-reloaded 2.7.5 hot-path patches -----------------------------------------------------
#
# Per-posting costs in Whoosh's writer, found by profiling single-process indexing, and a copy
# of the whole index in every searching process are replaced with equivalent code (same
# values, same API), only on the version they were written against:
# * the per-document reader answers doc_field_length() from the on-disk column through three
#   Python layers; Whoosh asks once per POSTING when writing a segment (block length stats)
#   and once per scored document at search time (18% of indexing time). Segments are
#   immutable, so a length column is read into memory once per reader.
# * PostingPool.add() type-asserts every posting and recomputes a size estimate from ten
#   terms; the writer ignores a custom ``poolclass``, so the method itself is replaced.
# * BufferFile (a part of a segment's memory map) copied its whole buffer into a BytesIO on
#   opening (see _buffer_file_init, below).

_BYTE_TO_LENGTH = [whoosh3.byte_to_length(b) for b in range(256)]


def _lengths(perdoc: Any, fieldname: str) -> bytes | None:
    """A W3PerDocReader's length column of ``fieldname``, read into memory once (None, also
    remembered, for a field without lengths: the word pairs, which are never scored; asking
    the reader again would look for the column's file on disk once per posting)."""
    cache = perdoc.__dict__.get("_pa_lengths")
    if cache is None:
        cache = perdoc.__dict__["_pa_lengths"] = {}
    if fieldname in cache:
        return cache[fieldname]
    reader = perdoc._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)
    lengths = cache[fieldname] = None if reader is None else bytes(reader)
    return lengths


def _cached_doc_field_length(self: Any, docnum: int, fieldname: str, default: int = 0) -> Any:
    lengths = _lengths(self, fieldname)
    if lengths is None:
        return default
    if docnum > self._doccount:
        raise IndexError(f"Asked for docnum {docnum!r} of {self._doccount}")
    lbyte = lengths[docnum]
    if lbyte:
        return _BYTE_TO_LENGTH[lbyte]
    return None  # as the original: a zero byte means "no length"


def _lean_pool_add(self: Any, item: tuple[str, bytes, int, float, bytes | None]) -> None:
    self.fieldnames.add(item[0])
    self.currentsize += 150 + len(item[0]) + 2 * len(item[1]) + len(item[4] or b"")
    if self.currentsize > self.limit:
        self.save()
    self.current.append(item)


def field_lengths(reader: Any, fieldname: str) -> bytes | None:
    """One segment reader's encoded field lengths (a byte per document, decoded by
    ``whoosh3.byte_to_length``), or None when the codec is not the one patched here."""
    perdoc = getattr(reader, "_perdoc", None)
    if not _PATCHED or not isinstance(perdoc, whoosh3.W3PerDocReader):
        return None
    return _lengths(perdoc, fieldname) or bytes(perdoc._doccount)  # no column: no lengths


# Whoosh writes a posting block as a pickle of (ids, weights, values), protocol 2. Blocks are
# written here as raw arrays with the values pickled (search/blocks.py: numpy reads the ids
# and weights without building an object per posting). The values' pickle is protocol 4, in
# which ``bytes`` (a posting's encoded positions) are native: protocol 2 rebuilds each by a
# call to ``_codecs.encode`` (a block of 128 postings: ~160 µs against ~25 µs). Blocks of
# both older layouts (pickles of protocol 2 or 4) are still read, so indexes written before
# work, and their segments are rewritten in this layout when they are merged.
_BLOCK_PROTOCOL = 4
#: False writes blocks as Whoosh does (a pickle of protocol _BLOCK_PROTOCOL): the tests use it
#: to check that indexes written before the raw layout are still read and merged.
_RAW_BLOCKS = True


def _write_block(self: Any, last: bool = False) -> None:
    """``W3PostingsWriter._write_block`` of whoosh-reloaded 2.7.5, writing the raw layout
    of :mod:`search.blocks` (a pickle of protocol 4 for the byte ids of term vectors)."""
    if not self._blockcount:
        self._postfile.write(whoosh3.WHOOSH3_HEADER_MAGIC)
    self._terminfo.add_block(self)
    comp = self._compression
    if self._byteids or not _RAW_BLOCKS:
        data = (self._mini_ids(), self._mini_weights(), self._mini_values())
        databytes = pickle.dumps(data, _BLOCK_PROTOCOL)
        if comp:
            databytes = zlib.compress(databytes, comp)
    else:  # compressed or not, the block starts with blocks.MAGIC: the values are compressed
        deltas = list(whoosh3.delta_encode(self._ids))
        positions = isinstance(self._format, VietnamesePositions)
        # positions uncompressed: zlib shrank them by only 1.4x and inflated them at ~70
        # MB/s, a third of a phrase's time (read in place instead, search/kernels.py)
        databytes = blocks.encode(
            deltas, self._weights, self._mini_values(), 0 if positions else comp, positions
        )
    ids = self._ids
    infobytes = pickle.dumps(
        (
            len(ids),
            ids[-1],
            self._maxweight,
            comp,
            whoosh3.length_to_byte(self._minlength),
            whoosh3.length_to_byte(self._maxlength),
        ),
        2,
    )
    postfile = self._postfile
    blocklength = len(infobytes) + len(databytes)
    if last:
        blocklength *= -1  # the last block of the term
    postfile.write_int(blocklength)
    postfile.write(infobytes)
    postfile.write(databytes)
    self._blockcount += 1
    self._new_block()


# Postings per block: Whoosh's 128 suits its matchers, which skip block by block; search.query
# reads whole posting lists, where each block costs a fixed ~30 µs (header, zlib object,
# unpickling). Measured on 6,000 generated articles, ns per posting read (ids and weights /
# with positions): 128: 353 / 572; 512: 238 / 451; 1024: 196 / 393 (and 9% less disk). At
# 1,000,000 articles (40 segments of 25,000) a seven-word query still read ~18,000 blocks of
# 1,024, ~20 µs of Python each; 16,384 make a segment's posting list one or two blocks (20,000
# articles: 8% less disk; search times alike at that size, within the machine's noise).
BLOCK_POSTINGS = 16_384


def _read_data(self: Any) -> None:
    """``W3LeafMatcher._read_data`` reading raw blocks (search/blocks.py) and pickles."""
    b = self._postfile.get(self._dataoffset, self._nextoffset - self._dataoffset)
    if blocks.is_raw(b):
        self._data = blocks.whoosh_data(b)
        return
    if self._compression:
        b = zlib.decompress(b)
    self._data = pickle.loads(b)


class _ViewFile(io.RawIOBase):
    """A read-only file over a memoryview, without copying it."""

    def __init__(self, view: Any) -> None:
        super().__init__()
        self._view = memoryview(view).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = max(0, min(len(b), len(self._view) - self._pos))
        b[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._pos + size
        data = bytes(self._view[self._pos : end])
        self._pos += len(data)
        return data

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = base + pos
        return self._pos

    def tell(self) -> int:
        return self._pos

    def getvalue(self) -> bytes:
        return bytes(self._view)


def _buffer_file_init(self: Any, buf: Any, name: str | None = None, onclose: Any = None) -> None:
    """``BufferFile.__init__`` without ``BytesIO(buf)``, which copies the buffer: a segment
    file's parts are views of its memory map, so every search process held a copy of the
    whole index in its own memory (1.1 GB at 100,000 articles, ~11 GB at 1,000,000). Reads
    by position (``get``, what search/postings.py uses) read the map in place already."""
    self._buf = buf
    self._name = name
    self.file = _ViewFile(buf)
    self.onclose = onclose
    self.is_real = False
    self.is_closed = False


_PATCHED = whoosh.__version__ == (2, 7, 5)
if _PATCHED:
    BufferFile.__init__ = _buffer_file_init
    whoosh3.W3LeafMatcher._read_data = _read_data
    whoosh3.W3PerDocReader.doc_field_length = _cached_doc_field_length
    whoosh3.W3PostingsWriter._write_block = _write_block
    # (blocklimit, compression, inlinelimit): the codec of every writer and segment merge
    whoosh3.W3Codec.__init__.__defaults__ = (BLOCK_POSTINGS, 3, 1)
    PostingPool.add = _lean_pool_add


class IndexVersionError(RuntimeError):
    """The index on disk was built with a different token stream; it must be rebuilt."""


class IndexSettingError(ArchiveError):
    """A setting of the index is not understood (printed as one line by the CLI)."""


def pairs_wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether a new index gets the word pairs of phrases (``$PORTAL_ARCHIVE_PHRASE_PAIRS``:
    on, the default, or off)."""
    value = environ.get(ENV_PAIRS, "").strip().lower()
    if value in ("", "on", "1", "yes", "true"):
        return True
    if value in ("off", "0", "no", "false"):
        return False
    raise IndexSettingError(f"{ENV_PAIRS}={environ[ENV_PAIRS]!r}: expected on or off")


@dataclass
class IndexDoc:
    """One article, or one document (an attachment), as the index sees it.

    ``type`` is "article" or "document". ``doc_kinds`` are the kinds of a document ("Kế
    hoạch") or of the documents an article cites. ``year`` overrides the year of
    ``published`` (a draft dated only "tháng 3 năm 2024" has a year and no date). ``extra``
    is more searchable text (a document's issuer, signer and file name).
    """

    id: str
    portal: str
    unit: str
    title: str
    lead: str | None
    body: str
    published: datetime | date | None
    topics: list[str] = field(default_factory=list)
    doc_numbers: list[str] = field(default_factory=list)
    url: str = ""
    content_hash: str = ""
    type: str = "article"
    doc_kinds: list[str] = field(default_factory=list)
    year: int | None = None
    extra: str = ""
    units: list[str] = field(default_factory=list)  # unit keys: issuer and mentioned


def _text_field(ana: VietnameseAnalyzer, **kwargs: Any) -> TEXT:
    f = TEXT(analyzer=ana, phrase=True, **kwargs)
    f.format = VietnamesePositions(field_boost=f.format.field_boost)
    return f


def _pair_field() -> TEXT:
    """The body's word pairs with their positions, for phrases only: never scored (no
    length column), never stored."""
    f = TEXT(analyzer=PairAnalyzer(), phrase=True)
    f.format = VietnamesePositions()
    f.scorable = False
    return f


def make_schema(pairs: bool = True) -> Schema:
    """The index's fields; ``pairs``: with the word pairs of phrases."""
    ana = VietnameseAnalyzer()
    schema = Schema(
        id=ID(stored=True, unique=True, sortable=True),
        title=_text_field(ana, stored=True, field_boost=TITLE_BOOST),
        # title + lead + body + unit + cited numbers: every match is decided on this one field
        # (one matcher per word, one phrase per quoted phrase); title only adds to the score.
        # Positions for phrases; never stored (the database has the text).
        body=_text_field(ana),
        # body's adjacent folded words as one term ("cai cach"): a phrase is checked on these
        # (search.analysis.PairAnalyzer), not on the positions of every one of its words
        pairs=_pair_field(),
        lead=STORED(),
        url=STORED(),
        pub=STORED(),  # ISO date or datetime, to give back exactly what was indexed
        portal=ID(stored=True, sortable=True),
        topics=KEYWORD(stored=True, lowercase=True),
        topicset=ID(sortable=True),  # "cchc dvhc": one column value per combination, for facets
        year=ID(sortable=True),
        published=DATETIME(sortable=True),
        dated=ID(sortable=True),  # "1"/"0": undated articles sort last both ways
        content_hash=ID(sortable=True),
        type=ID(stored=True, sortable=True),  # "article" | "document"
        doc_kinds=KEYWORD(stored=True, lowercase=True),  # kind slugs: "ke-hoach quyet-dinh"
        doc_kindset=ID(sortable=True),  # the same as one column value, for facets
        # administrative-unit keys ("009@pre2025"): the issuer as on the publication date
        # and the units named (archive/unit_links.py); filters by unit read these postings
        units=KEYWORD(),
    )
    if not pairs:
        schema.remove("pairs")
    return schema


def local_naive(value: datetime | date) -> datetime:
    """The Vietnamese wall-clock time Whoosh indexes (naive); a date is its midnight."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(VN_TZ).replace(tzinfo=None)
        return value
    return datetime(value.year, value.month, value.day)


def parse_pub(value: str | None) -> datetime | date | None:
    if not value:
        return None
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


def _fields(doc: IndexDoc, pairs: bool = True) -> dict[str, Any]:
    """The Whoosh fields of ``doc``; ``pairs``: with the body's word pairs."""
    topics = sorted({t.strip().lower() for t in doc.topics if t.strip()})
    kinds = sorted({kind_slug(k) for k in doc.doc_kinds if k.strip()})
    parts = [doc.title, doc.lead or "", doc.body, doc.unit, " ".join(doc.doc_numbers), doc.extra]
    body = "\n".join(p for p in parts if p)
    fields: dict[str, Any] = {
        "id": doc.id,
        "title": doc.title,
        "body": body,
        "lead": doc.lead or "",
        "url": doc.url,
        "portal": doc.portal,
        "topicset": " ".join(topics),
        "content_hash": doc.content_hash,
        "type": doc.type,
        "doc_kindset": " ".join(kinds),
    }
    if pairs:
        fields["pairs"] = body  # the same object: its tokens are reused (search.analysis)
    if topics:
        fields["topics"] = " ".join(topics)
    if kinds:
        fields["doc_kinds"] = " ".join(kinds)
    if doc.units:
        fields["units"] = " ".join(sorted(set(doc.units)))
    if doc.published is not None:
        fields["published"] = local_naive(doc.published)
        fields["pub"] = doc.published.isoformat()
        fields["year"] = str(doc.published.year)
        fields["dated"] = "1"
    else:
        fields["pub"] = ""
        fields["year"] = ""
        fields["dated"] = "0"
    if doc.year is not None:
        fields["year"] = str(doc.year)
    return fields


def _chunks(items: Iterable[IndexDoc], size: int) -> Iterator[list[IndexDoc]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _opened(open_: Callable[[], Any], attempts: int = 5) -> Any:
    """``open_()`` (the index, or a searcher of its latest commit), again when a file of the
    commit it read was gone: the indexer's next commit deletes the table of contents and the
    merged segments of the one before, between a reader's listing and its opening them
    (seen once in CI as a FileNotFoundError of a search beside a writing indexer)."""
    for attempt in range(attempts):
        try:
            return open_()
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def merge_tiered(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh merge policy: segments in tiers by size (``floor(log10(documents))``, as
    Lucene's LogMergePolicy); when a tier holds :data:`MERGE_FACTOR` segments, the smallest
    of them are merged into one, unless that one would exceed :data:`MAX_MERGED_DOCS`.

    Why not Whoosh's default (``MERGE_SMALL``): its merge point grows with the Fibonacci
    numbers, so an index built in equal commits is merged whole again and again; at 240,000
    generated articles one commit merged all 24 segments in the committing process, which
    had written 12 GB of sort runs and not finished after 13 minutes (bench/
    bench_search_backends.py, 2026-12-06). Here a document is merged about once per tier,
    and segments of the cap are left alone.
    """
    from whoosh.reading import SegmentReader

    tiers: dict[int, list[Any]] = {}
    for seg in segments:
        tiers.setdefault(len(str(max(seg.doc_count_all(), 1))), []).append(seg)
    merging: list[Any] = []
    for _tier, segs in sorted(tiers.items()):
        if len(segs) < MERGE_FACTOR:
            continue
        segs.sort(key=lambda seg: seg.doc_count_all())
        group = segs[:MERGE_FACTOR]
        if sum(seg.doc_count_all() for seg in group) <= MAX_MERGED_DOCS:
            merging = group
            break  # one merge a commit: the smallest tier that is due
    if not merging:
        return segments
    for seg in merging:
        reader = SegmentReader(writer.storage, writer.schema, seg)
        writer.add_reader(reader)
        reader.close()
    merged = {id(seg) for seg in merging}
    return [seg for seg in segments if id(seg) not in merged]


class SearchIndex:
    """A Whoosh index directory; created with the schema when missing.

    ``procs``, ``limitmb`` and ``batch_size`` tune bulk writes (see module doc); the defaults
    are the measured best on 2 cores. Commits merge segments by :func:`merge_tiered`.
    """

    def __init__(
        self,
        path: Path,
        *,
        procs: int = DEFAULT_PROCS,
        limitmb: int = DEFAULT_LIMITMB,
        batch_size: int = DEFAULT_BATCH_SIZE,
        multisegment: bool = True,
        recreate: bool = False,
    ) -> None:
        self.path = Path(path)
        if recreate and self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        version_file = self.path / VERSION_FILE
        if whoosh_index.exists_in(str(self.path)):
            self.ix = _opened(lambda: whoosh_index.open_dir(str(self.path)))
            built = getattr(self.ix.schema["body"].analyzer, "built_version", None)
            schema = version_file.read_text().strip() if version_file.is_file() else "1"
            if built != VietnameseAnalyzer.version or schema != str(SCHEMA_VERSION):
                self.ix.close()
                raise IndexVersionError(
                    f"the search index in {self.path} was built by an earlier version "
                    f"(schema {schema}, analyzer {built}; this version: schema "
                    f"{SCHEMA_VERSION}, analyzer {VietnameseAnalyzer.version}): rebuild it "
                    "with `portal-archive index --rebuild`"
                )
        else:
            self.ix = whoosh_index.create_in(str(self.path), make_schema(pairs_wanted()))
            version_file.write_text(f"{SCHEMA_VERSION}\n")
        self.procs = procs
        self.limitmb = limitmb
        self.batch_size = batch_size
        self.multisegment = multisegment
        self._searcher: Searcher | None = None
        self.has_pairs = "pairs" in self.ix.schema

    # --- reading ---------------------------------------------------------------------------

    def searcher(self) -> Searcher:
        """A shared searcher, refreshed when the index changed; do not close it."""
        if self._searcher is None:
            self._searcher = _opened(self.ix.searcher)
        elif not self._searcher.up_to_date():
            # Not Searcher.refresh(): in whoosh-reloaded 2.7.5 it reuses segment readers by
            # segment id, so deletions committed since stay invisible (and it crashes when
            # the old reader was of an empty index). A fresh searcher is cheap.
            self._searcher.close()
            self._searcher = _opened(self.ix.searcher)
        return self._searcher

    def doc_count(self) -> int:
        return self.searcher().doc_count()

    def indexed_hashes(self) -> dict[str, str]:
        """id -> content_hash of every live document, read from columns (no stored fields)."""
        reader = self.searcher().reader()
        if reader.doc_count_all() == 0:
            return {}  # an empty index's reader has no columns at all
        ids = reader.column_reader("id")
        hashes = reader.column_reader("content_hash")
        return {_text(ids[n]): _text(hashes[n]) for n in reader.all_doc_ids()}

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self.ix.close()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ---------------------------------------------------------------------------

    def _writer(self, n_docs: int) -> Any:
        if self.procs > 1 and n_docs >= MP_MIN_DOCS:
            return self.ix.writer(
                procs=self.procs,
                multisegment=self.multisegment,
                limitmb=self.limitmb,
                batchsize=max(50, min(500, n_docs // (self.procs * 4) or 1)),
            )
        return self.ix.writer(limitmb=self.limitmb)

    def update(
        self,
        docs: Iterable[IndexDoc],
        *,
        progress: Callable[[int], None] | None = None,
        bulk: bool = False,
    ) -> int:
        """Add or replace documents by id; returns how many were written.

        A document repeated in ``docs`` is written once (the last one wins). ``progress``
        is called with the running count after each committed batch. ``bulk`` (a rebuild):
        batches of at least :data:`BULK_BATCH_SIZE`, and no merging.
        """
        live = self._live_ids()
        done = 0
        size = max(self.batch_size, BULK_BATCH_SIZE) if bulk else self.batch_size
        for chunk in _chunks(docs, size):
            by_id = {d.id: d for d in chunk}  # last wins; a writer cannot delete its own adds
            writer = self._writer(len(by_id))
            try:
                stale = [i for i in by_id if i in live]
                if stale:
                    searcher = writer.searcher()
                    for doc_id in stale:
                        writer.delete_by_term("id", doc_id, searcher=searcher)
                for doc in by_id.values():
                    writer.add_document(**_fields(doc, self.has_pairs))
            except BaseException:
                writer.cancel()
                raise
            if bulk:
                writer.commit(merge=False)
            else:
                writer.commit(mergetype=merge_tiered)
            live.update(by_id)
            done += len(by_id)
            if progress is not None:
                progress(done)
        return done

    def delete(self, ids: Iterable[str]) -> int:
        """Delete documents by id; returns how many were deleted."""
        wanted = [i for i in dict.fromkeys(ids) if i]
        if not wanted:
            return 0
        writer = self.ix.writer()
        try:
            searcher = writer.searcher()
            count = sum(writer.delete_by_term("id", i, searcher=searcher) for i in wanted)
        except BaseException:
            writer.cancel()
            raise
        if count:
            writer.commit(mergetype=merge_tiered)
        else:
            writer.cancel()
        return count

    def _live_ids(self) -> set[str]:
        reader = self.searcher().reader()
        if reader.doc_count() == 0:
            return set()
        return {_text(t) for t in reader.lexicon("id")}


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
