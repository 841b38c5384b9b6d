"""Known devices against a real database: refresh, registration, expiry and the per-user cap."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from web.auth import devices
from web.auth.users import create_user
from web.models import KnownDevice, User
from web.services import Services

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("database")]


async def new_user(services: Services, name: str = "alice") -> User:
    return await create_user(services.hashing, name, "correct horse battery staple")


async def test_a_new_browser_gets_a_token_that_finds_its_device(services: Services) -> None:
    alice = await new_user(services)
    token = await devices.remember_device(services.keyed, alice.id, None)
    assert token is not None
    found = await devices.find_device(services.keyed, alice.id, token)
    assert found is not None and found.user_id == alice.id  # type: ignore[attr-defined]
    assert await devices.find_device(services.keyed, alice.id, token + "x") is None


async def test_a_known_device_is_refreshed_and_gets_no_new_token(services: Services) -> None:
    alice = await new_user(services)
    token = await devices.remember_device(services.keyed, alice.id, None)
    week_ago = datetime.now(timezone.utc) - timedelta(days=7)
    await KnownDevice.filter(user_id=alice.id).update(last_used_at=week_ago)
    assert await devices.remember_device(services.keyed, alice.id, token) is None
    device = await KnownDevice.get(user_id=alice.id)
    assert device.last_used_at > week_ago + timedelta(days=6)
    assert await KnownDevice.filter(user_id=alice.id).count() == 1


async def test_a_token_of_another_user_or_too_old_registers_a_new_device(services: Services) -> None:
    alice, bob = await new_user(services), await new_user(services, "bob")
    bobs = await devices.remember_device(services.keyed, bob.id, None)
    assert await devices.remember_device(services.keyed, alice.id, bobs) not in (None, bobs)
    alices = await devices.remember_device(services.keyed, alice.id, None)
    stale = datetime.now(timezone.utc) - timedelta(days=devices.DEVICE_TTL_DAYS + 1)
    await KnownDevice.filter(user_id=alice.id).update(last_used_at=stale)
    assert await devices.find_device(services.keyed, alice.id, alices) is None
    assert await devices.remember_device(services.keyed, alice.id, alices) is not None


async def test_overlong_or_empty_tokens_are_not_looked_up(services: Services) -> None:
    alice = await new_user(services)
    for token in ("", "x" * (devices.DEVICE_TOKEN_MAX_CHARS + 1)):
        assert await devices.find_device(services.keyed, alice.id, token) is None
        assert await devices.remember_device(services.keyed, alice.id, token) is not None


async def test_past_the_cap_the_least_recently_used_devices_are_forgotten(services: Services) -> None:
    alice, bob = await new_user(services), await new_user(services, "bob")
    bobs = await devices.remember_device(services.keyed, bob.id, None)
    tokens = [await devices.remember_device(services.keyed, alice.id, None) for _ in range(devices.MAX_DEVICES_PER_USER)]
    # The first one was used most recently of all; the second is the oldest.
    base = datetime.now(timezone.utc) - timedelta(days=1)
    for age, token in enumerate(tokens):
        await KnownDevice.filter(fingerprint=devices._fingerprint(services.keyed, token)).update(  # type: ignore[arg-type]
            last_used_at=base + timedelta(minutes=age)
        )
    assert await devices.remember_device(services.keyed, alice.id, tokens[0]) is None
    newest = await devices.remember_device(services.keyed, alice.id, None)
    assert await KnownDevice.filter(user_id=alice.id).count() == devices.MAX_DEVICES_PER_USER
    assert await devices.find_device(services.keyed, alice.id, tokens[1]) is None
    for token in (tokens[0], *tokens[2:], newest):
        assert await devices.find_device(services.keyed, alice.id, token) is not None
    assert await devices.find_device(services.keyed, bob.id, bobs) is not None  # other users untouched


async def test_the_devices_of_a_user_are_found_by_index_not_by_reading_the_table(backend: str) -> None:
    """The count in every new device's INSERT, the cap's DELETE and ON DELETE CASCADE go by user_id."""
    connection = KnownDevice._meta.db
    if backend == "sqlite":
        _, plan = await connection.execute_query(
            f"EXPLAIN QUERY PLAN SELECT {devices.OTHER_DEVICES} FROM known_devices WHERE id = 1"
        )
        details = " | ".join(row["detail"] for row in plan)
        assert "known_devices_user_id" in details and "SCAN other" not in details, details
        indexes = await connection.execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('known_devices', 'recovery_codes')"
        )
    else:
        indexes = await connection.execute_query_dict(
            "SELECT indexname AS name FROM pg_indexes WHERE tablename IN ('known_devices', 'recovery_codes')"
        )
    assert {"known_devices_user_id", "recovery_codes_user_id"} <= {row["name"] for row in indexes}
