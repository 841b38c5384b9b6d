"""Helpers for the administration and account tests: signed-in browsers, rows, audit rows, DB pokes."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from litestar.testing import TestClient

from tests.support import Browser, FakeClock, SeededUser, seed_user
from web.models import AuditEvent, User

SESSION = "provconnect_session"
T = TypeVar("T")


def call(client: TestClient, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` on the app's event loop (where the ORM lives)."""
    return client.blocking_portal.call(work)


def update_user(client: TestClient, user_id: int, **changes: Any) -> None:
    async def update() -> None:
        await User.filter(id=user_id).update(**changes)

    call(client, update)


def audit_events(client: TestClient, **filters: Any) -> list[AuditEvent]:
    async def fetch() -> list[AuditEvent]:
        return list(await AuditEvent.filter(**filters).order_by("id"))

    return call(client, fetch)


def sign_in_as(client: TestClient, clock: FakeClock, user: SeededUser, *, htmx: bool = True) -> Browser:
    """A fresh browser (cookie jar cleared) signed in as ``user``; the clock moves on a step first."""
    clock.advance(30)  # a new TOTP step: the same user's earlier code is spent
    client.cookies.clear()
    browser = Browser(client, htmx=htmx)
    response = browser.sign_in(user, clock)
    assert response.status_code == 200 and "Signed in as" in browser.get("/").text, response.text
    return browser


def admin_and_bob(client: TestClient, clock: FakeClock) -> tuple[Browser, SeededUser, SeededUser]:
    root = seed_user(client, "root", admin=True)
    bob = seed_user(client, "bob")
    return sign_in_as(client, clock, root), root, bob


def row_html(html: str, user_id: int) -> str:
    match = re.search(rf'<tr id="user-{user_id}">.*?</tr>', html, flags=re.S)
    assert match, f"no row for user {user_id}"
    return match.group(0)


def keep_cookies(client: TestClient) -> dict[str, str]:
    return dict(client.cookies.items())


def use_cookies(client: TestClient, cookies: dict[str, str]) -> None:
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
