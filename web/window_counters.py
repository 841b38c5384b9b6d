"""Fixed-window counters: how many hits a key has had in its current window, each hit one atomic step.

The per-client-address limit counts with these. Litestar's rate limiter read a list of timestamps
from the store and wrote it back longer by one: two round trips to Redis under a lock that only one
process holds, so two instances (or workers) could both read N and both write N + 1, and a client
spreading its posts over them went past the limit. Here a hit is one step: a dict update in one
process, one Lua script in Redis for every instance (INCR, and PEXPIRE on the window's first hit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from web.expiring import ExpiringEntries

if TYPE_CHECKING:
    from web.redis_client import RedisClient


@dataclass(frozen=True, slots=True)
class Hit:
    count: int
    """Hits in the current window, this one included."""
    resets_in: float
    """Seconds until the window ends and the count starts again from zero."""
    read_along: bytes | None = None
    """The value under the ``read_along`` key the hit was given (None: no such key, or none asked)."""


class WindowCounters(Protocol):
    window_seconds: int
    reads_along: bool
    """True if :meth:`hit` can bring back the value of another key of the same store in its own
    round trip (Redis); False where a separate read costs nothing anyway (this process)."""

    async def hit(self, key: str, *, read_along: str | None = None) -> Hit: ...


class MemoryWindowCounters:
    """One process's counters. Nothing here awaits, so a hit is atomic on the event loop."""

    reads_along = False

    def __init__(self, window_seconds: int) -> None:
        self.window_seconds = window_seconds
        self.entries: ExpiringEntries[int] = ExpiringEntries()

    async def hit(self, key: str, *, read_along: str | None = None) -> Hit:
        entry = self.entries.get(key)
        if entry is None:
            self.entries.set(key, 1, self.window_seconds)
            return Hit(1, self.window_seconds)
        count = entry[0] + 1
        self.entries.replace_value(key, count)
        return Hit(count, entry[1])


# KEYS[1] the counter; ARGV[1] the window in milliseconds. A key left without a time to live (by
# hand, or by a Redis that lost it) is given one, so no counter can refuse its address for good.
# KEYS[2], if given, is read and returned along (nil if absent): one round trip instead of two.
HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    left = tonumber(ARGV[1])
end
if KEYS[2] then
    return {count, left, redis.call('GET', KEYS[2])}
end
return {count, left}
"""


class RedisWindowCounters:
    """Counters every instance shares, under ``<namespace>:<key>``, as the sessions are."""

    reads_along = True

    def __init__(self, client: RedisClient, namespace: str, window_seconds: int) -> None:
        from web.redis_client import Script  # here: a worker without Redis does not import hiredis

        self.window_seconds = window_seconds
        self._client = client
        self._prefix = f"{namespace}:"
        self._hit = Script.of(HIT_SCRIPT)

    async def hit(self, key: str, *, read_along: str | None = None) -> Hit:
        keys = [self._prefix + key] if read_along is None else [self._prefix + key, self._prefix + read_along]
        count, left_ms, *value = await self._client.script(self._hit, keys, [self.window_seconds * 1000])
        return Hit(int(count), int(left_ms) / 1000, value[0] if value else None)
