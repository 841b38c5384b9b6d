"""Shared fixtures: real settings on a real SQLite file, migrated once and copied per test."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from web.db import apply_migrations
from web.settings import Settings, load_settings

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"
DATABASE_FILE = "provconnect.sqlite3"


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


@pytest.fixture
def settings(tmp_path: Path, migrated_template: Path) -> Iterator[Settings]:
    shutil.copy(migrated_template, tmp_path / DATABASE_FILE)
    yield make_settings(tmp_path)
