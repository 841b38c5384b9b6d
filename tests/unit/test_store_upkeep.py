"""The in-process state forgets expired entries that nobody reads again."""

from __future__ import annotations

import asyncio

import pytest

from web.expiring import ExpiringEntries
from web.store_upkeep import keep_purging, purged

pytestmark = pytest.mark.anyio


class SteppedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_expired_entries_that_are_never_read_again_are_purged() -> None:
    clock = SteppedClock()
    sessions: ExpiringEntries[bytes] = ExpiringEntries(clock)
    counts: ExpiringEntries[int] = ExpiringEntries(clock)
    sessions.set("abandoned", b"session", 1)
    sessions.set("live", b"session", 3600)
    counts.set("address:192.0.2.1", 3, 60)
    clock.now += 61  # past both short deadlines
    purging = asyncio.create_task(keep_purging(sessions, counts, every_seconds=0.01))
    try:
        await asyncio.sleep(0.1)  # several purges
    finally:
        purging.cancel()
    assert len(sessions) == 1 and len(counts) == 0  # gone from memory, not just hidden from get()
    assert sessions.get("live") == (b"session", 3600 - 61)


async def test_the_purge_runs_only_while_the_app_does() -> None:
    before = asyncio.all_tasks()
    async with purged(ExpiringEntries()):
        assert len(asyncio.all_tasks() - before) == 1  # the purging task
    assert asyncio.all_tasks() - before == set()  # cancelled and awaited on the way out
