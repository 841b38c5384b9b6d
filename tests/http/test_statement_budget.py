"""How many SQL statements (and Redis commands) a sign-in step makes: each one is a round trip.

Like Django's assertNumQueries: a count, not a timer, so it holds on a noisy machine and fails the
day a change adds a query to the hottest path (README, Performance, has where each one comes from).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from litestar.testing import TestClient

from tests.support import Browser, FakeClock, seed_user
from web.settings import Settings

# resume's user read, the counter's compare-and-set, the claim (with the counter reset and the
# sign-in record), the audit row, and the new known device (which counts the user's others).
PIN_STEP_STATEMENTS = 5
# The same, with the device refreshed in one UPDATE instead of registered.
PIN_STEP_KNOWN_DEVICE_STATEMENTS = 5


@contextmanager
def statements(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """The SQL statements Tortoise sends while the block runs (it logs each at DEBUG)."""
    seen: list[str] = []
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        yield seen
    seen.extend(r.getMessage().split(":")[0] for r in caplog.records if r.name == "tortoise.db_client")


def test_the_pin_step_makes_five_statements(
    client: TestClient, browser: Browser, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    alice = seed_user(client, "alice")
    browser.password(alice)
    with statements(caplog) as sent:
        response = browser.post("/signin/pin", {"pin": alice.pin(clock.now)})
    assert response.status_code == 200 and "Signed in as" in response.text
    assert len(sent) == PIN_STEP_STATEMENTS, "\n".join(sent)


def test_the_pin_step_on_a_known_device_makes_five_too(
    client: TestClient, browser: Browser, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    alice = seed_user(client, "alice")
    browser.sign_in(alice, clock)
    browser.post("/signout", {})
    clock.advance(30)  # the next time step: single use
    browser.password(alice)
    with statements(caplog) as sent:
        response = browser.post("/signin/pin", {"pin": alice.pin(clock.now)})
    assert response.status_code == 200 and "Signed in as" in response.text
    assert len(sent) == PIN_STEP_KNOWN_DEVICE_STATEMENTS, "\n".join(sent)


@contextmanager
def redis_round_trips(settings: Settings) -> Iterator[list[str]]:
    """The commands clients sent Redis while the block ran, as Redis's MONITOR saw them.

    Commands a script runs are left out (MONITOR marks them as the script's): each one listed is
    a round trip of its own.
    """
    import redis

    server = redis.Redis.from_url(settings.redis_url)  # type: ignore[arg-type]
    watching = redis.Redis.from_url(settings.redis_url)  # type: ignore[arg-type]
    server.ping()  # its connection opened (HELLO) before the watch begins
    marker = f"end-of-block-{secrets.token_hex(4)}"
    sent: list[str] = []
    started = threading.Event()

    def watch() -> None:
        with watching.monitor() as monitor:
            started.set()
            for command in monitor.listen():
                if marker in command["command"]:
                    return
                if command["client_type"] != "lua":
                    sent.append(command["command"].split(" ")[0].upper())

    watcher = threading.Thread(target=watch)
    watcher.start()
    started.wait(5)
    server.ping()  # MONITOR is on once its own connection has answered; this lands after it
    time.sleep(0.05)
    yield sent
    server.echo(marker)
    watcher.join(5)
    server.close()
    watching.close()
    sent[:] = [name for name in sent if name != "PING"]


@pytest.mark.parametrize("backend", ["postgres+redis"])
def test_the_pin_step_makes_two_redis_round_trips(
    client: TestClient, browser: Browser, clock: FakeClock, settings: Settings
) -> None:
    """Two scripts: the per-address hit, which brings the session record back with it, and the
    rotation (the new key written, the old one deleted). No GET of its own for the session."""
    alice = seed_user(client, "alice")
    browser.password(alice)
    with redis_round_trips(settings) as sent:
        response = browser.post("/signin/pin", {"pin": alice.pin(clock.now)})
    assert response.status_code == 200 and "Signed in as" in response.text
    assert sent == ["EVALSHA", "EVALSHA"], sent
