"""Document identity: number + issuer + year, never the number alone."""

from __future__ import annotations

import pytest

from archive.documents import _issuer_matches, issuer_key


def test_issuer_key_unifies_abbreviations_and_accents():
    assert issuer_key("ỦY BAN NHÂN DÂN HUYỆN AN PHÚ") == issuer_key("UBND huyện An Phú")
    assert issuer_key("Ủy ban nhân dân Thành phố Hà Nội") == issuer_key("UBND TP Hà Nội")


@pytest.mark.parametrize(
    ("document", "cited", "same"),
    [
        ("ỦY BAN NHÂN DÂN HUYỆN AN PHÚ", "UBND huyện An Phú", True),
        ("ỦY BAN NHÂN DÂN HUYỆN AN PHÚ", "UBND huyện Chợ Mới", False),
        ("ỦY BAN NHÂN DÂN HUYỆN AN PHÚ", "UBND huyện", False),  # names no one in particular
        ("ỦY BAN NHÂN DÂN HUYỆN AN PHÚ", None, False),
        (None, "UBND huyện An Phú", False),
    ],
)
def test_issuer_matches(document, cited, same):
    assert _issuer_matches(document, cited) is same
