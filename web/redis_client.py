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
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import hiredis

from web.redis_address import RedisAddress

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
Reply: TypeAlias = Any
"""What hiredis makes of a reply: bytes, int, None, or a list of these."""


class RedisUnavailable(ConnectionError):
    """Redis cannot be reached, does not answer, or says it cannot serve now."""


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
        self._pipe: _Pipe | None = None
        self._opening: asyncio.Task[_Pipe] | None = None
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
        return await pipe.send(hiredis.pack_command(tuple(args)))

    async def _open_pipe(self) -> _Pipe:
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

    def _opened(self, opening: asyncio.Task[_Pipe]) -> None:
        if self._opening is opening:
            self._opening = None
        if opening.cancelled() or opening.exception() is not None:
            return
        if self._closed:
            opening.result().close()
        else:
            self._pipe = opening.result()

    async def _connect(self) -> _Pipe:
        loop = asyncio.get_running_loop()
        address = self._address
        try:
            async with asyncio.timeout(self._timeout_seconds):
                if address.path is not None:
                    _, pipe = await loop.create_unix_connection(lambda: _Pipe(loop, self._timeout_seconds), address.path)
                else:
                    _, pipe = await loop.create_connection(
                        lambda: _Pipe(loop, self._timeout_seconds), address.host, address.port, ssl=self._tls
                    )
        except (OSError, TimeoutError) as error:  # ssl.SSLError is an OSError
            raise RedisUnavailable(f"cannot reach Redis: {type(error).__name__}: {error}") from None
        try:
            await _log_in(pipe, address)  # its commands are timed like any other
        except BaseException:
            pipe.close()
            raise
        return pipe


async def _log_in(pipe: _Pipe, address: RedisAddress) -> None:
    steps: list[tuple[Argument, ...]] = []
    if address.password is not None:
        steps.append(("AUTH", address.username, address.password) if address.username else ("AUTH", address.password))
    if address.db:
        steps.append(("SELECT", address.db))
    for reply in await asyncio.gather(*(pipe.send(hiredis.pack_command(step)) for step in steps)):
        if isinstance(reply, hiredis.ReplyError):
            # The code alone: some refusals ("unknown command 'AUTH', with args ...") repeat the password.
            raise RedisUnavailable(f"Redis refused the connection's set-up: {_code(reply)}")


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


class _Pipe(asyncio.Protocol):
    """One connection: commands written in order, each reply handed to the oldest command waiting."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_seconds: float) -> None:
        self.loop = loop
        self._timeout_seconds = timeout_seconds
        self._reader = hiredis.Reader()
        self._transport: asyncio.Transport | None = None
        self._waiting: deque[tuple[asyncio.Future[Reply], float]] = deque()
        """Each command sent and not yet answered, with the loop time it was sent at."""
        self._outgoing: list[bytes] = []
        self._failure: str | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    @property
    def usable(self) -> bool:
        return self._failure is None

    def send(self, payload: bytes) -> asyncio.Future[Reply]:
        if self._failure is not None:
            raise RedisUnavailable(self._failure)
        future: asyncio.Future[Reply] = self.loop.create_future()
        self._waiting.append((future, self.loop.time()))
        if not self._outgoing:  # the first command of this batch: write them all once it has run
            self.loop.call_soon(self._flush)
        self._outgoing.append(payload)
        if self._watchdog is None:
            self._watchdog = self.loop.call_later(self._timeout_seconds, self._watch)
        return future

    def close(self) -> None:
        self._fail("the client closed the connection")
        if self._transport is not None:
            self._transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail("the connection to Redis was lost")

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError:
                return self._abort("Redis sent bytes that are not its protocol")
            if reply is False:  # not a whole reply yet
                return None
            if not self._waiting:
                return self._abort("Redis sent a reply to no command")
            future, _sent_at = self._waiting.popleft()
            if not future.done():  # a cancelled caller's reply is dropped; the order holds
                future.set_result(reply)

    def _flush(self) -> None:
        if self._outgoing and self._failure is None and self._transport is not None:
            self._transport.write(b"".join(self._outgoing))
        self._outgoing.clear()

    def _watch(self) -> None:
        # One timer per connection rather than one per command: the oldest command waiting decides.
        self._watchdog = None
        if not self._waiting or self._failure is not None:
            return
        due = self._waiting[0][1] + self._timeout_seconds
        if self.loop.time() >= due:
            return self._abort(f"Redis did not answer within {self._timeout_seconds:g} s")
        self._watchdog = self.loop.call_at(due, self._watch)

    def _abort(self, why: str) -> None:
        self._fail(why)
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, why: str) -> None:
        if self._failure is None:
            self._failure = why
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        waiting, self._waiting = self._waiting, deque()
        for future, _sent_at in waiting:
            if not future.done():
                future.set_exception(RedisUnavailable(why))
