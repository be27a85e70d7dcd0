"""CCHC / ĐVHC tagging: strong terms in the heading, or enough weight in the body."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from archive.topics import classify

# Unedited copies of shared/samples/seeds.
SEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "seeds"


def seed(prefix: str) -> str:
    paths = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    assert paths, f"seed {prefix} missing under {SEEDS}"
    return paths[0].read_text(encoding="utf-8")


def between(text: str, start: str, end: str) -> str:
    """The article part of a seed page: from ``start`` up to (not including) ``end``."""
    i = text.index(start)
    return text[i : text.index(end, i)].strip()


# --- seeds: title, lead and body as the extractor would give them -------------------------


def test_seed_000_is_dvhc() -> None:
    text = seed("000")
    title = "Kế hoạch thông tin, tuyên truyền về thực hiện sắp xếp đơn vị hành chính giai đoạn 2023-2025"
    lead = between(text, "UBND quận Thanh Xuân vừa ban hành", "\n")
    body = between(text, "Theo đó, mục đích", "Phòng Văn hóa và Thông tin quận")
    assert classify(title, lead, body) == ["dvhc"]
    # The body alone carries it too (ĐVHC throughout).
    assert classify("Tin tức", None, body) == ["dvhc"]


def test_seed_002_is_cchc() -> None:
    text = seed("002")
    title = "Đẩy mạnh công tác tuyên truyền cải cách hành chính trên địa bàn huyện Phú Lộc năm 2022"
    body = between(text, "Ngày 24/5/2022", "Thanh Tâm")
    assert classify(title, None, body) == ["cchc"]
    assert classify("Tin tức", None, body) == ["cchc"]


def test_seed_003_is_cchc() -> None:
    text = seed("003")
    title = (
        "Tập trung tuyên truyền cải cách hành chính nâng cao hiệu quả Năm kỷ cương hành chính 2017"
    )
    body = between(text, "HNP - Ngày 21/4", "Hoàng Nam")
    assert classify(title, None, body) == ["cchc"]


def test_seed_004_is_cchc() -> None:
    text = seed("004")
    title = "TÂN MINH: Tăng cường tuyên truyền công tác cải cách hành chính"
    body = between(text, "Nhằm tạo sự chuyển biến", "UBND thị trấn Tân Minh\nThống kê")
    assert classify(title, None, body) == ["cchc"]
    assert classify("Tin tức", None, body) == ["cchc"]


# --- invented cases -----------------------------------------------------------------------

PASSING_MENTION = (
    "Hội nghị đánh giá kết quả sản xuất vụ Đông Xuân, diện tích lúa đạt 1.200 ha, năng suất "
    "bình quân 62 tạ/ha. Huyện hỗ trợ giống, phân bón và hướng dẫn người dân làm thủ tục "
    "hành chính để nhận hỗ trợ. Vụ Hè Thu, huyện tiếp tục chuyển đổi cơ cấu cây trồng."
)


def test_passing_mention_is_not_cchc() -> None:
    assert classify("Tổng kết vụ Đông Xuân", None, PASSING_MENTION) == []


def test_strong_term_in_title_or_lead() -> None:
    assert classify("Công bố danh mục TTHC mới", None, "") == ["cchc"]
    assert classify("Tin hoạt động", "Bộ phận “một cửa” của xã hoạt động hiệu quả", "") == ["cchc"]
    assert classify("Lấy ý kiến về sáp nhập xã Tân Minh và xã Tân Đức", None, "") == ["dvhc"]
    assert classify("Triển khai chính quyền địa phương hai cấp", None, "") == ["dvhc"]


def test_weak_term_in_title_is_not_enough() -> None:
    assert classify("Chuyển đổi số trong nông nghiệp", None, "Nông dân bán hàng trực tuyến.") == []


def test_body_weight_reaches_threshold() -> None:
    body = (
        "Xã công khai thủ tục hành chính tại bộ phận tiếp nhận và trả kết quả. "
        "Tỷ lệ hồ sơ giải quyết đúng hạn đạt 100%, người dân nộp hồ sơ qua dịch vụ công "
        "trực tuyến ngày càng nhiều."
    )
    assert classify("Kết quả năm 2024", None, body) == ["cchc"]


def test_text_without_diacritics() -> None:
    assert classify("Day manh cai cach hanh chinh tai xa", None, "") == ["cchc"]
    assert classify("Sap xep don vi hanh chinh cap xa", None, "") == ["dvhc"]
    assert classify("Thong bao", None, "DVHC cap xa. Sap nhap 3 xa. Sap nhap xa A.") == ["dvhc"]


def test_nfd_and_tone_placement() -> None:
    title = unicodedata.normalize("NFD", "Hiện đại hoá nền hành chính, cải cách hành chính")
    assert classify(title, None, "") == ["cchc"]


def test_both_topics() -> None:
    title = "Giải quyết thủ tục hành chính cho người dân sau sắp xếp đơn vị hành chính"
    assert classify(title, None, "") == ["cchc", "dvhc"]


@pytest.mark.parametrize(
    "title",
    [
        "Khai trương một cửa hàng tiện lợi",  # "một cửa hàng" is a shop
        "Kỷ niệm 50 năm ngày thành lập thị xã",  # an anniversary, not a new unit
        "Hàng hóa sắp nhập tỉnh trong tuần tới",  # "sắp nhập" is not "sáp nhập"
        "Ngân hàng hoàn tất sáp nhập",  # a merger, but not of administrative units
    ],
)
def test_negatives(title: str) -> None:
    assert classify(title, None, "") == []


def test_long_text_needs_more_than_three_mentions() -> None:
    filler = "Huyện tổ chức nhiều hoạt động văn hóa, thể thao, chăm lo đời sống nhân dân. " * 200
    mentions = "Cải cách hành chính được chú trọng. " * 3
    assert classify("Tổng kết năm", None, filler + mentions) == []
    assert classify("Tổng kết năm", None, "Tin ngắn. " + mentions) == ["cchc"]


def test_empty() -> None:
    assert classify("", None, "") == []


def test_acronym_without_d_bar_in_accented_text() -> None:
    assert classify("Tuyên truyền về sắp xếp DVHC cấp xã", None, "") == ["dvhc"]


def test_accented_title_with_unaccented_body() -> None:
    body = "Cai cach hanh chinh. Thu tuc hanh chinh. Mot cua lien thong. TTHC."
    assert classify("Tin hoạt động của xã", None, body) == ["cchc"]
