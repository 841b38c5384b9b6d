"""Upkeep of the in-process state (sessions and per-address counts when there is no Redis).

An expired entry is invisible at once, but it leaves memory only when something removes it. A
session that is abandoned, or a client address that never comes back, is never read again, so
without a purge a long-running single instance keeps every one of them: the memory grows with every
sign-in ever made. Redis expires keys itself and needs none of this.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from web.expiring import ExpiringEntries

PURGE_EVERY_SECONDS = 60.0


async def keep_purging(*entries: ExpiringEntries[Any], every_seconds: float = PURGE_EVERY_SECONDS) -> None:
    """Drop the expired entries every ``every_seconds``, until cancelled."""
    while True:
        await asyncio.sleep(every_seconds)
        for each in entries:
            each.purge_expired()


@asynccontextmanager
async def purged(*entries: ExpiringEntries[Any]) -> AsyncIterator[None]:
    """Keep ``entries`` purged while the block (the app's lifespan) runs."""
    purging = asyncio.create_task(keep_purging(*entries))
    try:
        yield
    finally:
        purging.cancel()
        with suppress(asyncio.CancelledError):
            await purging
