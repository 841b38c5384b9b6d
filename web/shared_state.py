"""The state every instance must see alike: sessions and per-address counts.

Without ``PROVCONNECT_REDIS_URL`` it lives in this process (one instance, one worker); with it, in
Redis under ``PROVCONNECT_REDIS_NAMESPACE``, where every worker and instance finds the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from web.session_backends import MemorySessions, RedisSessions, SessionBackend
from web.settings import Settings
from web.store_upkeep import purged
from web.window_counters import MemoryWindowCounters, RedisWindowCounters, WindowCounters

if TYPE_CHECKING:
    from web.redis_client import RedisClient

ADDRESS_WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class SharedState:
    sessions: SessionBackend
    address_counts: WindowCounters
    kept: Callable[[], AbstractAsyncContextManager[None]]
    """The app's lifespan for this state: the purge of the in-process entries, or the Redis connection closed."""


def build_shared_state(settings: Settings) -> SharedState:
    if settings.redis_url is None:
        sessions = MemorySessions()
        counts = MemoryWindowCounters(ADDRESS_WINDOW_SECONDS)
        return SharedState(sessions, counts, lambda: purged(sessions.entries, counts.entries))
    # The "redis" extra (hiredis), imported only here: a worker without Redis does not carry it.
    from web.redis_address import RedisAddress
    from web.redis_client import RedisClient

    client = RedisClient(RedisAddress.from_url(settings.redis_url))
    namespace = settings.redis_namespace
    return SharedState(
        RedisSessions(client, namespace),
        RedisWindowCounters(client, namespace, ADDRESS_WINDOW_SECONDS),
        lambda: _closed_at_the_end(client),
    )


@asynccontextmanager
async def _closed_at_the_end(client: RedisClient) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await client.aclose()
