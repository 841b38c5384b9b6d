"""Shared fixtures: real settings on each backend the product supports.

``settings`` is parametrized: every test that uses it runs on SQLite (a migrated file copied per test)
and again on PostgreSQL + Redis (see tests/backends.py), which is skipped with the reason when those
servers are not configured, and fails under CI=true.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from tests.backends import SharedServers, configured_urls, reach
from web.db import apply_migrations
from web.settings import Settings, load_settings

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"
DATABASE_FILE = "provconnect.sqlite3"
BACKENDS = ["sqlite", "postgres+redis"]


def make_settings(data_dir: Path, **overrides: str) -> Settings:
    env = {"PROVCONNECT_DATA_DIR": str(data_dir), "PROVCONNECT_SECRET_KEY": TEST_SECRET_KEY}
    env.update({f"PROVCONNECT_{key.upper()}": value for key, value in overrides.items()})
    return load_settings(env)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with every migration applied, made once per run and copied for each test."""
    folder = tmp_path_factory.mktemp("template-db")
    asyncio.run(apply_migrations(make_settings(folder)))
    return folder / DATABASE_FILE


@pytest.fixture(scope="session")
def shared_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServers]:
    """This run's own PostgreSQL database (migrated once) and Redis namespace prefix; removed at the end."""
    servers = reach(*configured_urls())
    servers.create()
    try:
        folder = tmp_path_factory.mktemp("postgres-run")
        asyncio.run(apply_migrations(make_settings(folder, database_url=servers.database_url)))
        servers.remember_tables()
        yield servers
    finally:
        servers.drop()


@pytest.fixture(autouse=True)
def _forget_cached_sql() -> None:
    # Tortoise caches each model's INSERT/UPDATE SQL per connection name for the life of the process;
    # a server runs one backend, but this process alternates, so the other dialect's SQL must go.
    EXECUTOR_CACHE.clear()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    if backend == "sqlite":
        shutil.copy(request.getfixturevalue("migrated_template"), tmp_path / DATABASE_FILE)
        yield make_settings(tmp_path)
        return
    servers: SharedServers = request.getfixturevalue("shared_servers")
    servers.empty_tables()
    yield make_settings(
        tmp_path,
        database_url=servers.database_url,
        redis_url=servers.redis_url,
        redis_namespace=servers.new_namespace(),
    )
