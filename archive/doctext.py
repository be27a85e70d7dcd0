"""Plain text out of attachments (PDF, Word, spreadsheets, ODT, RTF, ZIP), bounded in time and
memory, so that the archive can index what articles link to.

Usage::

    doc = extract_text(data, "quyet-dinh.pdf")   # DocText; raises DocTextError for bad files
    doc.text, doc.kind, doc.method, doc.ocr, doc.legacy_encoding

Type sniffing
-------------
:func:`sniff` decides by content: ``%PDF-`` in the first KiB; a ZIP (``PK``) is ``odt`` when its
``mimetype`` member says so, ``docx``/``xlsx`` when ``[Content_Types].xml`` sits beside
``word/document.xml``/``xl/workbook.xml``, otherwise ``zip``; an OLE2 compound file
(``D0 CF 11 E0``) is ``doc`` when it holds a ``WordDocument`` stream and ``xls`` when it holds a
``Workbook``/``Book`` stream; ``{\\rtf`` is ``rtf``. The file name is only a tie-breaker (an OLE
file holding both stream names, a ZIP too broken to list); a lying extension never wins over the
bytes, and bytes of no known type are ``unknown`` whatever the name says.

PDF: pypdfium2, not pdfminer.six (measured 2026-11-22 on the 4 real PDFs in shared/samples/real)
-------------------------------------------------------------------------------------------------
========================  =====  ===================  ===================
file                      pages  pypdfium2            pdfminer.six
========================  =====  ===================  ===================
qd-07-2022 (signed)           2  0.020 s, 3,576 ch    0.318 s, 3,801 ch
tb-thu-hoi-dat (signed)       3  0.012 s, 5,635 ch    0.224 s, 5,924 ch
qd-04-2021 Chợ Mới            7  0.018 s, 14,343 ch   0.411 s, 15,295 ch
cv-lay-y-kien (scan)          2  0 ch                 2 ch (form feeds)
========================  =====  ===================  ===================

* Diacritics: both give NFC text with every tone mark intact and no U+FFFD; after NFC the word
  multisets are identical on two files, and on the third pdfium is *better* (it keeps ``của``
  whole where pdfminer splits it into ``củ a``). The extra characters of pdfminer are the double
  spaces of justified lines and blank lines, not text.
* Reading order: pdfium follows the content stream, which for these Word-made files is the
  writing order; pdfminer's layout analysis splits the two-column header block (issuer | motto)
  into separate paragraphs. Neither is wrong for search; pdfium keeps "Số: …" and the date line
  next to each other as Word wrote them.
* Speed: pdfium is 15-25x faster: 150-420 pages/s against 6-17 pages/s for pdfminer
  (``bench/doctext.py``, median of 3), and it renders pages for OCR, which pdfminer cannot.
* pdfium writes U+FFFE for a hyphen it considers a line-break hyphen, even inside document
  numbers (``169/TTr\\ufffePKTHT`` in qd-07-2022); it is mapped back to ``-``.

A page whose text layer has fewer than :data:`MIN_PAGE_CHARS` non-space characters and that
holds an image is rendered at :data:`OCR_DPI` dpi (grey, longest side capped at
:data:`OCR_MAX_SIDE` px) and read by the ``tesseract`` command (``-l vie``; PGM on stdin, text
on stdout). On the RICOH scan (2 A3-size pages) that costs 2.5 s per page, rendering and the
child included, with ``OMP_THREAD_LIMIT=1``, which the child sets unless the caller did: one core
per file, and faster anyway here (2 threads on 2 cores: 6.3 s for the two pages, 1 thread: 5.0 s).
Without tesseract (or with ``ocr=False``) such pages give no text and a warning.

Word and the others
-------------------
* DOCX: python-docx opens the package; the XML is walked in document order (paragraphs, tables
  as tab-joined rows, content controls, text boxes once), then headers, footers, footnotes and
  endnotes. Only ``w:t`` text is taken. That is what removes the "6489703238500" seen when the
  real An Phú DOCX is read naively: it is the concatenation of the non-text nodes of a drawing
  anchor (a "Straight Connector" line under the header: ``wp:posOffset`` 648970 and 32385,
  ``wp14:pctWidth`` 0 and ``wp14:pctHeight`` 0). Page-number fields (PAGE, NUMPAGES) are
  dropped, so a header holding only the page number adds nothing. Paragraph tabs become spaces:
  a tab in the output always separates table cells.
* DOC: ``antiword`` (UTF-8 output), ``catdoc`` when antiword fails or finds no text (Word 6/95).
* XLS: xlrd; XLSX: openpyxl (read-only, cached values); one line per row, cells tab-joined, a
  ``[sheet name]`` line before each sheet.
* ODT: ``content.xml`` walked with lxml (paragraphs, headings, lists, tables, ``text:s``).
* RTF: a small parser (:func:`_rtf_to_text`): ``\\uN`` with ``\\ucN`` skipping, ``\\'hh`` decoded
  with the font's ``\\fcharset`` or the document's ``\\ansicpg`` (1258 included), ignorable
  destinations and font/colour/style tables skipped, ``\\cell``/``\\row`` as tab/newline.
* HTML: a Word document saved as a web page and still named ``.doc`` (common on district
  portals), or an ``.htm`` attachment: decoded as pages are (:func:`archive.legacy.
  decode_html_bytes`), scripts, styles and Word's conditional comments dropped, block elements
  as lines, table rows as tab-joined cells.
* ZIP: members are sniffed and extracted in memory (nothing is written, so member names cannot
  traverse paths), nested archives to depth :data:`MAX_ZIP_DEPTH`, the total uncompressed size
  capped at ``max_bytes``. Each member's text follows a ``[member name]`` line.
* Every text except OCR output goes through :func:`archive.legacy.fix_legacy`: TCVN3/VNI
  garbage is converted only when detected (``legacy_encoding`` says which); an RTF whose bytes
  were decoded as windows-1258 reports ``"cp1258"``. Output is NFC, one paragraph per line,
  spaces collapsed, blank lines dropped.

Isolation, and what it costs
----------------------------
:func:`extract_text` runs the extractor in a fresh child (``python -c`` via ``subprocess``, in a
new session). The child sets ``RLIMIT_AS`` (``memory_limit``, default 1 GiB; the OCR of the A3
scan passes at 200 MiB and fails cleanly at 80 MiB), ``RLIMIT_CPU`` and ``RLIMIT_FSIZE`` on itself
before reading the input; tesseract, antiword and catdoc inherit them. The parent waits
``timeout`` seconds of wall clock, then kills the child's whole process group (OCR included) and
raises :class:`DocTextError`; a crash, a MemoryError or a parse error become a ``DocTextError``
with a one-line message, never a traceback. A fresh child per file (not a pool) means no state
leaks between hostile files and killing one never takes another file's work with it.
Cost (``bench/doctext.py``, 2 cores): about 70 ms for a tiny RTF (interpreter start 30 ms +
importing this module 40 ms) and 120-130 ms for a PDF or DOCX (plus importing pypdfium2 or
python-docx), against 10-20 ms to read the same 2-7 page file in process. That is small next
to fetching the attachment over the network and a bounded crawl is worth it, so every file gets a
child. A crawl that must go faster can run several calls in threads: each child is its own
process.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from archive.legacy import fix_legacy
from archive.text import nfc

__all__ = [
    "KINDS",
    "DocText",
    "DocTextError",
    "extract_text",
    "ocr_available",
    "sniff",
]

KINDS = ("pdf", "docx", "doc", "xlsx", "xls", "odt", "rtf", "html", "zip", "unknown")
MIN_PAGE_CHARS = 20
"""A PDF page with fewer non-space characters in its text layer is a candidate for OCR."""
OCR_DPI = 300
OCR_MAX_SIDE = 7000
"""Longest side in pixels of a page rendered for OCR (49 MB of grey at most)."""
MAX_ZIP_DEPTH = 2
MAX_ZIP_MEMBERS = 500
DEFAULT_MEMORY_LIMIT = 1 << 30


@dataclass
class DocText:
    """Text of one attachment and how it was obtained."""

    text: str
    """NFC; paragraphs separated by ``\\n``; table rows as tab-separated cells."""
    kind: str
    """Sniffed real type, one of :data:`KINDS`."""
    pages: int | None
    """PDF pages; for DOCX the count Word stored in docProps/app.xml; else None."""
    method: str
    """How the text was obtained: "text-layer", "ocr", "text-layer+ocr", "docx", "antiword",
    "catdoc", "xlrd", "openpyxl", "odt-xml", "rtf", "zip", "none"."""
    ocr: bool = False
    legacy_encoding: str | None = None
    members: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class DocTextError(Exception):
    """The file cannot be read: corrupt, encrypted, too large, too slow or too hungry."""


# --- sniffing ------------------------------------------------------------------------------

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODT_MIME = b"application/vnd.oasis.opendocument.text"


def _ext(filename: str | None) -> str:
    if not filename:
        return ""
    return Path(filename.replace("\\", "/")).suffix.lower().lstrip(".")


def sniff(data: bytes, filename: str | None = None) -> str:
    """Return the real type of ``data`` (one of :data:`KINDS`) from its bytes; ``filename``
    only breaks ties the bytes leave open."""
    ext = _ext(filename)
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(data, ext)
    if data.startswith(_OLE_MAGIC):
        is_doc = "WordDocument".encode("utf-16-le") in data
        is_xls = any(n.encode("utf-16-le") + b"\0\0" in data for n in ("Workbook", "Book"))
        if is_doc and is_xls:
            return "xls" if ext in ("xls", "xlt") else "doc"
        if is_doc:
            return "doc"
        if is_xls:
            return "xls"
        return "unknown"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"{\\rtf"):
        return "rtf"
    if _HTML_START.match(start) or (start.startswith(b"<?xml") and b"<html" in head.lower()):
        return "html"  # a Word "web page" saved as .doc, an .htm attachment
    return "unknown"


_HTML_START = re.compile(rb"<(?:!doctype\s+html|html[\s>])", re.IGNORECASE)


def _sniff_zip(data: bytes, ext: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                mime = zf.read("mimetype")[:100].strip()
                if mime == _ODT_MIME:
                    return "odt"
                if mime.startswith(b"application/vnd.oasis.opendocument"):
                    return "unknown"  # spreadsheet, presentation, ...: not extracted
            if "[Content_Types].xml" in names:
                if "word/document.xml" in names:
                    return "docx"
                if "xl/workbook.xml" in names:
                    return "xlsx"
                return "unknown"  # pptx and friends
            return "zip"
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, KeyError):
        # Too broken to list (truncated central directory): trust the local headers a little.
        if data[30:38] == b"mimetype" and _ODT_MIME in data[38:120]:
            return "odt"
        if ext in ("docx", "xlsx", "odt"):
            return ext
        return "zip"


# --- OCR availability ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def ocr_available() -> bool:
    """True when the ``tesseract`` command and its Vietnamese model (``vie``) are installed."""
    exe = shutil.which("tesseract")
    if not exe:
        return False
    try:
        out = subprocess.run(
            [exe, "--list-langs"], capture_output=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "vie" in out.decode("utf-8", "replace").split()


# --- public entry point (parent side) ---------------------------------------------------------

_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
_CHILD_CODE = "from archive.doctext import _child_main; _child_main()"


def extract_text(
    data: bytes,
    filename: str | None = None,
    *,
    ocr: bool = True,
    timeout: float = 60,
    max_bytes: int = 50_000_000,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
) -> DocText:
    """Extract the text of an attachment in a child process.

    ``data`` is sniffed (:func:`sniff`); bytes of no known type give ``kind="unknown"`` and
    empty text with a warning, without starting a child. Otherwise the extractor runs in a child
    limited to ``timeout`` seconds of wall clock and ``memory_limit`` bytes of address space.
    ``max_bytes`` caps the input and, for ZIP files, the total uncompressed size of the
    members read. ``ocr=False`` skips OCR of scanned PDF pages (they give a warning instead).

    Raises :class:`DocTextError` with a one-line message for a file that is corrupt,
    encrypted, too large, or that runs out of time or memory.
    """
    if len(data) > max_bytes:
        raise DocTextError(f"file too large: {len(data):,} bytes > max_bytes={max_bytes:,}")
    kind = sniff(data, filename)
    if kind == "unknown":
        return DocText(
            text="",
            kind="unknown",
            pages=None,
            method="none",
            warnings=["unrecognised file type (no known magic bytes); nothing extracted"],
        )
    options = {
        "filename": filename,
        "ocr": bool(ocr),
        "timeout": float(timeout),
        "max_bytes": int(max_bytes),
        "memory_limit": int(memory_limit),
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PROJECT_ROOT, env.get("PYTHONPATH")]))
    env.setdefault("OMP_THREAD_LIMIT", "1")  # tesseract: one thread per file, crawls run many
    env["PYTHONIOENCODING"] = "utf-8"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD_CODE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # own process group: a timeout kills OCR helpers too
    )
    try:
        out, err = proc.communicate(json.dumps(options).encode() + b"\n" + data, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise DocTextError(
            f"{kind} extraction timed out after {timeout:g} s (child process killed)"
        ) from None
    except BaseException:  # KeyboardInterrupt, broken pipe: leave nothing running
        _kill_group(proc)
        raise
    if proc.returncode != 0:
        _kill_group(proc)  # a crashed child may leave tesseract/antiword behind
        raise DocTextError(f"{kind} extractor failed: {_describe_exit(proc.returncode, err)}")
    try:
        result = json.loads(out)
    except ValueError:
        raise DocTextError(f"{kind} extractor returned no result") from None
    if "error" in result:
        raise DocTextError(result["error"])
    return DocText(**result["doc"])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.returncode is None:
        try:
            proc.communicate(timeout=5)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            pass


def _describe_exit(rc: int, err: bytes) -> str:
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        hint = " (memory limit or crash in a C library)" if name in ("SIGSEGV", "SIGABRT") else ""
        return f"child killed by {name}{hint}"
    lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
    return f"child exited with status {rc}" + (f": {lines[-1][:300]}" if lines else "")


# --- child side -----------------------------------------------------------------------------


def _child_main() -> None:
    """Entry point of the child: limits, read options and bytes from stdin, JSON to stdout."""
    import resource

    header = sys.stdin.buffer.readline()
    options = json.loads(header)
    limit = options["memory_limit"]
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = int(options["timeout"]) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    fsize = options["max_bytes"] + (1 << 20)
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    data = sys.stdin.buffer.read()
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # libraries that print must not corrupt the result
    deadline = time.monotonic() + options["timeout"]
    try:
        doc = _extract_local(
            data,
            options["filename"],
            ocr=options["ocr"],
            deadline=deadline,
            max_bytes=options["max_bytes"],
        )
        result: dict[str, object] = {"doc": asdict(doc)}
    except DocTextError as e:
        result = {"error": str(e)}
    except MemoryError:
        result = {"error": f"out of memory (limit {limit >> 20} MiB)"}
    except Exception as e:  # a library choking on a hostile file: one line, no traceback
        result = {"error": f"cannot read file: {type(e).__name__}: {str(e)[:300]}"}
    real_stdout.buffer.write(json.dumps(result, ensure_ascii=False).encode("utf-8"))
    real_stdout.flush()


def _extract_local(
    data: bytes,
    filename: str | None,
    *,
    ocr: bool = True,
    deadline: float | None = None,
    max_bytes: int = 50_000_000,
    depth: int = 0,
) -> DocText:
    """Extract in this process, without isolation (the child's worker; benchmarks)."""
    kind = sniff(data, filename)
    if deadline is None:
        deadline = time.monotonic() + 3600
    ctx = _Ctx(ocr=ocr, deadline=deadline, max_bytes=max_bytes, depth=depth)
    if kind == "unknown":
        return DocText("", "unknown", None, "none", warnings=["unrecognised file type"])
    extractor = _EXTRACTORS[kind]
    doc = extractor(data, filename, ctx)
    doc.kind = kind
    if kind != "zip":
        doc.text, enc = _finish(doc.text, legacy=doc.method != "ocr")
        if enc:
            doc.legacy_encoding = enc
            doc.warnings.append(f"legacy {enc.upper()} text converted to Unicode")
    return doc


@dataclass
class _Ctx:
    ocr: bool
    deadline: float
    max_bytes: int
    depth: int

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DocTextError("extraction timed out")
        return left


_SPACES = re.compile(r"[ \u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_CONTROL = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32), 0x7F], " ")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")


def _finish(text: str, *, legacy: bool = True) -> tuple[str, str | None]:
    """Legacy-font repair (before the soft hyphen, TCVN3's ``ư``, is deleted), then NFC, one
    paragraph per line, spaces collapsed, tabs kept (they separate table cells)."""
    text = _LINE_BREAKS.sub("\n", text)
    enc = None
    if legacy:
        text, enc = fix_legacy(text)
    text = nfc(text).translate(_INVISIBLE).translate(_CONTROL)
    lines = []
    for line in text.split("\n"):
        cells = [_SPACES.sub(" ", c).strip() for c in line.split("\t")]
        while cells and not cells[-1]:  # RTF's last \cell, empty trailing columns
            cells.pop()
        if cells:
            lines.append("\t".join(cells))
    return "\n".join(lines), enc


# --- PDF --------------------------------------------------------------------------------------


def _pdf_page_text(page: object) -> str:
    textpage = page.get_textpage()  # type: ignore[attr-defined]
    try:
        text = textpage.get_text_range()
    finally:
        textpage.close()
    # U+FFFE: pdfium's mark for a hyphen it thinks ends a line; U+0002 in some builds.
    return text.replace("\ufffe", "-").replace("\x02", "-")


def _extract_pdf(data: bytes, filename: str | None, ctx: _Ctx) -> DocText:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        msg = str(e)
        if "password" in msg.lower():
            raise DocTextError("encrypted PDF (needs a password)") from None
        raise DocTextError(f"corrupt or unreadable PDF: {msg}") from None
    warnings: list[str] = []
    texts: list[str] = []
    ocr_pages = text_pages = 0
    try:
        n = len(pdf)
        can_ocr = ctx.ocr and ocr_available()
        for i in range(n):
            ctx.remaining()
            page = pdf[i]
            try:
                text = _pdf_page_text(page)
                if len("".join(text.split())) >= MIN_PAGE_CHARS:
                    texts.append(text)
                    text_pages += 1
                    continue
                has_image = any(
                    True for _ in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,))
                )
                if not has_image:
                    texts.append(text)
                    continue
                if not can_ocr:
                    why = "OCR disabled" if not ctx.ocr else "tesseract (vie) not installed"
                    warnings.append(f"page {i + 1}: no text layer, image only; {why}")
                    texts.append(text)
                    continue
                texts.append(_ocr_page(page, ctx))
                ocr_pages += 1
            finally:
                page.close()
    finally:
        pdf.close()
    if ocr_pages and text_pages:
        method = "text-layer+ocr"
    elif ocr_pages:
        method = "ocr"
    else:
        method = "text-layer"
    if not any(t.strip() for t in texts):
        warnings.append("no text found")
    return DocText("\n".join(texts), "pdf", n, method, ocr=bool(ocr_pages), warnings=warnings)


def _ocr_page(page: object, ctx: _Ctx) -> str:
    width, height = page.get_size()  # type: ignore[attr-defined]
    scale = min(OCR_DPI / 72, OCR_MAX_SIDE / max(width, height, 1))
    bitmap = page.render(scale=scale, grayscale=True)  # type: ignore[attr-defined]
    w, h, stride = bitmap.width, bitmap.height, bitmap.stride
    buf = bytes(bitmap.buffer)
    if bitmap.n_channels != 1:  # some builds render grey as BGR(x): keep one channel
        step = bitmap.n_channels
        rows = b"".join(buf[y * stride : y * stride + w * step : step] for y in range(h))
    elif stride != w:
        rows = b"".join(buf[y * stride : y * stride + w] for y in range(h))
    else:
        rows = buf
    del buf
    pgm = b"P5\n%d %d\n255\n" % (w, h) + rows
    del rows
    dpi = round(scale * 72)
    try:
        proc = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", "vie", "--dpi", str(dpi)],
            input=pgm,
            capture_output=True,
            timeout=ctx.remaining(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DocTextError("OCR timed out") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DocTextError(f"tesseract failed: {err[-1] if err else proc.returncode}")
    return proc.stdout.decode("utf-8", "replace")


# --- DOCX -------------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_PAGE_FIELD = re.compile(r"^\s*(PAGE|NUMPAGES|SECTIONPAGES)\b", re.I)
_DOCX_PARTS = re.compile(r"^/word/(header|footer|footnotes|endnotes)\d*\.xml$")


class _DocxWalker:
    """Document-order text of WordprocessingML: only ``w:t`` text (plus tabs, breaks and
    no-break hyphens) is read, so drawing-anchor numbers never leak into the text."""

    def __init__(self) -> None:
        self.field_stack: list[list[object]] = []  # [instruction text, hide result?]

    def blocks(self, parent: object) -> Iterator[str]:
        for child in parent:  # type: ignore[attr-defined]
            tag = child.tag
            if tag == _W + "p":
                yield from self.paragraph(child)
            elif tag == _W + "tbl":
                yield from self.table(child)
            elif tag in (_W + "sdt", _W + "sdtContent", _W + "customXml", _W + "txbxContent"):
                yield from self.blocks(child)

    def paragraph(self, p: object) -> Iterator[str]:
        out: list[str] = []
        boxes: list[str] = []
        self._inline(p, out, boxes)
        yield "".join(out)
        yield from boxes

    def table(self, tbl: object) -> Iterator[str]:
        for tr in tbl.iter(_W + "tr"):  # type: ignore[attr-defined]
            if tr.getparent() is not tbl and tr.getparent().tag != _W + "sdtContent":
                continue  # rows of nested tables are read through their cell
            cells = []
            for tc in tr.iter(_W + "tc"):
                if tc.getparent() is not tr and tc.getparent().tag != _W + "sdtContent":
                    continue
                cell = " ".join(line.replace("\t", " ") for line in self.blocks(tc))
                cells.append(" ".join(cell.split()))
            if any(cells):
                yield "\t".join(cells)

    def _hidden(self) -> bool:
        return any(f[1] for f in self.field_stack)

    def _inline(self, el: object, out: list[str], boxes: list[str]) -> None:
        for child in el:  # type: ignore[attr-defined]
            tag = child.tag
            if not isinstance(tag, str):
                continue  # comments, processing instructions
            if tag == _W + "t":
                if not self._hidden():
                    out.append(child.text or "")
            elif tag == _W + "tab":
                out.append(" ")
            elif tag in (_W + "br", _W + "cr"):
                out.append("\n")
            elif tag == _W + "noBreakHyphen":
                out.append("-")
            elif tag == _W + "fldChar":
                kind = child.get(_W + "fldCharType")
                if kind == "begin":
                    self.field_stack.append(["", False])
                elif kind == "separate" and self.field_stack:
                    f = self.field_stack[-1]
                    f[1] = bool(_PAGE_FIELD.match(str(f[0])))
                elif kind == "end" and self.field_stack:
                    self.field_stack.pop()
            elif tag == _W + "instrText":
                if self.field_stack:
                    self.field_stack[-1][0] = str(self.field_stack[-1][0]) + (child.text or "")
            elif tag == _W + "fldSimple":
                if not _PAGE_FIELD.match(child.get(_W + "instr") or ""):
                    self._inline(child, out, boxes)
            elif tag in (_W + "delText", _W + "del", _W + "moveFrom", _MC + "Fallback"):
                continue  # deleted text; Fallback repeats the Choice (VML copy of a shape)
            elif tag == _W + "txbxContent":
                boxes.extend(self.blocks(child))
            elif tag in (_W + "p", _W + "tbl"):  # shouldn't be inline, but be lenient
                boxes.extend(self.blocks([child]))
            else:
                self._inline(child, out, boxes)


def _extract_docx(data: bytes, filename: str | None, ctx: _Ctx) -> DocText:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml import etree

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise DocTextError(f"corrupt DOCX: {type(e).__name__}: {e}") from None
    except etree.XMLSyntaxError as e:
        raise DocTextError(f"corrupt DOCX (bad XML): {e}") from None
    walker = _DocxWalker()
    body = list(walker.blocks(document.element.body))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    extra: dict[str, list[str]] = {"header": [], "footer": [], "footnotes": [], "endnotes": []}
    pages = None
    for part in document.part.package.iter_parts():
        name = str(part.partname)
        m = _DOCX_PARTS.match(name)
        if m:
            try:
                root = etree.fromstring(part.blob, parser)
            except etree.XMLSyntaxError:
                continue
            # w:hdr/w:ftr hold paragraphs; w:footnotes/w:endnotes hold w:footnote/w:endnote
            containers = [root] if m.group(1) in ("header", "footer") else list(root)
            for container in containers:
                extra[m.group(1)].extend(_DocxWalker().blocks(container))
        elif name == "/docProps/app.xml":
            found = re.search(rb"<(?:\w+:)?Pages>(\d+)<", part.blob)
            pages = int(found.group(1)) if found else None
    seen = set(body)
    head = _dedupe(extra["header"], seen)
    tail = _dedupe(extra["footer"] + extra["footnotes"] + extra["endnotes"], seen)
    return DocText("\n".join(head + body + tail), "docx", pages, "docx")


def _dedupe(lines: list[str], seen: set[str]) -> list[str]:
    out = []
    for line in lines:
        key = line.strip()
        if key and key not in seen:
            seen.add(key)
            out.append(line)
    return out


# --- DOC (Word 97-2003 and older) --------------------------------------------------------------


def _extract_doc(data: bytes, filename: str | None, ctx: _Ctx) -> DocText:
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="doctext-") as tmp:
        path = os.path.join(tmp, "input.doc")  # fixed name: the attachment's name is never used
        with open(path, "wb") as f:
            f.write(data)
        attempts = (
            ("antiword", ["antiword", "-m", "UTF-8.txt", "-w", "0", path]),
            ("catdoc", ["catdoc", "-d", "utf-8", "-w", path]),
        )
        for method, cmd in attempts:
            if not shutil.which(cmd[0]):
                warnings.append(f"{cmd[0]} not installed")
                continue
            try:
                proc = subprocess.run(
                    cmd, capture_output=True, timeout=ctx.remaining(), check=False
                )
            except subprocess.TimeoutExpired:
                raise DocTextError(f"{method} timed out") from None
            text = proc.stdout.decode("utf-8", "replace")
            if proc.returncode == 0 and text.strip():
                return DocText(text, "doc", None, method, warnings=warnings)
            err = proc.stderr.decode("utf-8", "replace").replace(path, "file").strip()
            lines = err.splitlines()
            warnings.append(f"{method}: {lines[-1][:200] if lines else 'no text'}")
    raise DocTextError("unreadable Word .doc file (" + "; ".join(warnings) + ")")


# --- spreadsheets -----------------------------------------------------------------------------


def _cell_str(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if hasattr(value, "isoformat"):
        text = value.isoformat()  # type: ignore[attr-defined]
        return text[:-9] if text.endswith("T00:00:00") else text
    return " ".join(str(value).split())


def _rows_to_lines(rows: Iterator[list[str]]) -> Iterator[str]:
    for cells in rows:
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            yield "\t".join(cells)


def _extract_xlsx(data: bytes, filename: str | None, ctx: _Ctx) -> DocText:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many types for broken packages
        raise DocTextError(f"corrupt XLSX: {type(e).__name__}: {e}") from None
    lines: list[str] = []
    try:
        for ws in wb.worksheets:
            ctx.remaining()
            lines.append(f"[{ws.title}]")
            rows = ([_cell_str(v) for v in row] for row in ws.iter_rows(values_only=True))
            lines.extend(_rows_to_lines(rows))
    finally:
        wb.close()
    return DocText("\n".join(lines), "xlsx", None, "openpyxl")


def _extract_xls(data: bytes, filename: str | None, ctx: _Ctx) -> DocText:
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except Exception as e:  # xlrd.XLRDError, struct errors, ...
        raise DocTextError(f"corrupt XLS: {type(e).__name__}: {e}") from None
    lines: list[str] = []
    try:
        for idx in range(book.nsheets):
            ctx.remaining()
            sheet = book.sheet_by_index(idx)
            lines.append(f"[{sheet.name}]")
            rows = []
            for r in range(sheet.nrows):
                cells = []
                for c in sheet.row(r):
                    if c.ctype == xlrd.XL_CELL_DATE:
                        try:
                            cells.append(_cell_str(xlrd.xldate_as_datetime(c.value, book.datemode)))
                            continue
                        except (ValueError, OverflowError):
                            pass
                    if c.ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                        cells.append("")
                    elif c.ctype == xlrd.XL_CELL_BOOLEAN:
                        cells.append("TRUE" if c.value else "FALSE")
                    else:
                        cells.append(_cell_str(c.value))
                rows.append(cells)
            lines.extend(_rows_to_lines(iter(rows)))
            book.unload_sheet(idx)
    finally:
        book.release_resources()
    return DocText("\n".join(lines), "xls", None, "xlrd")


# --- ODT --------------------------------------------------------------------------------------

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_ODT_SKIP = {
    _TEXT + "note-citation",
    _OFFICE + "annotation",
    _TEXT + "tracked-changes",
    _TEXT + "sequence-decls",
    _TEXT + "variable-decls",
}


def _odt_inline(el: object, out: list[str]) -> None:
    if el.text:  # type: ignore[attr-defined]
        out.append(el.text)  # type: ignore[attr-defined]
    for child in el:  # type: ignore[attr-defined]
        tag = child.tag
        if isinstance(tag, str) and tag not in _ODT_SKIP:
            if tag == _TEXT + "s":
                out.append(" " * min(int(child.get(_TEXT + "c", "1") or 1), 100))
            elif tag == _TEXT + "tab":
                out.append(" ")
            elif tag == _TEXT + "line-break":
                out.append("\n")
            elif tag == _TEXT + "note":  # footnote/endnote: its own line, without the mark
                body = child.find(_TEXT + "note-body")
                if body is not None:
                    out.append("\n" + " ".join(_odt_blocks(body)) + "\n")
            else:
                _odt_inline(child, out)
        if child.tail:
            out.append(child.tail)


def _odt_blocks(parent: object) -> Iterator[str]:
    for child in parent:  # type: ignore[attr-defined]
        tag = child.tag
        if not isinstance(tag, str) or tag in _ODT_SKIP:
            continue
        if tag in (_TEXT + "p", _TEXT + "h"):
            out: list[str] = []
            _odt_inline(child, out)
            yield "".join(out)
        elif tag == _TABLE + "table":
            for row in child.iter(_TABLE + "table-row"):
                cells = []
                for cell in row:
                    if cell.tag not in (_TABLE + "table-cell", _TABLE + "covered-table-cell"):
                        continue
                    text = " ".join(" ".join(_odt_blocks(cell)).split())
                    repeat = int(cell.get(_TABLE + "number-columns-repeated", "1") or 1)
                    cells.extend([text] * (min(repeat, 50) if text else 1))
                while cells and not cells[-1]:
                    cells.pop()
                if cells:
                    yield "\t".join(cells)
        else:
            yield from _odt_blocks(child)


def _extract_odt(data: bytes, filename: str | None, ctx: _Ctx) -> DocText:
    from lxml import etree

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            info = zf.getinfo("content.xml")
            if info.file_size > ctx.max_bytes:
                raise DocTextError("ODT content.xml larger than max_bytes")
            content = zf.read(info)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as e:
        raise DocTextError(f"corrupt ODT: {type(e).__name__}: {e}") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as e:
        raise DocTextError(f"corrupt ODT (bad XML): {e}") from None
    body = root.find(_OFFICE + "body")
    lines = list(_odt_blocks(body if body is not None else root))
    return DocText("\n".join(lines), "odt", None, "odt-xml")


# --- RTF --------------------------------------------------------------------------------------

_RTF_TOKEN = re.compile(
    rb"\\([a-zA-Z]{1,32})(-?\d{1,12})?\d* ?|\\'([0-9a-fA-F]{2})|\\([^a-zA-Z])|([{}])|([^\\{}\r\n]+)|[\r\n]+"
)
_RTF_SKIP_DEST = frozenset(
    b"fonttbl colortbl stylesheet info pict object objdata fldinst datastore themedata "
    b"colorschememapping latentstyles listtable listoverridetable rsidtbl generator xmlnstbl "
    b"filetbl revtbl mmathPr pgdsctbl bkmkstart bkmkend header headerl headerr headerf footer "
    b"footerl footerr footerf".split()
)
_RTF_SYMBOLS = {
    b"par": "\n",
    b"line": "\n",
    b"sect": "\n",
    b"page": "\n",
    b"row": "\n",
    b"cell": "\t",
    b"nestcell": " ",
    b"tab": " ",
    b"emdash": "\u2014",
    b"endash": "\u2013",
    b"emspace": " ",
    b"enspace": " ",
    b"qmspace": " ",
    b"bullet": "\u2022",
    b"lquote": "\u2018",
    b"rquote": "\u2019",
    b"ldblquote": "\u201c",
    b"rdblquote": "\u201d",
}
# \fcharsetN -> Python codec (Windows code pages)
_RTF_CHARSETS = {
    0: "cp1252",
    1: None,  # "default": the document's \ansicpg
    2: None,  # symbol fonts: keep the document code page
    77: "mac_roman",
    128: "cp932",
    129: "cp949",
    134: "gbk",
    136: "cp950",
    161: "cp1253",
    162: "cp1254",
    163: "cp1258",
    177: "cp1255",
    178: "cp1256",
    186: "cp1257",
    204: "cp1251",
    222: "cp874",
    238: "cp1250",
}


def _rtf_to_text(data: bytes) -> tuple[str, set[str]]:
    """Plain text of an RTF document and the set of code pages used for ``\\'hh`` bytes."""
    ansicpg = "cp1252"
    font_cp: dict[int, str | None] = {}
    out: list[str] = []
    pending = bytearray()  # \'hh bytes waiting to be decoded together (multi-byte code pages)
    used: set[str] = set()
    # Group state: (skip destination, \ucN, current font code page, in font table)
    stack: list[tuple[bool, int, str | None, bool]] = []
    skip, uc, cur_cp, in_fonttbl = False, 1, None, False
    skip_chars = 0  # characters still to skip after a \uN
    font_num: int | None = None
    star = False

    def flush() -> None:
        if pending:
            cp = cur_cp or ansicpg
            out.append(bytes(pending).decode(cp, "replace"))
            if any(b >= 0x80 for b in pending):
                used.add(cp)
            pending.clear()

    for m in _RTF_TOKEN.finditer(data):
        word, arg, hexbyte, symbol, brace, text = m.groups()
        if brace == b"{":
            flush()
            stack.append((skip, uc, cur_cp, in_fonttbl))
            star = False
            continue
        if brace == b"}":
            flush()
            if stack:
                skip, uc, cur_cp, in_fonttbl = stack.pop()
            skip_chars = 0
            continue
        if word is not None:
            if word == b"ansicpg" and arg:
                cp = f"cp{int(arg)}"
                try:
                    "".encode(cp)
                    ansicpg = cp
                except LookupError:
                    pass
                continue
            if word == b"fonttbl":
                in_fonttbl, skip = True, True
                continue
            if in_fonttbl:
                if word == b"f" and arg:
                    font_num = int(arg)
                elif word == b"fcharset" and arg and font_num is not None:
                    font_cp[font_num] = _RTF_CHARSETS.get(int(arg))
                continue
            if word == b"bin" and arg:  # raw binary data: never text
                continue
            if star or word in _RTF_SKIP_DEST:
                flush()
                skip = True
                star = False
                continue
            if skip:
                continue
            if word == b"uc" and arg:
                uc = int(arg)
            elif word == b"u" and arg:
                flush()
                code = int(arg)
                code = code + 65536 if code < 0 else code
                out.append(chr(code) if 0 <= code <= 0x10FFFF else "\ufffd")
                skip_chars = uc
            elif word == b"f" and arg:
                flush()
                cur_cp = font_cp.get(int(arg))
            elif word in _RTF_SYMBOLS:
                flush()
                out.append(_RTF_SYMBOLS[word])
            elif word == b"plain":
                pass
            continue
        if symbol is not None:
            if symbol == b"*":
                star = True
            elif not skip:
                flush()
                if symbol == b"~":
                    out.append("\u00a0")
                elif symbol == b"_":
                    out.append("-")
                elif symbol in (b"\\", b"{", b"}"):
                    out.append(symbol.decode())
                elif symbol in (b"\n", b"\r"):
                    out.append("\n")
            continue
        if skip:
            continue
        if hexbyte is not None:
            if skip_chars:
                skip_chars -= 1
                continue
            pending.append(int(hexbyte, 16))
            continue
        if text is not None:
            if skip_chars:
                n = min(skip_chars, len(text))
                text = text[n:]
                skip_chars -= n
            if text:
                flush()
                out.append(text.decode(cur_cp or ansicpg, "replace"))
    flush()
    joined = "".join(out)
    # \uN for characters outside the BMP arrive as two surrogates
    joined = joined.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return joined, used


def _extract_rtf(data: bytes, filename: str | None, ctx: _Ctx) -> DocText:
    text, used = _rtf_to_text(data)
    doc = DocText(text, "rtf", None, "rtf")
    if "cp1258" in used:
        doc.legacy_encoding = "cp1258"
    return doc


# --- ZIP --------------------------------------------------------------------------------------


def _member_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not info.flag_bits & 0x800:  # not flagged UTF-8: zipfile decoded it as cp437
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return nfc(name)


def _extract_zip(data: bytes, filename: str | None, ctx: _Ctx) -> DocText:
    warnings: list[str] = []
    members: list[str] = []
    parts: list[str] = []
    any_ocr = False
    encodings: set[str] = set()
    budget = ctx.max_bytes
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise DocTextError(f"corrupt ZIP: {e}") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_ZIP_MEMBERS:
            warnings.append(f"only the first {MAX_ZIP_MEMBERS} of {len(infos)} members read")
            infos = infos[:MAX_ZIP_MEMBERS]
        for info in infos:
            ctx.remaining()
            name = _member_name(info)
            if info.flag_bits & 0x1:
                warnings.append(f"{name}: encrypted member skipped")
                continue
            if info.file_size > budget:
                warnings.append(f"{name}: skipped, size cap reached ({ctx.max_bytes:,} bytes)")
                continue
            try:
                with zf.open(info) as f:
                    member = f.read(budget + 1)  # the header's size may lie
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
                warnings.append(f"{name}: unreadable ({e})")
                continue
            if len(member) > budget:
                warnings.append(f"{name}: skipped, size cap reached ({ctx.max_bytes:,} bytes)")
                continue
            budget -= len(member)
            kind = sniff(member, name)
            if kind == "unknown":
                warnings.append(f"{name}: skipped (unrecognised type)")
                continue
            if kind == "zip" and ctx.depth + 1 >= MAX_ZIP_DEPTH:
                warnings.append(f"{name}: nested archive deeper than {MAX_ZIP_DEPTH} skipped")
                continue
            try:
                sub = _extract_local(
                    member,
                    name,
                    ocr=ctx.ocr,
                    deadline=ctx.deadline,
                    max_bytes=budget if kind == "zip" else ctx.max_bytes,
                    depth=ctx.depth + 1,
                )
            except DocTextError as e:
                if str(e).endswith("timed out"):
                    raise
                warnings.append(f"{name}: {e}")
                continue
            members.append(name)
            members.extend(f"{name}/{m}" for m in sub.members)
            warnings.extend(f"{name}: {w}" for w in sub.warnings)
            any_ocr = any_ocr or sub.ocr
            if sub.legacy_encoding:
                encodings.add(sub.legacy_encoding)
            if sub.text:
                parts.append(f"[{name}]")
                parts.append(sub.text)
    return DocText(
        "\n".join(parts),
        "zip",
        None,
        "zip",
        ocr=any_ocr,
        legacy_encoding=encodings.pop() if len(encodings) == 1 else None,
        members=members,
        warnings=warnings,
    )


_HTML_BLOCKS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol table tr section article blockquote pre dd dt dl "
    "center body address header footer".split()
)
_HTML_DROP = ("script", "style", "head", "noscript", "template", "object", "iframe")


def _extract_html(data: bytes, filename: str | None, ctx: _Ctx) -> DocText:
    from lxml import etree
    from lxml import html as lxml_html

    from archive.legacy import decode_html_bytes

    markup, encoding = decode_html_bytes(data)
    try:
        root = lxml_html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return DocText("", "html", None, "html", warnings=["HTML without any content"])
    parts: list[str] = []

    def walk(el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _HTML_DROP:
            return
        if tag in _HTML_BLOCKS:
            parts.append("\n")
        if el.text and tag:
            parts.append(el.text.replace("\t", " ").replace("\n", " "))
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail.replace("\t", " ").replace("\n", " "))
        if tag == "br":
            parts.append("\n")
        elif tag in ("td", "th"):
            parts.append("\t")
        elif tag in _HTML_BLOCKS:
            parts.append("\n")

    walk(root)
    # a row's cells end with a tab each: drop the tab before the row's line break
    text = re.sub(r"[ \t]*\t\s*\n", "\n", "".join(parts))
    doc = DocText(text, "html", None, "html")
    if encoding.lower().replace("windows-", "cp") == "cp1258":
        doc.legacy_encoding = "cp1258"  # Word's web pages on Vietnamese Windows
    return doc


_EXTRACTORS: dict[str, Callable[[bytes, str | None, _Ctx], DocText]] = {
    "pdf": _extract_pdf,
    "docx": _extract_docx,
    "doc": _extract_doc,
    "xlsx": _extract_xlsx,
    "xls": _extract_xls,
    "odt": _extract_odt,
    "rtf": _extract_rtf,
    "html": _extract_html,
    "zip": _extract_zip,
}
