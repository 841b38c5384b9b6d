"""The first-administrator link: valid once, only on an empty installation, then straight to 2FA setup."""

from __future__ import annotations

from litestar.testing import TestClient

from tests.support import PASSWORD, Browser, load_user, seed_user
from web.app import services_of
from web.auth.setup_tokens import issue_setup_token


def _token(client: TestClient) -> str:
    token = client.blocking_portal.call(issue_setup_token, services_of(client.app).keyed)
    assert token
    return token


def test_setup_link_creates_an_admin_who_enrolls_next(client: TestClient, browser: Browser) -> None:
    token = _token(client)
    page = client.get(f"/setup?token={token}")
    assert page.status_code == 200 and "Create the first administrator" in page.text
    created = browser.post("/setup", {"token": token, "username": "Root.Admin", "password": PASSWORD})
    assert created.status_code == 200 and "Set up two-factor authentication" in created.text
    admin = load_user(client, 1)
    assert admin.username == "root.admin" and admin.is_admin


def test_setup_link_works_once(client: TestClient, browser: Browser) -> None:
    token = _token(client)
    browser.post("/setup", {"token": token, "username": "root", "password": PASSWORD})
    client.cookies.clear()
    again = Browser(client)
    assert client.get(f"/setup?token={token}").status_code == 404
    response = again.post("/setup", {"token": token, "username": "intruder", "password": PASSWORD})
    assert response.status_code == 404 and "not valid" in response.text


def test_no_setup_link_once_a_user_exists(client: TestClient) -> None:
    seed_user(client, "alice")
    assert client.blocking_portal.call(issue_setup_token, services_of(client.app).keyed) is None


def test_wrong_token_is_refused(client: TestClient, browser: Browser) -> None:
    _token(client)
    assert client.get("/setup?token=guess").status_code == 404
    response = browser.post("/setup", {"token": "guess", "username": "root", "password": PASSWORD})
    assert response.status_code == 404


def test_bad_username_or_short_password_keep_the_link_usable(client: TestClient, browser: Browser) -> None:
    token = _token(client)
    bad_name = browser.post("/setup", {"token": token, "username": "<b>root</b>", "password": PASSWORD})
    assert bad_name.status_code == 422 and "Use 1 to 64 of" in bad_name.text and "<b>root" not in bad_name.text
    short = browser.post("/setup", {"token": token, "username": "root", "password": "short"})
    assert short.status_code == 422 and "at least 8" in short.text
    assert client.get(f"/setup?token={token}").status_code == 200
