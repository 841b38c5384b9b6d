"""No secret in any log (SECURITY.md 12, ASVS 5.0 16.5.3), and one JSON line per authentication event.

One scenario set (first-administrator link, enrollment with a wrong and a right PIN, recovery codes,
wrong passwords, an unknown name, wrong PINs up to the throttle, recovery-code sign-ins, sign-outs)
runs twice:

- in-process, through the app with Litestar's test client, with a root handler at DEBUG catching
  every record any library emits (the ORM's SQL included) for the duration of the test;
- against the real server (``python -m web serve``), everything it writes to stdout and stderr kept.

Every secret the scenario used or was shown is then looked for in what was logged: passwords, every
PIN posted, the TOTP secret (plain and in groups of four), the recovery codes (with and without
dashes, any case), session, device and CSRF cookie values, CSRF form tokens and the setup token
(the server prints its link once by design: that line only, never an access-log line).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from litestar.testing import TestClient

from tests.server_process import ServerProcess
from web.app import create_app, services_of
from web.auth.setup_tokens import issue_setup_token
from web.auth.throttle import FREE_FAILURES
from web.settings import Settings

CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]+)"')
SECRET_KEY_TEXT = re.compile(r'data-copy-text="([A-Z2-7]+)"')
RECOVERY_CODE_TEXT = re.compile(r"<code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code>")
SETUP_LINK = re.compile(r"http://\S+/setup\?token=(\S+)")
ACCESS_LINE = re.compile(r'"(?:GET|POST|HEAD|PUT|DELETE|PATCH|OPTIONS) \S* HTTP/[\d.]+" \d{3}')
AUTH_LOGGER = "provconnect.auth"
AUTH_KEYS = {"event", "outcome", "user", "client"}
# The test's own HTTP client logs full URLs (the setup token included): that is this test talking,
# not the application, so its records are left out of the in-process capture.
CLIENT_LOGGERS = ("httpx", "httpcore", "hpack")
# Numbers a PIN could be mistaken for: clock times, dates, fractions of a second, ports, ids in SQL.
NUMERIC_NOISE = re.compile(
    r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:[+-]\d\d:?\d\d|Z)?"  # timestamps
    r"|\d+\.\d+(?:e[+-]?\d+)?"  # floats: epoch times, durations
    r"|:\d{1,5}\b"  # ports
)
PIN_TOKEN = re.compile(r"(?<![0-9A-Za-z])[0-9]{6}(?![0-9A-Za-z])")


# -- what the scenario used and expects --------------------------------------------------------------


@dataclass
class Seen:
    """Every secret the scenario typed, was shown, or received in a cookie."""

    passwords: set[str] = field(default_factory=set)
    pins: set[str] = field(default_factory=set)
    totp_secrets: set[str] = field(default_factory=set)
    recovery_codes: set[str] = field(default_factory=set)
    cookie_values: set[str] = field(default_factory=set)
    csrf_tokens: set[str] = field(default_factory=set)
    setup_tokens: set[str] = field(default_factory=set)
    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Authentication events the scenario caused, as (event, outcome): each must be logged once."""

    def needles(self) -> dict[str, str]:
        """Substrings (lower-cased) that must not appear in a log, with what each one is."""
        found: dict[str, str] = {}
        for password in self.passwords:
            found[password.lower()] = "a password"
        for secret in self.totp_secrets:
            found[secret.lower()] = "the TOTP secret"
            found[" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)).lower()] = "the TOTP secret, grouped"
        for code in self.recovery_codes:
            found[code.lower()] = "a recovery code"
            found[code.replace("-", "").lower()] = "a recovery code without dashes"
        for value in self.cookie_values:
            found[value.lower()] = "a cookie value"
        for token in self.csrf_tokens:
            found[token.lower()] = "a CSRF token"
        for token in self.setup_tokens:
            found[token.lower()] = "the setup token"
        return found


class Agent:
    """Posts as the page does (htmx, CSRF token of the last answer) and notes every secret it sees."""

    def __init__(self, client: httpx.Client, seen: Seen) -> None:
        self.client = client
        self.seen = seen
        self.token = ""

    def get(self, path: str) -> httpx.Response:
        return self._observe(self.client.get(path))

    def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        form = {**(data or {}), "_csrf_token": self.token}
        answer = self.client.post(path, data=form, headers={"HX-Request": "true"})
        return self._observe(answer)

    def _observe(self, answer: httpx.Response) -> httpx.Response:
        match = CSRF_INPUT.search(answer.text)
        if match:
            self.token = match.group(1)
            self.seen.csrf_tokens.add(self.token)
        for header in answer.headers.get_list("set-cookie"):
            value = header.split(";", 1)[0].partition("=")[2].strip('"')
            if len(value) >= 16:  # an expired cookie has an empty value
                self.seen.cookie_values.add(value)
        return answer


def _wrong_pin(secret: str) -> str:
    """A PIN that matches no step within ±10 of now (so neither accepted nor taken for drift)."""
    codes = {pyotp.TOTP(secret).at(time.time() + 30 * offset) for offset in range(-12, 13)}
    while True:
        pin = f"{secrets.randbelow(1_000_000):06d}"
        if pin not in codes:
            return pin


def run_scenario(client: httpx.Client, setup_token: str, seen: Seen) -> None:
    """The whole sign-in story, as an attacker and as the user, noting secrets and expected events."""
    admin, password = f"ops-{secrets.token_hex(3)}", f"pw-{secrets.token_hex(12)}"
    wrong_password = f"wrong-{secrets.token_hex(12)}"
    seen.passwords |= {password, wrong_password}
    seen.setup_tokens.add(setup_token)
    agent = Agent(client, seen)

    # First administrator through the one-time link, straight on to enrollment.
    assert agent.get(f"/setup?token={setup_token}").status_code == 200
    enrolling = agent.post("/setup", {"token": setup_token, "username": admin, "password": password})
    assert enrolling.status_code == 200, enrolling.text
    secret = SECRET_KEY_TEXT.search(enrolling.text).group(1)  # type: ignore[union-attr]
    seen.totp_secrets.add(secret)
    seen.events[("stage.enrolling", "success")] += 1

    def pin(value: str) -> str:
        seen.pins.add(value)
        return value

    assert agent.post("/signin/enroll/check", {"pin": pin(_wrong_pin(secret))}).status_code == 200
    assert agent.post("/signin/enroll", {"pin": pin(_wrong_pin(secret))}).status_code == 401
    seen.events[("enroll", "failure")] += 1
    enrollment_code = pin(pyotp.TOTP(secret).now())
    assert agent.post("/signin/enroll/check", {"pin": enrollment_code}).status_code == 200
    shown = agent.post("/signin/enroll", {"pin": enrollment_code})
    assert shown.status_code == 200, shown.text
    codes = RECOVERY_CODE_TEXT.findall(shown.text)
    assert len(codes) >= 3
    seen.recovery_codes |= set(codes)
    seen.events[("stage.recovery_codes", "success")] += 1
    assert agent.get("/signin/recovery-codes.txt").status_code == 200
    assert agent.post("/signin/continue").status_code == 200
    seen.events[("stage.signed_in", "success")] += 1
    sign_out(agent, seen)

    # Wrong password, and a name without an account: the same failure.
    for username, typed in [(admin, wrong_password), (f"nobody-{secrets.token_hex(3)}", password)]:
        assert agent.post("/signin/password", {"username": username, "password": typed}).status_code == 401
        seen.events[("password", "failure")] += 1

    # Password then wrong PINs then the right one (a later step: the enrollment's step is used).
    password_step(agent, seen, admin, password)
    for _ in range(2):
        assert agent.post("/signin/pin", {"pin": pin(_wrong_pin(secret))}).status_code == 401
        seen.events[("pin", "failure")] += 1
    signed_in = agent.post("/signin/pin", {"pin": pin(pyotp.TOTP(secret).at(time.time() + 30))})
    assert signed_in.status_code == 200, signed_in.text
    seen.events[("stage.signed_in", "success")] += 1
    sign_out(agent, seen)

    # Recovery codes, as shown and as someone might type them.
    for typed in [codes[0], codes[1].replace("-", "").upper()]:
        password_step(agent, seen, admin, password)
        assert agent.post("/signin/recovery", {"code": typed}).status_code == 200
        seen.events[("stage.signed_in", "success")] += 1
        sign_out(agent, seen)

    # Guessing until the throttle answers; then a recovery code is refused unevaluated too.
    password_step(agent, seen, admin, password)
    for _ in range(FREE_FAILURES):
        assert agent.post("/signin/pin", {"pin": pin(_wrong_pin(secret))}).status_code == 401
        seen.events[("pin", "failure")] += 1
    assert agent.post("/signin/pin", {"pin": pin(_wrong_pin(secret))}).status_code == 429
    seen.events[("pin", "throttled")] += 1
    assert agent.post("/signin/recovery", {"code": codes[2]}).status_code == 429
    seen.events[("recovery_code", "throttled")] += 1
    sign_out(agent, seen)


def password_step(agent: Agent, seen: Seen, username: str, password: str) -> None:
    answer = agent.post("/signin/password", {"username": username, "password": password})
    assert answer.status_code == 200 and 'name="pin"' in answer.text, answer.text
    seen.events[("password", "success")] += 1
    seen.events[("stage.pending", "success")] += 1


def sign_out(agent: Agent, seen: Seen) -> None:
    assert agent.post("/signout").status_code == 200
    seen.events[("sign_out", "success")] += 1


# -- looking for secrets -------------------------------------------------------------------------------


def leaks(lines: list[str], seen: Seen, *, allowed_setup_lines: set[int] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Each line that holds a secret, with what it holds (the line itself is not repeated: it leaks)."""
    found = []
    needles = seen.needles()
    setup = {token.lower() for token in seen.setup_tokens}
    for number, line in enumerate(lines):
        lowered = line.lower()
        for needle, what in needles.items():
            if needle in lowered and not (needle in setup and number in allowed_setup_lines):
                found.append(f"line {number + 1}: {what}")
        pins_here = set(PIN_TOKEN.findall(NUMERIC_NOISE.sub(" ", line))) & seen.pins
        found.extend(f"line {number + 1}: a PIN that was posted" for _ in pins_here)
    return found


def auth_events(payloads: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    for payload in payloads:
        assert AUTH_KEYS <= payload.keys(), payload
        assert payload["outcome"] in ("success", "failure", "throttled"), payload
    return Counter((payload["event"], payload["outcome"]) for payload in payloads)


def assert_events_logged(logged: Counter[tuple[str, str]], seen: Seen) -> None:
    mismatched = {pair: (count, logged[pair]) for pair, count in seen.events.items() if logged[pair] != count}
    assert not mismatched, f"(event, outcome): (caused, logged) differ: {mismatched}"


# -- in-process, every record at DEBUG -----------------------------------------------------------------


class Keep(logging.Handler):
    """Keeps every record at DEBUG and above, from the root logger and any logger that does not propagate."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._levels: dict[logging.Logger, int] = {}
        self._attached: set[logging.Logger] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT_LOGGERS):
            self.records.append(record)

    def attach(self) -> None:
        """(Again) on every logger: the app's start-up runs logging.config, which replaces root handlers."""
        root = logging.getLogger()
        loggers = [root, *(found for found in logging.root.manager.loggerDict.values() if isinstance(found, logging.Logger))]
        for logger in loggers:
            self._levels.setdefault(logger, logger.level)
            if logger is root or logger.level > logging.DEBUG:
                logger.setLevel(logging.DEBUG)
            if (logger is root or not logger.propagate) and self not in logger.handlers:
                logger.addHandler(self)
                self._attached.add(logger)

    def detach(self) -> None:
        for logger in self._attached:
            logger.removeHandler(self)
        for logger, level in self._levels.items():
            logger.setLevel(level)


@pytest.fixture
def every_record() -> Iterator[Keep]:
    keep = Keep()
    keep.attach()
    try:
        yield keep
    finally:
        keep.detach()


def _record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write about a record: message, arguments, extras, traceback."""
    parts = [record.name, record.getMessage(), repr(record.args), json.dumps(getattr(record, "fields", {}), default=str)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        parts.append(record.stack_info)
    extras = {key: value for key, value in vars(record).items() if key not in logging.LogRecord("", 0, "", 0, "", None, None).__dict__}
    parts.append(repr(extras))
    return " | ".join(parts)


def test_no_secret_in_any_record_in_process(settings: Settings, every_record: Keep) -> None:
    seen = Seen()
    with TestClient(create_app(settings)) as client:
        every_record.attach()
        token = client.blocking_portal.call(issue_setup_token, services_of(client.app).keyed)
        assert token is not None
        run_scenario(client, token, seen)

    assert len(every_record.records) > 50, "the DEBUG capture caught almost nothing: is it attached?"
    lines = [_record_text(record) for record in every_record.records]
    found = leaks(lines, seen)
    assert not found, "secrets in log records:\n" + "\n".join(found)
    auth = [record for record in every_record.records if record.name == AUTH_LOGGER]
    assert_events_logged(auth_events([record.fields for record in auth]), seen)


# -- the real server -----------------------------------------------------------------------------------


def test_no_secret_in_what_the_server_writes(tmp_path: Path) -> None:
    server = ServerProcess(
        {"PROVCONNECT_DATA_DIR": str(tmp_path), "PROVCONNECT_SECRET_KEY": secrets.token_urlsafe(48), "PYTHONUNBUFFERED": "1"},
        tmp_path / "server.log",
    )
    seen = Seen()
    try:
        server.wait_ready()
        link = SETUP_LINK.search(server.log_path.read_text(errors="replace"))
        assert link, "the server printed no first-administrator link"
        with httpx.Client(base_url=server.url, timeout=30) as client:
            run_scenario(client, link.group(1), seen)
        time.sleep(0.2)  # the last access-log lines
    finally:
        server.stop()

    lines = server.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    announced = {number for number, line in enumerate(lines) if SETUP_LINK.search(line) and not ACCESS_LINE.search(line)}
    assert len(announced) == 1, "the setup link must be printed exactly once"
    found = leaks(lines, seen, allowed_setup_lines=announced)
    assert not found, "secrets in the server's output:\n" + "\n".join(found)

    access = [line for line in lines if ACCESS_LINE.search(line)]
    assert any('"GET /setup HTTP' in line for line in access), "the setup page's access line, without its query"
    assert not [line for line in access if "?" in line], "an access line kept its query string"

    payloads = []
    for line in lines:
        if f'"logger":"{AUTH_LOGGER}"' in line:
            payload = json.loads(line)  # one whole JSON object per line
            assert payload["client"] == "127.0.0.1"
            payloads.append(payload)
    assert_events_logged(auth_events(payloads), seen)
    failures = [p for p in payloads if p["event"] in ("password", "pin", "enroll", "recovery_code") and p["outcome"] != "success"]
    assert {p["outcome"] for p in failures} == {"failure", "throttled"}


def test_text_typed_as_a_username_is_not_logged_even_when_throttled(settings: Settings, every_record: Keep) -> None:
    """People type their password into the username box; for a name with no account, nothing typed is logged."""
    seen = Seen(passwords={f"my.password-{secrets.token_hex(6)}"})
    typed_as_username = next(iter(seen.passwords))
    with TestClient(create_app(settings)) as client:
        every_record.attach()
        agent = Agent(client, seen)
        agent.get("/")
        statuses = [
            agent.post("/signin/password", {"username": typed_as_username, "password": "whatever it is"}).status_code
            for _ in range(FREE_FAILURES + 1)
        ]
    assert statuses[-1] == 429, statuses  # names without an account are throttled like real ones
    # At INFO and above, what a server logs by default. (At DEBUG the ORM logs its query parameters,
    # the looked-up name among them: expected of DEBUG, and never a password field or a PIN.)
    written = [record for record in every_record.records if record.levelno >= logging.INFO]
    found = leaks([_record_text(record) for record in written], seen)
    assert not found, "typed text in log records:\n" + "\n".join(found)
