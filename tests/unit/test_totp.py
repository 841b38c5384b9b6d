"""TOTP: RFC 6238 vectors, the ASCII format check, the ±1 step window and the drift hint."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest

from web.auth import totp
from web.auth.totp import PinFormatError

# RFC 6238 Appendix B, SHA-1 rows: the seed is the ASCII string below.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
# Inside a 30-second step, so ±N step arithmetic is unambiguous.
NOW = 1_800_000_015.0
STEP_NOW = totp.current_step(NOW)


def code_for_offset(offset_steps: int) -> str:
    return totp.code_at(RFC_SECRET, STEP_NOW + offset_steps)


def test_rfc_secret_is_the_base32_of_the_ascii_seed() -> None:
    assert RFC_SECRET == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.mark.parametrize(("unix_time", "expected"), RFC_VECTORS)
def test_rfc6238_vectors_with_eight_digits(unix_time: int, expected: str) -> None:
    assert pyotp.TOTP(RFC_SECRET, digits=8, interval=30).at(unix_time) == expected


@pytest.mark.parametrize(("unix_time", "expected"), RFC_VECTORS)
def test_our_six_digit_pin_is_the_last_six_digits_of_the_vector(unix_time: int, expected: str) -> None:
    assert totp.code_at(RFC_SECRET, totp.current_step(unix_time)) == expected[-6:]
    assert pyotp.TOTP(RFC_SECRET, digits=6).at(unix_time) == expected[-6:]


@pytest.mark.parametrize(("unix_time", "expected"), RFC_VECTORS)
def test_rfc_vector_matches_at_its_own_time(unix_time: int, expected: str) -> None:
    check = totp.match_step(RFC_SECRET, expected[-6:], now=unix_time)
    assert check.ok and check.step == unix_time // 30


# -- format ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pin",
    [
        "１２３４５６",  # fullwidth digits: pyotp would NFKC them into ASCII
        "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic digits
        "\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6",  # Extended Arabic-Indic (Persian) digits
        "12345",
        "1234567",
        "123 456",
        "123\t456",
        "12345\n",
        "123456\n",
        "123\x00456",
        "123456\x00",
        "",
        "12345a",
        "+12345",
    ],
)
def test_require_pin_format_refuses_anything_but_six_ascii_digits(pin: str) -> None:
    with pytest.raises(PinFormatError):
        totp.require_pin_format(pin)


def test_require_pin_format_accepts_a_leading_zero() -> None:
    assert totp.require_pin_format("012345") == "012345"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123 456", "123456"),
        ("123-456", "123456"),
        ("\t123456 ", "123456"),
        (" 1 2-3\t4 5 6 ", "123456"),
    ],
)
def test_normalise_pin_strips_spaces_tabs_and_dashes(raw: str, expected: str) -> None:
    assert totp.normalise_pin(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["123456\n", "123\u00a0456", "123_456", "123.456", "１２３４５６", "123\u2013456"],
)
def test_normalise_pin_leaves_everything_else_for_the_format_check(raw: str) -> None:
    assert totp.normalise_pin(raw) == raw


# -- window ----------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_match_step_accepts_the_previous_current_and_next_step(offset: int) -> None:
    check = totp.match_step(RFC_SECRET, code_for_offset(offset), now=NOW)
    assert check.ok
    assert check.step == STEP_NOW + offset
    assert check.drift_seconds is None


@pytest.mark.parametrize("offset", [-2, 2])
def test_match_step_refuses_two_steps_away(offset: int) -> None:
    check = totp.match_step(RFC_SECRET, code_for_offset(offset), now=NOW)
    assert not check.ok
    assert check.step is None


def test_a_code_four_steps_ahead_gives_a_drift_of_plus_120_seconds() -> None:
    check = totp.match_step(RFC_SECRET, code_for_offset(4), now=NOW)
    assert check.step is None and check.drift_seconds == 120


def test_a_code_six_steps_behind_gives_a_drift_of_minus_180_seconds() -> None:
    check = totp.match_step(RFC_SECRET, code_for_offset(-6), now=NOW)
    assert check.step is None and check.drift_seconds == -180


@pytest.mark.parametrize("offset", [totp.DRIFT_SEARCH_STEPS, -totp.DRIFT_SEARCH_STEPS])
def test_drift_is_found_at_the_edge_of_the_search(offset: int) -> None:
    check = totp.match_step(RFC_SECRET, code_for_offset(offset), now=NOW)
    assert check.drift_seconds == offset * totp.STEP_SECONDS


@pytest.mark.parametrize("offset", [totp.DRIFT_SEARCH_STEPS + 1, -(totp.DRIFT_SEARCH_STEPS + 1)])
def test_no_drift_hint_beyond_the_search(offset: int) -> None:
    check = totp.match_step(RFC_SECRET, code_for_offset(offset), now=NOW)
    assert check.step is None and check.drift_seconds is None


def test_fullwidth_copy_of_the_right_code_is_refused_by_format() -> None:
    right = code_for_offset(0)
    fullwidth = right.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    with pytest.raises(PinFormatError):
        totp.match_step(RFC_SECRET, fullwidth, now=NOW)


def test_match_step_checks_the_format_before_pyotp_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_generate = pyotp.TOTP.generate_otp

    def spy(self: pyotp.TOTP, input: int) -> str:  # noqa: A002 - pyotp's parameter name
        calls.append(input)
        return real_generate(self, input)

    monkeypatch.setattr(pyotp.TOTP, "generate_otp", spy)
    with pytest.raises(PinFormatError):
        totp.match_step(RFC_SECRET, "１２３４５６", now=NOW)
    assert calls == []
    # The spy does see calls for a well-formed PIN, so the empty list above means something.
    totp.match_step(RFC_SECRET, "000000", now=NOW)
    assert calls


# -- drift text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "phrase"),
    [
        (120, "about 2 minutes ahead"),
        (-180, "about 3 minutes behind"),
        (60, "about 1 minute ahead"),
        (-60, "about 1 minute behind"),
        (90, "about 1.5 minutes ahead"),
        (300, "about 5 minutes ahead"),
    ],
)
def test_describe_drift(seconds: int, phrase: str) -> None:
    assert phrase in totp.describe_drift(seconds)


def test_describe_drift_says_minute_not_minutes_for_one() -> None:
    assert "about 1 minutes" not in totp.describe_drift(60)


# -- secrets and provisioning ----------------------------------------------------------------


def test_new_secret_is_32_base32_chars_of_160_bits() -> None:
    secret = totp.new_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert len(base64.b32decode(secret)) * 8 == 160


def test_new_secret_differs_each_call() -> None:
    secrets = {totp.new_secret() for _ in range(50)}
    assert len(secrets) == 50


def test_provisioning_uri_names_issuer_and_account_with_default_period_and_digits() -> None:
    uri = totp.provisioning_uri(RFC_SECRET, account="alice", issuer="ProVconnect")
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert unquote(parts.path) == "/ProVconnect:alice"
    assert query["issuer"] == ["ProVconnect"]
    assert query["secret"] == [RFC_SECRET]
    # Omitted parameters mean the defaults to every authenticator app: 6 digits, 30 s, SHA1.
    assert query.get("digits", ["6"]) == ["6"]
    assert query.get("period", ["30"]) == ["30"]
    assert query.get("algorithm", ["SHA1"]) == ["SHA1"]


def test_provisioning_uri_round_trips_through_pyotp() -> None:
    parsed = pyotp.parse_uri(totp.provisioning_uri(RFC_SECRET, account="alice", issuer="ProVconnect"))
    assert isinstance(parsed, pyotp.TOTP)
    assert (parsed.secret, parsed.digits, parsed.interval) == (RFC_SECRET, 6, 30)
    assert (parsed.name, parsed.issuer) == ("alice", "ProVconnect")
    assert parsed.at(NOW) == code_for_offset(0)


def test_group_secret_makes_groups_of_four() -> None:
    assert totp.group_secret(RFC_SECRET) == "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"


def test_group_secret_keeps_a_short_last_group() -> None:
    assert totp.group_secret("ABCDEFGHIJ") == "ABCD EFGH IJ"
