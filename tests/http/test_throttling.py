"""Per-account throttling with the clock injected: delays, the hard limit, shared counters, no oracle."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from litestar.testing import TestClient

from tests.support import Browser, FakeClock, SeededUser, load_user, seed_user
from web.auth.throttle import FREE_FAILURES, HARD_LIMIT_FAILURES
from web.models import User


def _wrong(user: SeededUser, clock: FakeClock) -> str:
    return f"{(int(user.pin(clock.now)) + 500_000) % 1_000_000:06d}"


def _set(client: TestClient, user_id: int, **values: object) -> None:
    async def update() -> None:
        await User.filter(id=user_id).update(**values)

    client.blocking_portal.call(update)


def test_five_free_pin_failures_then_a_doubling_wait(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    browser.password(alice)
    for _ in range(FREE_FAILURES):
        assert browser.post("/signin/pin", {"pin": _wrong(alice, clock)}).status_code == 401
    throttled = browser.post("/signin/pin", {"pin": _wrong(alice, clock)})
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "5"
    assert "Too many attempts. Try again in 5 seconds." in throttled.text
    clock.advance(5)
    assert browser.post("/signin/pin", {"pin": _wrong(alice, clock)}).status_code == 401
    assert browser.post("/signin/pin", {"pin": _wrong(alice, clock)}).headers["retry-after"] == "10"
    assert load_user(client, alice.user_id).second_factor_failures == FREE_FAILURES + 1


def test_throttled_answer_is_the_same_for_a_right_and_a_wrong_pin(
    client: TestClient, browser: Browser, clock: FakeClock
) -> None:
    alice = seed_user(client, "alice")
    browser.password(alice)
    for _ in range(FREE_FAILURES):
        browser.post("/signin/pin", {"pin": _wrong(alice, clock)})
    right = browser.post("/signin/pin", {"pin": alice.pin(clock.now)})
    wrong = browser.post("/signin/pin", {"pin": _wrong(alice, clock)})
    assert right.status_code == wrong.status_code == 429
    assert right.text.replace(browser.token, "") == wrong.text.replace(browser.token, "")
    assert load_user(client, alice.user_id).totp_last_step == 0  # the right PIN was never evaluated


def test_a_success_resets_the_counter(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    browser.password(alice)
    for _ in range(FREE_FAILURES - 1):
        browser.post("/signin/pin", {"pin": _wrong(alice, clock)})
    assert browser.post("/signin/pin", {"pin": alice.pin(clock.now)}).status_code == 200
    assert load_user(client, alice.user_id).second_factor_failures == 0


def test_the_counter_is_shared_by_every_session(client: TestClient, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    for _ in range(FREE_FAILURES):
        client.cookies.clear()
        browser = Browser(client)
        browser.password(alice)
        assert browser.post("/signin/pin", {"pin": _wrong(alice, clock)}).status_code == 401
    client.cookies.clear()
    fresh = Browser(client)
    fresh.password(alice)
    assert fresh.post("/signin/pin", {"pin": alice.pin(clock.now)}).status_code == 429


def test_pin_recovery_codes_and_live_check_share_one_counter(client: TestClient, clock: FakeClock) -> None:
    carol = seed_user(client, "carol", enrolled=False)
    browser = Browser(client)
    browser.password(carol)
    for _ in range(FREE_FAILURES):
        status = browser.post("/signin/enroll/check", {"pin": "000000"})
        assert "Code is" in status.text
    throttled = browser.post("/signin/enroll/check", {"pin": "000000"})
    assert throttled.status_code == 429 and "Too many attempts" in throttled.text
    assert browser.post("/signin/enroll", {"pin": "000000"}).status_code == 429

    alice = seed_user(client, "alice")
    client.cookies.clear()
    other = Browser(client)
    other.password(alice)
    for _ in range(FREE_FAILURES - 1):
        assert other.post("/signin/recovery", {"code": "aaaa-bbbb-cccc-dddd"}).status_code == 401
    assert other.post("/signin/pin", {"pin": _wrong(alice, clock)}).status_code == 401
    assert other.post("/signin/recovery", {"code": "aaaa-bbbb-cccc-dddd"}).status_code == 429


def test_malformed_input_counts_nothing(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    browser.password(alice)
    for bad in ["12345", "１２３４５６", "abcdef"] * 4:
        assert browser.post("/signin/pin", {"pin": bad}).status_code == 422
    assert load_user(client, alice.user_id).second_factor_failures == 0
    assert browser.post("/signin/pin", {"pin": alice.pin(clock.now)}).status_code == 200


def test_the_hard_limit_locks_until_an_admin_unlocks(client: TestClient, browser: Browser, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    _set(client, alice.user_id, second_factor_failures=HARD_LIMIT_FAILURES - 1)
    browser.password(alice)
    assert browser.post("/signin/pin", {"pin": _wrong(alice, clock)}).status_code == 401
    clock.advance(24 * 3600)
    locked = browser.password(alice)
    locked = browser.post("/signin/pin", {"pin": alice.pin(clock.now)})
    assert locked.status_code == 429 and "ask an administrator to unlock it" in locked.text
    assert load_user(client, alice.user_id).locked_at is not None
    _set(client, alice.user_id, locked_at=None, second_factor_failures=0, second_factor_blocked_until=0)
    browser.password(alice)
    assert browser.post("/signin/pin", {"pin": alice.pin(clock.now)}).status_code == 200


def test_password_failures_throttle_the_password_step(client: TestClient, browser: Browser) -> None:
    alice = seed_user(client, "alice")
    for _ in range(FREE_FAILURES):
        assert browser.password(alice, "wrong password!").status_code == 401
    right = browser.password(alice)
    assert right.status_code == 429 and "Too many attempts" in right.text
    assert load_user(client, alice.user_id).second_factor_failures == 0  # the PIN counter is untouched


def test_a_password_burst_does_not_lock_out_the_user_on_their_known_device(
    client: TestClient, clock: FakeClock
) -> None:
    alice = seed_user(client, "alice")
    owner = Browser(client)
    owner.sign_in(alice, clock)
    assert client.cookies.get("provconnect_device")
    owner.post("/signout", {})
    owner_cookies = dict(client.cookies)
    client.cookies.clear()
    attacker = Browser(client)
    for _ in range(30):
        clock.advance(60)
        attacker.password(alice, "guess guess guess")
    assert attacker.password(alice).status_code == 429  # unknown browsers wait
    client.cookies.clear()
    client.cookies.update(owner_cookies)
    owner = Browser(client)
    assert "PIN code" in owner.password(alice).text  # the real user's browser goes on to the PIN step


def test_fifty_parallel_wrong_pins_are_counted_exactly(client: TestClient, clock: FakeClock) -> None:
    alice = seed_user(client, "alice")
    sessions = []
    for _ in range(50):
        client.cookies.clear()
        browser = Browser(client)
        browser.password(alice)
        sessions.append(("; ".join(f"{k}={v}" for k, v in client.cookies.items()), browser.token))
    client.cookies.clear()
    wrong = _wrong(alice, clock)

    def post(session: tuple[str, str]) -> int:
        cookie, token = session
        return client.post(
            "/signin/pin", data={"pin": wrong, "_csrf_token": token}, headers={"Cookie": cookie, "HX-Request": "true"}
        ).status_code

    with ThreadPoolExecutor(max_workers=25) as pool:
        statuses = list(pool.map(post, sessions))
    evaluated = statuses.count(401)
    assert evaluated == FREE_FAILURES and statuses.count(429) == 50 - evaluated
    assert load_user(client, alice.user_id).second_factor_failures == evaluated


def test_per_address_limit_answers_429_with_retry_after(client: TestClient, browser: Browser) -> None:
    statuses = [browser.post("/signin/pin", {"pin": "123456"}).status_code for _ in range(601)]
    assert statuses[:600].count(429) == 0 and statuses[600] == 429
    last = browser.post("/signin/pin", {"pin": "123456"})
    assert "Too many attempts" in last.text and int(last.headers["retry-after"]) > 0


def test_a_name_without_an_account_is_throttled_exactly_like_a_real_one(client: TestClient, browser: Browser) -> None:
    seed_user(client, "alice")
    answers = {}
    for name in ("alice", "nobody"):
        statuses = [browser.password(name, "wrong password!").status_code for _ in range(FREE_FAILURES + 1)]
        last = browser.password(name, "wrong password!")
        answers[name] = (statuses, last.status_code, last.headers.get("retry-after"))
    assert answers["alice"] == answers["nobody"]
    assert answers["nobody"][0] == [401] * FREE_FAILURES + [429]
