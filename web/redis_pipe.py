"""One connection to Redis: commands written in order, each reply handed to the oldest command waiting.

An asyncio protocol over the connection's transport. The commands given to it while the event loop
runs one batch of ready callbacks go out in one write; Redis answers in order, so the replies are
matched to their commands first in, first out. hiredis, the Redis project's C parser, reads them.
Whatever goes wrong (the connection lost, bytes that are not the protocol, a reply to no command,
no reply within the timeout) fails every command still waiting with :class:`RedisUnavailable`,
and the connection is not used again: web/redis_client.py opens the next one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, TypeAlias

import hiredis

Reply: TypeAlias = Any
"""What hiredis makes of a reply: bytes, int, None, a ReplyError, or a list of these."""


class RedisUnavailable(ConnectionError):
    """Redis cannot be reached, does not answer, or says it cannot serve now."""


class RedisPipe(asyncio.Protocol):
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
