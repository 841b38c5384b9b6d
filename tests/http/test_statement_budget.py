"""How many SQL statements a sign-in step makes: each one is a round trip on PostgreSQL.

Like Django's assertNumQueries: a count, not a timer, so it holds on a noisy machine and fails the
day a change adds a query to the hottest path (README, Performance, has where each one comes from).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from litestar.testing import TestClient

from tests.support import Browser, FakeClock, seed_user

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
