"""The PostgreSQL + Redis test backend: one database per test run, one Redis namespace per test.

Set ``PROVCONNECT_TEST_POSTGRES`` (a server URL whose user may create databases, e.g.
``postgres://postgres@127.0.0.1:5432/postgres``) and ``PROVCONNECT_TEST_REDIS`` (e.g.
``redis://127.0.0.1:6379/0``). Each run creates its own uniquely named database, migrates it once,
empties its tables before each test (TRUNCATE is far quicker than a database per test) and drops
it at the end; each test gets its own Redis key namespace, and the run deletes them all at the end.
Without the variables or the servers these tests are skipped with the reason, or fail under CI=true.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

if TYPE_CHECKING:
    from web.settings import Settings

ENV_POSTGRES = "PROVCONNECT_TEST_POSTGRES"
ENV_REDIS = "PROVCONNECT_TEST_REDIS"
EXAMPLE = "e.g. postgres://postgres@127.0.0.1:5432/postgres and redis://127.0.0.1:6379/0"
CONNECT_TIMEOUT_SECONDS = 5
MIGRATIONS_TABLE = "tortoise_migrations"


def unavailable(reason: str) -> NoReturn:
    """Skip with the reason; under CI=true a missing server is a failure, not a skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the PostgreSQL + Redis tests must run)", pytrace=False)
    pytest.skip(reason)


def configured_urls() -> tuple[str, str]:
    postgres, redis = os.environ.get(ENV_POSTGRES), os.environ.get(ENV_REDIS)
    if not postgres or not redis:
        unavailable(f"PostgreSQL + Redis tests need {ENV_POSTGRES} and {ENV_REDIS} ({EXAMPLE})")
    return postgres, redis


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


async def run_sql(url: str, *statements: str) -> list[str]:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        results = []
        for statement in statements:
            results.append(await connection.execute(statement))
        return results
    finally:
        await connection.close()


async def _tables(url: str) -> list[str]:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    return sorted(row["tablename"] for row in rows if row["tablename"] != MIGRATIONS_TABLE)


@dataclass
class SharedServers:
    """This run's PostgreSQL database and Redis key prefix."""

    server_url: str
    redis_url: str
    database_name: str = field(default_factory=lambda: f"provconnect_test_{secrets.token_hex(6)}")
    namespace_prefix: str = field(default_factory=lambda: f"provconnect-test-{secrets.token_hex(6)}")
    _tables: list[str] = field(default_factory=list)
    _counter: itertools.count = field(default_factory=itertools.count)

    @property
    def database_url(self) -> str:
        return with_database(self.server_url, self.database_name)

    def create(self) -> None:
        """Create this run's database and migrate it (the settings come from the caller)."""
        asyncio.run(run_sql(self.server_url, f'CREATE DATABASE "{self.database_name}"'))

    def remember_tables(self) -> None:
        self._tables = asyncio.run(_tables(self.database_url))

    def empty_tables(self) -> None:
        if self._tables:
            names = ", ".join(f'"{name}"' for name in self._tables)
            asyncio.run(run_sql(self.database_url, f"TRUNCATE {names} RESTART IDENTITY CASCADE"))

    def new_namespace(self) -> str:
        return f"{self.namespace_prefix}-{next(self._counter)}"

    def drop(self) -> None:
        asyncio.run(run_sql(self.server_url, f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)'))
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            for key in client.scan_iter(match=f"{self.namespace_prefix}*", count=1000):
                client.unlink(key)
        finally:
            client.close()


def reach(server_url: str, redis_url: str) -> SharedServers:
    """Check both servers answer; skip (or fail in CI) with the reason if one does not."""
    try:
        import asyncpg  # noqa: F401
        import redis
    except ImportError as missing:
        unavailable(f"PostgreSQL + Redis tests need the drivers: pip install -e '.[postgres,redis]' ({missing})")
    try:
        asyncio.run(run_sql(server_url, "SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure to connect is reported the same way
        unavailable(f"PostgreSQL at {ENV_POSTGRES} does not answer: {error}")
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=CONNECT_TIMEOUT_SECONDS)
        client.ping()
        client.close()
    except Exception as error:  # noqa: BLE001
        unavailable(f"Redis at {ENV_REDIS} does not answer: {error}")
    return SharedServers(server_url, redis_url)


def database_dump(settings: Settings) -> bytes:
    """Everything the database holds, as an attacker with a copy of it would see it."""
    if settings.uses_sqlite:
        files = sorted(Path(settings.data_dir).glob("provconnect.sqlite3*"))  # main file, WAL, journal
        assert files, "no database file found"
        return b"".join(path.read_bytes() for path in files)
    # Raw column values, bytea as its bytes: what a copy of the tables gives an attacker.
    with ThreadPoolExecutor(max_workers=1) as thread:  # callers may be inside a running event loop
        return thread.submit(asyncio.run, _table_bytes(settings.database_url)).result(timeout=60)


async def _table_bytes(url: str) -> bytes:
    import asyncpg

    chunks: list[bytes] = []
    connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        for table in await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
            for row in await connection.fetch(f'SELECT * FROM "{table["tablename"]}"'):
                chunks.extend(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
    finally:
        await connection.close()
    return b"\n".join(chunks)
