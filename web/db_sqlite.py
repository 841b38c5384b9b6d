"""A Tortoise SQLite engine that runs each statement on the event loop's own thread.

Tortoise's SQLite client sends every statement through aiosqlite: one thread per connection, a
queue hop there and a thread-safe callback back for each statement, and the GIL passed to and
fro. A statement on a local WAL file takes tens of microseconds, less than that round trip, and
the client's single connection serialises statements anyway. Measured on the PIN step (eleven
statements), running them inline cut the server's CPU per request markedly (README, Performance).

Waiting for the write lock. Another process (a second worker, an instance, the CLI) may hold
SQLite's one write lock. SQLite's own busy handler would sleep on this thread, and so stop the
event loop for every request of this worker: under two workers' PIN load ~20% of each loop's
time went to those sleeps (strace: ``clock_nanosleep`` from inside the statements). Here the
connection has no busy handler; a statement refused with ``SQLITE_BUSY`` is retried after an
``asyncio.sleep`` (growing from a bare yield to ``LONGEST_WAIT_SECONDS``), while the loop serves
other requests, and given up after ``BUSY_TIMEOUT_SECONDS`` (an OperationalError: 503, retry).

A refused statement is retried only where SQLite says a retry is sound: outside an explicit
transaction (the failed statement changed nothing and holds nothing), or a COMMIT. Inside a
transaction a refusal may have rolled the transaction back, so it is raised, never retried; and
to make it as good as impossible every transaction starts with ``BEGIN IMMEDIATE``, which takes
the write lock before the first statement (the refusal, if any, comes at the BEGIN, where a
retry is sound). Tortoise opens its transactions with a plain ``BEGIN``; this connection
upgrades it. A read-then-write transaction could otherwise fail half-way with
``SQLITE_BUSY_SNAPSHOT`` when another process wrote in between.

``executescript`` (schema work: migrations) keeps SQLite's sleeping busy handler for its
duration: a script may commit part of its statements, so it cannot be retried whole.

Used as ``{"engine": "web.db_sqlite", ...}``; the client is Tortoise's own in every other way.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from tortoise.backends.sqlite.client import SqliteClient

BUSY_TIMEOUT_SECONDS = 5.0
FIRST_WAIT_SECONDS = 0.000_25
LONGEST_WAIT_SECONDS = 0.02

T = TypeVar("T")


def _refused_for_a_lock(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)  # the extended code: SQLITE_BUSY_RECOVERY is a BUSY too
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


class _Cursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def close(self) -> None:
        self._cursor.close()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()


class InlineConnection:
    """The part of aiosqlite.Connection that Tortoise's SQLite client uses, without the thread."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection

    @property
    def total_changes(self) -> int:
        return self._conn.total_changes

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> _Cursor:
        if sql == "BEGIN":
            sql = "BEGIN IMMEDIATE"  # the write lock first: see the module's docstring
        return _Cursor(await self._run(lambda: self._conn.execute(sql, parameters or ())))

    async def execute_insert(self, sql: str, parameters: Sequence[Any] | None = None) -> Any:
        def insert() -> Any:
            cursor = self._conn.execute(sql, parameters or ())
            try:
                return cursor.execute("SELECT last_insert_rowid()").fetchone()
            finally:
                cursor.close()

        return await self._run(insert)

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] | None = None) -> list[Any]:
        def fetch_all() -> list[Any]:
            cursor = self._conn.execute(sql, parameters or ())
            try:
                return cursor.fetchall()
            finally:
                cursor.close()

        return await self._run(fetch_all)

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> _Cursor:
        rows = list(parameters)  # an iterator would be spent by a refused first try
        return _Cursor(await self._run(lambda: self._conn.executemany(sql, rows)))

    async def executescript(self, script: str) -> _Cursor:
        self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}").close()
        try:
            return _Cursor(self._conn.executescript(script))
        finally:
            self._conn.execute("PRAGMA busy_timeout = 0").close()

    async def commit(self) -> None:
        await self._run(self._conn.commit, commit=True)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    async def _run(self, statement: Callable[[], T], *, commit: bool = False) -> T:
        """``statement()``; refused for a lock, tried again after a wait that leaves the loop free."""
        retry_is_sound = commit or not self._conn.in_transaction
        deadline = 0.0
        wait = 0.0  # the first retry only lets the loop run what is ready
        while True:
            try:
                return statement()
            except sqlite3.OperationalError as error:
                if not (retry_is_sound and _refused_for_a_lock(error)):
                    raise
                now = time.monotonic()
                deadline = deadline or now + BUSY_TIMEOUT_SECONDS
                if now >= deadline:
                    raise
            await asyncio.sleep(wait)
            wait = min(max(wait * 2, FIRST_WAIT_SECONDS), LONGEST_WAIT_SECONDS)


class InlineSqliteClient(SqliteClient):
    async def create_connection(self, with_db: bool) -> None:
        if self._connection:
            return
        connection = sqlite3.connect(self.filename, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
        connection.row_factory = sqlite3.Row
        for pragma, value in self.pragmas.items():  # at start-up: SQLite's own wait is fine here
            connection.execute(f"PRAGMA {pragma}={value}").close()
        # From here no busy handler: a refused statement waits in InlineConnection._run instead.
        connection.execute("PRAGMA busy_timeout = 0").close()
        self._connection = InlineConnection(connection)  # type: ignore[assignment]
        await self._post_connect()


client_class = InlineSqliteClient


def get_client_class(db_info: dict[str, Any]) -> type[SqliteClient]:
    return InlineSqliteClient
