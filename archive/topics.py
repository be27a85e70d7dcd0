"""Topic tags for portal articles: CCHC (administrative reform) and ĐVHC (administrative units).

Rules
-----
Each topic has a vocabulary of terms with weights (:data:`VOCABULARY`):

* **strong** terms (weight 3) name the topic outright: "cải cách hành chính", "CCHC",
  "thủ tục hành chính", "TTHC", "một cửa liên thông", "dịch vụ công trực tuyến", "PAR INDEX";
  "sắp xếp đơn vị hành chính", "ĐVHC", "sáp nhập … xã/phường/huyện/tỉnh", "thành lập phường",
  "chính quyền địa phương hai cấp", "lấy ý kiến cử tri … về sắp xếp";
* **medium** terms (weight 2) belong to the topic but also occur elsewhere: "một cửa",
  "dịch vụ công", "chính quyền điện tử"; "đơn vị hành chính cấp xã", "lấy ý kiến cử tri";
* **weak** terms (weight 1) only add up: "chuyển đổi số", "đơn vị hành chính", "sáp nhập".

A topic applies when

1. a strong term occurs in the title or the lead, or
2. the weighted count over title, lead and body reaches :data:`SCORE_THRESHOLD` (8: three
   strong mentions, or two and some support), raised for long texts to one point per
   :data:`WORDS_PER_POINT` words so that a long article mentioning the topic in passing is
   not tagged. One "thủ tục hành chính" (3) in a body is a passing mention, not CCHC.

Matching is case-insensitive and word-bounded; overlapping hits count once (the heaviest,
so "dịch vụ công trực tuyến" is not also "dịch vụ công"). Text is matched with its accents
(either tone-mark placement, hòa/hoà) and also folded (accents removed, đ→d) so that
"cai cach hanh chinh" and "DVHC" count; a folded hit counts only where the text itself is
written without accents, so "sắp nhập" (about to import) never counts as "sáp nhập".
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

__all__ = ["TOPICS", "VOCABULARY", "classify"]

TOPICS: tuple[str, ...] = ("cchc", "dvhc")

STRONG = 3
MEDIUM = 2
WEAK = 1
SCORE_THRESHOLD = 8
WORDS_PER_POINT = 150

# Pattern language: lower-case accented text, a space matches any whitespace, "…" skips up
# to three words and "……" up to eight (never across . ; : ! ?), other regex syntax as is.
_UNIT = r"(?:xã|phường|thị trấn|thị xã|huyện|quận|tỉnh|thành phố|đơn vị hành chính|đvhc)"
_NOT_A_SHOP = r"(?! (?:hàng|hiệu|kính|sổ|ra|vào|nhà|phòng|sau|trước|chính|lớn|nhỏ|gỗ|sắt|cuốn))"

VOCABULARY: dict[str, tuple[tuple[str, int], ...]] = {
    "cchc": (
        ("cải cách hành chính", STRONG),
        ("cchc", STRONG),
        ("thủ tục hành chính", STRONG),
        ("tthc", STRONG),
        ("cơ chế một cửa", STRONG),
        ("một cửa liên thông", STRONG),
        ("bộ phận một cửa", STRONG),
        ("dịch vụ công trực tuyến", STRONG),
        ("dvctt", STRONG),
        ("dịch vụ công mức độ", STRONG),
        ("cổng dịch vụ công", STRONG),
        ("par index", STRONG),
        ("chỉ số cải cách hành chính", STRONG),
        ("sipas", STRONG),
        ("chỉ số hài lòng (?:của người dân )?(?:về|đối với) sự phục vụ", STRONG),
        ("bộ phận tiếp nhận và trả kết quả", STRONG),
        ("trung tâm phục vụ hành chính công", STRONG),
        ("kỷ cương hành chính", STRONG),
        ("hiện đại hóa (?:nền )?hành chính", STRONG),
        ("một cửa" + _NOT_A_SHOP, MEDIUM),
        ("dịch vụ công", MEDIUM),
        ("hành chính công", MEDIUM),
        ("nền hành chính", MEDIUM),
        ("chính quyền điện tử", MEDIUM),
        ("chính quyền số", MEDIUM),
        ("văn hóa công vụ", MEDIUM),
        ("cải cách (?:tổ chức bộ máy|công vụ|tài chính công)", MEDIUM),
        ("papi", MEDIUM),
        ("iso 9001", MEDIUM),
        ("số hóa hồ sơ", MEDIUM),
        ("hồ sơ trực tuyến", MEDIUM),
        ("chuyển đổi số", WEAK),
        ("đề án 06", WEAK),
        ("định danh điện tử", WEAK),
        ("vneid", WEAK),
        ("tinh gọn bộ máy", WEAK),
    ),
    "dvhc": (
        ("sắp xếp (?:các )?(?:đơn vị hành chính|đvhc)", STRONG),
        ("đvhc", STRONG),
        ("(?:sáp nhập|hợp nhất) … " + _UNIT, STRONG),
        ("điều chỉnh địa giới (?:đơn vị )?hành chính", STRONG),
        ("chính quyền (?:địa phương )?(?:hai|2) cấp", STRONG),
        ("đơn vị hành chính mới", STRONG),
        (r"(?<!ngày\s)(?<!năm\s)thành lập (?:phường|thị xã|thị trấn|thành phố|quận)", STRONG),
        ("lấy ý kiến cử tri …… (?:sắp xếp|thành lập|sáp nhập|nhập|điều chỉnh địa giới)", STRONG),
        ("(?:kết thúc hoạt động|không tổ chức) (?:của )?(?:chính quyền )?cấp huyện", STRONG),
        ("đơn vị hành chính cấp (?:xã|huyện|tỉnh)", MEDIUM),
        ("lấy ý kiến cử tri", MEDIUM),
        ("địa giới hành chính", MEDIUM),
        ("đề án sắp xếp", MEDIUM),
        ("sau sắp xếp", MEDIUM),
        ("sắp xếp, sáp nhập", MEDIUM),
        ("đơn vị hành chính", WEAK),
        ("sáp nhập", WEAK),
        ("dôi dư", WEAK),
    ),
}

# Tone-mark placements in use side by side (hòa/hoà, thủy/thuỷ): new style -> old style.
TONE_PLACEMENTS: tuple[tuple[str, str], ...] = (
    ("oà", "òa"), ("oá", "óa"), ("oả", "ỏa"), ("oã", "õa"), ("oạ", "ọa"),
    ("oè", "òe"), ("oé", "óe"), ("oẻ", "ỏe"), ("oẽ", "õe"), ("oẹ", "ọe"),
    ("uỳ", "ùy"), ("uý", "úy"), ("uỷ", "ủy"), ("uỹ", "ũy"), ("uỵ", "ụy"),
)  # fmt: skip
_PLACEMENT_RE = re.compile("|".join(new for new, _ in TONE_PLACEMENTS))
_PLACEMENT_MAP = dict(TONE_PLACEMENTS)

# Quotes around terms (bộ phận “một cửa”) become spaces; lengths are kept so that spans in
# the accented and the folded text line up.
_QUOTES = re.compile("[\"“”‘’'«»\u00a0\u2007\u202f]")
_GAP_LONG = r"(?:\s+[^\s.;:!?]+){0,8}?\s+"
_GAP = r"(?:\s+[^\s.;:!?]+){0,3}?\s+"


def _fold_char(char: str) -> str:
    if char in "đĐ":
        return "d" if char == "đ" else "D"
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    return base if len(base) == 1 else char


# Accented Latin letters (Vietnamese lives in Latin-1, Latin Extended-A/B and U+1EA0-1EFF).
FOLD_TABLE: dict[int, str] = {
    cp: folded
    for cp in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00))
    if (folded := _fold_char(chr(cp))) != chr(cp)
}


def _placement(text: str) -> str:
    return _PLACEMENT_RE.sub(lambda m: _PLACEMENT_MAP[m.group(0)], text)


def _regex(pattern: str) -> str:
    return pattern.replace(" …… ", _GAP_LONG).replace(" … ", _GAP).replace(" ", r"\s+")


@dataclass(frozen=True)
class _Matcher:
    """All terms of one topic as a single alternation (heaviest, then longest, first)."""

    accented: re.Pattern[str]
    folded: re.Pattern[str]
    weights: dict[str, int]


def _matcher(terms: tuple[tuple[str, int], ...]) -> _Matcher:
    ordered = sorted(terms, key=lambda term: (-term[1], -len(term[0])))
    accented: list[str] = []
    folded: list[str] = []
    weights: dict[str, int] = {}
    for i, (pattern, weight) in enumerate(ordered):
        pattern = _placement(unicodedata.normalize("NFC", pattern))
        accented.append(f"(?P<t{i}>{_regex(pattern)})")
        folded.append(f"(?P<t{i}>{_regex(pattern.translate(FOLD_TABLE))})")
        weights[f"t{i}"] = weight
    return _Matcher(
        re.compile(rf"(?<!\w)(?:{'|'.join(accented)})(?!\w)"),
        re.compile(rf"(?<!\w)(?:{'|'.join(folded)})(?!\w)"),
        weights,
    )


_MATCHERS: dict[str, _Matcher] = {topic: _matcher(terms) for topic, terms in VOCABULARY.items()}


def _prepare(text: str) -> tuple[str, str]:
    """Lower-case accented text (one tone-mark placement) and its folded twin, same length."""
    text = _QUOTES.sub(" ", unicodedata.normalize("NFC", text))
    lower = text.lower()
    if len(lower) != len(text):  # a few characters lower-case to two (İ)
        lower = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    lower = _placement(lower)
    return lower, lower.translate(FOLD_TABLE)


def _hits(matcher: _Matcher, text: str) -> list[int]:
    """Weights of the non-overlapping term hits in ``text`` (heaviest, then longest, win)."""
    if not text:
        return []
    accented, folded = _prepare(text)
    found: list[tuple[int, int, int]] = []
    for m in matcher.accented.finditer(accented):
        found.append((m.start(), m.end(), matcher.weights[m.lastgroup or ""]))
    for m in matcher.folded.finditer(folded):
        start, end = m.span()
        if accented[start:end] == folded[start:end]:  # written without accents
            found.append((start, end, matcher.weights[m.lastgroup or ""]))
    found.sort(key=lambda hit: (-hit[2], hit[0] - hit[1], hit[0]))
    taken: list[tuple[int, int, int]] = []
    for hit in found:
        if all(hit[1] <= start or hit[0] >= end for start, end, _ in taken):
            taken.append(hit)
    return [weight for _, _, weight in taken]


def _threshold(*texts: str) -> int:
    words = sum(len(t.split()) for t in texts)
    return max(SCORE_THRESHOLD, math.ceil(words / WORDS_PER_POINT))


def classify(title: str, lead: str | None, body: str) -> list[str]:
    """The topics (a sorted subset of ``["cchc", "dvhc"]``) an article is about.

    See the module docstring for the rules: a strong term in the title or lead, or enough
    weighted mentions overall.
    """
    title, lead, body = title or "", lead or "", body or ""
    threshold = _threshold(title, lead, body)
    topics: list[str] = []
    for topic, matcher in _MATCHERS.items():
        heading = _hits(matcher, title) + _hits(matcher, lead)
        if any(weight >= STRONG for weight in heading):
            topics.append(topic)
            continue
        if sum(heading) + sum(_hits(matcher, body)) >= threshold:
            topics.append(topic)
    return sorted(topics)
