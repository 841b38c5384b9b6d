"""The audit log: sign-in events without secrets, filters in /admin, the CSV export; the 2FA policy switch."""

from __future__ import annotations

import csv
import io

from litestar.testing import TestClient

from tests.http.admin_helpers import admin_and_bob, audit_events, sign_in_as
from tests.support import PASSWORD, RECOVERY_CODE_TEXT, SECRET_KEY_TEXT, Browser, FakeClock, seed_user
from web.auth import totp

HTMX = {"HX-Request": "true"}


def _columns(client: TestClient) -> str:
    return repr([event.__dict__ for event in audit_events(client)])


def test_sign_in_events_are_recorded_without_secrets(client: TestClient, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    browser = Browser(client)
    browser.password("alice", "wrong password 1")
    browser.password("nobody", "wrong password 2")
    browser.password(alice)
    wrong_pin = f"{(int(alice.pin(clock.now)) + 1) % 1_000_000:06d}"
    browser.post("/signin/pin", {"pin": wrong_pin})
    browser.post("/signin/pin", {"pin": alice.pin(clock.now)})
    events = [(e.action, e.outcome, e.target) for e in audit_events(client)]
    assert events == [
        ("sign_in.password", "failure", "alice"),
        ("sign_in.password", "failure", None),  # a name without an account is not stored: it may be a password
        ("sign_in.pin", "failure", "alice"),
        ("sign_in", "success", "alice"),
    ]
    assert all(e.client_address == "testclient" for e in audit_events(client))
    stored = _columns(client)
    for secret in ("wrong password", PASSWORD, wrong_pin, alice.pin(clock.now), "nobody"):
        assert secret not in stored


def test_enrollment_and_recovery_code_use_are_recorded(client: TestClient, clock: FakeClock) -> None:
    carol = seed_user(client, "carol", enrolled=False)
    browser = Browser(client)
    secret = SECRET_KEY_TEXT.search(browser.password(carol).text).group(1)  # type: ignore[union-attr]
    codes = RECOVERY_CODE_TEXT.findall(browser.post("/signin/enroll", {"pin": totp.code_at(secret, totp.current_step(clock.now))}).text)
    browser.post("/signin/continue", {})
    client.cookies.clear()
    browser = Browser(client)
    browser.password(carol)
    assert "Signed in as" in browser.post("/signin/recovery", {"code": codes[0]}).text
    actions = [(e.action, e.outcome) for e in audit_events(client, target="carol")]
    assert actions == [("two_factor.enrolled", "success"), ("sign_in", "success"),
                       ("sign_in", "success"), ("sign_in.recovery_code", "success")]
    stored = _columns(client)
    assert secret not in stored and not any(code in stored or code.replace("-", "") in stored for code in codes)


def test_audit_view_filters_and_pages(client: TestClient, clock: FakeClock) -> None:
    admin, _, bob = admin_and_bob(client, clock)
    admin.post(f"/admin/users/{bob.user_id}/unlock", {"reason": "ticket 7"})
    region = client.get("/admin/audit?audit_action=admin", headers=HTMX)
    assert region.text.lstrip().startswith('<section id="audit"')
    assert "Account unlocked" in region.text and "ticket 7" in region.text and "<td>Signed in</td>" not in region.text
    by_user = client.get("/admin/audit?audit_user=BOB", headers=HTMX).text
    assert "Account unlocked" in by_user and "1 event" in by_user
    failures = client.get("/admin/audit?audit_outcome=failure", headers=HTMX).text
    assert "0 events" in failures
    page = admin.get("/admin?audit_action=admin")  # without JS, the same filters on the whole page
    assert page.text.startswith("<!doctype html>") and "ticket 7" in page.text


def test_csv_export(client: TestClient, clock: FakeClock) -> None:
    admin, _, bob = admin_and_bob(client, clock)
    admin.post(f"/admin/users/{bob.user_id}/unlock", {"reason": "=HYPERLINK(\"http://evil\")"})
    export = client.get("/admin/audit/export.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"].startswith('attachment; filename="provconnect-audit-')
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0] == ["time (UTC)", "action", "outcome", "actor", "target", "client address", "via", "reason"]
    unlock = next(row for row in rows if row[1] == "admin.unlock")
    assert unlock[2:7] == ["success", "root", "bob", "testclient", "web"]
    assert unlock[7] == "'=HYPERLINK(\"http://evil\")"  # no formula for spreadsheets
    only_admin = list(csv.reader(io.StringIO(client.get("/admin/audit/export.csv?audit_action=admin").text)))
    assert [row[1] for row in only_admin[1:]] == ["admin.unlock"]


def test_policy_off_lets_users_without_an_authenticator_in_with_the_password(client: TestClient, clock: FakeClock) -> None:
    admin, _, _ = admin_and_bob(client, clock)
    carol = seed_user(client, "carol", enrolled=False)
    saved = admin.post("/admin/policy", {"reason": "pilot"})
    assert saved.status_code == 200 and "2FA is optional" in saved.text
    assert saved.text.lstrip().startswith('<section id="policy"') and "checked" not in saved.text.split("policy-required")[1][:80]
    assert [(e.action, e.reason) for e in audit_events(client, action__startswith="admin.policy")] == [
        ("admin.policy_2fa_optional", "pilot")
    ]
    client.cookies.clear()
    home = Browser(client).password(carol)
    assert "Signed in as <strong>carol</strong>" in home.text
    account = client.get("/account").text
    assert "Not set up" in account and "Set up an authenticator app" in account
    admin = sign_in_as(client, clock, seed_user(client, "root2", admin=True))
    assert admin.post("/admin/policy", {"required": "on"}).status_code == 200
    client.cookies.clear()
    assert "Set up two-factor authentication" in Browser(client).password(carol).text


def test_policy_form_needs_step_up_too(client: TestClient, clock: FakeClock) -> None:
    admin, root, _ = admin_and_bob(client, clock)
    clock.advance(11 * 60)
    refused = admin.post("/admin/policy", {})
    assert refused.status_code == 403 and "confirm it is you" in refused.text
    assert audit_events(client, action__startswith="admin.policy") == []

