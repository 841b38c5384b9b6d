"""Sessions and per-address counts, in this process's memory and in Redis: the same behaviour.

Every test runs on both (the ``settings`` fixture's backends): the in-process state without
Redis, real Redis with ``PROVCONNECT_TEST_REDIS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.backends import SharedServers
from web.redis_address import RedisAddress
from web.redis_client import RedisClient
from web.settings import Settings
from web.shared_state import ADDRESS_WINDOW_SECONDS, SharedState, build_shared_state
from web.window_counters import MemoryWindowCounters, RedisWindowCounters, WindowCounters

pytestmark = pytest.mark.anyio


@pytest.fixture
async def shared(settings: Settings) -> AsyncIterator[SharedState]:
    state = build_shared_state(settings)
    async with state.kept():
        yield state


@pytest.fixture
async def one_second_counters(settings: Settings) -> AsyncIterator[WindowCounters]:
    if settings.redis_url is None:
        yield MemoryWindowCounters(window_seconds=1)
        return
    client = RedisClient(RedisAddress.from_url(settings.redis_url))
    try:
        yield RedisWindowCounters(client, settings.redis_namespace, window_seconds=1)
    finally:
        await client.aclose()


async def test_a_session_is_read_back_and_deleted(shared: SharedState) -> None:
    await shared.sessions.put("session:a", b"state", 60)
    assert await shared.sessions.get("session:a") == b"state"
    await shared.sessions.delete("session:a")
    assert await shared.sessions.get("session:a") is None
    await shared.sessions.delete("session:a")  # deleting an absent key is no error


async def test_a_rotation_writes_the_new_key_and_deletes_the_old(shared: SharedState) -> None:
    await shared.sessions.put("session:old", b"before", 60)
    await shared.sessions.replace("session:old", "session:new", b"after", 60)
    assert await shared.sessions.get("session:old") is None
    assert await shared.sessions.get("session:new") == b"after"


async def test_an_update_writes_only_a_session_that_still_exists(shared: SharedState) -> None:
    await shared.sessions.put("session:live", b"one", 60)
    assert await shared.sessions.update("session:live", b"two", 60) is True
    assert await shared.sessions.get("session:live") == b"two"
    await shared.sessions.delete("session:live")  # signed out meanwhile
    assert await shared.sessions.update("session:live", b"three", 60) is False
    assert await shared.sessions.get("session:live") is None  # not brought back to life


async def test_a_session_expires_after_its_time_to_live(shared: SharedState) -> None:
    await shared.sessions.put("session:short", b"state", 1)
    await shared.sessions.replace("session:short", "session:rotated", b"state", 1)
    assert await shared.sessions.get("session:rotated") == b"state"
    await asyncio.sleep(1.2)
    assert await shared.sessions.get("session:rotated") is None
    assert await shared.sessions.update("session:rotated", b"late", 60) is False


async def test_concurrent_hits_are_each_counted_once(shared: SharedState) -> None:
    # 200 at once: more than a worker's Redis connections, so some wait for one instead of failing.
    hits = await asyncio.gather(*(shared.address_counts.hit("address:192.0.2.7") for _ in range(200)))
    assert sorted(hit.count for hit in hits) == list(range(1, 201))
    assert all(0 < hit.resets_in <= ADDRESS_WINDOW_SECONDS for hit in hits)
    other = await shared.address_counts.hit("address:192.0.2.8")
    assert other.count == 1  # counted per key


async def test_the_count_starts_again_when_the_window_ends(one_second_counters: WindowCounters) -> None:
    assert [(await one_second_counters.hit("address:192.0.2.9")).count for _ in range(3)] == [1, 2, 3]
    await asyncio.sleep(1.2)
    fresh = await one_second_counters.hit("address:192.0.2.9")
    assert fresh.count == 1 and 0.5 < fresh.resets_in <= 1


async def test_a_redis_counter_left_without_a_time_to_live_is_given_one(shared_servers: SharedServers) -> None:
    client = RedisClient(RedisAddress.from_url(shared_servers.redis_url))
    namespace = shared_servers.new_namespace()
    try:
        key = f"{namespace}:address:192.0.2.10"
        await client.command("SET", key, 41)  # no expiry, as if set by hand
        hit = await RedisWindowCounters(client, namespace, window_seconds=60).hit("address:192.0.2.10")
        assert hit.count == 42 and 59 < hit.resets_in <= 60
        assert 0 < await client.command("PTTL", key) <= 60_000  # no counter refuses its address for good
    finally:
        await client.aclose()


async def test_a_hit_can_bring_back_a_session_record_in_the_same_step(shared: SharedState) -> None:
    counts = shared.address_counts
    await shared.sessions.put("session:a", b"state", 60)
    with_record = await counts.hit("address:10.0.0.9", read_along="session:a")
    without = await counts.hit("address:10.0.0.9", read_along="session:absent")
    assert (with_record.count, without.count) == (1, 2)  # counted as any hit
    if counts.reads_along:  # Redis: the record came back in the hit's round trip
        assert (with_record.read_along, without.read_along) == (b"state", None)
    else:  # in this process a read costs nothing: none is made along
        assert (with_record.read_along, without.read_along) == (None, None)
