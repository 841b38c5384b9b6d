"""The account page: password change, new recovery codes, a new authenticator, recent sign-ins."""

from __future__ import annotations

from litestar.testing import TestClient

from tests.http.admin_helpers import audit_events, keep_cookies, sign_in_as, use_cookies
from tests.support import RECOVERY_CODE_TEXT, SECRET_KEY_TEXT, Browser, FakeClock, load_user, seed_user
from web.auth import totp

NEW_PASSWORD = "a brand new passphrase"


def test_account_page_shows_state_codes_left_and_recent_sign_ins(client: TestClient, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    Browser(client).password("alice", "not her password")
    sign_in_as(client, clock, alice)
    page = client.get("/account")
    assert page.status_code == 200 and "Status: <strong>Enabled</strong>" in page.text
    assert "Recovery codes left: <strong>0 of 10</strong>" in page.text
    assert "Recent sign-ins" in page.text and "<td>Signed in</td>" in page.text and "<td>Password step</td>" in page.text
    for button in ("Change password", "Regenerate recovery codes", "Replace authenticator", "Sign out"):
        assert f">{button}</button>" in page.text


def test_account_page_needs_a_full_sign_in(client: TestClient) -> None:
    alice = seed_user(client, "alice")
    assert "Username" in client.get("/account").text
    browser = Browser(client)
    browser.password(alice)
    assert "PIN code" in client.get("/account").text
    assert browser.post("/account/password", {"current_password": alice.password, "new_password": NEW_PASSWORD,
                                              "repeat_password": NEW_PASSWORD}).status_code == 403
    assert load_user(client, alice.user_id).auth_epoch == 0


def test_change_password_needs_the_current_one_and_ends_other_sessions(client: TestClient, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    sign_in_as(client, clock, alice)
    elsewhere = keep_cookies(client)
    browser = sign_in_as(client, clock, alice)
    change = {"current_password": "not my password", "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}
    wrong = browser.post("/account/password", change)
    assert wrong.status_code == 401 and "That is not your current password." in wrong.text
    differ = browser.post("/account/password", {**change, "current_password": alice.password, "repeat_password": "x"})
    assert differ.status_code == 422 and "The two new passwords differ." in differ.text
    short = browser.post("/account/password", {**change, "current_password": alice.password, "new_password": "short",
                                               "repeat_password": "short"})
    assert short.status_code == 422 and "Use at least 8 characters." in short.text
    assert load_user(client, alice.user_id).auth_epoch == 0
    done = browser.post("/account/password", {**change, "current_password": alice.password})
    assert done.status_code == 200 and "Your password was changed. Your other sessions have ended." in done.text
    assert "Signed in as" in client.get("/account").text  # this session goes on
    use_cookies(client, elsewhere)
    assert "Signed in as" not in client.get("/").text  # the other one has ended
    client.cookies.clear()
    assert Browser(client).password(alice).status_code == 401
    assert [e.action for e in audit_events(client, action="password.changed")] == ["password.changed"]
    assert NEW_PASSWORD not in repr([e.__dict__ for e in audit_events(client)])


def test_regenerate_recovery_codes_needs_a_pin(client: TestClient, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    browser = sign_in_as(client, clock, alice)
    assert browser.post("/account/recovery-codes", {}).status_code == 422
    clock.advance(30)
    wrong = f"{(int(alice.pin(clock.now)) + 1) % 1_000_000:06d}"
    refused = browser.post("/account/recovery-codes", {"pin": wrong})
    assert refused.status_code == 401 and "Invalid PIN code" in refused.text
    done = browser.post("/account/recovery-codes", {"pin": alice.pin(clock.now)})
    codes = RECOVERY_CODE_TEXT.findall(done.text)
    assert done.status_code == 200 and len(codes) == 10 and "Recovery codes left: <strong>10 of 10</strong>" in done.text
    assert "shown only once" in done.text
    client.cookies.clear()
    signing_in = Browser(client)
    signing_in.password(alice)
    assert "Signed in as" in signing_in.post("/signin/recovery", {"code": codes[3]}).text
    assert [e.outcome for e in audit_events(client, action="recovery_codes.regenerated")] == ["success"]
    assert [e.outcome for e in audit_events(client, action="step_up")] == ["failure"]


def test_replace_authenticator_keeps_the_old_one_until_confirmed(client: TestClient, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    browser = sign_in_as(client, clock, alice)
    clock.advance(30)
    assert browser.post("/account/authenticator", {}).status_code == 422  # a PIN is needed
    panel = browser.post("/account/authenticator", {"pin": alice.pin(clock.now)})
    assert panel.status_code == 200 and "Set up two-factor authentication" in panel.text
    assert "Your current app keeps working" in panel.text and ">Replace authenticator</button>" in panel.text
    assert 'hx-post="/account/authenticator/check"' in panel.text
    new_secret = SECRET_KEY_TEXT.search(panel.text).group(1)  # type: ignore[union-attr]
    before = load_user(client, alice.user_id).totp_secret_sealed
    new_pin = totp.code_at(new_secret, totp.current_step(clock.now))
    assert "Code is valid" in browser.post("/account/authenticator/check", {"pin": new_pin}).text
    assert load_user(client, alice.user_id).totp_secret_sealed == before  # nothing stored while checking
    wrong = browser.post("/account/authenticator/confirm", {"pin": f"{(int(new_pin) + 1) % 1_000_000:06d}"})
    assert wrong.status_code == 401 and load_user(client, alice.user_id).totp_secret_sealed == before
    done = browser.post("/account/authenticator/confirm", {"pin": new_pin})
    assert done.status_code == 200 and "Your new authenticator app is set up" in done.text
    assert load_user(client, alice.user_id).totp_secret_sealed != before
    alice.secret = new_secret
    sign_in_as(client, clock, alice)  # the new app signs in
    assert [e.action for e in audit_events(client, action="two_factor.replaced")] == ["two_factor.replaced"]


def test_cancelling_a_replacement_changes_nothing(client: TestClient, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    browser = sign_in_as(client, clock, alice)
    clock.advance(30)
    browser.post("/account/authenticator", {"pin": alice.pin(clock.now)})
    cancelled = browser.post("/account/authenticator/cancel", {})
    assert "Nothing was changed." in cancelled.text
    assert browser.post("/account/authenticator/confirm", {"pin": "123456"}).text.count("Set up two-factor") == 0
    sign_in_as(client, clock, alice)  # the old app still works


def test_a_user_without_2fa_can_set_it_up_from_the_account_page(client: TestClient, clock: FakeClock) -> None:
    bob = seed_user(client, "bob", enrolled=False, exempt=True)
    browser = Browser(client)
    assert "Signed in as" in browser.password(bob).text
    page = client.get("/account")
    assert "Status: <strong>Exempt</strong>" in page.text and "Set up an authenticator app" in page.text
    panel = browser.post("/account/authenticator", {})  # no authenticator yet: no PIN to ask for
    secret = SECRET_KEY_TEXT.search(panel.text).group(1)  # type: ignore[union-attr]
    done = browser.post("/account/authenticator/confirm", {"pin": totp.code_at(secret, totp.current_step(clock.now))})
    assert "Two-factor authentication is on" in done.text and len(RECOVERY_CODE_TEXT.findall(done.text)) == 10
    user = load_user(client, bob.user_id)
    assert user.has_totp and not user.totp_exempt
    bob.secret = secret
    sign_in_as(client, clock, bob)


def test_without_javascript_the_account_forms_post_redirect_get(client: TestClient, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    browser = sign_in_as(client, clock, alice, htmx=False)
    change = {"current_password": alice.password, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}
    done = browser.post("/account/password", change, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/account?done=password"
    page = browser.get("/account?done=password")
    assert page.text.startswith("<!doctype html>") and "Your password was changed." in page.text
    clock.advance(30)
    started = browser.post("/account/authenticator", {"pin": alice.pin(clock.now)}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/account/authenticator"
    assert "Set up two-factor authentication" in browser.get("/account/authenticator").text
