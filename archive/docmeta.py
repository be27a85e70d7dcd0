"""The header and closing of a Vietnamese administrative document (Nghị định 30/2020/NĐ-CP).

An attached plan or decision opens with a two-column header and ends with a two-column
closing::

    ỦY BAN NHÂN DÂN                    CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
    HUYỆN AN PHÚ                          Độc lập - Tự do - Hạnh phúc
    Số: 07/2022/QĐ-UBND                 An Phú, ngày 16 tháng 6 năm 2022
                              QUYẾT ĐỊNH
         Ban hành Quy định chức năng, nhiệm vụ … (trích yếu)
    … body …
    Nơi nhận:                           TM. ỦY BAN NHÂN DÂN
    - Như Điều 3;                       KT. CHỦ TỊCH
    - Lưu: VT.                          PHÓ CHỦ TỊCH
                                        Đặng Khánh Hòa

A Công văn has no type line: its subject sits under the number as "V/v …".

Text taken out of PDFs and Word files flattens the columns: both halves on one line
("ỦY BAN NHÂN DÂN CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"), alternating lines, "Nơi nhận: TM. ỦY
BAN NHÂN DÂN" on one line, a line break inside the number, page numbers and drawing-anchor
digits on lines of their own, digital-signature stamps ("Ký bởi: …") anywhere. The parser
therefore works on lines in small named steps, each of which removes what it recognises
(the national motto, the place and date, the number) before the next step looks at the rest.
Vocabularies are data at the top of the module. Nothing raises: a part not found is ``None``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from archive.dates import parse_date_text
from archive.docrefs import kind_for_code, normalise_number
from archive.text import canonical_tones

__all__ = ["DocMeta", "parse_document"]


@dataclass
class DocMeta:
    """What the header and closing of one document say about it.

    ``issuer`` is the lowest level of the issuing body as printed, its lines joined by a space
    ("ỦY BAN NHÂN DÂN HUYỆN AN PHÚ"); ``issuer_parent`` the level printed above it when there
    are two ("UBND TỈNH AN GIANG" over "SỞ TÀI CHÍNH"). ``number`` is normalised with
    :func:`archive.docrefs.normalise_number` and is ``None`` for a draft's blank number, whose
    printed form stays in ``number_raw``. ``date`` is the issue date; when the day (or month) is
    left blank in a draft, ``date`` is ``None`` and ``date_partial`` keeps "YYYY-MM" (or
    "YYYY"). ``signer_authority`` joins the authority lines with " / " ("TM. ỦY BAN NHÂN DÂN /
    KT. CHỦ TỊCH") and ``signer_title`` is the last title line ("PHÓ CHỦ TỊCH"). ``signer`` falls
    back to the digital-signature stamp ("Ký bởi: …") only when no name is printed.
    ``complete`` says that issuer, number (or a blank draft number), kind, date (or a partial
    date), subject and signer were all found.
    """

    issuer: str | None = None
    issuer_parent: str | None = None
    number: str | None = None
    number_raw: str | None = None
    kind: str | None = None
    place: str | None = None
    date: date | None = None
    date_partial: str | None = None
    subject: str | None = None
    recipients: list[str] = field(default_factory=list)
    signer: str | None = None
    signer_title: str | None = None
    signer_authority: str | None = None
    complete: bool = False


# --- Vocabularies -----------------------------------------------------------------------

# Type lines as printed (capitals) and the kind they name. Looked up by _key, so either
# tone-mark placement and a trailing ":" match.
KIND_LINES: dict[str, str] = {
    "QUYẾT ĐỊNH": "Quyết định",
    "KẾ HOẠCH": "Kế hoạch",
    "THÔNG BÁO": "Thông báo",
    "CHỈ THỊ": "Chỉ thị",
    "NGHỊ QUYẾT": "Nghị quyết",
    "BÁO CÁO": "Báo cáo",
    "TỜ TRÌNH": "Tờ trình",
    "HƯỚNG DẪN": "Hướng dẫn",
    "CÔNG VĂN": "Công văn",
    "KẾT LUẬN": "Kết luận",
    "ĐỀ ÁN": "Đề án",
    "CHƯƠNG TRÌNH": "Chương trình",
    "CÔNG ĐIỆN": "Công điện",
    "QUY ĐỊNH": "Quy định",
    "QUY CHẾ": "Quy chế",
    "PHƯƠNG ÁN": "Phương án",
    "GIẤY MỜI": "Giấy mời",
    "BIÊN BẢN": "Biên bản",
    "NGHỊ ĐỊNH": "Nghị định",
    "THÔNG TƯ": "Thông tư",
    "THÔNG TƯ LIÊN TỊCH": "Thông tư liên tịch",
    "DỰ ÁN": "Dự án",
    "HỢP ĐỒNG": "Hợp đồng",
    "GIẤY GIỚI THIỆU": "Giấy giới thiệu",
    "GIẤY ỦY QUYỀN": "Giấy ủy quyền",
    "BẢN GHI NHỚ": "Bản ghi nhớ",
    "THÔNG CÁO": "Thông cáo",
}
CONG_VAN = "Công văn"

# The right-hand column of the header: removed wherever it is printed.
NATIONAL_MOTTO: tuple[str, ...] = (
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
)
# Marks printed above or beside the header; not part of the issuer.
HEADER_MARKS: tuple[str, ...] = ("DỰ THẢO", "HỎA TỐC", "THƯỢNG KHẨN", "KHẨN", "MẬT", "TỐI MẬT")

# Words opening one level of an issuer ("UBND TỈNH AN GIANG" / "SỞ TÀI CHÍNH"); a header line
# not opening with one continues the level above ("ỦY BAN NHÂN DÂN" / "HUYỆN AN PHÚ").
ISSUER_LEVEL_HEADS: tuple[str, ...] = (
    "ỦY BAN NHÂN DÂN", "UBND", "HỘI ĐỒNG NHÂN DÂN", "HĐND", "ỦY BAN MẶT TRẬN", "UBMTTQ",
    "MẶT TRẬN", "SỞ", "PHÒNG", "BAN", "VĂN PHÒNG", "BỘ", "CỤC", "TỔNG CỤC", "CHI CỤC",
    "TRUNG TÂM", "CÔNG AN", "BỘ CHỈ HUY", "BAN CHỈ HUY", "ĐẢNG ỦY", "ĐẢNG BỘ", "HUYỆN ỦY",
    "TỈNH ỦY", "THÀNH ỦY", "QUẬN ỦY", "THỊ ỦY", "CHÍNH PHỦ", "THỦ TƯỚNG", "KHO BẠC",
    "THANH TRA", "CHI NHÁNH", "TRƯỜNG", "BỆNH VIỆN", "ĐÀI", "TÒA ÁN", "VIỆN KIỂM SÁT",
    "LIÊN ĐOÀN", "ĐOÀN", "HỘI", "BẢO HIỂM", "CHI CỤC THUẾ", "ĐỘI",
)  # fmt: skip

# Lines that open the body: the header and the subject end before them.
BODY_OPENERS: tuple[str, ...] = (
    "Căn cứ", "Thực hiện", "Xét", "Theo", "Kính gửi", "Để", "Nhằm", "Trên cơ sở", "Thi hành",
    "Điều", "Chương", "Phần", "Hôm nay", "Ngày",
)  # fmt: skip

# Authority prefixes of the signature block: "TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH".
AUTHORITY_PREFIXES: tuple[str, ...] = ("TM.", "KT.", "Q.", "TL.", "TUQ.", "PP.", "T/M", "K/T")
# Titles of signers, longest first when matched.
TITLE_WORDS: tuple[str, ...] = (
    "CHỦ TỊCH", "PHÓ CHỦ TỊCH", "GIÁM ĐỐC", "PHÓ GIÁM ĐỐC", "TỔNG GIÁM ĐỐC", "TRƯỞNG PHÒNG",
    "PHÓ TRƯỞNG PHÒNG", "TRƯỞNG BAN", "PHÓ TRƯỞNG BAN", "CHÁNH VĂN PHÒNG",
    "PHÓ CHÁNH VĂN PHÒNG", "BÍ THƯ", "PHÓ BÍ THƯ", "THỦ TRƯỞNG", "CỤC TRƯỞNG",
    "PHÓ CỤC TRƯỞNG", "CHI CỤC TRƯỞNG", "VỤ TRƯỞNG", "BỘ TRƯỞNG", "THỨ TRƯỞNG", "THỦ TƯỚNG",
    "PHÓ THỦ TƯỚNG", "HIỆU TRƯỞNG", "CHÁNH THANH TRA", "TRƯỞNG CÔNG AN", "CHỦ NHIỆM",
    "PHÓ CHỦ NHIỆM", "TRƯỞNG ĐOÀN", "GIÁM ĐỐC SỞ", "KẾ TOÁN TRƯỞNG", "TỔ TRƯỞNG",
    "NGƯỜI KÝ", "CHỦ TỌA", "THƯ KÝ", "ỦY VIÊN",
)  # fmt: skip
# Markers inside the signature block that are neither title nor name.
SIGNATURE_NOISE: tuple[str, ...] = ("(Đã ký)", "Đã ký", "(Ký tên, đóng dấu)", "(Ký, ghi rõ họ tên)")

# Labels of digital-signature stamps that signing tools print into the page. They name the
# signing organisation or its mailbox, not the person; only "Ký bởi" / "Người ký" is ever
# used, and only when no name is printed in the signature block.
STAMP_LABELS: tuple[str, ...] = (
    "Ký bởi", "Người ký", "Thời gian ký", "Ngày ký", "Ký ngày", "Email", "E-mail", "Cơ quan",
    "Chức vụ",
)  # fmt: skip
STAMP_SIGNER_LABELS: frozenset[str] = frozenset({"ký bởi", "người ký"})

# Common surnames: a name-shaped fragment glued after a recipient is the signer's name only
# when it starts with one of these.
SURNAMES: frozenset[str] = frozenset(
    {
        "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
        "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Đoàn", "Lâm", "Mai", "Trương", "Lương",
        "Cao", "Tạ", "Hà", "Tô", "Thái", "Châu", "Đào", "Lưu", "Chu", "Cù", "Tăng", "Quách",
    }
)  # fmt: skip
# Words that never open a personal name: a title-case line opening with one is an organisation
# or a recipient ("Sở Tư Pháp", "Văn Phòng"). Only the first word is checked, because given
# names reuse such words ("Nguyễn Văn Thành").
NOT_NAME_WORDS: frozenset[str] = frozenset(
    {
        "Sở", "Phòng", "Ban", "Ủy", "Uỷ", "Văn", "Lưu", "Như", "Các", "Cổng", "Trung", "Đài",
        "Huyện", "Tỉnh", "Quận", "Xã", "Phường", "Thành", "Chủ", "Cơ", "Trường", "Công", "Kho",
        "Đăng", "Gửi", "Nơi", "Bộ", "Cục", "Chi", "Hội", "Đảng", "Và", "Ký", "Số", "Ngày",
        "Kính", "Thường", "Tổ", "Đoàn", "Mặt", "Lãnh", "Thủ", "Giám", "Trưởng", "Phó",
    }
)  # fmt: skip

# Lower-case words inside a place name ("Thành phố Hồ Chí Minh", "Thị xã Tân Châu").
PLACE_LOWER_WORDS: frozenset[str] = frozenset({"phố", "xã", "trấn"})

# How far into the text the type line and the header are looked for (non-empty lines).
HEADER_LINES = 40
MAX_SUBJECT_LINES = 6
MAX_CLOSING_LINES = 60


# --- Patterns ---------------------------------------------------------------------------

_DASHES = "-\u2013\u2014\u2010\u2011\u2212"
_DASH = r"\-\u2013\u2014\u2010\u2011\u2212"  # the same, for use inside a character class


# Tone-mark placements in use side by side (HÒA/HOÀ, ỦY/UỶ): vocabulary matches both.
_TONE_PAIRS: dict[str, str] = {
    "òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ", "òe": "oè", "óe": "oé",
    "ỏe": "oẻ", "ùy": "uỳ", "úy": "uý", "ủy": "uỷ", "ũy": "uỹ", "ụy": "uỵ",
}  # fmt: skip
_TONE_PAIRS |= {b: a for a, b in _TONE_PAIRS.items()}
_TONE_PAIRS |= {a.upper(): b.upper() for a, b in _TONE_PAIRS.items()}


def _other_tones(word: str) -> str:
    """The word with the other tone-mark placement (``HÒA`` → ``HOÀ``)."""
    for a, b in _TONE_PAIRS.items():
        if a in word:
            return word.replace(a, b)
    return word


def _phrase(text: str) -> str:
    """Regex for a vocabulary phrase: flexible spaces and dashes, either tone placement."""
    out: list[str] = []
    for word in text.split():
        if all(c in _DASHES for c in word):
            out.append(f"[{_DASH}]")
        else:
            alts = sorted({word, _other_tones(word)})
            out.append("(?:" + "|".join(re.escape(a) for a in alts) + ")")
    return r"\s*".join(out)


MOTTO_RE = re.compile("|".join(_phrase(p) for p in NATIONAL_MOTTO), re.IGNORECASE)
SEPARATOR_RE = re.compile(rf"^[\s{_DASH}_=*~.o0O•]*$")
DIGITS_LINE_RE = re.compile(r"^\s*\d+\s*$")
ANCHOR_DIGITS_RE = re.compile(r"(?:(?<=\s)|^)\d{7,}(?=\s|$)")  # drawing anchors: 6489703238500
STAMP_RE = re.compile(
    rf"(?<!\w)(?P<label>{'|'.join(_phrase(s) for s in STAMP_LABELS)})\s*:\s*(?P<value>.*)$",
    re.IGNORECASE,
)

_CODE = r"[A-Za-zĐđ][A-Za-zĐđ0-9&]*"
_SEP = rf"[^\S\n]*(?:[{_DASH}.][^\S\n]*\n?|\n?[^\S\n]*/)[^\S\n]*"
NUMBER_LINE_RE = re.compile(r"(?<![^\W_])(?:S[ốỐ]|SỐ)(?:\s*[:.]|(?=\s*\d))[^\S\n]*")
NUMBER_TEXT_RE = re.compile(
    rf"(?P<raw>(?:\d{{1,6}}[A-Za-z]?|[.…_]+|[^\s\d/:]{{1,4}}(?=[^\S\n]*/))?[^\S\n]*"
    rf"(?:[{_DASH}][^\S\n]*{_CODE}[^\S\n]*)?/[^\S\n]*"
    rf"(?:(?:19|20)\d{{2}}[^\S\n]*/[^\S\n]*)?{_CODE}(?:{_SEP}{_CODE})*)"
)
# "An Phú, ngày 16 tháng 6 năm 2022"; the day and month may be blank in drafts, or written
# by hand and read by OCR as a short run of non-digits ("ngày )Ù tháng 5"): both leave a
# partial date.
_BLANK = r"[^\S\n]*[.…_]*[^\S\n]*"
_ILLEGIBLE = r"[^\s\d]{1,3}"
PLACE_DATE_RE = re.compile(
    rf"(?:(?P<place>[^\W\d_][^\n,;:]{{0,40}}?)[^\S\n]*,[^\S\n]*)?"
    rf"ngày\s*(?:(?P<d>\d{{1,2}})|{_ILLEGIBLE}|{_BLANK})\s*"
    rf"tháng\s*(?:(?P<m>\d{{1,2}})|{_ILLEGIBLE}|{_BLANK})\s*"
    rf"năm\s*(?P<y>(?:19|20)\d{{2}})",
    re.IGNORECASE,
)
_BLANK_NUMBER_RE = re.compile(r"^[\s.…_]*/")  # a draft's "Số: /KH-UBND", "Số: …/KH-UBND"
NOI_NHAN_RE = re.compile(r"^\s*N[ơo]i\s+nh[ậa]n\s*[:：.]?\s*", re.IGNORECASE)
VV_RE = re.compile(r"^\s*(?:V/v|V/V|v/v|Về\s+việc)\s*[:.]?\s*", re.UNICODE)
BULLET_RE = re.compile(rf"^\s*[{_DASH}+•·*]\s*")
AUTHORITY_RE = re.compile(
    r"^(?:" + "|".join(re.escape(p) + r"\s*" for p in AUTHORITY_PREFIXES) + r"|THỪA LỆNH\s|"
    r"THỪA ỦY QUYỀN\s|THAY MẶT\s|KÝ THAY\s)(?=\S)"
)
_TITLE_RE = re.compile(
    r"^(?:" + "|".join(_phrase(t) for t in sorted(TITLE_WORDS, key=len, reverse=True)) + r")(?!\w)"
)
_LEVEL_HEAD_RE = re.compile(
    r"^(?:"
    + "|".join(_phrase(h) for h in sorted(ISSUER_LEVEL_HEADS, key=len, reverse=True))
    + r")(?!\w)"
)
_SPACE_RE = re.compile(r"[^\S\n]+")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


# --- Step 1: clean lines, set stamps aside ----------------------------------------------


def _prepare(text: str) -> tuple[list[str], dict[str, str]]:
    """NFC lines with spaces collapsed; page numbers, anchor digits and stamps removed.

    Empty lines are kept (they end paragraphs in Word text); lines made only of digits (page
    numbers, drawing anchors) are dropped. Stamp values come back keyed by lower-case label.
    """
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    # pdfium prints the soft hyphen of "169/TTr-PKTHT" as U+FFFE.
    text = text.replace("\ufffe", "-").replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ")
    lines: list[str] = []
    stamps: dict[str, str] = {}
    for raw in (part for row in text.split("\n") for part in _unflatten_row(row)):
        line = _SPACE_RE.sub(" ", raw).strip()
        if DIGITS_LINE_RE.match(line):
            continue
        line = ANCHOR_DIGITS_RE.sub("", line).strip()
        m = STAMP_RE.search(line)
        if m:
            label = _SPACE_RE.sub(" ", m.group("label")).lower()
            stamps.setdefault(label, m.group("value").strip())
            line = line[: m.start()].strip()
            if not line:
                continue
        lines.append(line)
    return lines, stamps


_INLINE_BULLET_RE = re.compile(rf"(?<=[;.,])\s+(?=[{_DASH}+•]\s)")


def _unflatten_row(row: str) -> list[str]:
    """A table row of a Word file comes as one line, its cells tab-separated and each cell's
    paragraphs joined by spaces: "Nơi nhận: - Như Điều 3; - Lưu: VT.<TAB>TM. ỦY BAN NHÂN DÂN
    CHỦ TỊCH Trần Hòa Hợp". Give back the lines a printed page shows: one per cell, one per
    recipient, and the signature block as authority, title and name lines."""
    if "\t" not in row:
        return [row]
    out: list[str] = []
    for cell in row.split("\t"):
        cell = _SPACE_RE.sub(" ", cell).strip()
        if NOI_NHAN_RE.match(cell):
            out.extend(_INLINE_BULLET_RE.split(cell))
        elif AUTHORITY_RE.match(cell):
            out.extend(_split_signature_block(cell))
        else:
            out.append(cell)
    return out


def _split_signature_block(cell: str) -> list[str]:
    """ "TM. ỦY BAN NHÂN DÂN KT. CHỦ TỊCH PHÓ CHỦ TỊCH Đặng Khánh Hòa" -> ["TM. ỦY BAN NHÂN
    DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "Đặng Khánh Hòa"]: capitals are the block, the
    words after them the name; each authority prefix starts a line, and a title phrase that
    ends the capitals is a line of its own."""
    words = cell.split()
    n_caps = 0
    while n_caps < len(words) and not any(c.islower() for c in words[n_caps]):
        n_caps += 1
    caps, name = words[:n_caps], words[n_caps:]
    segments: list[list[str]] = []
    for word in caps:
        if not segments or AUTHORITY_RE.match(word + " X"):
            segments.append([word])
        else:
            segments[-1].append(word)
    lines = [" ".join(seg) for seg in segments]
    last = segments[-1] if segments else []
    for i in range(2, len(last)):  # after the prefix and at least one word
        tail = " ".join(last[i:])
        m = _TITLE_RE.match(tail)
        if m and m.end() == len(tail):
            lines[-1:] = [" ".join(last[:i]), tail]
            break
    if name:
        lines.append(" ".join(name))
    return lines


# --- Small predicates -------------------------------------------------------------------


def _key(line: str) -> str:
    """Comparison key for vocabulary lines: upper case, one tone placement, no trailing ':'."""
    return canonical_tones(_SPACE_RE.sub(" ", line).strip().rstrip(":：. ").upper())


_KIND_KEYS: dict[str, str] = {_key(k): v for k, v in KIND_LINES.items()}
_MARK_KEYS: frozenset[str] = frozenset(_key(m) for m in HEADER_MARKS)


def _is_caps(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 2 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def _starts_with_any(line: str, words: tuple[str, ...]) -> bool:
    return any(re.match(re.escape(w) + r"(?!\w)", line) for w in words)


def _is_body_opener(line: str) -> bool:
    return _starts_with_any(line, BODY_OPENERS) or bool(re.match(r"^(?:[IVX]+|\d+)\.\s", line))


def _is_authority(line: str) -> bool:
    return bool(AUTHORITY_RE.match(line)) and _is_caps(line)


def _is_title(line: str) -> bool:
    return _is_caps(line) and bool(_TITLE_RE.match(line)) and len(line.split()) <= 10


def _is_name(line: str) -> bool:
    """A personal name: 2–6 title-case words of letters ("Đặng Khánh Hòa")."""
    words = line.split()
    if not 2 <= len(words) <= 6 or words[0] in NOT_NAME_WORDS:
        return False
    return all(w.isalpha() and w[0].isupper() and (len(w) == 1 or w[1:].islower()) for w in words)


def _is_caps_name(line: str) -> bool:
    """A name printed in capitals ("TRẦN SỸ THANH"): 2–6 words opening with a known surname."""
    words = line.split()
    return (
        2 <= len(words) <= 6
        and all(w.isalpha() and w.isupper() for w in words)
        and words[0].capitalize() in SURNAMES
        and not _is_title(line)
        and not _LEVEL_HEAD_RE.match(line)
    )


def _is_noise(line: str) -> bool:
    return any(_key(line) == _key(n) for n in SIGNATURE_NOISE)


def _join(parts: list[str]) -> str | None:
    text = _SPACE_RE.sub(" ", " ".join(p.strip() for p in parts)).strip()
    return text or None


# --- Step 2: the type line --------------------------------------------------------------


def _find_kind_line(lines: list[str]) -> tuple[int, str] | None:
    """Index and kind of the type line ("QUYẾT ĐỊNH"), looked for before the body starts."""
    seen = 0
    for i, line in enumerate(lines):
        if not line:
            continue
        seen += 1
        if seen > HEADER_LINES or NOI_NHAN_RE.match(line):
            return None
        if _starts_with_any(line, ("Căn cứ", "Kính gửi")):
            return None
        kind = _KIND_KEYS.get(_key(MOTTO_RE.sub(" ", line)))
        if kind and (_is_caps(line) or line.isupper()):
            return i, kind
    return None


# --- Step 3: the header (issuer, number, place and date) --------------------------------


@dataclass
class _Header:
    issuer_lines: list[str] = field(default_factory=list)
    number_raw: str | None = None
    place: str | None = None
    day: int | None = None
    month: int | None = None
    year: int | None = None
    number_line: int | None = None


def _header_end(lines: list[str], kind_index: int | None) -> int:
    """Where the header ends: at the type line, else at the first body line."""
    if kind_index is not None:
        return kind_index
    seen = 0
    for i, line in enumerate(lines):
        if not line:
            continue
        seen += 1
        if (
            seen > HEADER_LINES
            or NOI_NHAN_RE.match(line)
            or _starts_with_any(line, ("Căn cứ", "Kính gửi", "Thực hiện"))
        ):
            return i
    return len(lines)


def _place_words(words: list[str]) -> list[str]:
    """The words naming the place, read backwards from ", ngày".

    A flattened line may put a number or a capitals issuer line before the place ("Số: 04/TB-UBND
    An Phú, ngày …", "HUYỆN AN PHÚ An Phú, ngày …"): those are not part of it.
    """
    kept: list[str] = []
    for word in reversed(words):
        letters = [c for c in word if c.isalpha()]
        if not letters or any(c.isdigit() or c in "/:" for c in word):
            break
        abbreviation = word.endswith(".") and len(letters) <= 3
        capitals = len(letters) >= 2 and all(c.isupper() for c in letters)
        if capitals and not abbreviation:
            break
        if not word[0].isupper() and word not in PLACE_LOWER_WORDS:
            break
        kept.insert(0, word)
    return kept


def _strip_place_date(line: str, header: _Header) -> str:
    """Record the first place-and-date found (unless one is known); return the rest of ``line``."""
    m = PLACE_DATE_RE.search(line)
    if not m:
        return line
    place = m.group("place") or ""
    kept = _place_words(place.split())
    cut = m.start("place") + len(place) - len(" ".join(kept)) if kept else m.start("place")
    if not place:
        cut = m.start()
    if header.year is None:
        header.place = " ".join(kept) or None
        header.day = int(m.group("d")) if m.group("d") else None
        header.month = int(m.group("m")) if m.group("m") else None
        header.year = int(m.group("y"))
    return (line[:cut] + " " + line[m.end() :]).strip()


def _read_number(line: str, following: list[str], start: int, header: _Header) -> str:
    """Read the number printed after "Số:" (which ends at ``start`` in ``line``).

    A number split over two lines ("07/2022/QĐ-" / "UBND") is joined with the next non-empty
    line; "Số:" alone on its line takes the number from the next one. Returns ``line`` without
    "Số: <number>" (a left-column fragment and the right column's place and date may remain),
    or ``line`` unchanged when no number is found.
    """
    rest = line[start:]
    nxt = next((x for x in following if x), "")
    m = NUMBER_TEXT_RE.match(rest + "\n" + nxt)
    if m is None and not rest.strip():
        m = NUMBER_TEXT_RE.match(nxt)
        rest = ""
    if m is None:
        return line
    raw = re.sub(r"[^\S\n]*\n[^\S\n]*", "", m.group("raw").strip())
    header.number_raw = _SPACE_RE.sub(" ", raw).strip()
    label = NUMBER_LINE_RE.search(line)
    before = line[: label.start()].strip() if label else ""
    after = rest[m.end() :] if m.end() <= len(rest) else ""
    return f"{before} {after}".strip()


def _only_specks(text: str) -> bool:
    return not text.strip(" _.,'`\"~-")


def _read_header(lines: list[str], end: int) -> _Header:
    """Issuer lines, number and place/date from the lines before ``end``."""
    header = _Header()
    left: list[tuple[int, str]] = []
    for i in range(end):
        line = lines[i]
        if not line:
            continue
        line = MOTTO_RE.sub(" ", line).strip()
        if header.number_raw is None:
            m = NUMBER_LINE_RE.search(line)
            # at the start of a line (after OCR specks such as "_") or after a space
            if m and (line[m.start() - 1 : m.start()].isspace() or _only_specks(line[: m.start()])):
                rest = _read_number(line, lines[i + 1 : i + 3], m.end(), header)
                if header.number_raw is not None:
                    header.number_line = i
                    line = rest
        line = _strip_place_date(line, header)
        if line and not SEPARATOR_RE.match(line):
            left.append((i, line))
    stop = header.number_line if header.number_line is not None else end
    for i, line in left:
        if i > stop:
            break
        if _key(line) in _MARK_KEYS:
            continue
        if VV_RE.match(line) or not _is_caps(line):
            continue
        header.issuer_lines.append(line)
    if header.year is None:
        # A flattened right column may print the place and date after the type line.
        for line in lines[end : end + HEADER_LINES]:
            m = PLACE_DATE_RE.search(line)
            if m and m.group("place"):
                _strip_place_date(line, header)
                break
    return header


def _split_issuer(lines: list[str]) -> tuple[str | None, str | None]:
    """(issuer, issuer_parent): the last level printed and the one above it."""
    levels: list[list[str]] = []
    for line in lines:
        if not levels or _LEVEL_HEAD_RE.match(line):
            levels.append([line])
        else:
            levels[-1].append(line)
    if not levels:
        return None, None
    issuer = _join(levels[-1])
    parent = _join(levels[-2]) if len(levels) >= 2 else None
    return issuer, parent


def _apply_date(meta: DocMeta, header: _Header) -> None:
    if header.year is None:
        return
    if header.day and header.month:
        value = parse_date_text(f"{header.day}/{header.month}/{header.year}")
        if isinstance(value, date):
            meta.date = value
            return
    if header.month and 1 <= header.month <= 12:
        meta.date_partial = f"{header.year:04d}-{header.month:02d}"
    else:
        meta.date_partial = f"{header.year:04d}"


# --- Step 4: the subject (trích yếu) ----------------------------------------------------


def _subject_after_kind(lines: list[str], start: int) -> tuple[str | None, int]:
    """The lines after the type line up to a blank line, a capitals line or the body."""
    parts: list[str] = []
    i = start
    while i < len(lines) and len(parts) < MAX_SUBJECT_LINES:
        line = MOTTO_RE.sub(" ", lines[i]).strip()
        if not line or SEPARATOR_RE.match(line):
            if parts:
                break
            i += 1
            continue
        if _is_caps(line) or _is_body_opener(line) or NOI_NHAN_RE.match(line):
            break
        parts.append(line)
        i += 1
    return _join(parts), i


def _subject_vv(lines: list[str], end: int) -> str | None:
    """A Công văn's subject: "V/v …" under the number, and its continuation lines."""
    for i in range(min(end + 1, len(lines))):
        m = VV_RE.match(lines[i])
        if not m:
            continue
        dummy = _Header(year=0)  # strips a place-and-date interleaved from the right column
        parts = [_strip_place_date(MOTTO_RE.sub(" ", lines[i][m.end() :]), dummy)]
        for line in lines[i + 1 : i + MAX_SUBJECT_LINES]:
            line = _strip_place_date(MOTTO_RE.sub(" ", line).strip(), dummy)
            if not line or SEPARATOR_RE.match(line) or _is_body_opener(line):
                break
            if _is_caps(line) or _ends_vv_subject(line):
                break
            parts.append(line)
        return _join(parts)
    return None


def _ends_vv_subject(line: str) -> bool:
    """Lines that end a V/v subject although they are not capitals: "Kính gửi", "Số:"."""
    return bool(NUMBER_LINE_RE.match(line)) or _starts_with_any(line, ("Kính gửi",))


# --- Step 5: the closing (recipients, signature block) ----------------------------------


@dataclass
class _Closing:
    recipients: list[str] = field(default_factory=list)
    authority: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    signer: str | None = None
    open_item: bool = False  # the last recipient has no ";"/"." yet: it may wrap


def _clean_item(text: str) -> str:
    text = BULLET_RE.sub("", text).strip()
    text = re.sub(r"(?:\s*[;.,]\s*|\s*\./\.\s*)+$", "", text)
    return _SPACE_RE.sub(" ", text).strip()


def _split_signature_tail(item: str, closing: _Closing) -> tuple[str, str | None]:
    """Split "- Như Điều 3; KT. CHỦ TỊCH" into the recipient and the signature fragment."""
    for m in re.finditer(r"[;.]\s+", item):
        tail = item[m.end() :].strip()
        if _is_authority(tail) or _is_title(tail):
            return item[: m.start() + 1], tail
        if closing.titles and _is_name(tail) and tail.split()[0] in SURNAMES:
            return item[: m.start() + 1], tail
    return item, None


def _take_signature_line(line: str, closing: _Closing) -> bool:
    """File an authority, title or name line; False when the line is none of them."""
    if _is_authority(line):
        closing.authority.append(line)
    elif _is_title(line):
        closing.titles.append(line)
    elif closing.titles and closing.signer is None and _is_caps_name(line):
        closing.signer = line
    elif _is_caps(line) and closing.authority and not closing.titles:
        if _LEVEL_HEAD_RE.match(line) or not closing.authority[-1].split()[1:]:
            closing.authority[-1] = f"{closing.authority[-1]} {line}"  # wrapped "TM. ỦY BAN"
        else:
            closing.titles.append(line)
    elif _is_name(line) and closing.signer is None:
        closing.signer = line
    else:
        return False
    return True


def _closing_start(lines: list[str], start: int) -> int | None:
    """The "Nơi nhận" line, else the first authority line ("TM. …") after ``start``."""
    for i in range(start, len(lines)):
        if NOI_NHAN_RE.match(lines[i]):
            return i
    for i in range(start, len(lines)):
        if _is_authority(lines[i]):
            return i
    return None


def _read_closing(lines: list[str], start: int) -> _Closing:
    closing = _Closing()
    # Signature lines flattened before "Nơi nhận" (right column first).
    back = start
    while back > 0 and start - back < 6:
        prev = lines[back - 1]
        if prev and not (_is_authority(prev) or _is_title(prev)):
            break
        back -= 1
    for line in lines[back:start]:
        if line:
            _take_signature_line(line, closing)

    first = NOI_NHAN_RE.sub("", lines[start], count=1) if NOI_NHAN_RE.match(lines[start]) else None
    todo = ([first] if first else []) + lines[start + 1 : start + MAX_CLOSING_LINES]
    if first is None:
        todo = lines[start : start + MAX_CLOSING_LINES]
    for line in todo:
        if not line or _is_noise(line):
            continue
        if MOTTO_RE.search(line):
            break  # an attached document's header starts
        if BULLET_RE.match(line) or _starts_with_any(line, ("Lưu", "Như trên")):
            item, tail = _split_signature_tail(line, closing)
            cleaned = _clean_item(item)
            if cleaned:
                closing.recipients.append(cleaned)
            closing.open_item = not re.search(r"[;.]\s*$", item)
            if tail:
                _take_signature_line(tail, closing)
                closing.open_item = False
            continue
        wraps = closing.open_item and closing.recipients and not _is_caps(line)
        if wraps and not (closing.titles and _is_name(line)):
            closing.recipients[-1] = _clean_item(f"{closing.recipients[-1]} {line}")
            closing.open_item = not re.search(r"[;.]\s*$", line)
            continue
        closing.open_item = False
        if _take_signature_line(line, closing):
            continue
        if closing.signer is not None:
            break
    return closing


# --- The whole -------------------------------------------------------------------------


def parse_document(text: str) -> DocMeta:
    """Parse the header and closing of an administrative document's plain text.

    Works on text flattened out of PDFs (pdfium) and Word files (python-docx): columns may be
    interleaved, the number may be split by a line break, stamps and page numbers may sit
    anywhere. Never raises on odd input; a part not found is ``None`` (``[]`` for recipients).
    """
    meta = DocMeta()
    if not text or not text.strip():
        return meta
    lines, stamps = _prepare(text)

    found = _find_kind_line(lines)
    kind_index = found[0] if found else None
    end = _header_end(lines, kind_index)
    header = _read_header(lines, end)

    meta.issuer, meta.issuer_parent = _split_issuer(header.issuer_lines)
    meta.number_raw = header.number_raw
    if header.number_raw and re.match(r"\s*\d", header.number_raw):
        meta.number = normalise_number(header.number_raw)
    meta.place = header.place
    _apply_date(meta, header)

    body_start = end
    if found:
        meta.kind = found[1]
        meta.subject, body_start = _subject_after_kind(lines, kind_index + 1)
    else:
        meta.subject = _subject_vv(lines, end)
        if meta.subject:
            meta.kind = CONG_VAN
        elif meta.number_raw:
            probe = meta.number or "0" + meta.number_raw.lstrip(" .…_")
            meta.kind = kind_for_code(probe)

    start = _closing_start(lines, body_start)
    if start is not None:
        closing = _read_closing(lines, start)
        meta.recipients = closing.recipients
        meta.signer = closing.signer
        meta.signer_title = closing.titles[-1] if closing.titles else None
        meta.signer_authority = " / ".join(closing.authority) or None
    if meta.signer is None:
        meta.signer = next((v for k, v in stamps.items() if k in STAMP_SIGNER_LABELS and v), None)

    meta.complete = bool(
        meta.issuer
        and (meta.number or _BLANK_NUMBER_RE.match(meta.number_raw or ""))
        and meta.kind
        and (meta.date or meta.date_partial)
        and meta.subject
        and meta.signer
    )
    return meta
