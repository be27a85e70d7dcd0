"""Document references (số hiệu văn bản) cited in article text.

Articles announce and cite documents by number, and staff search for them by number:
"Kế hoạch số 139/KH-UBND ngày 29/3/2024 của UBND quận Thanh Xuân". Shapes::

    139/KH-UBND   117/NQ-CP   123/UBND-VP (công văn)   595/NQ-UBTVQH15   04/TB-UBND
    07/2022/QĐ-UBND   35/2023/UBTVQH15   42/2013/QH13   (legal documents carry the year)
    37-NQ/TW   48-KL/TW   (Party documents put a hyphen first)

Writers vary (``139 /KH-UBND``, ``139/KH.UBND``, ``QD`` for ``QĐ``, lower case, a line break
inside the number), so numbers are normalised: no spaces, ``.`` between codes becomes ``-``,
codes upper case with the folded ``Đ`` and the mixed-case codes (``TTg``, ``TTr``) restored.

Around each number the extractor reads:

* the kind: the type word just before the number ("Kế hoạch số …", "Luật Đất đai số …"),
  else the type code (``KH`` → Kế hoạch; a first code naming an issuer → Công văn);
* the date: "ngày D/M/YYYY" (or "ngày D tháng M năm YYYY") right after the number; else the
  date opening a sentence "Ngày 24/5/2022, UBND huyện đã ban hành Kế hoạch số …";
* the issuer: "của <issuer>" after the number and date; else the subject of
  "<issuer> (vừa|đã) ban hành <kind> số …".

A number alone is not a document's identity (every UBND numbers its plans ``N/KH-UBND`` and
restarts each year): identity is number + issuer + date, which is why all three are kept.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from dataclasses import dataclass

from archive.text import fold_lower

__all__ = [
    "DocRef",
    "extract_doc_refs",
    "kind_for_code",
    "kind_label",
    "kind_slug",
    "normalise_number",
]


@dataclass(frozen=True)
class DocRef:
    """One cited document: normalised number, kind, issue date and issuer as cited."""

    number: str
    kind: str | None
    date: _dt.date | None
    issuer: str | None


# --- Vocabularies -----------------------------------------------------------------------

# Type codes (the first code of a number) and the kind they denote.
TYPE_CODES: dict[str, str] = {
    "KH": "Kế hoạch",
    "NQ": "Nghị quyết",
    "QĐ": "Quyết định",
    "CT": "Chỉ thị",
    "KL": "Kết luận",
    "HD": "Hướng dẫn",
    "BC": "Báo cáo",
    "TTr": "Tờ trình",
    "ĐA": "Đề án",
    "NĐ": "Nghị định",
    "TT": "Thông tư",
    "TB": "Thông báo",
    "CĐ": "Công điện",
    "CTr": "Chương trình",
    "CV": "Công văn",
    "QĐi": "Quy định",  # Party regulations: 08-QĐi/TW
    "PA": "Phương án",
    "QC": "Quy chế",
    "TTLT": "Thông tư liên tịch",
    "GM": "Giấy mời",
    "BB": "Biên bản",
}

# Codes whose "Đ" writers fold to "D", keyed by the folded upper-case spelling.
FOLDED_CODES: dict[str, str] = {
    "QD": "QĐ",
    "ND": "NĐ",
    "DA": "ĐA",
    "CD": "CĐ",
    "QDI": "QĐi",
    "HDND": "HĐND",
    "BCD": "BCĐ",
    "DU": "ĐU",
    "DUK": "ĐUK",
    "DDBQH": "ĐĐBQH",
    "DTN": "ĐTN",
    "HDTDKT": "HĐTĐKT",
    "TDKT": "TĐKT",
    "LDLD": "LĐLĐ",
    "LDTBXH": "LĐTBXH",
    "BLDTBXH": "BLĐTBXH",
    "SLDTBXH": "SLĐTBXH",
    "GDDT": "GDĐT",
    "BGDDT": "BGDĐT",
    "SGDDT": "SGDĐT",
    "PGDDT": "PGDĐT",
}

# Codes that are officially mixed case, keyed by their upper-case spelling.
MIXED_CASE_CODES: dict[str, str] = {"TTG": "TTg", "TTR": "TTr", "CTR": "CTr", "QĐI": "QĐi"}

# Issuer codes common enough that "N/<code>" alone is a reference even without a type
# word before it (trailing term digits such as QH15 are ignored when looking up).
ISSUER_CODES: frozenset[str] = frozenset(
    {
        "UBND", "HĐND", "CP", "TTg", "VPCP", "TW", "TU", "HU", "QU", "ĐU", "ĐUK", "QH",
        "UBTVQH", "BCT", "BCA", "BNV", "BTC", "BTP", "BYT", "BXD", "BQP", "BKHĐT", "BTTTT",
        "SNV", "STC", "STP", "VP", "BCĐ", "UBMTTQ", "MTTQ", "VPUB", "LĐLĐ",
    }
)  # fmt: skip

# Kind words in their canonical spelling; matched case-insensitively and with either
# tone-mark placement. Longer words first so "Thông tư liên tịch" beats "Thông tư".
KIND_WORDS: tuple[str, ...] = (
    "Thông tư liên tịch",
    "Kế hoạch",
    "Nghị quyết",
    "Quyết định",
    "Công văn",
    "Thông báo",
    "Chỉ thị",
    "Kết luận",
    "Hướng dẫn",
    "Báo cáo",
    "Tờ trình",
    "Đề án",
    "Nghị định",
    "Thông tư",
    "Chương trình",
    "Công điện",
    "Quy định",
    "Quy chế",
    "Phương án",
    "Pháp lệnh",
    "Luật",
)
# Kind words that are also common in lower case prose ("pháp luật"): only capitalised.
KIND_WORDS_CAPITALISED: frozenset[str] = frozenset({"Luật"})
# Nouns that name a document without saying its kind ("tại văn bản số 123/UBND-VP"): the
# kind then comes from the code, not from an earlier type word.
GENERIC_DOC_WORDS: tuple[str, ...] = ("văn bản", "tài liệu")
# Words that cannot sit inside a document's title between its type word and "số".
TITLE_BREAKS: tuple[str, ...] = ("của", "tại", "theo", "và", "ngày", "số")

# Words that open an issuer's name in "<issuer> vừa ban hành …" (case-sensitive).
ISSUER_HEADS: tuple[str, ...] = (
    "UBND", "HĐND", "UBMTTQ", "MTTQ", "Ủy ban", "Hội đồng", "Chính phủ", "Thủ tướng",
    "Bộ", "Sở", "Ban", "Phòng", "Văn phòng", "Quốc hội", "Thành ủy", "Tỉnh ủy", "Huyện ủy",
    "Quận ủy", "Thị ủy", "Đảng ủy", "Đảng bộ", "Chủ tịch", "Phó Chủ tịch", "Cục", "Tổng cục",
    "Chi cục", "Mặt trận", "Công an", "Trung tâm", "Tòa án", "Viện", "Kiểm toán",
    "Liên đoàn", "Hội", "Đoàn", "Thường trực", "Trung ương", "Bí thư", "Tổng Bí thư",
    "Kho bạc", "Bảo hiểm", "Thanh tra", "Đài", "Trường", "Bệnh viện",
)  # fmt: skip

# Lower-case words that end an issuer's name ("của UBND tỉnh về …"); case-sensitive
# because names themselves are capitalised ("Ban Chỉ đạo", "Ban Hướng dẫn").
ISSUER_STOPS: tuple[str, ...] = (
    "về", "v/v", "V/v", "ban hành", "thực hiện", "trên địa bàn", "nhằm", "và", "theo", "tại",
    "việc", "quy định", "phê duyệt", "triển khai", "hướng dẫn", "sửa đổi", "bổ sung", "đã",
    "vừa", "được", "là", "với", "cho", "đến", "để", "trong", "khi", "thì", "số", "ngày",
    "giai đoạn", "năm", "đối với", "nay", "này", "đó", "gồm", "qua", "tới", "từ", "sau",
    "trước", "có", "không", "như", "giao", "yêu cầu", "nêu", "đề nghị", "lần",
)  # fmt: skip

# Multi-word unit names containing a stop word or a comma, kept whole in issuers.
ISSUER_COMPOUNDS: tuple[str, ...] = (
    "Văn hóa, Thể thao và Du lịch",
    "Văn hóa - Thông tin và Thể thao",
    "Văn hóa và Thông tin",
    "Văn hóa và Thể thao",
    "Lao động - Thương binh và Xã hội",
    "Lao động, Thương binh và Xã hội",
    "Nông nghiệp và Phát triển nông thôn",
    "Nông nghiệp và Môi trường",
    "Tài nguyên và Môi trường",
    "Thông tin và Truyền thông",
    "Giáo dục và Đào tạo",
    "Kế hoạch và Đầu tư",
    "Khoa học và Công nghệ",
    "Dân tộc và Tôn giáo",
    "Kinh tế và Hạ tầng",
    "Tài chính - Kế hoạch",
    "HĐND và UBND",
    "Hội đồng nhân dân và Ủy ban nhân dân",
)

# Abbreviations ending in "." that do not end an issuer ("UBND TP. Hà Nội").
ISSUER_ABBREVIATIONS: frozenset[str] = frozenset({"TP.", "Tp.", "TX.", "Tx.", "TT.", "Q.", "H."})

MAX_ISSUER_WORDS = 12
LOOKBACK_CHARS = 200

# --- Patterns ---------------------------------------------------------------------------

# Tone-mark placements in use side by side (hòa/hoà, thủy/thuỷ): both are matched.
TONE_PLACEMENTS: tuple[tuple[str, str], ...] = (
    ("òa", "oà"), ("óa", "oá"), ("ỏa", "oả"), ("õa", "oã"), ("ọa", "oạ"),
    ("òe", "oè"), ("óe", "oé"), ("ỏe", "oẻ"), ("õe", "oẽ"), ("ọe", "oẹ"),
    ("ùy", "uỳ"), ("úy", "uý"), ("ủy", "uỷ"), ("ũy", "uỹ"), ("ụy", "uỵ"),
)  # fmt: skip
_OTHER_PLACEMENT = {a: b for a, b in TONE_PLACEMENTS} | {b: a for a, b in TONE_PLACEMENTS}


def _phrase(text: str) -> str:
    """Regex for a phrase: flexible spaces, either tone-mark placement."""
    out: list[str] = []
    i = 0
    while i < len(text):
        pair = text[i : i + 2]
        other = _OTHER_PLACEMENT.get(pair.lower())
        if len(pair) == 2 and other:
            if pair.isupper():
                other = other.upper()
            elif pair[0].isupper():
                other = other[0].upper() + other[1:]
            out.append(f"(?:{re.escape(pair)}|{re.escape(other)})")
            i += 2
        elif text[i].isspace():
            out.append(r"\s+")
            i += 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    return "".join(out)


def _alternation(words: tuple[str, ...] | frozenset[str]) -> str:
    return "|".join(_phrase(w) for w in sorted(words, key=len, reverse=True))


_CODE = r"[A-Za-zĐđ][A-Za-zĐđ0-9&]{0,14}"
_SP = r"[^\S\n]*"
_WS = rf"{_SP}(?:\n{_SP})?"  # spaces with at most one line break
_DASHES = "-\u2013\u2010\u2011"  # hyphen, en dash, Unicode hyphens
_DASH = r"\-\u2013\u2010\u2011"  # the same, for use inside a character class
_CODE_SEP = rf"(?:[{_DASH}.]|-{_SP}\n{_SP})"

NUMBER_RE = re.compile(
    rf"(?<![\w/{_DASH}])(?<!\d[.,])(?:"
    rf"(?P<party>\d{{1,5}}[^\S\n]?[{_DASH}][^\S\n]?{_CODE}{_WS}/{_WS}{_CODE}(?:{_CODE_SEP}{_CODE}){{0,5}})"
    rf"|(?P<std>\d{{1,5}}{_WS}/{_WS}(?:(?:19|20)\d{{2}}{_WS}/{_WS})?{_CODE}(?:{_CODE_SEP}{_CODE}){{0,5}})"
    rf")(?![\w&])"
)
_TOKEN_RE = re.compile(rf"(?P<sep>\s*[{_DASH}/.]\s*)?(?P<tok>[^\s{_DASH}/.]+)")

_KIND_WORDS_ANY_CASE = tuple(w for w in KIND_WORDS if w not in KIND_WORDS_CAPITALISED)
KIND_RE = re.compile(
    rf"(?<!\w)(?:(?P<cap>{_alternation(KIND_WORDS_CAPITALISED)}|LUẬT)"
    rf"|(?i:(?P<kind>{_alternation(_KIND_WORDS_ANY_CASE)}))"
    rf"|(?i:(?P<generic>{_alternation(GENERIC_DOC_WORDS)})))"
    rf"(?!\w)"
)
_NUMBER_WORD = r"(?:[sS][ốỐ](?:\s+hiệu)?|SỐ|No\.?)"
KIND_TAIL_RE = re.compile(rf"\s*\(?\s*(?:{_NUMBER_WORD})?\s*[:：]?\s*")
KIND_TITLE_TAIL_RE = re.compile(
    rf"(?:\s+(?!(?i:{_alternation(TITLE_BREAKS)})(?!\w))[^\s,;:.()\[\]\"“”]+){{1,10}}?"
    rf"\s+{_NUMBER_WORD}\s*[:：]?\s*"
)
NUMBER_WORD_BEFORE_RE = re.compile(rf"(?<!\w){_NUMBER_WORD}\s*[:：]?\s*$")

_DATE = (
    r"(?:(?P<d>\d{1,2})\s*(?P<s>[/.-])\s*(?P<m>\d{1,2})(?:\s*(?P=s)\s*(?P<y>\d{4}))?(?![\d/])"
    r"|(?P<d2>\d{1,2})\s+tháng\s+(?P<m2>\d{1,2})(?:\s*,?\s+năm\s+(?P<y2>\d{4}))?(?!\d))"
)
AFTER_DATE_RE = re.compile(
    rf"{_SP},?\s*\(?\s*(?:(?:được\s+)?(?:ban\s+hành|ký)\s+)?(?:vào\s+)?ngày\s+{_DATE}\s*\)?",
    re.IGNORECASE,
)
SENTENCE_DATE_RE = re.compile(rf"(?<!\w)ngày\s+{_DATE}", re.IGNORECASE)
OF_RE = re.compile(r"\s*,?\s*của\s+", re.IGNORECASE)

SUBJECT_VERB_RE = re.compile(
    rf"(?P<subject>[^\n.;:()]{{2,180}}?){_SP}\s(?:(?:vừa\s+mới|vừa|đã|mới)\s+)?"
    rf"(?:chính\s+thức\s+)?(?:ký\s+)?ban\s+hành\s+(?:{_alternation(KIND_WORDS)}|văn\s+bản)"
    rf"\s*\(?\s*(?:{_NUMBER_WORD})?\s*[:：]?\s*$",
    re.IGNORECASE,
)
HEAD_RE = re.compile(rf"(?<!\w)(?:{_alternation(ISSUER_HEADS)})(?!\w)")
STOP_RE = re.compile(rf"(?:{_alternation(ISSUER_STOPS)})(?!\w)")
COMPOUND_RE = re.compile(rf"(?:{_alternation(ISSUER_COMPOUNDS)})(?!\w)")
_ISSUER_WORD = re.compile(r"[^\s,;:()\[\]\"“”!?]+")
_GAP = re.compile(r"\s*")

_CLEAN_SPACES = re.compile(r"[\u00a0\u2007\u202f\t\f\v]")
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_ALL_SPACE = re.compile(r"\s+")
_PREFIX = re.compile(r"^(?:No\.?|S[ốỐ]|SỐ)\s*[:：.]?", re.IGNORECASE)


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CLEAN_SPACES.sub(" ", _INVISIBLE.sub("", text))


# --- Numbers ----------------------------------------------------------------------------


def _canonical_code(token: str) -> str:
    if token.isdigit():
        return token
    up = token.upper()
    up = FOLDED_CODES.get(up, up)
    return MIXED_CASE_CODES.get(up, up)


def normalise_number(raw: str) -> str:
    """The canonical spelling of a document number: ``139 /kh.ubnd`` → ``139/KH-UBND``."""
    text = _ALL_SPACE.sub("", _clean(raw))
    text = _PREFIX.sub("", text)
    for dash in _DASHES[1:]:
        text = text.replace(dash, "-")
    parts = re.split(r"([/.-])", text)
    out: list[str] = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append("-" if part == "." else part)
        else:
            out.append(_canonical_code(part))
    return "".join(out)


def _codes(number: str) -> tuple[list[str], bool, bool]:
    """Code tokens of a normalised number, whether it has a year, whether it is a Party one."""
    m = re.match(r"\d+[A-Za-z]?([/-])", number)
    party = bool(m and m.group(1) == "-")
    tokens = re.split(r"[/-]", number)[1:]
    has_year = bool(tokens and re.fullmatch(r"(?:19|20)\d{2}", tokens[0]))
    return [t for t in tokens if not t.isdigit()], has_year, party


def kind_for_code(number: str) -> str | None:
    """The kind of document a number's type code denotes, or ``None``.

    ``139/KH-UBND`` → Kế hoạch, ``37-NQ/TW`` → Nghị quyết, ``123/UBND-VP`` → Công văn
    (a first code that names an issuer), ``35/2023/UBTVQH15`` → ``None`` (the code of a
    legal document's issuer says nothing of its kind).
    """
    codes, has_year, party = _codes(normalise_number(number))
    if not codes:
        return None
    kind = TYPE_CODES.get(codes[0])
    if kind or party or has_year:
        return kind
    return "Công văn"


def _issuer_code(code: str) -> bool:
    return re.sub(r"\d+$", "", code) in ISSUER_CODES


def _trim_number(raw: str) -> str:
    """Cut a matched number before a token that is prose, not a code ("KH-UBND.Theo")."""
    end = 0
    prev_code: str | None = None
    for m in _TOKEN_RE.finditer(raw):
        sep, tok = m.group("sep") or "", m.group("tok")
        if not tok.isdigit() and prev_code is not None:
            tight_dash = len(sep) == 1 and sep in _DASHES
            known = _canonical_code(tok) in TYPE_CODES or _issuer_code(_canonical_code(tok))
            same_case = tok.islower() and prev_code.islower()
            if "/" not in sep and not (tight_dash or tok.isupper() or known or same_case):
                break
        if not tok.isdigit():
            prev_code = tok
        end = m.end()
    return raw[:end]


# --- Context: kind, date, issuer ---------------------------------------------------------


def _placement_key(word: str) -> str:
    key = _ALL_SPACE.sub(" ", word).lower()
    for old, new in TONE_PLACEMENTS:
        key = key.replace(new, old)
    return key


_CANONICAL_KINDS: dict[str, str] = {_placement_key(k): k for k in KIND_WORDS}


def kind_slug(kind: str) -> str:
    """The index and URL form of a document kind: "Kế hoạch" -> "ke-hoach"."""
    return "-".join(fold_lower(kind).split())


_KIND_LABELS: dict[str, str] = {kind_slug(k): k for k in KIND_WORDS}


def kind_label(slug: str) -> str:
    """The kind a slug stands for ("ke-hoach" -> "Kế hoạch"); unknown slugs unchanged."""
    return _KIND_LABELS.get(slug, slug)


def _canonical_kind(word: str) -> str:
    return _CANONICAL_KINDS.get(_placement_key(word), word)


def _kind_before(before: str) -> str | None:
    """The type word naming the document just before its number."""
    for m in reversed(list(KIND_RE.finditer(before))):
        rest = before[m.end() :]
        if KIND_TAIL_RE.fullmatch(rest) or KIND_TITLE_TAIL_RE.fullmatch(rest):
            if m.group("generic"):
                return None
            return _canonical_kind(m.group("cap") or m.group("kind"))
    return None


def _make_date(m: re.Match[str], fallback_year: int | None) -> _dt.date | None:
    day = m.group("d") or m.group("d2")
    month = m.group("m") or m.group("m2")
    year_text = m.group("y") or m.group("y2")
    year = int(year_text) if year_text else fallback_year
    if year is None:
        return None
    try:
        return _dt.date(year, int(month), int(day))
    except ValueError:
        return None


def _read_issuer(text: str, pos: int) -> tuple[str | None, int]:
    """Read an issuer's name starting at ``pos``; returns the name and where it ended."""
    end_limit = len(text)
    words: list[str] = []
    i = pos
    end = pos
    while i < end_limit and len(words) < MAX_ISSUER_WORDS:
        gap = _GAP.match(text, i, end_limit).group(0)
        if words:
            if gap.count("\n") >= 2:
                break
            if "\n" in gap and not text[i + len(gap) : i + len(gap) + 1].islower():
                break
        j = i + len(gap)
        if j >= end_limit:
            break
        if words and STOP_RE.match(text, j, end_limit):
            break
        compound = COMPOUND_RE.match(text, j, end_limit)
        if compound:
            words.append(_ALL_SPACE.sub(" ", compound.group(0)))
            i = end = compound.end()
            continue
        word = _ISSUER_WORD.match(text, j, end_limit)
        if not word:
            break
        token = word.group(0)
        if not words and not token[0].isupper():
            return None, pos
        if "/" in token:  # "v/v", or the next number
            break
        if token.endswith(".") and token not in ISSUER_ABBREVIATIONS:
            token = token.rstrip(".")
            if token:
                words.append(token)
                end = word.start() + len(token)
            break
        words.append(token)
        i = end = word.end()
    while words and words[-1] in {"-", "–"}:
        words.pop()
    if not words:
        return None, pos
    return " ".join(words), end


def _subject_issuer(before: str, default_year: int | None) -> tuple[str | None, _dt.date | None]:
    """Issuer (and sentence date) of "[Ngày D/M/Y,] <issuer> (vừa|đã) ban hành <kind> số"."""
    m = SUBJECT_VERB_RE.search(before)
    if not m:
        return None, None
    subject = m.group("subject")
    clause_start = subject.rfind(",") + 1
    issuer = None
    head_at = clause_start
    for head in HEAD_RE.finditer(subject, clause_start):
        name, end = _read_issuer(subject, head.start())
        if name and not subject[end:].strip():
            issuer, head_at = name, head.start()
            break
    date = None
    dates = list(SENTENCE_DATE_RE.finditer(subject, 0, head_at))
    if dates:
        date = _make_date(dates[-1], default_year)
    return issuer, date


@dataclass
class _Found:
    number: str
    kind: str | None
    date: _dt.date | None
    issuer: str | None


def _accept(number: str, kind_from_text: str | None, before: str) -> bool:
    """Whether a number-shaped string is a document reference and not, say, a class "12/A1"."""
    codes, has_year, party = _codes(number)
    if not codes:
        return False
    if party or has_year or len(codes) >= 2 or kind_from_text:
        return True
    if codes[0] in TYPE_CODES or _issuer_code(codes[0]):
        return True
    return bool(NUMBER_WORD_BEFORE_RE.search(before))


def extract_doc_refs(text: str, *, default_year: int | None = None) -> list[DocRef]:
    """Document references cited in ``text``, each distinct number once, in order.

    ``default_year`` completes a day and month cited without a year ("Ngày 21/4, UBND quận
    … ban hành Kế hoạch số 106/KH-UBND"); a number carrying its year (``07/2022/QĐ-UBND``)
    supplies its own. Details missing from the first citation are filled from later ones.
    """
    if not text:
        return []
    text = _clean(text)
    found: dict[str, _Found] = {}
    for m in NUMBER_RE.finditer(text):
        raw = _trim_number(m.group(0))
        number = normalise_number(raw)
        done = found.get(number)
        if done is not None and done.kind and done.date and done.issuer:
            continue  # nothing left to learn from another citation (long pages repeat them)
        start, end = m.start(), m.start() + len(raw)
        before = text[max(0, start - LOOKBACK_CHARS) : start]
        kind_text = _kind_before(before)
        if not _accept(number, kind_text, before):
            continue
        _, has_year, _ = _codes(number)
        own_year = int(re.split(r"[/-]", number)[1]) if has_year else None
        year = own_year or default_year

        date = None
        issuer = None
        pos = end
        after = AFTER_DATE_RE.match(text, pos)
        if after:
            date = _make_date(after, year)
            pos = after.end()
        of = OF_RE.match(text, pos)
        if of:
            issuer, pos = _read_issuer(text, of.end())
            if issuer and date is None:
                after = AFTER_DATE_RE.match(text, pos)
                if after:
                    date = _make_date(after, year)
        if issuer is None or date is None:
            subject_issuer, sentence_date = _subject_issuer(before, year)
            issuer = issuer or subject_issuer
            date = date or sentence_date

        kind = kind_text or kind_for_code(number)
        previous = found.get(number)
        if previous is None:
            found[number] = _Found(number, kind, date, issuer)
        else:
            previous.kind = previous.kind or kind
            previous.date = previous.date or date
            previous.issuer = previous.issuer or issuer
    return [DocRef(f.number, f.kind, f.date, f.issuer) for f in found.values()]
