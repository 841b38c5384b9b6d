"""Administration safety: who may reach it, step-up, self-lockout, CSRF, hostile names."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from tests.http.admin_helpers import admin_and_bob, audit_events, call, row_html, sign_in_as, update_user
from tests.support import Browser, FakeClock, load_user, seed_user
from web.auth.users import USERNAME_RULE
from web.models import User

HTMX = {"HX-Request": "true"}
GET_ROUTES = ("/admin", "/admin/users", "/admin/users/1/row?confirm=reset-2fa", "/admin/audit", "/admin/audit/export.csv")
POST_ROUTES = ("/admin/users/1/reset-2fa", "/admin/users/1/revoke-2fa", "/admin/users/1/disable", "/admin/users",
               "/admin/policy", "/admin/users/1/reset-password")
SCRIPT_NAME = "<script>alert(1)</script>"


def test_a_non_admin_gets_403_on_every_admin_route(client: TestClient, clock: FakeClock) -> None:
    seed_user(client, "root", admin=True)
    bob = seed_user(client, "bob")
    browser = sign_in_as(client, clock, bob)
    for path in GET_ROUTES:
        for headers in ({}, HTMX):
            response = client.get(path, headers=headers)
            assert response.status_code == 403, path
            assert "Only administrators can use this page." in response.text and "<table" not in response.text
    for path in POST_ROUTES:
        response = browser.post(path, {"reason": "x", "username": "mallory", "password": "long enough pw"})
        assert response.status_code == 403, path
        assert response.headers["hx-retarget"] == "#panel"  # htmx swaps the whole panel, not a row
    assert load_user(client, 1).has_totp and not call(client, lambda: User.exists(username="mallory"))
    assert audit_events(client, action__startswith="admin.") == []


def test_anonymous_users_get_the_sign_in_page(client: TestClient) -> None:
    seed_user(client, "root", admin=True)
    page = client.get("/admin")
    assert page.status_code == 200 and "Username" in page.text and "<table" not in page.text
    for path in GET_ROUTES[1:]:
        fragment = client.get(path, headers=HTMX)
        assert fragment.status_code == 403 and 'name="username"' in fragment.text and "<table" not in fragment.text
    browser = Browser(client)
    for path in POST_ROUTES:
        assert browser.post(path, {"reason": "x"}).status_code == 403


def test_a_password_only_session_sees_the_pin_step(client: TestClient) -> None:
    root = seed_user(client, "root", admin=True)
    Browser(client).password(root)
    page = client.get("/admin")
    assert "PIN code" in page.text and "<table" not in page.text


def test_admin_posts_need_the_csrf_token(client: TestClient, clock: FakeClock) -> None:
    _, _, bob = admin_and_bob(client, clock)
    response = client.post(f"/admin/users/{bob.user_id}/reset-2fa", data={"reason": "x"}, headers=HTMX)
    assert response.status_code == 403 and load_user(client, bob.user_id).has_totp
    cross = client.post(f"/admin/users/{bob.user_id}/reset-2fa", data={}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403 and load_user(client, bob.user_id).has_totp


def test_step_up_after_ten_minutes(client: TestClient, clock: FakeClock) -> None:
    admin, root, bob = admin_and_bob(client, clock)
    clock.advance(10 * 60 + 1)
    page = admin.get("/admin")
    assert "Changes on this page ask for your PIN code" in page.text
    asked = admin.post(f"/admin/users/{bob.user_id}/reset-2fa", {})
    assert asked.status_code == 403 and "confirm it is you" in asked.text and 'id="pin-' in asked.text
    wrong = f"{(int(root.pin(clock.now)) + 1) % 1_000_000:06d}"
    refused = admin.post(f"/admin/users/{bob.user_id}/reset-2fa", {"pin": wrong})
    assert refused.status_code == 401 and "Invalid PIN code" in refused.text
    assert load_user(client, bob.user_id).has_totp
    done = admin.post(f"/admin/users/{bob.user_id}/reset-2fa", {"pin": root.pin(clock.now)})
    assert done.status_code == 200 and "2FA reset for bob" in done.text
    replay = admin.post(f"/admin/users/{bob.user_id}/unlock", {})  # fresh again: no PIN needed for 10 minutes
    assert replay.status_code == 200
    outcomes = [(e.action, e.outcome) for e in audit_events(client, actor="root", action="step_up")]
    assert outcomes == [("step_up", "failure")]


def test_an_admin_without_an_authenticator_must_enroll_before_changes(client: TestClient, clock: FakeClock) -> None:
    root = seed_user(client, "root", admin=True, enrolled=False, exempt=True)
    bob = seed_user(client, "bob")
    client.cookies.clear()
    admin = Browser(client)
    assert "Signed in as" in admin.password(root).text  # exempt: password alone
    page = admin.get("/admin")
    assert "You have no authenticator" in page.text
    refused = admin.post(f"/admin/users/{bob.user_id}/reset-2fa", {"pin": "123456"})
    assert refused.status_code == 403 and "before you change anything here" in refused.text
    assert load_user(client, bob.user_id).has_totp


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("revoke-2fa", "You cannot revoke your own two-factor authentication."),
        ("disable", "You cannot disable your own account."),
        ("remove-admin", "You cannot remove your own administrator role."),
        ("reset-password", "Change your own password on your account page."),
    ],
)
def test_an_admin_cannot_lock_themselves_out(client: TestClient, clock: FakeClock, slug: str, message: str) -> None:
    admin, root, _ = admin_and_bob(client, clock)
    assert f">{slug.replace('-', ' ')}" not in row_html(admin.get("/admin").text, root.user_id).lower()
    refused = admin.post(f"/admin/users/{root.user_id}/{slug}", {"password": "another password 1"})
    assert refused.status_code == 403 and message in refused.text
    user = load_user(client, root.user_id)
    assert user.is_admin and not user.is_disabled and user.has_totp and not user.must_change_password
    assert [e.outcome for e in audit_events(client, action__startswith="admin.")] == ["refused"]


def test_two_admins_may_demote_each_other_but_not_the_last(client: TestClient, clock: FakeClock) -> None:
    admin, root, bob = admin_and_bob(client, clock)
    admin.post(f"/admin/users/{bob.user_id}/make-admin", {})
    assert admin.post(f"/admin/users/{bob.user_id}/disable", {}).status_code == 200
    # bob is disabled: root is now the last enabled admin, and no one can demote or disable them.
    assert not load_user(client, root.user_id).is_disabled


def test_add_user_refuses_taken_and_invalid_names_beside_the_field(client: TestClient, clock: FakeClock) -> None:
    admin, _, _ = admin_and_bob(client, clock)
    taken = admin.post("/admin/users", {"username": "BOB", "password": "a good password"})
    assert taken.status_code == 409 and "That username is taken." in taken.text
    assert 'id="new-username-error"' in taken.text and taken.text.lstrip().startswith('<section id="add-user"')
    hostile = admin.post("/admin/users", {"username": SCRIPT_NAME, "password": "a good password"})
    assert hostile.status_code == 422 and USERNAME_RULE in hostile.text
    assert "<script>" not in hostile.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile.text
    weak = admin.post("/admin/users", {"username": "carol", "password": "short"})
    assert weak.status_code == 422 and "Use at least 8 characters." in weak.text
    assert not call(client, lambda: User.exists(username="carol"))


def test_add_user_with_an_initial_password(client: TestClient, clock: FakeClock) -> None:
    admin, _, _ = admin_and_bob(client, clock)
    added = admin.post("/admin/users", {"username": "Ｃarol", "password": "initial password", "admin": "on"})
    assert added.status_code == 200 and "carol was added" in added.text
    assert added.headers["hx-trigger"] == "users-changed"
    carol = call(client, lambda: User.get(username="carol"))
    assert carol.is_admin and carol.must_change_password and not carol.has_totp
    assert [(e.action, e.target) for e in audit_events(client, target="carol")] == [
        ("admin.add_user", "carol"), ("admin.grant_admin", "carol"),
    ]
    assert "carol" in admin.get("/admin/users").text


def test_a_hostile_name_in_the_database_is_shown_escaped(client: TestClient, clock: FakeClock) -> None:
    admin, _, bob = admin_and_bob(client, clock)
    update_user(client, bob.user_id, username=SCRIPT_NAME)
    admin.post(f"/admin/users/{bob.user_id}/unlock", {"reason": "<img src=x onerror=alert(2)>"})
    for path in ("/admin", "/admin/users", f"/admin/users/{bob.user_id}/row?confirm=reset-2fa", "/admin/audit"):
        page = client.get(path, headers=HTMX if path != "/admin" else {})
        assert SCRIPT_NAME not in page.text and "<img src=x" not in page.text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/admin").text
