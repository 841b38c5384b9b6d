"""Recovery codes: ten random 80-bit codes, a forgiving but strict reader, keyed fingerprints."""

from __future__ import annotations

import base64
import re

import pytest

from web.auth import recovery
from web.auth.crypto import Keyed, derive_key
from web.auth.recovery import RecoveryCodeFormatError

DISPLAY_FORM = re.compile(r"[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}")
CODE = "abcd-efgh-ijkl-mnop"
KEYED = Keyed(derive_key("unit-test-master-key-0123456789abcdef", "keyed-fingerprints"))


def test_ten_codes_are_issued() -> None:
    assert len(recovery.new_codes()) == 10


def test_codes_look_like_four_groups_of_four() -> None:
    for code in recovery.new_codes():
        assert DISPLAY_FORM.fullmatch(code), code


def test_each_code_carries_80_random_bits() -> None:
    for code in recovery.new_codes():
        raw = base64.b32decode(recovery.canonical(code).upper())
        assert len(raw) * 8 == 80 >= 64


def test_codes_are_all_distinct() -> None:
    codes = recovery.new_codes() + recovery.new_codes()
    assert len(set(codes)) == 20


@pytest.mark.parametrize(
    "typed",
    [
        "abcd-efgh-ijkl-mnop",
        "ABCD-EFGH-IJKL-MNOP",
        "abcdefghijklmnop",
        "abcd efgh ijkl mnop",
        "  Abcd-Efgh ijklmnop \n",
    ],
)
def test_canonical_forgives_case_spaces_and_missing_dashes(typed: str) -> None:
    assert recovery.canonical(typed) == "abcdefghijklmnop"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "abcd-efgh-ijkl-mno",  # 15 characters
        "abcd-efgh-ijkl-mnopq",  # 17 characters
        "abcd-efgh-ijkl-mn0p",  # 0 is not base32
        "abcd-efgh-ijkl-mn1p",  # 1 is not base32
        "abcd-efgh-ijkl-mn8p",  # 8 is not base32
        "abcd-efgh-ijkl-mn9p",  # 9 is not base32
        "abcd_efgh_ijkl_mnop",
        "ａｂｃｄ-ｅｆｇｈ-ｉｊｋｌ-ｍｎｏｐ",  # fullwidth letters
        "abcd-efgh-ijkl-mnoé",
        "abcd-efgh-ijkl-mnop\x00",
    ],
)
def test_canonical_refuses_what_cannot_be_a_code(typed: str) -> None:
    with pytest.raises(RecoveryCodeFormatError):
        recovery.canonical(typed)


def test_fingerprint_is_the_same_for_every_form_of_one_code() -> None:
    forms = [CODE, CODE.upper(), "abcdefghijklmnop", "abcd efgh ijkl mnop"]
    assert len({recovery.fingerprint(KEYED, form) for form in forms}) == 1


def test_fingerprint_differs_between_codes() -> None:
    assert recovery.fingerprint(KEYED, CODE) != recovery.fingerprint(KEYED, "abcd-efgh-ijkl-mnoq")


def test_fingerprint_differs_per_key() -> None:
    other = Keyed(derive_key("another-master-key-0123456789abcdefgh", "keyed-fingerprints"))
    assert recovery.fingerprint(KEYED, CODE) != recovery.fingerprint(other, CODE)


def test_fingerprint_does_not_contain_the_code() -> None:
    fingerprint = recovery.fingerprint(KEYED, CODE)
    assert "abcdefghijklmnop" not in fingerprint and len(fingerprint) == 64


def test_fingerprint_of_a_malformed_code_raises() -> None:
    with pytest.raises(RecoveryCodeFormatError):
        recovery.fingerprint(KEYED, "not-a-code")


@pytest.mark.parametrize("typed", ["\u212abcd-efgh-ijkl-mnop", "\u3000abcd-efgh-ijkl-mnop", "abcd-efgh-ijkl-mnop\u2003"])
def test_canonical_refuses_non_ascii_that_lowercases_or_strips_to_ascii(typed: str) -> None:
    with pytest.raises(recovery.RecoveryCodeFormatError):
        recovery.canonical(typed)
