"""A Tortoise SQLite engine that runs each statement on the event loop's own thread.

Tortoise's SQLite client sends every statement through aiosqlite: one thread per connection, a
queue hop there and a thread-safe callback back for each statement, and the GIL passed to and
fro. A statement on a local WAL file takes tens of microseconds, less than that round trip, and
the client's single connection serialises statements anyway. Measured on the PIN step (eleven
statements), running them inline cut the server's CPU per request markedly (README, Performance).

The trade: while SQLite waits for a lock held by another process (the CLI, or a second worker
sharing the file), this worker's event loop waits too, up to ``BUSY_TIMEOUT_SECONDS``. WAL keeps
such waits to one short write transaction; PostgreSQL is the answer for many busy instances.

Used as ``{"engine": "web.db_sqlite", ...}``; the client is Tortoise's own in every other way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from tortoise.backends.sqlite.client import SqliteClient

BUSY_TIMEOUT_SECONDS = 5.0


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
        return _Cursor(self._conn.execute(sql, parameters or ()))

    async def execute_insert(self, sql: str, parameters: Sequence[Any] | None = None) -> Any:
        cursor = self._conn.execute(sql, parameters or ())
        try:
            return cursor.execute("SELECT last_insert_rowid()").fetchone()
        finally:
            cursor.close()

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] | None = None) -> list[Any]:
        cursor = self._conn.execute(sql, parameters or ())
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> _Cursor:
        return _Cursor(self._conn.executemany(sql, parameters))

    async def executescript(self, script: str) -> _Cursor:
        return _Cursor(self._conn.executescript(script))

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()


class InlineSqliteClient(SqliteClient):
    async def create_connection(self, with_db: bool) -> None:
        if self._connection:
            return
        connection = sqlite3.connect(self.filename, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
        connection.row_factory = sqlite3.Row
        self._connection = InlineConnection(connection)  # type: ignore[assignment]
        for pragma, value in self.pragmas.items():
            connection.execute(f"PRAGMA {pragma}={value}").close()
        await self._post_connect()


client_class = InlineSqliteClient


def get_client_class(db_info: dict[str, Any]) -> type[SqliteClient]:
    return InlineSqliteClient
