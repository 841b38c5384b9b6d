"""Database wiring: the Tortoise configuration, migrations, and start/stop of the ORM."""

from __future__ import annotations

import asyncio
import fcntl
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext
from tortoise.exceptions import DBConnectionError, OperationalError
from tortoise.migrations.api import migrate

from web.settings import Settings
from web.sqlite_checkpoints import INLINE_CHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES, checkpoints_in_the_background

# What a database that cannot be reached (or read) raises: answered with 503, failing closed.
_UNREACHABLE: tuple[type[Exception], ...] = (
    DBConnectionError,
    OperationalError,
    sqlite3.DatabaseError,
    ConnectionError,  # web.redis_client.RedisUnavailable among them
    OSError,
    TimeoutError,
)


def outage_errors(settings: Settings) -> tuple[type[Exception], ...]:
    """What an unreachable database or Redis raises, for the backends ``settings`` configure.

    The PostgreSQL driver is imported only when configured (settings checked it is installed): a
    SQLite-only worker does not carry it. Redis's client raises ``RedisUnavailable``, a
    ``ConnectionError``.
    """
    errors = _UNREACHABLE
    if not settings.database_url.startswith("sqlite://"):
        from asyncpg.exceptions import InterfaceError, PostgresConnectionError

        errors += (InterfaceError, PostgresConnectionError)
    return errors


# Serialises migrations of several instances: a PostgreSQL advisory lock, a file lock for SQLite.
MIGRATION_LOCK_KEY = 0x70726F76  # "prov"
MIGRATION_LOCK_FILE = ".provconnect-migrate.lock"

APP_LABEL = "models"
MODELS_MODULE = "web.models"
MIGRATIONS_MODULE = "web.migrations"


# WAL lets readers go on while one writer commits; synchronous=NORMAL syncs the WAL at checkpoints
# instead of at every commit. A power cut (not a crash of the process) can lose the last commits,
# never corrupt the file. Checkpoints run in a thread (web/sqlite_checkpoints.py). Measured in the
# README's Performance section; a URL query overrides any of these.
SQLITE_PRAGMAS = {
    "journal_mode": "WAL",
    "synchronous": "NORMAL",
    "journal_size_limit": WAL_SIZE_LIMIT_BYTES,
    "wal_autocheckpoint": INLINE_CHECKPOINT_PAGES,
}
# Tortoise's SQLite client with statements run on the event loop's thread (web/db_sqlite.py).
SQLITE_ENGINE = "web.db_sqlite"


async def _keep_session(_connection: object) -> None:
    """asyncpg pool reset: nothing beyond the ROLLBACK of an open transaction asyncpg always does.

    Tortoise takes a pool connection for every statement, and asyncpg's default reset on release is
    a second round trip ("RESET ALL", "UNLISTEN *", advisory unlocks...) for session state this
    application never sets: py-spy showed the PIN step spending a third of its time in socket
    writes to PostgreSQL, half of them these resets.
    """


# Connections per process to PostgreSQL: a request makes a handful of short queries in a row.
POSTGRES_POOL: dict[str, Any] = {"minsize": 2, "maxsize": 10, "reset": _keep_session}


def connection_config(database_url: str) -> dict[str, Any]:
    """Tortoise's connection entry for the URL, with our defaults where the URL says nothing."""
    connection = expand_db_url(database_url)
    is_sqlite = connection["engine"] == "tortoise.backends.sqlite"
    in_the_url = parse_qs(urlsplit(database_url).query).keys()  # Tortoise adds defaults of its own
    for key, value in (SQLITE_PRAGMAS if is_sqlite else POSTGRES_POOL).items():
        if key not in in_the_url:
            connection["credentials"][key] = value
    if is_sqlite:
        connection["engine"] = SQLITE_ENGINE
    return connection


def tortoise_config(settings: Settings) -> dict[str, Any]:
    return {
        "connections": {"default": connection_config(settings.database_url)},
        "apps": {
            APP_LABEL: {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def apply_migrations(settings: Settings, *, target: str | None = None) -> None:
    """Bring the schema up to date (or to ``target``, e.g. "models.0001_initial"); safe on every start.

    Several instances starting at once each migrate: one at a time, so the later ones find the work
    done instead of failing on a table the first one has just created.
    """
    if settings.uses_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with _one_migration_at_a_time(settings):
        async with TortoiseContext():
            await migrate(config=tortoise_config(settings), target=target)


@asynccontextmanager
async def _one_migration_at_a_time(settings: Settings) -> AsyncIterator[None]:
    if settings.uses_sqlite:
        lock_path = sqlite_file(settings).with_name(MIGRATION_LOCK_FILE)
        with open(lock_path, "a") as lock_file:
            await asyncio.to_thread(fcntl.flock, lock_file, fcntl.LOCK_EX)  # released when closed
            yield
        return
    import asyncpg

    credentials = connection_config(settings.database_url)["credentials"]
    keys = ("host", "port", "user", "password", "database")
    connection = await asyncpg.connect(**{key: credentials.get(key) for key in keys})
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        yield  # the lock is the session's: closing the connection releases it whatever happens
    finally:
        await connection.close()


def sqlite_file(settings: Settings) -> Path:
    return Path(connection_config(settings.database_url)["credentials"]["file_path"])


def database_upkeep(settings: Settings) -> AbstractAsyncContextManager[None]:
    """What the database needs done while the app runs: SQLite's WAL checkpoints; PostgreSQL, nothing."""
    if settings.uses_sqlite:
        return checkpoints_in_the_background(sqlite_file(settings))
    return nullcontext()


async def open_database(settings: Settings) -> TortoiseContext:
    # The global fallback lets requests served on other tasks than the lifespan's find the ORM.
    return await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)


async def close_database(context: TortoiseContext) -> None:
    await context.close_connections()


async def database_answers() -> bool:
    """True if the database answers a trivial query (for /healthz)."""
    try:
        connection = Tortoise.get_connection("default")
        # Touch a real table: "SELECT 1" alone succeeds on an unreadable SQLite file.
        await connection.execute_query("SELECT 1 FROM users LIMIT 1")
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False
    return True
