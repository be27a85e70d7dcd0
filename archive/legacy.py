"""Legacy Vietnamese encodings: detect TCVN3 and VNI "garbage", convert it to Unicode NFC,
and decode HTML bytes without trusting a wrong charset.

Old district pages and Word attachments were typed with legacy fonts. Python has no codec for
them, so they reach us already decoded as windows-1252 (or Latin-1) and look like garbage:

* **TCVN3** (TCVN 5712:1993 "VN3", ABC keyboard, ``.VnTime``/``.VnArial`` fonts): one byte
  per letter in 0xA1-0xFE, e.g. ``Th«ng b¸o`` = "Thông báo", ``Quy ®Þnh`` = "Quy định",
  ``ng­êi`` = "người" (0xAD, ``ư``, is the soft hyphen, invisible on screen).
  Upper-case *toned* letters have no slot: the ``H`` fonts (``.VnTimeH``) draw the
  lower-case slots as capitals, so ``VIÖT NAM`` means "VIỆT NAM".
* **VNI** (VNI-Windows fonts): base letter + a mark byte, e.g. ``Vieät Nam`` = "Việt Nam",
  ``Uûy ban nhaân daân`` = "Ủy ban nhân dân"; ``ô``/``ö`` are ``ơ``/``ư``, ``ñ``/``Ñ`` are
  ``đ``/``Đ``, and ``ì í æ ó ò`` are the five toned ``i``.
* **windows-1258**: Python has the codec; it yields base letter + combining tone mark, so the
  result must be NFC-normalised (:func:`decode_html_bytes` does this).

Both tables use only 0xA1-0xFE, where windows-1252 and Latin-1 agree, so the two renderings of
the garbage convert identically. The fonts keep the Windows punctuation in 0x80-0x9F (curly
quotes, dashes, ellipsis); when the garbage went through Latin-1 those arrive as C1 control
characters, and both converters map them back to the windows-1252 punctuation.

Detection (conservative: never guess silently)
----------------------------------------------
The text is split into lines and word tokens (letters plus the 0xA1-0xFE range). Each token
that carries a candidate character is judged separately for TCVN3 and for VNI with a Vietnamese
syllable grammar (onset + rhyme + tone/final rule, :func:`is_vietnamese_syllable`):

* **hit**: the converted token is a valid Vietnamese syllable and the token as it stands is not
  (``Th«ng`` -> "thông"; ``Vieät`` -> "việt");
* **miss**: the converted token is not a valid syllable (``café`` -> "cafộ");
* **neutral**: valid both ways (``báo``, ``công``, ``Hoà``), or a single character (``©``,
  ``½``, ``ë``) - these say nothing about the encoding.

Tokens with a letter above U+00FF (``Nội``, ``được``) are **native Unicode** and make their line
ineligible. Thresholds, per encoding, counted over the eligible lines:

* ``MIN_HITS`` = 2 hits, at least one of them three or more characters long. A single hit is
  accepted only when the whole text has no miss and no native-Unicode token and the hit is
  *strong*: three or more characters with (TCVN3) a non-letter such as ``¶ ¸ « ®`` or an
  upper-case Latin-1 letter inside a lower-case word (``§¶ng``, ``ViÖt``), or (VNI) a vowel
  followed by one of ``ø û õ â ä å ê ë ü`` (``Vieät``);
* ``MIN_HIT_SHARE`` = 0.6: hits / (hits + misses) - French, German or Spanish words fall to
  misses;
* ``MAX_UNICODE_PER_HIT`` = 4: native-Unicode tokens in the whole text at most 4 per hit, so a
  Unicode article that merely *quotes* ``B¶o Th¾ng`` is left alone, while a Unicode page shell
  around a legacy article body is still detected.

A token holding a Latin-1 letter that the table never produces (TCVN3: ``À Á à ð ÿ``...; VNI:
``ç ß ý``...) is a miss. Text with C0 control characters or U+FFFD in more than 1% of its
non-space characters is binary, never legacy.

If both encodings qualify the one with more (hits - misses) wins; a tie is "not detected".
:func:`fix_legacy` converts the whole text when it holds no native-Unicode token, and otherwise
only the lines that have at least one hit, no more misses than hits, and no native Unicode.

Limits
------
* Title-case upper-case toned letters cannot be told apart in TCVN3 (``ñy`` is "ủy" whether it
  was drawn with ``.VnTime`` or ``.VnTimeH``); all-caps words are restored (a word with two or
  more ASCII capitals and no ASCII lower-case letter is upper-cased, and a one-capital word such
  as ``X·`` follows its all-caps neighbours on the same line).
* A lost soft hyphen (``ư`` in TCVN3) is restored only where the syllable is otherwise
  impossible (``Ch¬ng`` -> "Chương", ``®îc`` -> "được", ``r­îu``/``rîu`` -> "rượu") and, when
  the text has no soft hyphen at all, in ``ngời`` -> "người". ``mời``/``mười`` stay ambiguous.
  A PDF minus sign between letters (``®−îc``) is read as the soft hyphen.
* Very short legacy strings (one ambiguous word) are not detected. Convert them explicitly with
  :func:`tcvn3_to_unicode` / :func:`vni_to_unicode` when the source is known to be legacy.
* Run :func:`fix_legacy` before :func:`archive.text.clean`, which deletes soft hyphens.
* windows-1258 text that was mis-decoded as windows-1252 is not repaired here; decode the bytes
  with :func:`decode_html_bytes` instead.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from functools import lru_cache

__all__ = [
    "MAX_UNICODE_PER_HIT",
    "MIN_HITS",
    "MIN_HIT_SHARE",
    "decode_html_bytes",
    "detect_legacy",
    "encode_tcvn3",
    "encode_vni",
    "fix_legacy",
    "is_vietnamese_syllable",
    "tcvn3_to_unicode",
    "vni_to_unicode",
]

MIN_HITS = 2
MIN_HIT_SHARE = 0.6
MAX_UNICODE_PER_HIT = 4


def _nfc(s: str) -> str:
    if s.isascii() or unicodedata.is_normalized("NFC", s):
        return s
    return unicodedata.normalize("NFC", s)


# --- windows-1252 punctuation that Latin-1 turns into C1 controls ------------------------------

_C1_TO_CP1252: dict[int, str] = {}
for _b in range(0x80, 0xA0):
    try:
        _C1_TO_CP1252[_b] = bytes([_b]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are undefined in cp1252
        pass

# --- TCVN3 (VN3) table ----------------------------------------------------------------------
# Rows: the 7 upper-case slots, the 7 lower-case base letters, then per vowel the five tones in
# the table's order huyền, hỏi, ngã, sắc, nặng. Anchors checked: ă=A8 â=A9 ê=AA ô=AB ơ=AC ư=AD
# đ=AE, Ă..Đ=A1..A7, à ả ã á ạ=B5..B9, ằ=BB; "Th«ng b¸o", "Ch­¬ng tr×nh", "Quy ®Þnh",
# "B¶o Th¾ng", "§¶ng", "Céng hßa x· héi chñ nghÜa ViÖt Nam", "§éc lËp - Tù do - H¹nh phóc".
_TCVN3_BYTES = bytes(
    [*range(0xA1, 0xA8)]  # Ă Â Ê Ô Ơ Ư Đ
    + [*range(0xA8, 0xAF)]  # ă â ê ô ơ ư đ
    + [*range(0xB5, 0xBA)]  # à ả ã á ạ
    + [0xBB, 0xBC, 0xBD, 0xBE, 0xC6]  # ằ ẳ ẵ ắ ặ
    + [*range(0xC7, 0xCC)]  # ầ ẩ ẫ ấ ậ
    + [0xCC, 0xCE, 0xCF, 0xD0, 0xD1]  # è ẻ ẽ é ẹ
    + [*range(0xD2, 0xD7)]  # ề ể ễ ế ệ
    + [0xD7, 0xD8, 0xDC, 0xDD, 0xDE]  # ì ỉ ĩ í ị
    + [0xDF, 0xE1, 0xE2, 0xE3, 0xE4]  # ò ỏ õ ó ọ
    + [*range(0xE5, 0xEA)]  # ồ ổ ỗ ố ộ
    + [*range(0xEA, 0xEF)]  # ờ ở ỡ ớ ợ
    + [0xEF, 0xF1, 0xF2, 0xF3, 0xF4]  # ù ủ ũ ú ụ
    + [*range(0xF5, 0xFA)]  # ừ ử ữ ứ ự
    + [*range(0xFA, 0xFF)]  # ỳ ỷ ỹ ý ỵ
)
_TCVN3_LETTERS = (
    "ĂÂÊÔƠƯĐ" "ăâêôơưđ"
    "àảãáạ" "ằẳẵắặ" "ầẩẫấậ" "èẻẽéẹ" "ềểễếệ" "ìỉĩíị"
    "òỏõóọ" "ồổỗốộ" "ờởỡớợ" "ùủũúụ" "ừửữứự" "ỳỷỹýỵ"
)  # fmt: skip
assert len(_TCVN3_BYTES) == len(_TCVN3_LETTERS) == 74

_TCVN3_CHARS = _TCVN3_BYTES.decode("latin-1")  # identical to the cp1252 rendering here
_TCVN3_DECODE: dict[int, str] = {
    **_C1_TO_CP1252,
    **dict(zip(map(ord, _TCVN3_CHARS), _TCVN3_LETTERS, strict=True)),
}
_TCVN3_SET = frozenset(_TCVN3_CHARS)
# Encoder: upper-case toned letters go to the lower-case slot (the .VnTimeH convention).
_TCVN3_ENCODE: dict[int, str] = {}
for _ch, _letter in zip(_TCVN3_CHARS, _TCVN3_LETTERS, strict=True):
    _TCVN3_ENCODE[ord(_letter)] = _ch
    _TCVN3_ENCODE.setdefault(ord(_letter.upper()), _ch)

# Lost soft hyphen: "ơ" + ng/c/u is impossible, "ươ" + ng/c/u is everyday Vietnamese.
_LOST_U = re.compile(r"(?<![uUưƯ])([ơờởỡớợƠỜỞỠỚỢ])(?=(?:ng|c|u|NG|C|U)(?![^\W\d_]))")
_NGOI = re.compile(r"\b([Nn][Gg])([ờỜ])([iI])\b")
_PDF_MINUS = re.compile(r"(?<=[A-Za-z\u00a1-\u00fe])\u2212(?=[A-Za-z\u00a1-\u00fe])")
_WORD = re.compile(r"[^\W\d_]+")


def _restore_lost_u(s: str, had_soft_hyphen: bool) -> str:
    s = _LOST_U.sub(lambda m: ("Ư" if m.group(1).isupper() else "ư") + m.group(1), s)
    if not had_soft_hyphen:
        s = _NGOI.sub(
            lambda m: m.group(1) + ("Ư" if m.group(2).isupper() else "ư") + m.group(2) + m.group(3),
            s,
        )
    return s


def _ascii_case(word: str) -> tuple[int, int]:
    upper = sum(1 for c in word if "A" <= c <= "Z")
    lower = sum(1 for c in word if "a" <= c <= "z")
    return upper, lower


def _restore_caps_line(line: str) -> str:
    words = list(_WORD.finditer(line))
    if not words:
        return line
    info = []  # (is_caps, is_caps_viet, wants_upper)
    for m in words:
        w = m.group()
        up, low = _ascii_case(w)
        non_ascii_lower = any(ord(c) > 0x7F and c.islower() for c in w)
        caps = up >= 2 and low == 0
        info.append((caps, caps and any(ord(c) > 0x7F for c in w), non_ascii_lower and low == 0))
    out = []
    last = 0
    for i, m in enumerate(words):
        caps, _, wants = info[i]
        if not wants:
            continue
        w = m.group()
        # A capital after a lower-case letter ("ñY" -> "ủY") only happens in all-caps text.
        upper_it = caps or any("A" <= c <= "Z" for c in w[1:])
        if not upper_it and _ascii_case(w)[0] <= 1:
            neigh = [info[j] for j in (i - 1, i + 1) if 0 <= j < len(words)]
            upper_it = bool(neigh) and all(n[0] for n in neigh) and any(n[1] for n in neigh)
        if upper_it:
            out.append(line[last : m.start()])
            out.append(w.upper())
            last = m.end()
    if not out:
        return line
    out.append(line[last:])
    return "".join(out)


def _restore_caps(s: str) -> str:
    if not any("A" <= c <= "Z" for c in s):
        return s
    return "\n".join(_restore_caps_line(line) for line in s.split("\n"))


def tcvn3_to_unicode(text: str) -> str:
    """Convert TCVN3 garbage (its windows-1252 or Latin-1 rendering) to Unicode NFC.

    Converts unconditionally: call :func:`detect_legacy` / :func:`fix_legacy` first unless the
    source is known to be TCVN3. All-caps words are upper-cased (``.VnTimeH`` text) and a lost
    soft hyphen (``ư``) is restored where the syllable is otherwise impossible.
    """
    had_soft_hyphen = "\u00ad" in text or "\u2212" in text
    text = _PDF_MINUS.sub("\u00ad", text)
    out = text.translate(_TCVN3_DECODE)
    out = _restore_lost_u(out, had_soft_hyphen)
    out = _restore_caps(out)
    return _nfc(out)


def encode_tcvn3(text: str) -> bytes:
    """Encode Unicode text as TCVN3 bytes (inverse table; for fixtures and tests).

    Upper-case toned letters use the lower-case slot, as ``.VnTimeH`` text does; characters
    windows-1252 cannot hold become ``?``.
    """
    return _nfc(text).translate(_TCVN3_ENCODE).encode("cp1252", errors="replace")


# --- VNI-Windows table -----------------------------------------------------------------------
# Mark bytes as (lower-case, upper-case) rendering; the case of the result follows the base.
_VNI_TONES = (
    ("ù", "Ù", "\u0301"),
    ("ø", "Ø", "\u0300"),
    ("û", "Û", "\u0309"),
    ("õ", "Õ", "\u0303"),
    ("ï", "Ï", "\u0323"),
)
_VNI_CIRC = (
    ("â", "Â", ""),
    ("á", "Á", "\u0301"),
    ("à", "À", "\u0300"),
    ("å", "Å", "\u0309"),
    ("ã", "Ã", "\u0303"),
    ("ä", "Ä", "\u0323"),
)
_VNI_BREVE = (
    ("ê", "Ê", ""),
    ("é", "É", "\u0301"),
    ("è", "È", "\u0300"),
    ("ú", "Ú", "\u0309"),
    ("ü", "Ü", "\u0303"),
    ("ë", "Ë", "\u0323"),
)
_VNI_SINGLES = {
    "ô": "ơ", "Ô": "Ơ", "ö": "ư", "Ö": "Ư", "ñ": "đ", "Ñ": "Đ",
    "æ": "ỉ", "Æ": "Ỉ", "ó": "ĩ", "Ó": "Ĩ", "ò": "ị", "Ò": "Ị",
}  # fmt: skip
# "ì í Ì Í" are the same code points in VNI and Unicode.


def _build_vni() -> tuple[dict[str, str], dict[int, str]]:
    decode: dict[str, str] = dict(_VNI_SINGLES)
    encode: dict[int, str] = {ord(v): k for k, v in _VNI_SINGLES.items()}
    bases = (("a", "a"), ("e", "e"), ("o", "o"), ("u", "u"), ("y", "y"), ("ô", "ơ"), ("ö", "ư"))
    for src_l, uni_l in bases:
        for upper in (False, True):
            src = src_l.upper() if upper else src_l
            uni = uni_l.upper() if upper else uni_l
            groups = [(_VNI_TONES, "")]
            if uni_l in "aeo":
                groups.append((_VNI_CIRC, "\u0302"))
            if uni_l == "a":
                groups.append((_VNI_BREVE, "\u0306"))
            if uni_l == "y":
                groups.append(((("î", "Î", "\u0323"),), ""))
            for marks, vowel_mark in groups:
                for mark_l, mark_u, tone in marks:
                    letter = unicodedata.normalize("NFC", uni + vowel_mark + tone)
                    decode.setdefault(src + mark_l, letter)
                    decode.setdefault(src + mark_u, letter)
                    encode.setdefault(ord(letter), src + (mark_u if upper else mark_l))
    return decode, encode


_VNI_DECODE, _VNI_ENCODE = _build_vni()
_VNI_RE = re.compile("|".join(re.escape(k) for k in sorted(_VNI_DECODE, key=len, reverse=True)))
_VNI_SET = frozenset("".join(_VNI_DECODE)) - frozenset("aeouyAEOUY")
_VNI_LETTERS = _VNI_SET | frozenset("ìíÌÍ")
# A vowel followed by one of these marks does not occur in French/German/Spanish words.
_VNI_STRONG = re.compile(r"[aeouyôöAEOUYÔÖ][øûõâäåêëüØÛÕÂÄÅÊËÜ]")


def vni_to_unicode(text: str) -> str:
    """Convert VNI-Windows garbage (windows-1252 or Latin-1 rendering) to Unicode NFC.

    Converts unconditionally: call :func:`detect_legacy` / :func:`fix_legacy` first unless the
    source is known to be VNI.
    """
    text = text.translate(_C1_TO_CP1252)
    return _nfc(_VNI_RE.sub(lambda m: _VNI_DECODE[m.group()], text))


def encode_vni(text: str) -> bytes:
    """Encode Unicode text as VNI-Windows bytes (inverse table; for fixtures and tests)."""
    return _nfc(text).translate(_VNI_ENCODE).encode("cp1252", errors="replace")


# --- Vietnamese syllable grammar --------------------------------------------------------------

_TONE_MARKS = {
    "\u0300": "huyen",
    "\u0301": "sac",
    "\u0303": "nga",
    "\u0309": "hoi",
    "\u0323": "nang",
}
_ONSET = "ngh|ng|nh|ch|gh|gi|kh|ph|th|tr|qu|[bcdđghklmnprstvx]"
_CLOSED = "uyê|iê|yê|ươ|uô|oă|uâ|[ăâ]"  # must take a final consonant
_CLOSABLE = "oa|oe|uê|uy|[aeêiyoôuư]"  # may take a final consonant
_OPEN = (
    "oai|oay|oao|oeo|uây|uya|uyu|ươi|ươu|uôi|iêu|yêu|"
    "ai|ao|au|ay|âu|ây|eo|êu|ia|iu|oi|ôi|ơi|ui|ưi|ưa|ua|ưu|uơ|ơ"
)
_FINAL = "ng|nh|ch|[cmnpt]"
_SYLLABLE = re.compile(
    rf"(?:{_ONSET})?"
    rf"(?:(?:{_CLOSED})(?P<f>{_FINAL})|(?:{_CLOSABLE})(?P<f1>{_FINAL})?|ơ(?P<f2>[mnpt])|(?:{_OPEN}))"
)


@lru_cache(maxsize=65536)
def is_vietnamese_syllable(word: str) -> bool:
    """True when ``word`` (any case, NFC or NFD) is a well-formed Vietnamese syllable.

    Checks onset + rhyme against the standard inventory, at most one tone mark, and that a
    syllable ending in c/ch/p/t carries sắc or nặng. Permissive on rare rhymes: it separates
    Vietnamese from garbage and foreign words, it is not a spelling checker.
    """
    decomposed = unicodedata.normalize("NFD", word.lower())
    tones = [c for c in decomposed if c in _TONE_MARKS]
    if len(tones) > 1:
        return False
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
    m = _SYLLABLE.fullmatch(base)
    if m is None:
        return False
    final = m.group("f") or m.group("f1") or m.group("f2")
    if final in ("c", "ch", "p", "t"):
        return bool(tones) and _TONE_MARKS[tones[0]] in ("sac", "nang")
    return True


# --- detection ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"(?:[^\W\d_]|[\u00a1-\u00fe])+")
_HIT, _LONG_HIT, _STRONG, _MISS, _NEUTRAL = 2, 3, 4, 1, 0


@lru_cache(maxsize=65536)
def _judge_tcvn3(token: str) -> int:
    if len(token) < 2 or not _TCVN3_SET.intersection(token):
        return _NEUTRAL
    if any(c > "\x7f" and c not in _TCVN3_SET for c in token):
        return _MISS  # a Latin-1 letter the TCVN3 table leaves empty ("Á", "à", "ð")
    converted = tcvn3_to_unicode(token)
    if not is_vietnamese_syllable(converted):
        return _MISS
    if is_vietnamese_syllable(token):
        return _NEUTRAL
    strong = any(
        (c in _TCVN3_SET and not c.isalpha())
        or ("\u00c0" <= c <= "\u00de" and i > 0 and token[i - 1].islower())
        for i, c in enumerate(token)
    )
    if len(token) < 3:
        return _HIT
    return _STRONG if strong and any(c.isascii() for c in token) else _LONG_HIT


@lru_cache(maxsize=65536)
def _judge_vni(token: str) -> int:
    if len(token) < 2 or not _VNI_SET.intersection(token):
        return _NEUTRAL
    if any(c > "\x7f" and c not in _VNI_LETTERS for c in token):
        return _MISS  # a Latin-1 letter VNI never produces ("ç", "ß", "ý")
    converted = vni_to_unicode(token)
    if not is_vietnamese_syllable(converted):
        return _MISS
    if is_vietnamese_syllable(token):
        return _NEUTRAL
    if len(token) < 3:
        return _HIT
    return _STRONG if _VNI_STRONG.search(token) else _LONG_HIT


class _Tally:
    __slots__ = ("hits", "long_hits", "misses", "strong")

    def __init__(self) -> None:
        self.hits = self.long_hits = self.misses = self.strong = 0

    def add(self, verdict: int) -> None:
        if verdict >= _HIT:
            self.hits += 1
            self.long_hits += verdict >= _LONG_HIT
            self.strong += verdict == _STRONG
        elif verdict == _MISS:
            self.misses += 1


_JUDGES = {"tcvn3": _judge_tcvn3, "vni": _judge_vni}


def _line_tallies(line: str) -> tuple[int, dict[str, _Tally]]:
    unicode_tokens = 0
    tallies = {enc: _Tally() for enc in _JUDGES}
    for token in _TOKEN.findall(_PDF_MINUS.sub("\u00ad", line)):
        if any(ord(c) > 0xFF for c in token):
            unicode_tokens += 1
            continue
        if token.isascii():
            continue
        for enc, judge in _JUDGES.items():
            tallies[enc].add(judge(token))
    return unicode_tokens, tallies


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\ufffd]")


def _looks_binary(text: str) -> bool:
    """C0 controls or U+FFFD in more than 1% of the non-space characters: not text."""
    bad = len(_CONTROL.findall(text))
    return bad > 0 and bad * 100 > len(text) - text.count(" ")


def _assess(text: str) -> tuple[str | None, list[tuple[int, dict[str, _Tally]]], int]:
    lines = [_line_tallies(line) for line in text.split("\n")]
    if _looks_binary(text):
        return None, lines, 0
    unicode_total = sum(u for u, _ in lines)
    scores: dict[str, int] = {}
    for enc in _JUDGES:
        hits = sum(t[enc].hits for u, t in lines if u == 0)
        misses = sum(t[enc].misses for u, t in lines if u == 0)
        strong = sum(t[enc].strong for u, t in lines if u == 0)
        long_hits = sum(t[enc].long_hits for u, t in lines if u == 0)
        enough = hits >= MIN_HITS or (
            hits == 1 and strong == 1 and misses == 0 and unicode_total == 0
        )
        if (
            enough
            and long_hits >= 1
            and hits / (hits + misses) >= MIN_HIT_SHARE
            and unicode_total <= MAX_UNICODE_PER_HIT * hits
        ):
            scores[enc] = hits - misses
    if not scores:
        return None, lines, unicode_total
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None, lines, unicode_total
    return ranked[0][0], lines, unicode_total


def detect_legacy(text: str) -> str | None:
    """Return ``"tcvn3"`` or ``"vni"`` when ``text`` is confidently legacy garbage, else None.

    See the module docstring for the token verdicts and thresholds. Ordinary Unicode
    Vietnamese, English, and text with a few Latin-1 accents or symbols are not detected.
    """
    if not text or text.isascii():
        return None
    return _assess(_nfc(text))[0]


def fix_legacy(text: str) -> tuple[str, str | None]:
    """Return ``(NFC text, encoding)``; legacy TCVN3/VNI garbage converted, else unchanged.

    The text is always returned in NFC. When it also holds native-Unicode words (a Unicode page
    shell around a legacy article), only the lines that are legacy on their own evidence are
    converted; everything else is left as it was.
    """
    text = _nfc(text)
    if not text or text.isascii():
        return text, None
    enc, lines, unicode_total = _assess(text)
    if enc is None:
        return text, None
    convert = tcvn3_to_unicode if enc == "tcvn3" else vni_to_unicode
    if unicode_total == 0:
        return convert(text), enc
    parts = text.split("\n")
    for i, (unicode_tokens, tallies) in enumerate(lines):
        t = tallies[enc]
        if unicode_tokens == 0 and t.hits >= 1 and t.misses <= t.hits:
            parts[i] = convert(parts[i])
    return "\n".join(parts), enc


# --- HTML bytes -------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
# Python codec name -> name we report. Latin-1 and ASCII labels mean windows-1252 on the web
# (WHATWG Encoding Standard), which is also what old Vietnamese pages really contained.
_CANONICAL = {
    "utf-8": "utf-8",
    "iso8859-1": "windows-1252",
    "latin-1": "windows-1252",
    "ascii": "windows-1252",
    "cp1252": "windows-1252",
    "cp1258": "windows-1258",
    "utf-16": "utf-16",
    "utf-16-le": "utf-16-le",
    "utf-16-be": "utf-16-be",
}
_PY_CODEC = {"windows-1252": "cp1252", "windows-1258": "cp1258"}
# Candidates for charset-normalizer when nothing is declared: what Vietnamese pages use.
_GUESS_CANDIDATES = ["utf_8", "cp1258", "cp1252", "utf_16"]
# UTF-8 lead byte + continuation byte, as a single-byte codec renders it ("Ä‘", "áº", "Ã©").
_MOJIBAKE_BYTES = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")


def _charset_name(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").strip().lower()
    if label.startswith("x-user-defined"):
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _CANONICAL.get(name, name)


def _sniff_meta(raw: bytes) -> str | None:
    m = _META_CHARSET.search(raw[:4096])
    return m.group(1).decode("ascii") if m else None


def _decode_single_byte(raw: bytes, name: str) -> str:
    # cp1252 leaves 0x81 0x8D 0x8F 0x90 0x9D undefined; browsers map them to U+0081... .
    text = raw.decode(_PY_CODEC.get(name, name), errors="surrogateescape")
    if any("\udc80" <= c <= "\udcff" for c in text):
        text = "".join(chr(ord(c) - 0xDC00) if "\udc80" <= c <= "\udcff" else c for c in text)
    return text


def _as_utf8_if_mislabelled(raw: bytes, declared_text: str) -> str | None:
    """UTF-8 bytes under a single-byte label: valid UTF-8 with multibyte sequences whose
    single-byte rendering is the familiar mojibake ("Ä‘", "áº", "Ã©")."""
    if raw.isascii() or not _MOJIBAKE_BYTES.search(raw):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text != declared_text else None


def _guess(raw: bytes) -> tuple[str, str]:
    if raw.isascii():
        return raw.decode("ascii"), "ascii"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - dependency of requests/scrapy in practice
        best = None
    else:
        best = from_bytes(raw, cp_isolation=_GUESS_CANDIDATES).best()
    if best is None:
        return _decode_single_byte(raw, "windows-1252"), "windows-1252"
    name = _charset_name(best.encoding) or "windows-1252"
    if name in ("windows-1252", "windows-1258"):
        return _prefer_legacy_rendering(raw, name)
    return str(best), name


def _prefer_legacy_rendering(raw: bytes, name: str) -> tuple[str, str]:
    """TCVN3/VNI bytes are defined on the windows-1252 rendering; windows-1258 would turn
    several of their letters into combining marks and lose them. Keep windows-1258 only when
    the windows-1252 rendering is not legacy garbage."""
    text = _decode_single_byte(raw, name)
    if name == "windows-1258":
        as_1252 = _decode_single_byte(raw, "windows-1252")
        if detect_legacy(as_1252) is not None:
            return as_1252, "windows-1252"
    return text, name


def decode_html_bytes(raw: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode an HTML (or text) body to NFC text; return ``(text, encoding used)``.

    Order: a BOM wins; then the declared charset (``declared``, e.g. from the HTTP
    ``Content-Type`` header, else ``<meta charset>`` / ``http-equiv`` in the first 4 KiB),
    verified: valid UTF-8 under a single-byte label (iso-8859-1, windows-1252, windows-1258) is
    decoded as UTF-8, a UTF-8 label on bytes that are not UTF-8 falls through to guessing, and
    windows-1258 (declared or guessed) gives way to windows-1252 when the windows-1252
    rendering is TCVN3/VNI garbage (windows-1258 would destroy letters of those tables).
    Latin-1/ASCII labels decode as windows-1252 (WHATWG). windows-1258 results are NFC-composed.
    Only when nothing usable is declared: UTF-8 if valid, else charset-normalizer's best guess
    among UTF-8, windows-1258, windows-1252 and UTF-16. TCVN3/VNI garbage in the result is left
    for :func:`fix_legacy`, which should run on the extracted text.
    """
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return _nfc(raw[len(bom) :].decode(name, errors="replace")), name
    name = _charset_name(declared) or _charset_name(_sniff_meta(raw))
    if name is not None:
        if name.startswith("utf-16") or name.startswith("utf-32"):
            try:
                return _nfc(raw.decode(name)), name
            except UnicodeDecodeError:
                name = None
        elif name == "utf-8":
            try:
                return _nfc(raw.decode("utf-8")), "utf-8"
            except UnicodeDecodeError:
                name = None
        else:
            try:
                text = _decode_single_byte(raw, name)
            except (LookupError, UnicodeDecodeError):
                name = None
            else:
                fixed = _as_utf8_if_mislabelled(raw, text)
                if fixed is not None:
                    return _nfc(fixed), "utf-8"
                if name == "windows-1258":
                    text, name = _prefer_legacy_rendering(raw, name)
                return _nfc(text), name
    text, used = _guess(raw)
    return _nfc(text), used
