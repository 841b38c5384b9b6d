"""Regression tests for the findings of the security review."""

from __future__ import annotations

from litestar.testing import TestClient

from tests.support import SECRET_KEY_TEXT, Browser, FakeClock, load_user, seed_user
from web.auth import totp
from web.auth.account import STEP_UP_MAX_AGE_SECONDS


def test_a_stale_authenticator_replacement_cannot_be_confirmed_or_shown(
    client: TestClient, browser: Browser, clock: FakeClock
) -> None:
    alice = seed_user(client, "alice")
    browser.sign_in(alice, clock)
    clock.advance(30)
    started = browser.post("/account/authenticator/", {"pin": alice.pin(clock.now)})
    assert started.status_code == 200
    attacker_secret = SECRET_KEY_TEXT.search(started.text).group(1)  # type: ignore[union-attr]
    for _ in range(3):  # the session is kept alive past the step-up's age
        clock.advance(STEP_UP_MAX_AGE_SECONDS / 2)
        client.get("/account")
    late = browser.post("/account/authenticator/confirm", {"pin": totp.code_at(attacker_secret, totp.current_step(clock.now))})
    assert late.status_code == 403 and "expired" in late.text
    user = load_user(client, alice.user_id)
    assert user.totp_key_id is not None and attacker_secret not in client.get("/account/authenticator/").text


def test_the_live_check_never_resets_the_account_counter(client: TestClient, clock: FakeClock) -> None:
    carol = seed_user(client, "carol", enrolled=False)
    attacker = Browser(client)
    secret = SECRET_KEY_TEXT.search(attacker.password(carol).text).group(1)  # type: ignore[union-attr]
    for _ in range(3):
        attacker.post("/signin/enroll/check", {"pin": "000000"})
    assert "Code is valid" in attacker.post("/signin/enroll/check", {"pin": totp.code_at(secret, totp.current_step(clock.now))}).text
    assert load_user(client, carol.user_id).second_factor_failures == 4  # a right candidate code resets nothing


def test_an_enrollment_left_open_ends_when_the_account_is_enrolled_elsewhere(client: TestClient, clock: FakeClock) -> None:
    carol = seed_user(client, "carol", enrolled=False)
    attacker = Browser(client)
    attacker.password(carol)
    attacker_cookies = dict(client.cookies)
    client.cookies.clear()
    owner = Browser(client)
    secret = SECRET_KEY_TEXT.search(owner.password(carol).text).group(1)  # type: ignore[union-attr]
    assert owner.post("/signin/enroll", {"pin": totp.code_at(secret, totp.current_step(clock.now))}).status_code == 200
    client.cookies.clear()
    client.cookies.update(attacker_cookies)
    assert attacker.post("/signin/enroll/check", {"pin": "123456"}).status_code == 403


def test_a_future_code_named_by_the_drift_hint_cannot_be_replayed_later(
    client: TestClient, browser: Browser, clock: FakeClock
) -> None:
    alice = seed_user(client, "alice")
    browser.password(alice)
    future = alice.pin(clock.now, 4)
    hinted = browser.post("/signin/pin", {"pin": future})
    assert hinted.status_code == 401 and "clock looks about 2 minutes ahead" in hinted.text
    clock.advance(4 * 30)
    assert browser.post("/signin/pin", {"pin": future}).status_code == 401  # burned when it was hinted
    clock.advance(30)
    assert browser.post("/signin/pin", {"pin": alice.pin(clock.now)}).status_code == 200


def test_requiring_2fa_ends_password_only_sessions(client: TestClient, clock: FakeClock) -> None:
    from web.auth.policy import set_two_factor_required

    client.blocking_portal.call(set_two_factor_required, False)
    carol = seed_user(client, "carol", enrolled=False)
    browser = Browser(client)
    assert "Signed in as" in browser.password(carol).text
    client.blocking_portal.call(set_two_factor_required, True)
    assert "Signed in as" not in client.get("/").text
    assert "Set up two-factor authentication" in browser.password(carol).text


def test_a_password_reset_forgets_known_devices(client: TestClient, clock: FakeClock) -> None:
    from web.auth.users import bump_auth_epoch
    from web.models import KnownDevice

    alice = seed_user(client, "alice")
    Browser(client).sign_in(alice, clock)

    async def devices() -> int:
        return await KnownDevice.filter(user_id=alice.user_id).count()

    assert client.blocking_portal.call(devices) == 1
    client.blocking_portal.call(bump_auth_epoch, alice.user_id)
    assert client.blocking_portal.call(devices) == 0


def test_a_late_save_does_not_bring_a_signed_out_session_back(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    from web.app import services_of

    alice = seed_user(client, "alice")
    browser.sign_in(alice, clock)
    session_id = browser.session_id()
    sessions = services_of(client.app).sessions
    state = client.blocking_portal.call(sessions.load, session_id)  # a request in flight holds this
    browser.post("/signout", {})
    assert client.blocking_portal.call(sessions.save, session_id, state) is False
    assert client.blocking_portal.call(sessions.load, session_id) is None


def test_phantom_counters_last_like_real_ones(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    seed_user(client, "alice")
    for name in ("alice", "nobody"):
        for _ in range(6):
            browser.password(name, "wrong password!")
    clock.advance(24 * 3600)  # a day later on the app clock, neither counter has decayed
    answers = {name: [browser.password(name, "wrong password!").status_code for _ in range(2)] for name in ("alice", "nobody")}
    assert answers["alice"] == answers["nobody"] == [401, 429]
