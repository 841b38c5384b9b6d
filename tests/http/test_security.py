"""What a hostile client tries: skipping CSRF, planting session ids, cross-site posts, bad input."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from litestar.testing import TestClient

from tests.support import Browser, FakeClock, load_user, seed_user

SESSION = "provconnect_session"


def test_post_without_csrf_token_is_refused(client: TestClient) -> None:
    seed_user(client, "alice")
    client.get("/")
    response = client.post("/signin/password", data={"username": "alice", "password": "correct horse battery staple"})
    assert response.status_code == 403 and "This form has expired" in response.text
    assert client.cookies.get(SESSION) is None


def test_csrf_token_from_another_browser_is_refused(client: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    seed_user(client, "alice")
    other = Browser(client).token
    client.cookies.clear()
    client.get("/")  # this browser gets its own cookie
    response = client.post("/signin/password", data={"username": "alice", "password": "x" * 10, "_csrf_token": other})
    assert response.status_code == 403


def test_cross_site_posts_are_refused_even_with_a_valid_token(client: TestClient, browser: Browser) -> None:
    alice = seed_user(client, "alice")
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "https://evil.example"}, {"Origin": "null"}):
        response = browser.post("/signin/password", {"username": "alice", "password": alice.password}, headers=headers)
        assert response.status_code == 403, headers
    same = browser.post(
        "/signin/password", {"username": "alice", "password": alice.password}, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert same.status_code == 200


def test_session_id_changes_at_both_steps_and_old_ids_die(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    assert browser.session_id() is None  # viewing the sign-in page creates no session
    browser.password(alice)
    pending_id = browser.session_id()
    browser.post("/signin/pin", {"pin": alice.pin(clock.now)})
    signed_in_id = browser.session_id()
    assert pending_id and signed_in_id and pending_id != signed_in_id
    client.cookies.clear()
    client.cookies.set(SESSION, pending_id)
    assert "Signed in as" not in client.get("/").text and "PIN code" not in client.get("/").text


def test_planted_session_id_is_never_adopted(client: TestClient, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    planted = "attacker-chosen-session-id-0123456789"
    client.cookies.set(SESSION, planted, domain="testserver.local")
    browser = Browser(client)
    browser.password(alice)
    browser.post("/signin/pin", {"pin": alice.pin(clock.now)})
    assert browser.session_id() not in (None, planted)
    client.cookies.clear()
    client.cookies.set(SESSION, planted, domain="testserver.local")
    assert "Signed in as" not in client.get("/").text


def test_csrf_token_rotates_with_the_session(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    before = browser.token
    browser.password(alice)
    assert browser.token != before
    assert client.cookies.get("csrftoken")


def test_cookies_are_httponly_and_samesite(client: TestClient, browser: Browser) -> None:
    alice = seed_user(client, "alice")
    response = browser.password(alice)
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION + "="))
    assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session


def test_secure_cookies_use_the_host_prefix(settings) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings
    from web.app import create_app

    secure = make_settings(settings.data_dir, secure_cookies="on")
    with TestClient(create_app(secure), base_url="https://console.example") as client:
        page = client.get("/")
        csrf_cookie = page.headers["set-cookie"]
        assert csrf_cookie.startswith("__Host-csrftoken=") and "Secure" in csrf_cookie and "Path=/" in csrf_cookie


def test_every_answer_has_the_security_headers(client: TestClient) -> None:
    for response in (client.get("/"), client.get("/nowhere"), client.post("/signin/pin", data={})):
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["cache-control"] == "no-store"


def test_pages_have_no_inline_script_or_style(client: TestClient, browser: Browser) -> None:
    seed_user(client, "carol", enrolled=False)
    for html in (client.get("/").text, browser.password("carol").text):
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)
        assert " style=" not in html and "<style" not in html and " on" + "click=" not in html


def test_unknown_route_is_a_readable_404(client: TestClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "Page not found" in response.text and "Traceback" not in response.text


def test_fullwidth_digits_are_refused_before_any_check(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    browser.password(alice)
    pin = alice.pin(clock.now)
    fullwidth = pin.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    response = browser.post("/signin/pin", {"pin": fullwidth})
    assert response.status_code == 422 and "Enter the 6-digit code" in response.text
    assert 'aria-invalid="true"' in response.text
    assert load_user(client, alice.user_id).totp_last_step == 0  # nothing was claimed
    assert browser.post("/signin/pin", {"pin": pin}).status_code == 200


def test_malformed_pins_get_a_message_beside_the_field(client: TestClient, browser: Browser) -> None:
    seed_user(client, "alice")
    browser.password("alice")
    for bad in ("", "12345", "1234567", "12a456", "123\x00456", "٣٣٣٣٣٣", "9" * 70):
        response = browser.post("/signin/pin", {"pin": bad})
        assert response.status_code == 422, bad
        assert 'id="pin-error"' in response.text


def test_missing_repeated_and_overlong_fields_change_nothing(client: TestClient, browser: Browser) -> None:
    alice = seed_user(client, "alice")
    assert browser.post("/signin/password", {"username": "alice"}).status_code == 422
    repeated = browser.client.post(
        "/signin/password",
        content=f"username=alice&username=bob&password=x&_csrf_token={browser.token}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert repeated.status_code == 422
    overlong = browser.post("/signin/password", {"username": "alice", "password": "p" * 1025})
    assert overlong.status_code == 422 and "at most 1,024" in overlong.text
    assert browser.session_id() is None
    assert browser.password(alice).status_code == 200


def test_huge_bodies_and_wrong_content_types_are_refused(client: TestClient, browser: Browser) -> None:
    huge = browser.post("/signin/password", {"username": "alice", "password": "p" * 1_000_000})
    assert huge.status_code == 413 and "too large" in huge.text
    as_json = client.post(
        "/signin/password",
        json={"username": "alice", "password": "x"},
        headers={"X-CSRFToken": browser.token, "HX-Request": "true"},
    )
    assert as_json.status_code == 415


def test_typed_markup_is_escaped(client: TestClient, browser: Browser) -> None:
    response = browser.post("/signin/password", {"username": "<script>alert(1)</script>", "password": "wrong password"})
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_twenty_concurrent_posts_of_one_code_give_one_success(client: TestClient, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    sessions = []
    for _ in range(20):
        client.cookies.clear()
        browser = Browser(client)
        browser.password(alice)
        sessions.append((dict(client.cookies), browser.token))
    client.cookies.clear()
    pin = alice.pin(clock.now)

    def post(session: tuple[dict[str, str], str]) -> int:
        cookies, token = session
        cookie_header = "; ".join(f"{name}={value}" for name, value in cookies.items())
        return client.post(
            "/signin/pin",
            data={"pin": pin, "_csrf_token": token},
            headers={"Cookie": cookie_header, "HX-Request": "true"},
        ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(post, sessions))
    # Exactly one success; the others were replays (401) or held back by the account's throttle (429).
    assert statuses.count(200) == 1 and set(statuses) <= {200, 401, 429}


def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.text == "ok\n"


def test_malformed_cookies_are_ignored_or_refused_never_a_crash(client: TestClient, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    raw = client.get("/", headers={"Cookie": "provconnect_session=\u00fcn\u00efc\u00f6d\u00e9".encode("latin-1")})
    assert raw.status_code == 200 and "Username" in raw.text
    for value in ("x" * 4000, "%00%ff\\;", '"quoted"', ""):
        client.cookies.clear()
        client.cookies.set(SESSION, value, domain="testserver.local")
        client.cookies.set("provconnect_device", value, domain="testserver.local")
        page = client.get("/")
        assert page.status_code == 200 and "Username" in page.text
        browser = Browser(client)
        assert "PIN code" in browser.password(alice).text
    client.cookies.clear()
    client.get("/")
    client.cookies.set("csrftoken", "garbage", domain="testserver.local")
    refused = client.post("/signin/password", data={"username": "alice", "password": alice.password, "_csrf_token": "garbage"})
    assert refused.status_code == 403 and "This form has expired" in refused.text
