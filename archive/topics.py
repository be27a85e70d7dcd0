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
so "dịch vụ công trực tuyến" is not also "dịch vụ công"). Title, lead and body are each
judged written with accents or without (:data:`ACCENTED_SHARE` of letters carrying marks).
Accented text is matched with its accents (either tone-mark placement, hòa/hoà; "DVHC" for
"ĐVHC"), so "sắp nhập" (about to import) never counts as "sáp nhập". Text typed without
accents is matched folded (marks removed, đ→d): "cai cach hanh chinh" is CCHC there.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from archive.text import canonical_tones, canonical_tones_nfc, fold

__all__ = ["TOPICS", "VOCABULARY", "classify"]

TOPICS: tuple[str, ...] = ("cchc", "dvhc")

STRONG = 3
MEDIUM = 2
WEAK = 1
SCORE_THRESHOLD = 8
WORDS_PER_POINT = 150
# Share of letters carrying accents above which a text counts as written with accents
# (Vietnamese prose runs at 25-40%; a text typed without accents at 0).
ACCENTED_SHARE = 0.05
ACCENT_SAMPLE = 5000  # characters read to decide

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
        # English sub-sites of provincial departments (sotttt.hanoi.gov.vn/web/sotttt-eng)
        # publish the same programmes in English; seen 2026-11-22 in shared/samples/real.
        ("administrative reform", STRONG),
        ("administrative procedures?", STRONG),
        ("(?:public online|online public) services?", STRONG),
        ("one-stop (?:shop|mechanism|desk)", STRONG),
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
        ("(?:merger|rearrangement|reorganization) of (?:the )?administrative units?", STRONG),
    ),
}

# Quotes around terms (bộ phận “một cửa”) and odd spaces become plain spaces.
_QUOTES = re.compile("[\"“”‘’'«»\u00a0\u2007\u202f]")
_GAP_LONG = r"(?:\s+[^\s.;:!?]+){0,8}?\s+"
_GAP = r"(?:\s+[^\s.;:!?]+){0,3}?\s+"


# Letters carrying a mark (what tells accented text from text typed without accents).
_MARKED = re.compile(
    "["
    + "".join(
        chr(cp)
        for cp in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00))
        if fold(chr(cp)) != chr(cp)
    )
    + "]"
)
_LETTER = re.compile(r"[^\W\d_]")


def _regex(pattern: str) -> str:
    return pattern.replace(" …… ", _GAP_LONG).replace(" … ", _GAP).replace(" ", r"\s+")


@dataclass(frozen=True)
class _Matcher:
    """All terms of one topic as one alternation, heaviest then longest first.

    The alternation sits in a lookahead so that every start position is tried, overlapping
    hits included ("sau sắp xếp" must not hide "sắp xếp đơn vị hành chính").
    """

    accented: re.Pattern[str]
    folded: re.Pattern[str]
    weights: dict[str, int]


def _matcher(terms: tuple[tuple[str, int], ...]) -> _Matcher:
    ordered = sorted(terms, key=lambda term: (-term[1], -len(term[0])))
    accented: list[str] = []
    folded: list[str] = []
    weights: dict[str, int] = {}
    for i, (pattern, weight) in enumerate(ordered):
        pattern = canonical_tones(pattern)
        # "ĐVHC" is also written "DVHC" in accented text.
        accented.append(f"(?P<t{i}>{_regex(pattern.replace('đ', '[đd]'))})")
        folded.append(f"(?P<t{i}>{_regex(fold(pattern))})")
        weights[f"t{i}"] = weight
    return _Matcher(
        re.compile(rf"(?<!\w)(?=(?:{'|'.join(accented)})(?!\w))"),
        re.compile(rf"(?<!\w)(?=(?:{'|'.join(folded)})(?!\w))"),
        weights,
    )


_MATCHERS: dict[str, _Matcher] = {topic: _matcher(terms) for topic, terms in VOCABULARY.items()}


@dataclass(frozen=True)
class _Prepared:
    text: str  # lower case, NFC, one tone-mark placement
    accented: bool  # written with accents (else matched folded)


def _prepare(text: str) -> _Prepared:
    text = _QUOTES.sub(" ", unicodedata.normalize("NFC", text or ""))
    lower = canonical_tones_nfc(text.lower())
    sample = lower[:ACCENT_SAMPLE]
    letters = len(_LETTER.findall(sample)) or 1
    if len(_MARKED.findall(sample)) / letters >= ACCENTED_SHARE:
        return _Prepared(lower, True)
    return _Prepared(fold(lower), False)


def _hits(matcher: _Matcher, prepared: _Prepared) -> list[int]:
    """Weights of the non-overlapping term hits (heaviest, then longest, win)."""
    if not prepared.text:
        return []
    pattern = matcher.accented if prepared.accented else matcher.folded
    found: list[tuple[int, int, int]] = []
    for m in pattern.finditer(prepared.text):
        name = m.lastgroup or ""
        start, end = m.span(name)
        found.append((start, end, matcher.weights[name]))
    found.sort(key=lambda hit: (-hit[2], hit[0] - hit[1], hit[0]))
    # Positions already claimed by a heavier/longer hit: a bitmap keeps this linear (an
    # all-pairs overlap check took 38 s on a 1 MB page).
    occupied = bytearray(len(prepared.text) + 1)
    weights: list[int] = []
    for start, end, weight in found:
        if occupied.find(1, start, end) == -1:
            occupied[start:end] = b"\x01" * (end - start)
            weights.append(weight)
    return weights


def _threshold(*texts: str) -> int:
    words = sum(len(t.split()) for t in texts)
    return max(SCORE_THRESHOLD, math.ceil(words / WORDS_PER_POINT))


def classify(title: str, lead: str | None, body: str) -> list[str]:
    """The topics (a sorted subset of ``["cchc", "dvhc"]``) an article is about.

    See the module docstring for the rules: a strong term in the title or lead, or enough
    weighted mentions overall.
    """
    zones = [_prepare(title), _prepare(lead or ""), _prepare(body)]
    threshold = _threshold(title or "", lead or "", body or "")
    topics: list[str] = []
    for topic, matcher in _MATCHERS.items():
        heading = _hits(matcher, zones[0]) + _hits(matcher, zones[1])
        if any(weight >= STRONG for weight in heading):
            topics.append(topic)
        elif sum(heading) + sum(_hits(matcher, zones[2])) >= threshold:
            topics.append(topic)
    return sorted(topics)
