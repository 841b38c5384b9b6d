"""Upkeep of the in-process store (sessions and per-address counters when there is no Redis).

Litestar's MemoryStore drops an expired entry only when that key is read again. A session that is
abandoned, or a client address that never comes back, is never read again, so without a purge a
long-running single instance keeps every one of them: the memory grows with every sign-in ever
made. Redis expires keys itself and needs none of this.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore

PURGE_EVERY_SECONDS = 60.0


async def keep_purging(store: MemoryStore, every_seconds: float = PURGE_EVERY_SECONDS) -> None:
    """Drop the store's expired entries every ``every_seconds``, until cancelled."""
    while True:
        await asyncio.sleep(every_seconds)
        await store.delete_expired()  # yields to the event loop every 1,000 entries


@asynccontextmanager
async def purged(store: Store) -> AsyncIterator[None]:
    """Keep ``store`` purged while the block runs, if it is a MemoryStore (Redis expires keys itself)."""
    if not isinstance(store, MemoryStore):
        yield
        return
    purging = asyncio.create_task(keep_purging(store))
    try:
        yield
    finally:
        purging.cancel()
        with suppress(asyncio.CancelledError):
            await purging
