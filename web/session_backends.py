"""Where session records live: this process's memory, or Redis for several instances.

A backend stores opaque bytes under a key with a time to live, and knows the two compound steps
sessions need as single steps: a rotation (write the new key, delete the old one) and an update
that writes only if the key is still there, so that a request which loaded a session before a
sign-out or a reset finished cannot write it back to life. In Redis each is one command or script,
one round trip; Litestar's ``Store`` API has neither, so a rotation took two round trips and a
guarded update a read and a write with a window between them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from web.expiring import ExpiringEntries

if TYPE_CHECKING:
    from web.redis_client import RedisClient


class SessionBackend(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None: ...

    async def replace(self, old_key: str, key: str, value: bytes, ttl_seconds: int) -> None:
        """Write ``key`` and delete ``old_key`` as one step."""

    async def update(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        """Write ``key`` only if it exists; False (nothing written) if it does not."""

    async def delete(self, key: str) -> None: ...


class MemorySessions:
    """One process's sessions. Nothing here awaits, so each step is atomic on the event loop."""

    def __init__(self) -> None:
        self.entries: ExpiringEntries[bytes] = ExpiringEntries()

    async def get(self, key: str) -> bytes | None:
        entry = self.entries.get(key)
        return None if entry is None else entry[0]

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None:
        self.entries.set(key, value, ttl_seconds)

    async def replace(self, old_key: str, key: str, value: bytes, ttl_seconds: int) -> None:
        self.entries.set(key, value, ttl_seconds)
        self.entries.delete(old_key)

    async def update(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        if self.entries.get(key) is None:
            return False
        self.entries.set(key, value, ttl_seconds)
        return True

    async def delete(self, key: str) -> None:
        self.entries.delete(key)


# KEYS[1] the new key, KEYS[2] the old one; ARGV[1] the value, ARGV[2] its time to live in seconds.
ROTATION_SCRIPT = "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) redis.call('DEL', KEYS[2])"


class RedisSessions:
    """Sessions every instance sees, under ``<namespace>:<key>`` (the key shape of Litestar's RedisStore)."""

    def __init__(self, client: RedisClient, namespace: str) -> None:
        from web.redis_client import Script  # here: a worker without Redis does not import hiredis

        self._client = client
        self._prefix = f"{namespace}:"
        self._replace = Script.of(ROTATION_SCRIPT)

    async def get(self, key: str) -> bytes | None:
        return await self._client.command(b"GET", self._prefix + key)  # type: ignore[no-any-return]

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None:
        await self._client.command(b"SET", self._prefix + key, value, b"EX", ttl_seconds)

    async def replace(self, old_key: str, key: str, value: bytes, ttl_seconds: int) -> None:
        await self._client.script(self._replace, [self._prefix + key, self._prefix + old_key], [value, ttl_seconds])

    async def update(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        # SET ... XX writes only if the key exists, in one command.
        return await self._client.command(b"SET", self._prefix + key, value, b"EX", ttl_seconds, b"XX") is not None

    async def delete(self, key: str) -> None:
        await self._client.command(b"DEL", self._prefix + key)
