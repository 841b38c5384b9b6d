"""Administration in a real Chromium: a helpdesk handles a lost phone for a user signed in elsewhere.

Two browser contexts, two people: the admin on /admin, the user on the console home. The admin's
Reset 2FA ends the user's session at their next click and their next sign-in enrolls again; Revoke
2FA lets them in with the password alone; Require 2FA brings the enrollment panel back.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import PASSWORD, Server, User
from tests.browser.test_signin_browser import (
    ENROLL_HEADING,
    TIMEOUT_MS,
    enroll_through_ui,
    enter_password,
    expect_signed_in,
    next_step_pin,
    pin_box,
)

pytestmark = pytest.mark.browser


def add_admin(server: Server) -> User:
    name = f"admin-{secrets.token_hex(3)}"
    done = server.cli("user", "add", name, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    return User(name, PASSWORD)


def user_row(page: Page, user: User) -> Locator:
    return page.locator("#users tbody tr", has=page.get_by_role("rowheader", name=user.username))


def confirm_row_action(page: Page, user: User, button: str, reason: str) -> Locator:
    """Press a row's button, then its inline confirmation; returns the row once the answer is in."""
    row = user_row(page, user)
    row.get_by_role("button", name=button, exact=True).click()
    confirm = row.get_by_role("button", name=re.compile(r"^Confirm"))
    expect(confirm).to_be_visible(timeout=TIMEOUT_MS)
    row.get_by_label(re.compile(r"^Reason")).fill(reason)
    confirm.click()
    expect(row.get_by_role("status")).to_be_visible(timeout=TIMEOUT_MS)
    return row


def next_click_lands_on_sign_in(page: Page) -> None:
    page.get_by_role("link", name="Account settings", exact=True).click()
    expect(page.get_by_role("textbox", name="Username", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("Your session has ended. Sign in again.")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def test_reset_revoke_and_require_for_a_user_signed_in_elsewhere(server: Server, open_session: Any) -> None:
    admin_page = open_session().page
    user_page = open_session().page
    admin = enroll_through_ui(admin_page, add_admin(server))
    user = enroll_through_ui(user_page, server.add_user("helpdesk"))

    admin_page.goto("/admin")
    row = user_row(admin_page, user)
    expect(row.get_by_text("Enabled", exact=True)).to_be_visible()
    expect(row.get_by_text("Active", exact=True)).to_be_visible()
    row = confirm_row_action(admin_page, user, "Reset 2FA", "lost phone")
    expect(row.get_by_role("status")).to_contain_text("2FA reset for")
    expect(row.get_by_text("Not set up", exact=True)).to_be_visible()

    # The user's next click: the sign-in page. Their next sign-in: the enrollment panel, and why.
    next_click_lands_on_sign_in(user_page)
    enter_password(user_page, user)
    expect(user_page.get_by_role("heading", name=ENROLL_HEADING, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(user_page.get_by_text("An administrator reset your two-factor authentication on")).to_be_visible()

    # Revoke: the password alone signs them in, and they are told.
    confirm_row_action(admin_page, user, "Revoke 2FA", "no phone until Monday")
    expect(user_row(admin_page, user).get_by_text("Exempt", exact=True)).to_be_visible()
    user_page.goto("/")
    enter_password(user_page, user)
    expect_signed_in(user_page, user)
    expect(user_page.get_by_text("turned off two-factor authentication for your account")).to_be_visible()

    # Require 2FA: their session ends, and the enrollment panel is back.
    confirm_row_action(admin_page, user, "Require 2FA", "new phone")
    expect(user_row(admin_page, user).get_by_text("Not set up", exact=True)).to_be_visible()
    next_click_lands_on_sign_in(user_page)
    enter_password(user_page, user)
    expect(user_page.get_by_role("heading", name=ENROLL_HEADING, exact=True)).to_be_visible(timeout=TIMEOUT_MS)

    # The audit log in the same page lists the three actions with the admin's reasons.
    admin_page.get_by_label("Event").select_option(label="Administrator actions")
    admin_page.get_by_role("button", name="Filter", exact=True).click()
    audit = admin_page.locator("#audit tbody")
    for reason in ("lost phone", "no phone until Monday", "new phone"):
        expect(audit.get_by_text(reason, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    assert admin.username in audit.inner_text()


def test_admin_actions_work_with_javascript_off(server: Server, open_session: Any) -> None:
    admin_page = open_session().page
    admin = enroll_through_ui(admin_page, add_admin(server))
    user = server.add_user("nojs")
    plain = open_session(java_script_enabled=False).page
    plain.goto("/")
    enter_password(plain, admin)
    assert admin.secret is not None
    pin_box(plain).fill(next_step_pin(admin.secret))
    plain.get_by_role("button", name="Sign in", exact=True).click()
    expect_signed_in(plain, admin)
    plain.goto("/admin")
    plain.get_by_role("searchbox", name="Search by name").fill(user.username)
    plain.get_by_role("button", name="Search", exact=True).click()
    expect(plain.locator("#users tbody tr")).to_have_count(1)
    row = user_row(plain, user)
    row.get_by_role("button", name="Disable", exact=True).click()  # a plain GET: the page with the row open
    row = user_row(plain, user)
    row.get_by_role("button", name="Confirm disable", exact=True).click()  # post, redirect, get
    row = user_row(plain, user)
    expect(row.get_by_role("status")).to_contain_text("is disabled and signed out")
    expect(row.get_by_text("Disabled", exact=True)).to_be_visible()
    assert plain.url.startswith(server.url("/admin?"))
