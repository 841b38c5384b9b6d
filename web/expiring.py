"""Entries that expire: the in-process form of what Redis does with a key's time to live.

Used by the single-process backends of sessions and per-address counts. Every method is plain
(no ``await``), so each read-and-write on the event loop is one step no other request can split.
An expired entry is invisible at once and removed by :meth:`purge_expired`, which the app runs
every minute (web/store_upkeep.py): an entry nobody reads again would otherwise stay for good.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class ExpiringEntries(Generic[V]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[str, tuple[V, float]] = {}
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> tuple[V, float] | None:
        """The value and the seconds it has left, or None if absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        left = entry[1] - self._clock()
        return (entry[0], left) if left > 0 else None

    def set(self, key: str, value: V, ttl_seconds: float) -> None:
        self._entries[key] = (value, self._clock() + ttl_seconds)

    def replace_value(self, key: str, value: V) -> None:
        """Change the value of a present entry and keep its deadline."""
        self._entries[key] = (value, self._entries[key][1])

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    def purge_expired(self) -> int:
        now = self._clock()
        expired = [key for key, (_, deadline) in self._entries.items() if deadline <= now]
        for key in expired:
            del self._entries[key]
        return len(expired)
