"""The in-process store forgets expired entries that nobody reads again."""

from __future__ import annotations

import asyncio

import pytest
from litestar.stores.memory import MemoryStore

from web.store_upkeep import keep_purging, purged

pytestmark = pytest.mark.anyio


async def test_expired_entries_that_are_never_read_again_are_purged() -> None:
    store = MemoryStore()
    await store.set("abandoned", b"session", expires_in=1)
    await store.set("live", b"session", expires_in=3600)
    purging = asyncio.create_task(keep_purging(store, every_seconds=0.05))
    try:
        await asyncio.sleep(1.3)  # past the first entry's expiry, several purges later
    finally:
        purging.cancel()
    assert "abandoned" not in store._store  # gone from memory, not just hidden from get()
    assert await store.get("live") == b"session"


async def test_the_purge_runs_only_while_the_app_does() -> None:
    before = asyncio.all_tasks()
    async with purged(MemoryStore()):
        assert len(asyncio.all_tasks() - before) == 1  # the purging task
    assert asyncio.all_tasks() - before == set()  # cancelled and awaited on the way out
