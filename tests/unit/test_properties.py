"""Properties that must hold for *any* input: form decoding, the PIN checks, the throttle arithmetic.

The example-based tests pin the known cases; these let hypothesis look for the ones nobody thought
of. Runs are derandomized (the same examples every run, no example database written to the working
tree) and small enough that the whole file takes a few seconds.
"""

from __future__ import annotations

import base64
import re
import string
from collections import Counter
from typing import Annotated, Any
from urllib.parse import quote, quote_plus

import msgspec
import pyotp
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from litestar import Litestar, Request, Response, post
from litestar.testing import TestClient

from web.auth import totp
from web.auth.throttle import FREE_FAILURES, HARD_LIMIT_FAILURES, MAX_DELAY_SECONDS, delay_after
from web.views.forms import FormInvalid, read_form


def properties(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,  # the same examples every run: a red build is reproducible
        database=None,  # and nothing is written under .hypothesis/ in the working tree
        suppress_health_check=[HealthCheck.too_slow],
    )


# == a. form decoding ============================================================================

MAX_USERNAME = 16
MAX_PASSWORD = 40
FIELDS = ("username", "password")
URLENCODED = "application/x-www-form-urlencoded"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Login(msgspec.Struct):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_USERNAME)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PASSWORD)]


MESSAGES = {"username": "Enter your username.", "password": "Enter your password."}
LIMITS = {"username": MAX_USERNAME, "password": MAX_PASSWORD}


@post("/decode", status_code=200)
async def decode(request: Request) -> Response[dict[str, Any]]:
    """read_form alone, behind no CSRF and no other middleware: what it decodes or refuses."""
    try:
        login = await read_form(request, Login, MESSAGES)
    except FormInvalid as invalid:
        return Response({"errors": invalid.errors}, status_code=invalid.status)
    return Response({"decoded": msgspec.to_builtins(login)}, status_code=200)


@pytest.fixture(scope="module")
def form_client() -> Any:
    with TestClient(Litestar(route_handlers=[decode], debug=False)) as client:
        yield client


def _post(client: TestClient, body: bytes, content_type: str | None) -> Any:
    headers = {} if content_type is None else {"content-type": content_type}
    return client.post("/decode", content=body, headers=headers)


def _encode_pairs(pairs: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote_plus(key)}={quote_plus(value)}" for key, value in pairs).encode("ascii")


def _multipart(pairs: list[tuple[str, str]], boundary: str) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{quote(key)}"\r\n\r\n'.encode()
        + value.encode("utf-8")
        + b"\r\n"
        for key, value in pairs
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def _expected(pairs: list[tuple[str, str]]) -> tuple[set[str], set[str]]:
    """The oracle: fields given other than exactly once, and fields given once but of a bad length."""
    counts = Counter(key for key, _ in pairs)
    miscounted = {name for name in FIELDS if counts[name] != 1}
    values = dict(pairs)
    bad_length = {
        name for name in FIELDS if name not in miscounted and not 1 <= len(values[name]) <= LIMITS[name]
    }
    return miscounted, bad_length


field_names = st.sampled_from([*FIELDS, "_csrf_token"]) | st.text(max_size=12)
hostile_text = st.lists(
    st.characters(codec="utf-8") | st.sampled_from(["&", "=", "%", "+", ";", "\x00", "\r\n", "%zz", "%FF"]),
    max_size=MAX_PASSWORD + 8,
).map("".join)
form_pairs = st.lists(st.tuples(field_names, hostile_text), max_size=8)


@properties(max_examples=150)
@given(
    pairs=form_pairs,
    raw_tail=st.binary(max_size=64),
    content_type=st.sampled_from([URLENCODED, URLENCODED + "; charset=utf-8", "Application/X-WWW-Form-URLEncoded"]),
)
@example(pairs=[], raw_tail=b"", content_type=URLENCODED)
@example(pairs=[], raw_tail=b"username=%FF%FE&password=\xff\x00&&==&%", content_type=URLENCODED)
def test_arbitrary_urlencoded_bodies_never_give_a_server_error(
    form_client: TestClient, pairs: list[tuple[str, str]], raw_tail: bytes, content_type: str
) -> None:
    body = _encode_pairs(pairs) + (b"&" + raw_tail if raw_tail else b"")
    answer = _post(form_client, body, content_type)
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 422:
        assert set(answer.json()["errors"]) <= {*FIELDS, "_form"}
        return
    decoded = answer.json()["decoded"]
    for name in FIELDS:
        assert 1 <= len(decoded[name]) <= LIMITS[name]


@properties(max_examples=120)
@given(pairs=st.lists(st.tuples(st.sampled_from([*FIELDS, "_csrf_token", "other"]), hostile_text), max_size=6))
def test_the_answer_follows_the_fields_exactly(form_client: TestClient, pairs: list[tuple[str, str]]) -> None:
    """Only a body with each field exactly once, of an allowed length, decodes; and then to what was sent."""
    answer = _post(form_client, _encode_pairs(pairs), URLENCODED)
    miscounted, bad_length = _expected(pairs)
    if miscounted:
        assert answer.status_code == 422 and set(answer.json()["errors"]) == miscounted
    elif bad_length:
        # Counting comes first and names every field; msgspec then stops at the first bad value.
        assert answer.status_code == 422 and set(answer.json()["errors"]) <= bad_length
        assert len(answer.json()["errors"]) == 1
    else:
        assert answer.status_code == 200, answer.text
        assert answer.json()["decoded"] == {name: dict(pairs)[name] for name in FIELDS}


valid_username = st.text(st.characters(codec="utf-8"), min_size=1, max_size=MAX_USERNAME)
valid_password = st.text(st.characters(codec="utf-8"), min_size=1, max_size=MAX_PASSWORD)


@properties(max_examples=80)
@given(
    username=valid_username,
    password=valid_password,
    repeated=st.sampled_from(FIELDS),
    extra_values=st.lists(valid_password, min_size=1, max_size=3),
    order=st.randoms(use_true_random=False),
)
def test_a_repeated_field_is_always_refused_for_that_field(
    form_client: TestClient, username: str, password: str, repeated: str, extra_values: list[str], order: Any
) -> None:
    pairs = [("username", username), ("password", password)] + [(repeated, value) for value in extra_values]
    order.shuffle(pairs)
    answer = _post(form_client, _encode_pairs(pairs), URLENCODED)
    assert answer.status_code == 422
    assert set(answer.json()["errors"]) == {repeated}
    assert answer.json()["errors"][repeated] == MESSAGES[repeated]


@properties(max_examples=100)
@given(
    username=valid_username,
    password=valid_password,
    noise=st.lists(st.tuples(st.sampled_from(["_csrf_token", "remember", "x"]), hostile_text), max_size=3),
    multipart=st.booleans(),
)
@example(username=" alice ", password="  pass\tword\r\n", noise=[], multipart=False)
@example(username="Ａlice", password="e\u0301 \u00e9 \ufb01", noise=[], multipart=False)
@example(username="a+b", password="100%&x=y;z", noise=[], multipart=True)
def test_valid_input_round_trips_exactly(
    form_client: TestClient, username: str, password: str, noise: list[tuple[str, str]], multipart: bool
) -> None:
    """No trimming, no case or Unicode normalisation, no truncation: the struct holds what was typed."""
    pairs = [*noise, ("username", username), ("password", password)]
    if multipart:
        boundary = "hypothesis-boundary-7d1f3a9b"
        answer = _post(form_client, _multipart(pairs, boundary), f"multipart/form-data; boundary={boundary}")
    else:
        answer = _post(form_client, _encode_pairs(pairs), URLENCODED)
    assert answer.status_code == 200, answer.text
    assert answer.json()["decoded"] == {"username": username, "password": password}


@properties(max_examples=60)
@given(
    field=st.sampled_from(FIELDS),
    extra=st.integers(min_value=1, max_value=3 * MAX_PASSWORD),
    char=st.characters(codec="utf-8"),
)
def test_an_overlong_value_is_refused_not_truncated(form_client: TestClient, field: str, extra: int, char: str) -> None:
    values = {"username": "alice", "password": "secret"}
    values[field] = char * (LIMITS[field] + extra)
    answer = _post(form_client, _encode_pairs(list(values.items())), URLENCODED)
    assert answer.status_code == 422 and set(answer.json()["errors"]) == {field}


not_form_types = st.sampled_from(
    [
        "application/json",
        "text/plain",
        "text/html",
        "application/xml",
        "application/octet-stream",
        "multipart/mixed; boundary=x",
        "application/x-www-form-urlencoded-not",
        "application/x-www-form",
        "form-data",
        "",
    ]
) | st.from_regex(r"[a-z]{1,11}/[a-z0-9.+-]{1,24}", fullmatch=True).filter(lambda value: value not in FORM_TYPES)


@properties(max_examples=80)
@given(content_type=st.none() | not_form_types, body=st.binary(max_size=128))
@example(content_type="application/json", body=b'{"username": "alice", "password": "secret"}')
@example(content_type="text/plain", body=b"username=alice&password=secret")
def test_non_form_content_types_give_415(form_client: TestClient, content_type: str | None, body: bytes) -> None:
    answer = _post(form_client, body, content_type)
    assert answer.status_code == 415, answer.text
    assert set(answer.json()["errors"]) == {"_form"}


# == b. the PIN checks ============================================================================

# Characters that look like, or get normalised into, an ASCII digit somewhere (NFKC, int(), \d).
DIGIT_LOOKALIKES = [
    "\uff10", "\uff15", "\uff19",  # fullwidth
    "\u0660", "\u0663", "\u0669",  # Arabic-Indic
    "\u06f0", "\u06f5",  # Extended Arabic-Indic
    "\u0966", "\u09e7", "\u07c0",  # Devanagari, Bengali, NKo
    "\u00b2", "\u00b9", "\u2075", "\u2080", "\u2460", "\U0001d7ce",  # super/subscripts, circled, math
]
NOISE = [" ", "\t", "\n", "\r", "\x00", "\x0b", "\u00a0", "\u2007", "\u200b", "-", "+", "a", "O", "l"]
pin_like_text = st.lists(
    st.sampled_from(list(string.digits)) | st.sampled_from(DIGIT_LOOKALIKES + NOISE), min_size=0, max_size=8
).map("".join)


@properties(max_examples=400)
@given(text=st.text() | pin_like_text)
@example(text="123456")
@example(text="123456\n")
@example(text="\uff11\uff12\uff13\uff14\uff15\uff16")
@example(text="12345\u0666")
def test_pin_format_accepts_exactly_six_ascii_digits(text: str) -> None:
    should_pass = re.fullmatch("[0-9]{6}", text) is not None
    try:
        returned = totp.require_pin_format(text)
    except totp.PinFormatError:
        assert not should_pass, f"refused a well-formed PIN: {text!r}"
    else:
        assert should_pass, f"accepted {text!r}"
        assert returned == text and text.isascii() and all(char in string.digits for char in text)


@properties(max_examples=300)
@given(text=st.text() | pin_like_text)
@example(text="\t12-34 56 ")
def test_normalise_pin_only_ever_drops_spaces_tabs_and_dashes(text: str) -> None:
    result = totp.normalise_pin(text)
    assert result == "".join(char for char in text if char not in " \t-")
    if not set(text) & {" ", "\t", "-"}:
        assert result == text  # the identity on everything else: no NFKC, no strip of other whitespace


# 160-bit secrets like pyotp.random_base32() makes, but drawn by hypothesis so a failure replays.
secrets_b32 = st.binary(min_size=20, max_size=20).map(lambda raw: base64.b32encode(raw).decode())
# From the first moment the whole drift search (±10 steps) has non-negative counters, to 2**33.
EARLIEST = (totp.DRIFT_SEARCH_STEPS + 1) * totp.STEP_SECONDS
moments = st.floats(min_value=EARLIEST, max_value=2**33, exclude_max=True, allow_nan=False)
WINDOW_ORDER = [0, -1, 1]  # nearest first, as match_step checks them


def _window_codes(secret: str, step: int) -> dict[int, str]:
    return {offset: totp.code_at(secret, step + offset) for offset in WINDOW_ORDER}


@properties(max_examples=150)
@given(secret=secrets_b32, now=moments, offset=st.sampled_from(WINDOW_ORDER))
@example(secret=pyotp.random_base32(), now=1_800_000_015.0, offset=1)  # what new_secret() makes
def test_a_code_of_the_window_is_accepted_with_its_step(secret: str, now: float, offset: int) -> None:
    step = totp.current_step(now)
    window = _window_codes(secret, step)
    pin = window[offset]
    check = totp.match_step(secret, pin, now=now)
    # Six digits collide now and then: the step returned is the nearest one that has this code.
    nearest = next(candidate for candidate in WINDOW_ORDER if window[candidate] == pin)
    assert check.ok and check.step == step + nearest and check.drift_seconds is None
    if list(window.values()).count(pin) == 1:
        assert check.step == step + offset


outside = st.integers(min_value=2, max_value=totp.DRIFT_SEARCH_STEPS).flatmap(
    lambda distance: st.sampled_from([distance, -distance])
)


@properties(max_examples=150)
@given(secret=secrets_b32, now=moments, offset=outside)
def test_a_code_outside_the_window_is_refused_with_a_drift_hint(secret: str, now: float, offset: int) -> None:
    step = totp.current_step(now)
    window = _window_codes(secret, step)
    pin = totp.code_at(secret, step + offset)
    check = totp.match_step(secret, pin, now=now)
    if pin in window.values():  # a 6-digit collision with a code of the window: that one is accepted
        assert check.ok and window[check.step - step] == pin  # type: ignore[operator]
        return
    assert not check.ok and check.step is None
    search = sorted(
        (o for o in range(-totp.DRIFT_SEARCH_STEPS, totp.DRIFT_SEARCH_STEPS + 1) if abs(o) > 1),
        key=lambda o: (abs(o), o),
    )
    nearest = next(o for o in search if totp.code_at(secret, step + o) == pin)
    assert check.drift_seconds == nearest * totp.STEP_SECONDS
    assert abs(nearest) <= abs(offset)


@properties(max_examples=150)
@given(secret=secrets_b32, now=moments, pin=st.from_regex(r"[0-9]{6}", fullmatch=True))
def test_any_pin_is_accepted_iff_it_is_a_code_of_the_window(secret: str, now: float, pin: str) -> None:
    window = _window_codes(secret, totp.current_step(now))
    assert totp.match_step(secret, pin, now=now).ok == (pin in window.values())


@properties(max_examples=100)
@given(secret=secrets_b32, now=moments, text=st.text() | pin_like_text)
def test_match_step_refuses_malformed_pins_before_any_check(secret: str, now: float, text: str) -> None:
    if re.fullmatch("[0-9]{6}", text):
        return
    with pytest.raises(totp.PinFormatError):
        totp.match_step(secret, text, now=now)


@properties(max_examples=30)
@given(
    secret=secrets_b32,
    now=st.floats(min_value=0, max_value=EARLIEST, exclude_max=True),
    pin=st.from_regex(r"[0-9]{6}", fullmatch=True),
)
def test_match_step_answers_at_any_non_negative_time(secret: str, now: float, pin: str) -> None:
    window = [totp.code_at(secret, step) for step in range(totp.current_step(now) - 1, totp.current_step(now) + 2) if step >= 0]
    assert totp.match_step(secret, pin, now=now).ok == (pin in window)


# == c. throttle arithmetic =======================================================================

REACHABLE_FAILURES = st.integers(min_value=0, max_value=HARD_LIMIT_FAILURES + 200)
ATTACK_WINDOW_SECONDS = 60.0
MOST_ATTEMPTS_PER_MINUTE = 10


@properties(max_examples=300)
@given(failures=REACHABLE_FAILURES)
def test_delay_is_non_decreasing_zero_while_free_and_capped(failures: int) -> None:
    delay = delay_after(failures)
    assert delay <= delay_after(failures + 1)
    assert 0 <= delay <= MAX_DELAY_SECONDS
    if failures < FREE_FAILURES:
        assert delay == 0
    else:
        assert delay > 0


def test_the_cap_is_reached_before_the_hard_limit() -> None:
    assert delay_after(HARD_LIMIT_FAILURES - 1) == MAX_DELAY_SECONDS


@properties(max_examples=20)
@given(failures=st.integers(min_value=HARD_LIMIT_FAILURES, max_value=10**6))
def test_delay_is_defined_for_any_failure_count(failures: int) -> None:
    assert delay_after(failures) == MAX_DELAY_SECONDS


def _allowed_attempts(tries: list[float], window: float = ATTACK_WINDOW_SECONDS) -> list[float]:
    """The attempts the throttle lets through, each a failure: allowed at t iff t >= blocked_until."""
    failures, blocked_until, allowed = 0, 0.0, []
    for moment in sorted(tries):
        if moment >= window:
            break
        if moment < blocked_until:
            continue  # refused: nothing counted (throttle.count_attempt raises before the update)
        failures += 1
        blocked_until = moment + delay_after(failures)
        allowed.append(moment)
    return allowed


def _greedy_attack(window: float = ATTACK_WINDOW_SECONDS) -> list[float]:
    """The best an attacker can do: try again the very moment the wait is over."""
    failures, moment, allowed = 0, 0.0, []
    while moment < window and failures < HARD_LIMIT_FAILURES:
        failures += 1
        allowed.append(moment)
        moment = moment + delay_after(failures)
    return allowed


def test_an_attacker_gets_fewer_than_ten_guesses_a_minute() -> None:
    attempts = _greedy_attack()
    assert FREE_FAILURES <= len(attempts) < MOST_ATTEMPTS_PER_MINUTE, attempts


@properties(max_examples=200)
@given(tries=st.lists(st.floats(min_value=0, max_value=ATTACK_WINDOW_SECONDS, exclude_max=True), max_size=400))
def test_no_schedule_of_attempts_beats_the_greedy_attacker(tries: list[float]) -> None:
    allowed = _allowed_attempts(tries)
    assert len(allowed) <= len(_greedy_attack()) < MOST_ATTEMPTS_PER_MINUTE


@properties(max_examples=100)
@given(phase=st.floats(min_value=0, max_value=5.0), polling=st.floats(min_value=0.001, max_value=5.0))
def test_polling_at_any_rate_stays_under_ten_a_minute(phase: float, polling: float) -> None:
    """An attacker polling every ``polling`` seconds from a fresh counter, first try at ``phase``."""
    tries = [phase + i * polling for i in range(int(ATTACK_WINDOW_SECONDS / polling) + 1)]
    assert len(_allowed_attempts(tries)) < MOST_ATTEMPTS_PER_MINUTE


def test_the_hard_limit_takes_the_fastest_attacker_most_of_a_day() -> None:
    """100 guesses in all (then an admin unlocks), and the delays spread even those over many hours."""
    attempts = _greedy_attack(window=float("inf"))
    assert len(attempts) == HARD_LIMIT_FAILURES
    assert attempts[-1] >= 12 * 3600, attempts[-1]
