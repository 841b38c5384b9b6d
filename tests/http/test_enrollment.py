"""First sign-in: the enrollment panel, the live check, confirmation, recovery codes."""

from __future__ import annotations

import re

from litestar.testing import TestClient

from tests.backends import database_dump
from tests.support import RECOVERY_CODE_TEXT, SECRET_KEY_TEXT, Browser, FakeClock, load_user, seed_user
from web.app import services_of
from web.auth import totp
from web.auth.crypto import Sealed
from web.auth.users import reset_two_factor
from web.models import RecoveryCode


def _start_enrollment(client: TestClient, browser: Browser, name: str = "carol") -> str:
    user = seed_user(client, name, enrolled=False)
    panel = browser.password(user)
    assert panel.status_code == 200 and "Set up two-factor authentication" in panel.text
    match = SECRET_KEY_TEXT.search(panel.text)
    assert match
    return match.group(1)


def _codes_of(client: TestClient, user_id: int) -> int:
    async def count() -> int:
        return await RecoveryCode.filter(user_id=user_id).count()

    return client.blocking_portal.call(count)


def test_enrollment_panel_shows_apps_qr_key_copy_button_and_pin_box(client: TestClient, browser: Browser) -> None:
    seed_user(client, "carol", enrolled=False)
    panel = browser.password("carol").text
    for app in ("Authy", "Google Authenticator", "Microsoft Authenticator", "LastPass Authenticator"):
        assert app in panel
    assert "any app that supports time-based one-time codes" in panel.lower()
    assert re.search(r'<svg role="img" aria-label="QR code for ProVconnect \(carol\)"', panel)
    assert re.search(r'<path fill="#fff(fff)?"', panel)  # explicit light background: readable in dark mode
    secret = SECRET_KEY_TEXT.search(panel).group(1)  # type: ignore[union-attr]
    assert len(secret) == 32 and totp.group_secret(secret) in panel
    assert ">Copy secret key to clipboard<" in panel
    assert f"otpauth://totp/ProVconnect:carol?secret={secret}&amp;issuer=ProVconnect" in panel
    assert "PIN code" in panel and ">Sign in<" in panel


def test_live_check_says_valid_or_not_and_consumes_nothing(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    secret = _start_enrollment(client, browser)
    pin = totp.code_at(secret, totp.current_step(clock.now))
    wrong = f"{(int(pin) + 1) % 1_000_000:06d}"
    assert "Code is not valid" in browser.post("/signin/enroll/check", {"pin": wrong}).text
    assert "Code is not valid" in browser.post("/signin/enroll/check", {"pin": "12"}).text
    assert "Code is valid" in browser.post("/signin/enroll/check", {"pin": pin}).text
    assert "Code is valid" in browser.post("/signin/enroll/check", {"pin": pin[:3] + " " + pin[3:]}).text
    confirmed = browser.post("/signin/enroll", {"pin": pin})
    assert confirmed.status_code == 200 and "Recovery codes" in confirmed.text


def test_confirmation_stores_the_secret_encrypted_and_shows_ten_codes_once(
    client: TestClient, browser: Browser, clock: FakeClock, settings
) -> None:  # type: ignore[no-untyped-def]
    secret = _start_enrollment(client, browser)
    codes_page = browser.post("/signin/enroll", {"pin": totp.code_at(secret, totp.current_step(clock.now))})
    codes = RECOVERY_CODE_TEXT.findall(codes_page.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    download = client.get("/signin/recovery-codes.txt")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert all(code in download.text for code in codes)
    home = browser.post("/signin/continue", {})
    assert "Signed in as <strong>carol</strong>" in home.text
    assert client.get("/signin/recovery-codes.txt").status_code == 403  # shown once
    for page in (client.get("/").text, client.get("/account").text):
        assert secret not in page and totp.group_secret(secret) not in page
    database = database_dump(settings)
    assert secret.encode() not in database
    assert not any(code.encode() in database or code.replace("-", "").encode() in database for code in codes)


def test_wrong_enrollment_pin_leaves_nothing_behind(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    secret = _start_enrollment(client, browser)
    pin = totp.code_at(secret, totp.current_step(clock.now))
    response = browser.post("/signin/enroll", {"pin": f"{(int(pin) + 1) % 1_000_000:06d}"})
    assert response.status_code == 401 and "Invalid PIN code" in response.text
    assert SECRET_KEY_TEXT.search(response.text).group(1) == secret  # type: ignore[union-attr]
    user = load_user(client, 1)
    assert user.totp_secret_sealed is None and _codes_of(client, user.id) == 0
    assert browser.post("/signin/enroll", {"pin": pin}).status_code == 200


def test_abandoned_enrollment_leaves_nothing_and_a_new_attempt_gets_a_new_key(
    client: TestClient, browser: Browser, clock: FakeClock
) -> None:
    first_secret = _start_enrollment(client, browser)
    clock.advance(5 * 60 + 1)  # the pending enrollment expires
    assert "Username" in client.get("/").text
    again = browser.password("carol")
    second_secret = SECRET_KEY_TEXT.search(again.text).group(1)  # type: ignore[union-attr]
    assert second_secret != first_secret
    assert load_user(client, 1).totp_secret_sealed is None


def test_enrollment_code_is_single_use(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    secret = _start_enrollment(client, browser)
    pin = totp.code_at(secret, totp.current_step(clock.now))
    browser.post("/signin/enroll", {"pin": pin})
    browser.post("/signin/continue", {})
    browser.post("/signout", {})
    browser.password("carol")
    assert browser.post("/signin/pin", {"pin": pin}).status_code == 401
    clock.advance(30)
    assert browser.post("/signin/pin", {"pin": totp.code_at(secret, totp.current_step(clock.now))}).status_code == 200


def test_an_enrolled_account_cannot_be_enrolled_again(client: TestClient, clock: FakeClock) -> None:
    first = Browser(client)
    secret = _start_enrollment(client, first)
    first_cookies = dict(client.cookies)
    client.cookies.clear()
    second = Browser(client)
    other_secret = SECRET_KEY_TEXT.search(second.password("carol").text).group(1)  # type: ignore[union-attr]
    assert second.post("/signin/enroll", {"pin": totp.code_at(other_secret, totp.current_step(clock.now))}).status_code == 200
    client.cookies.clear()
    client.cookies.update(first_cookies)
    clock.advance(30)
    late = first.post("/signin/enroll", {"pin": totp.code_at(secret, totp.current_step(clock.now))})
    assert late.status_code == 403 and "Recovery codes" not in late.text
    user = load_user(client, 1)
    sealed = Sealed(user.totp_key_id, bytes(user.totp_secret_sealed))
    assert services_of(client.app).two_factor.open_secret(user.id, sealed) == other_secret


def test_recovery_code_signs_in_once(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    secret = _start_enrollment(client, browser)
    codes = RECOVERY_CODE_TEXT.findall(browser.post("/signin/enroll", {"pin": totp.code_at(secret, totp.current_step(clock.now))}).text)
    browser.post("/signin/continue", {})
    browser.post("/signout", {})
    browser.password("carol")
    assert "Recovery code" in client.get("/?use=recovery").text
    used = browser.post("/signin/recovery", {"code": codes[0].upper().replace("-", " ")})
    assert used.status_code == 200 and "Signed in as" in used.text
    browser.post("/signout", {})
    browser.password("carol")
    again = browser.post("/signin/recovery", {"code": codes[0]})
    assert again.status_code == 401 and "Invalid recovery code" in again.text


def test_admin_reset_ends_sessions_and_brings_enrollment_back(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    browser.sign_in(alice, clock)
    client.blocking_portal.call(reset_two_factor, alice.user_id)
    page = client.get("/")
    assert "Your session has ended" in page.text and "Signed in as" not in page.text
    assert "Set up two-factor authentication" in browser.password(alice).text
