"""The Redis client of a worker: one connection, shared by all its requests, commands pipelined.

Every request of a worker sends its commands down the same connection; the commands sent while
the event loop runs one batch of ready callbacks go out in one write, and Redis answers them in
order, so each reply is matched to the oldest command still waiting. This is how the Redis
clients built for many concurrent requests work (ioredis, StackExchange.Redis, Lettuce). redis-py
instead takes a connection from a pool per command, then writes and reads it on its own. Measured
with the PIN post's two scripts (``python -m tests.bench.redis_clients``): redis-py spent 96 µs of
the worker's CPU per command from one task and 61 from sixteen, this client 36 and 5, and Redis
itself 13 µs per command for redis-py's sixteen tasks against 5 for this client's. The protocol
is read by hiredis, the C parser of the Redis project.

Failures fail closed. A connection refused, lost, or silent for ``timeout_seconds`` raises
:class:`RedisUnavailable` (the app answers 503) in every command that was waiting on it, and the
next command opens a new connection. A command whose caller is cancelled still gets its reply,
which is dropped: the replies after it stay matched to their commands.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import hiredis

from web.redis_address import RedisAddress
from web.redis_pipe import RedisPipe, RedisUnavailable, Reply

__all__ = ["RedisClient", "RedisCommandError", "RedisUnavailable", "Script"]

REDIS_TIMEOUT_SECONDS = 5.0
# Error replies that say this Redis cannot serve now, whatever the command: an outage, not a bug.
UNAVAILABLE_REPLIES = frozenset(
    {
        "LOADING", "BUSY", "MASTERDOWN", "READONLY", "OOM", "MISCONF", "NOAUTH", "WRONGPASS", "NOPERM",
        "DENIED", "TRYAGAIN", "CLUSTERDOWN",
    }
)
UNAVAILABLE_ERR_REPLIES = ("ERR max number of clients reached",)

Argument: TypeAlias = bytes | str | int


class RedisCommandError(Exception):
    """Redis refused a command as wrong (a bug in the command, not an outage)."""


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script, sent by its SHA-1 and in full only to a Redis that does not know it yet."""

    source: bytes
    sha1: str

    @classmethod
    def of(cls, source: str) -> Script:
        encoded = source.encode()
        return cls(encoded, hashlib.sha1(encoded).hexdigest())  # noqa: S324 - Redis names scripts by SHA-1


class RedisClient:
    """The commands this app sends to Redis, over one connection opened on first use."""

    def __init__(
        self,
        address: RedisAddress,
        *,
        timeout_seconds: float = REDIS_TIMEOUT_SECONDS,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._address = address
        self._timeout_seconds = timeout_seconds
        self._tls = tls if tls is not None or not address.tls else ssl.create_default_context()
        self._pipe: RedisPipe | None = None
        self._opening: asyncio.Task[RedisPipe] | None = None
        self._closed = False

    async def command(self, *args: Argument) -> Reply:
        return _checked(await self._send(args))

    async def script(self, script: Script, keys: Sequence[str], args: Sequence[Argument]) -> Reply:
        reply = await self._send((b"EVALSHA", script.sha1, len(keys), *keys, *args))
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
            reply = await self._send((b"EVAL", script.source, len(keys), *keys, *args))  # EVAL caches it too
        return _checked(reply)

    async def aclose(self) -> None:
        """Close the connection; commands from now on raise :class:`RedisUnavailable`."""
        self._closed = True
        pipe, self._pipe = self._pipe, None
        if pipe is not None and pipe.loop is asyncio.get_running_loop():
            pipe.close()
        if self._opening is not None:
            self._opening.cancel()  # _opened closes what it may still have opened

    async def _send(self, args: Sequence[Argument]) -> Reply:
        if self._closed:
            raise RedisUnavailable("the Redis client is closed")
        pipe = self._pipe
        if pipe is None or not pipe.usable or pipe.loop is not asyncio.get_running_loop():
            pipe = await self._open_pipe()
        return await pipe.send(_packed(args))

    async def _open_pipe(self) -> RedisPipe:
        # One connection attempt at a time, shared by every request that finds no connection.
        loop = asyncio.get_running_loop()
        opening = self._opening
        if opening is None or opening.get_loop() is not loop:
            opening = self._opening = loop.create_task(self._connect())
            opening.add_done_callback(self._opened)
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if opening.cancelled() and current is not None and not current.cancelling():
                # aclose() stopped the attempt this request was waiting on: an outage to it, not its own cancellation
                raise RedisUnavailable("the Redis client was closed while connecting") from None
            raise

    def _opened(self, opening: asyncio.Task[RedisPipe]) -> None:
        if self._opening is opening:
            self._opening = None
        if opening.cancelled() or opening.exception() is not None:
            return
        if self._closed:
            opening.result().close()
        else:
            self._pipe = opening.result()

    async def _connect(self) -> RedisPipe:
        try:
            async with asyncio.timeout(self._timeout_seconds):
                pipe = await self._dial()
        except (OSError, TimeoutError) as error:  # ssl.SSLError is an OSError
            raise RedisUnavailable(f"cannot reach Redis: {type(error).__name__}: {error}") from None
        try:
            await _log_in(pipe, self._address)  # its commands are timed like any other
        except BaseException:
            pipe.close()
            raise
        return pipe

    async def _dial(self) -> RedisPipe:
        loop, address = asyncio.get_running_loop(), self._address

        def new_pipe() -> RedisPipe:
            return RedisPipe(loop, self._timeout_seconds)

        if address.path is not None:
            _, pipe = await loop.create_unix_connection(new_pipe, address.path)
            return pipe
        assert address.host is not None  # RedisAddress gives a TCP address its host
        _, pipe = await loop.create_connection(new_pipe, address.host, address.port, ssl=self._tls)
        return pipe


async def _log_in(pipe: RedisPipe, address: RedisAddress) -> None:
    steps: list[tuple[Argument, ...]] = []
    if address.password is not None:
        steps.append(("AUTH", address.username, address.password) if address.username else ("AUTH", address.password))
    if address.db:
        steps.append(("SELECT", address.db))
    for reply in await asyncio.gather(*(pipe.send(_packed(step)) for step in steps)):
        if isinstance(reply, hiredis.ReplyError):
            # The code alone: some refusals ("unknown command 'AUTH', with args ...") repeat the password.
            raise RedisUnavailable(f"Redis refused the connection's set-up: {_code(reply)}")


def _packed(args: Sequence[Argument]) -> bytes:
    return hiredis.pack_command(tuple(args))  # type: ignore[arg-type]  # its stub says a 1-tuple


def _checked(reply: Reply) -> Reply:
    if isinstance(reply, hiredis.ReplyError):
        message = _without_arguments(str(reply))
        if _code(reply) in UNAVAILABLE_REPLIES or message.startswith(UNAVAILABLE_ERR_REPLIES):
            raise RedisUnavailable(f"Redis cannot serve: {message}")
        raise RedisCommandError(message)
    return reply


def _code(reply: hiredis.ReplyError) -> str:
    return str(reply).split(" ", 1)[0]


def _without_arguments(message: str) -> str:
    # Redis quotes the first arguments of a command it does not know: they stay out of messages.
    return message.split(", with args beginning with:", 1)[0]
