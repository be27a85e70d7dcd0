from __future__ import annotations

import random
import unicodedata

import pytest

from archive.legacy import (
    decode_html_bytes,
    detect_legacy,
    encode_tcvn3,
    encode_vni,
    fix_legacy,
    is_vietnamese_syllable,
    tcvn3_to_unicode,
    vni_to_unicode,
)

# First paragraphs of samples/seeds/000 (quận Thanh Xuân, Kế hoạch 139/KH-UBND), copied here.
PARAGRAPH = (
    "UBND quận Thanh Xuân vừa ban hành Kế hoạch số 139/KH-UBND ngày 29/3/2024 về thông tin, "
    "tuyên truyền về thực hiện sắp xếp đơn vị hành chính (ĐVHC) giai đoạn 2023-2025.\n"
    "\n"
    "Theo đó, mục đích của Kế hoạch nhằm tuyên truyền tạo sự thống nhất cao về nhận thức, hành "
    "động, trách nhiệm của các cấp ủy đảng, chính quyền, Mặt trận Tổ quốc, các tổ chức chính trị "
    "- xã hội, cán bộ, đảng viên, công chức, viên chức, sự đồng thuận trong các tầng lớp Nhân dân "
    "về mục đích, ý nghĩa, các chủ trương, quy định để việc sắp xếp ĐVHC đảm bảo tiến độ, quy "
    "trình, quy định, có chất lượng, hiệu quả cao, đáp ứng đầy đủ các yêu cầu đề ra."
)
SENTENCE = (
    "Ủy ban nhân dân quận Thanh Xuân ban hành Kế hoạch tuyên truyền về sắp xếp đơn vị hành chính."
)

_TONES = "\u0300\u0301\u0303\u0309\u0323"


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


def encode_cp1258(text: str) -> bytes:
    """What Windows produces: precomposed vowel letters (â ơ ư ...) + combining tone marks."""
    out = []
    for ch in nfc(text):
        parts = nfd(ch)
        base = nfc("".join(c for c in parts if c not in _TONES))
        out.append(base + "".join(c for c in parts if c in _TONES))
    return "".join(out).encode("cp1258")


# --- TCVN3 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rendering", ["cp1252", "latin-1"])
def test_tcvn3_round_trip_of_a_real_paragraph(rendering: str) -> None:
    garbage = encode_tcvn3(PARAGRAPH).decode(rendering)
    assert "tuyªn truyÒn" in garbage  # it really is the familiar garbage
    assert tcvn3_to_unicode(garbage) == nfc(PARAGRAPH)
    assert detect_legacy(garbage) == "tcvn3"
    assert fix_legacy(garbage) == (nfc(PARAGRAPH), "tcvn3")


def test_tcvn3_latin1_rendering_restores_windows_punctuation() -> None:
    # .VnTime keeps the Windows quotes and dashes at 0x80-0x9F; Latin-1 makes them C1 controls.
    text = "“Th«ng b¸o” – Quy ®Þnh…"
    latin1 = text.encode("cp1252").decode("latin-1")
    assert "\x93" in latin1
    assert tcvn3_to_unicode(latin1) == tcvn3_to_unicode(text) == "“Thông báo” – Quy định…"
    assert fix_legacy(latin1) == ("“Thông báo” – Quy định…", "tcvn3")


@pytest.mark.parametrize(
    ("garbage", "expected"),
    [
        ("B¶o Th¾ng", "Bảo Thắng"),
        ("§¶ng", "Đảng"),
        ("Th«ng b¸o", "Thông báo"),
        ("Ch\xad¬ng tr×nh", "Chương trình"),
        ("Ch¬ng tr×nh", "Chương trình"),  # soft hyphen (ư) lost on the way
        ("Quy ®Þnh", "Quy định"),
        ("ng\xadêi d©n", "người dân"),
        ("®\xadîc", "được"),
        ("®−îc", "được"),  # PDF text extraction turns the soft hyphen into a minus sign
        ("Céng hßa x· héi chñ nghÜa ViÖt Nam", "Cộng hòa xã hội chủ nghĩa Việt Nam"),
        ("§éc lËp - Tù do - H¹nh phóc", "Độc lập - Tự do - Hạnh phúc"),
        ("Uû ban nh©n d©n", "Uỷ ban nhân dân"),
        ("UBND ®· ban hµnh", "UBND đã ban hành"),
        ("H§ND huyÖn B¶o Th¾ng", "HĐND huyện Bảo Thắng"),
    ],
)
def test_tcvn3_known_garbage(garbage: str, expected: str) -> None:
    assert tcvn3_to_unicode(garbage) == expected
    assert fix_legacy(garbage) == (expected, "tcvn3")


def test_tcvn3_table_anchors() -> None:
    anchors = {
        0xA8: "ă", 0xA9: "â", 0xAA: "ê", 0xAB: "ô", 0xAC: "ơ", 0xAD: "ư", 0xAE: "đ",
        0xA1: "Ă", 0xA2: "Â", 0xA3: "Ê", 0xA4: "Ô", 0xA5: "Ơ", 0xA6: "Ư", 0xA7: "Đ",
        0xB5: "à", 0xB6: "ả", 0xB7: "ã", 0xB8: "á", 0xB9: "ạ", 0xBB: "ằ",
    }  # fmt: skip
    for byte, letter in anchors.items():
        assert tcvn3_to_unicode("x" + chr(byte)) == "x" + letter
        assert encode_tcvn3(letter) == bytes([byte])


def test_tcvn3_all_caps_text_from_h_fonts_is_upper_cased() -> None:
    # .VnTimeH draws the lower-case slots as capitals.
    garbage = "CéNG HßA X· HéI CHñ NGHÜA VIÖT NAM"
    assert tcvn3_to_unicode(garbage) == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    heading = "TM. ỦY BAN NHÂN DÂN\nII. NỘI DUNG, HÌNH THỨC TUYÊN TRUYỀN"
    assert tcvn3_to_unicode(encode_tcvn3(heading).decode("cp1252")) == heading


def test_tcvn3_title_case_toned_capital_is_a_known_limit() -> None:
    # "Ủ" has no .VnTime slot; its bytes are those of "ủ", so the capital cannot be recovered.
    garbage = encode_tcvn3("Ủy ban nhân dân").decode("cp1252")
    assert garbage == "ñy ban nh©n d©n"
    assert tcvn3_to_unicode(garbage) == "ủy ban nhân dân"


# --- VNI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("garbage", "expected"),
    [
        ("Vieät Nam", "Việt Nam"),
        ("Thaønh phoá Hoà Chí Minh", "Thành phố Hồ Chí Minh"),
        ("Uûy ban nhaân daân", "Ủy ban nhân dân"),
        ("Quyeát ñònh", "Quyết định"),
        ("UÛY BAN NHAÂN DAÂN", "ỦY BAN NHÂN DÂN"),
        ("ngöôøi daân", "người dân"),
        ("ñöôïc tieáp nhaän", "được tiếp nhận"),
        ("Ñaûng boä", "Đảng bộ"),
        ("nghóa vuï, chæ ñaïo", "nghĩa vụ, chỉ đạo"),
        ("naêm, Baéc, haèng, thaúng, ñaëc, kyø hoïp", "năm, Bắc, hằng, thẳng, đặc, kỳ họp"),
    ],
)
def test_vni_known_words(garbage: str, expected: str) -> None:
    assert vni_to_unicode(garbage) == expected
    assert fix_legacy(garbage) == (expected, "vni")


@pytest.mark.parametrize("rendering", ["cp1252", "latin-1"])
def test_vni_round_trip_of_a_real_paragraph(rendering: str) -> None:
    garbage = encode_vni(PARAGRAPH).decode(rendering)
    assert "tuyeân truyeàn" in garbage
    assert vni_to_unicode(garbage) == nfc(PARAGRAPH)
    assert detect_legacy(garbage) == "vni"
    assert fix_legacy(garbage) == (nfc(PARAGRAPH), "vni")


def test_vni_round_trip_keeps_capitals() -> None:
    text = "Ủy ban nhân dân Thành phố Hồ Chí Minh. ĐẢNG CỘNG SẢN VIỆT NAM. Ỷ lại, Ỵ."
    assert vni_to_unicode(encode_vni(text).decode("cp1252")) == text


# --- windows-1258 and declared charsets --------------------------------------------------------


def test_cp1258_bytes_declared() -> None:
    raw = encode_cp1258(SENTENCE)
    text, used = decode_html_bytes(raw, "windows-1258")
    assert (text, used) == (SENTENCE, "windows-1258")
    assert unicodedata.is_normalized("NFC", text)


def test_cp1258_bytes_declared_in_meta() -> None:
    raw = b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1258">'
    raw += b"</head><body><p>" + encode_cp1258(SENTENCE) + b"</p></body></html>"
    text, used = decode_html_bytes(raw)
    assert used == "windows-1258"
    assert f"<p>{SENTENCE}</p>" in text


def test_cp1258_bytes_undeclared_are_guessed() -> None:
    text, used = decode_html_bytes(encode_cp1258(PARAGRAPH))
    assert (text, used) == (nfc(PARAGRAPH), "windows-1258")


@pytest.mark.parametrize(
    "label", ["iso-8859-1", "ISO-8859-1", "latin1", "windows-1252", "windows-1258"]
)
def test_utf8_declared_as_single_byte_is_decoded_as_utf8(label: str) -> None:
    raw = SENTENCE.encode("utf-8")
    assert "Ä‘" in raw.decode("cp1252", errors="replace")  # what trusting the label would show
    assert decode_html_bytes(raw, label) == (SENTENCE, "utf-8")


def test_utf8_under_meta_latin1_is_decoded_as_utf8() -> None:
    raw = b'<meta charset="iso-8859-1"><title>' + SENTENCE.encode() + b"</title>"
    text, used = decode_html_bytes(raw)
    assert used == "utf-8"
    assert SENTENCE in text


def test_http_header_wins_over_meta() -> None:
    raw = b'<meta charset="utf-8"><p>' + encode_cp1258(SENTENCE) + b"</p>"
    text, used = decode_html_bytes(raw, "windows-1258")
    assert used == "windows-1258"
    assert SENTENCE in text


def test_latin1_label_on_real_latin1_text_decodes_as_windows_1252() -> None:
    raw = "“café” – Thông báo".encode("cp1252") + b" \x81"
    assert decode_html_bytes(raw, "iso-8859-1") == ("“café” – Thông báo \x81", "windows-1252")


@pytest.mark.parametrize(
    ("bom", "codec", "name"),
    [
        (b"\xef\xbb\xbf", "utf-8", "utf-8"),
        (b"\xff\xfe", "utf-16-le", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be", "utf-16-be"),
    ],
)
def test_bom_wins_over_declared(bom: bytes, codec: str, name: str) -> None:
    assert decode_html_bytes(bom + SENTENCE.encode(codec), "iso-8859-1") == (SENTENCE, name)


def test_nfd_utf8_comes_out_nfc() -> None:
    assert decode_html_bytes(nfd(SENTENCE).encode("utf-8"), "utf-8") == (SENTENCE, "utf-8")


def test_tcvn3_bytes_are_not_mangled_by_a_cp1258_guess() -> None:
    # windows-1258 would turn several TCVN3 letters (0xCC, 0xD2, 0xDE, 0xEC, 0xF2) into marks.
    raw = encode_tcvn3(PARAGRAPH)
    for declared in (None, "windows-1258", "utf-8"):
        text, used = decode_html_bytes(raw, declared)
        assert used == "windows-1252"
        assert fix_legacy(text) == (nfc(PARAGRAPH), "tcvn3")


def test_vni_bytes_undeclared() -> None:
    text, used = decode_html_bytes(encode_vni(PARAGRAPH))
    assert used == "windows-1252"
    assert fix_legacy(text) == (nfc(PARAGRAPH), "vni")


# --- negatives: never guess silently -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t",
        PARAGRAPH,
        SENTENCE,
        SENTENCE.upper(),
        "Thông báo",
        "Thông tin tóm tắt",
        "Hà Nội ©2024",
        "café",
        "½",
        "Price: 5½ lb © 2024 ® Company™ — «quoted» · item ¶ section § 3",
        "Hello world, this is plain English text about administrative reform.",
        "Le café est très bon à Paris. Où est la gare? Noël approche, déjà l'hiver.",
        "naïve coöperation façade résumé déjà vu",
        "Müller fährt über die Brücke nach Köln; schöne Grüße aus München.",
        "España: el niño comió piña en la montaña. ¿Dónde está? Años, señor, corazón.",
        "Não há São Paulo sem ação e coração; informações à população.",
        "Cổng TTĐT quận — “Thông báo” © 2024, café ½ giá",
        # A Unicode article that quotes garbage as an example is not itself legacy.
        "Văn bản cũ gõ bằng phông .VnTime hiện ra như `B¶o Th¾ng` thay vì Bảo Thắng; "
        "đây là lỗi mã hóa TCVN3 thường gặp trên các cổng thông tin cấp huyện.",
    ],
)
def test_not_detected(text: str) -> None:
    assert detect_legacy(text) is None
    assert fix_legacy(text) == (nfc(text), None)


def test_binary_junk_is_not_detected() -> None:
    rng = random.Random(20240329)
    for _ in range(1500):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        for rendering in ("latin-1", "cp1252"):
            try:
                text = raw.decode(rendering)
            except UnicodeDecodeError:
                continue
            assert detect_legacy(text) is None, text


def test_nfd_input_comes_out_nfc() -> None:
    assert fix_legacy(nfd(PARAGRAPH)) == (nfc(PARAGRAPH), None)
    assert fix_legacy(nfd(SENTENCE)) == (SENTENCE, None)


def test_mixed_page_converts_only_the_legacy_lines() -> None:
    shell = ["Trang chủ", "Giới thiệu", "Tin tức - Sự kiện", "» ", "Liên hệ: Hà Nội ©2024"]
    body = encode_tcvn3(PARAGRAPH).decode("cp1252")
    page = "\n".join([*shell[:4], body, shell[4]])
    fixed, enc = fix_legacy(page)
    assert enc == "tcvn3"
    assert fixed == "\n".join([*shell[:4], nfc(PARAGRAPH), shell[4]])


# --- the syllable grammar the detector leans on -------------------------------------------------


@pytest.mark.parametrize(
    "word",
    ["người", "trường", "quyền", "khuyến", "hoạch", "thuở", "khỏe", "giữa", "nghĩa", "Việt",
     "Đảng", "oanh", "khuỷu", "ước", "ạ", "QUỐC", nfd("được")],
)  # fmt: skip
def test_valid_syllables(word: str) -> None:
    assert is_vietnamese_syllable(word)


@pytest.mark.parametrize(
    "word", ["café", "cafộ", "world", "viọt", "chơng", "ruô", "tiêt", "thànhx", "Müller"]
)
def test_invalid_syllables(word: str) -> None:
    assert not is_vietnamese_syllable(word)
