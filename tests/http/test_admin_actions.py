"""Each administration action through the app: what it changes, what the user sees, its audit entry."""

from __future__ import annotations

from datetime import datetime, timezone

from litestar.testing import TestClient

from tests.http.admin_helpers import (
    admin_and_bob,
    audit_events,
    keep_cookies,
    row_html,
    sign_in_as,
    update_user,
    use_cookies,
)
from tests.support import Browser, FakeClock, load_user, seed_user

LOCKED_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)  # a real datetime: PostgreSQL refuses strings

HTMX = {"HX-Request": "true"}


def test_users_table_shows_role_2fa_state_and_account_state(client: TestClient, clock: FakeClock) -> None:
    admin, root, bob = admin_and_bob(client, clock)
    carol = seed_user(client, "carol", enrolled=False)
    dave = seed_user(client, "dave", enrolled=False, exempt=True)
    erin = seed_user(client, "erin")
    update_user(client, erin.user_id, is_disabled=True)
    frank = seed_user(client, "frank")
    update_user(client, frank.user_id, locked_at=LOCKED_AT)
    page = admin.get("/admin")
    assert page.status_code == 200 and "<h1" in page.text and "Administration" in page.text
    expected = [
        (root, "Admin", "Enabled", "Active"), (bob, "User", "Enabled", "Active"), (carol, "User", "Not set up", "Active"),
        (dave, "User", "Exempt", "Active"), (erin, "User", "Enabled", "Disabled"), (frank, "User", "Enabled", "Locked"),
    ]
    for user, role, two_factor, account in expected:
        row = row_html(page.text, user.user_id)
        assert f"<td>{role}</td>" in row and f">{two_factor}</span>" in row and f">{account}</span>" in row, row
    assert ">Reset 2FA</button>" in row_html(page.text, bob.user_id)
    assert ">Revoke 2FA</button>" in row_html(page.text, bob.user_id)
    assert ">Require 2FA</button>" in row_html(page.text, dave.user_id)
    assert ">Unlock</button>" in row_html(page.text, frank.user_id)
    assert ">Enable</button>" in row_html(page.text, erin.user_id)


def test_each_button_asks_for_confirmation_first(client: TestClient, clock: FakeClock) -> None:
    admin, _, bob = admin_and_bob(client, clock)
    for slug, button in (("reset-2fa", "Confirm reset 2FA"), ("revoke-2fa", "Confirm revoke 2FA"), ("disable", "Confirm disable")):
        fragment = client.get(f"/admin/users/{bob.user_id}/row?confirm={slug}", headers=HTMX)
        assert fragment.status_code == 200 and fragment.text.lstrip().startswith(f'<tr id="user-{bob.user_id}">')
        assert f">{button}</button>" in fragment.text and "Reason (optional" in fragment.text
        assert f'hx-post="/admin/users/{bob.user_id}/{slug}?page=1"' in fragment.text
    assert load_user(client, bob.user_id).has_totp  # opening a confirmation changes nothing


def test_reset_2fa_ends_the_session_and_next_sign_in_enrolls(client: TestClient, clock: FakeClock) -> None:
    root = seed_user(client, "root", admin=True)
    bob = seed_user(client, "bob")
    sign_in_as(client, clock, bob)
    bob_cookies = keep_cookies(client)
    admin = sign_in_as(client, clock, root)
    done = admin.post(f"/admin/users/{bob.user_id}/reset-2fa", {"reason": "lost phone"})
    assert done.status_code == 200 and "2FA reset for bob" in done.text
    assert ">Not set up</span>" in done.text
    user = load_user(client, bob.user_id)
    assert not user.has_totp and not user.totp_exempt and user.two_factor_changed_by_admin == "reset"
    [event] = audit_events(client, action="admin.reset_2fa")
    assert (event.actor, event.target, event.outcome, event.reason, event.via) == ("root", "bob", "success", "lost phone", "web")
    assert event.client_address == "testclient"
    # Bob's old session is refused at once, whatever he asks for.
    use_cookies(client, bob_cookies)
    for path in ("/", "/account"):
        page = client.get(path)
        assert "Signed in as" not in page.text and "Username" in page.text
    client.cookies.clear()
    enroll = Browser(client).password(bob)
    assert "Set up two-factor authentication" in enroll.text
    assert "An administrator reset your two-factor authentication on" in enroll.text


def test_revoke_lets_the_user_in_with_the_password_alone_until_require(client: TestClient, clock: FakeClock) -> None:
    admin, _, bob = admin_and_bob(client, clock)
    admin_cookies = keep_cookies(client)
    assert admin.post(f"/admin/users/{bob.user_id}/revoke-2fa", {}).status_code == 200
    user = load_user(client, bob.user_id)
    assert user.totp_exempt and not user.has_totp and user.two_factor_changed_by_admin == "revoke"
    client.cookies.clear()
    home = Browser(client).password(bob)
    assert "Signed in as <strong>bob</strong>" in home.text
    assert "An administrator turned off two-factor authentication for your account on" in home.text
    assert load_user(client, bob.user_id).two_factor_changed_by_admin is None  # told once
    bob_cookies = keep_cookies(client)
    use_cookies(client, admin_cookies)
    required = admin.post(f"/admin/users/{bob.user_id}/require-2fa", {})
    assert required.status_code == 200 and ">Not set up</span>" in required.text
    use_cookies(client, bob_cookies)
    assert "Signed in as" not in client.get("/").text  # the password-only session ended
    client.cookies.clear()
    assert "Set up two-factor authentication" in Browser(client).password(bob).text
    actions = [event.action for event in audit_events(client, actor="root", action__startswith="admin.")]
    assert actions == ["admin.revoke_2fa", "admin.require_2fa"]


def test_unlock_clears_the_lock_and_the_counters(client: TestClient, clock: FakeClock) -> None:
    admin, _, bob = admin_and_bob(client, clock)
    update_user(client, bob.user_id, locked_at=LOCKED_AT, password_failures=9,
                password_blocked_until=9e9, second_factor_failures=100, second_factor_blocked_until=9e9)
    done = admin.post(f"/admin/users/{bob.user_id}/unlock", {"reason": "called the helpdesk"})
    assert done.status_code == 200 and "bob is unlocked" in done.text and ">Active</span>" in done.text
    user = load_user(client, bob.user_id)
    assert (user.locked_at, user.password_failures, user.password_blocked_until) == (None, 0, 0)
    assert (user.second_factor_failures, user.second_factor_blocked_until) == (0, 0)
    assert audit_events(client, action="admin.unlock")[0].reason == "called the helpdesk"


def test_disable_ends_sessions_and_refuses_sign_in_until_enabled(client: TestClient, clock: FakeClock) -> None:
    root = seed_user(client, "root", admin=True)
    bob = seed_user(client, "bob")
    sign_in_as(client, clock, bob)
    bob_cookies = keep_cookies(client)
    admin = sign_in_as(client, clock, root)
    admin_cookies = keep_cookies(client)
    assert ">Disabled</span>" in admin.post(f"/admin/users/{bob.user_id}/disable", {}).text
    use_cookies(client, bob_cookies)
    assert "Signed in as" not in client.get("/").text
    client.cookies.clear()
    assert Browser(client).password(bob).status_code == 401
    use_cookies(client, admin_cookies)
    assert ">Active</span>" in admin.post(f"/admin/users/{bob.user_id}/enable", {}).text
    sign_in_as(client, clock, bob)
    assert [e.action for e in audit_events(client, actor="root", action__startswith="admin.")] == ["admin.disable", "admin.enable"]


def test_reset_password_forces_a_new_one_at_next_sign_in(client: TestClient, clock: FakeClock) -> None:
    admin, _, bob = admin_and_bob(client, clock)
    weak = admin.post(f"/admin/users/{bob.user_id}/reset-password", {"password": "short"})
    assert weak.status_code == 422 and "Use at least 8 characters." in weak.text
    assert not load_user(client, bob.user_id).must_change_password
    done = admin.post(f"/admin/users/{bob.user_id}/reset-password", {"password": "temporary password 1"})
    assert done.status_code == 200 and "must change it at their next sign-in" in done.text
    [event] = audit_events(client, action="admin.reset_password")
    assert "temporary" not in repr(event.__dict__)
    client.cookies.clear()
    browser = Browser(client)
    assert browser.password(bob).status_code == 401  # the old password is gone
    clock.advance(30)
    browser.password("bob", "temporary password 1")
    panel = browser.post("/signin/pin", {"pin": bob.pin(clock.now)})
    assert "Choose a new password" in panel.text and "Signed in as" not in panel.text
    assert "Choose a new password" in client.get("/account").text  # nothing else until it is changed
    same = browser.post("/signin/new-password", {"new_password": "temporary password 1", "repeat_password": "temporary password 1"})
    assert same.status_code == 422 and "different from the one you were given" in same.text
    differ = browser.post("/signin/new-password", {"new_password": "my own password 2", "repeat_password": "my own password 3"})
    assert differ.status_code == 422 and "The two new passwords differ." in differ.text
    chosen = browser.post("/signin/new-password", {"new_password": "my own password 2", "repeat_password": "my own password 2"})
    assert chosen.status_code == 200 and "Signed in as <strong>bob</strong>" in chosen.text
    assert not load_user(client, bob.user_id).must_change_password
    assert audit_events(client, action="password.changed")[0].target == "bob"


def test_make_and_remove_admin(client: TestClient, clock: FakeClock) -> None:
    admin, _, bob = admin_and_bob(client, clock)
    assert "<td>Admin</td>" in admin.post(f"/admin/users/{bob.user_id}/make-admin", {}).text
    assert load_user(client, bob.user_id).is_admin
    assert "<td>User</td>" in admin.post(f"/admin/users/{bob.user_id}/remove-admin", {}).text
    assert not load_user(client, bob.user_id).is_admin


def test_unknown_action_or_user_is_404(client: TestClient, clock: FakeClock) -> None:
    admin, _, bob = admin_and_bob(client, clock)
    assert admin.post(f"/admin/users/{bob.user_id}/delete-everything", {}).status_code == 404
    assert admin.post("/admin/users/9999/reset-2fa", {}).status_code == 404
    assert client.get("/admin/users/9999/row", headers=HTMX).status_code == 404


def test_without_javascript_confirm_post_redirect_get(client: TestClient, clock: FakeClock) -> None:
    root = seed_user(client, "root", admin=True)
    bob = seed_user(client, "bob")
    admin = sign_in_as(client, clock, root, htmx=False)
    opened = admin.get(f"/admin?confirm=reset-2fa&user={bob.user_id}")
    assert opened.text.startswith("<!doctype html>") and ">Confirm reset 2FA</button>" in opened.text
    assert f'action="/admin/users/{bob.user_id}/reset-2fa?page=1"' in opened.text
    posted = admin.post(f"/admin/users/{bob.user_id}/reset-2fa?page=1", {"reason": ""}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == f"/admin?page=1&done=reset-2fa&user={bob.user_id}"
    after = admin.get(posted.headers["location"])
    assert "2FA reset for bob" in row_html(after.text, bob.user_id)
    assert not load_user(client, bob.user_id).has_totp
