"""SQLite's WAL checkpoints run in a thread of their own, not in a request's commit.

What a checkpoint does is visible on disk: a new database's pages reach the database file only
when a checkpoint copies them there from the WAL.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from litestar.testing import TestClient

from tests.conftest import make_settings
from web.app import create_app
from web.db import connection_config
from web.sqlite_checkpoints import INLINE_CHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES, checkpoints_in_the_background

pytestmark = pytest.mark.anyio

PAGE_BYTES = 4096
ROWS = 1500  # a page each: past SQLite's default inline checkpoint (1,000 pages), short of ours


def serving_connection(path: Path) -> sqlite3.Connection:
    """A connection set up as the app's are: WAL, and no checkpoint of its own below the fence."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL").close()
    connection.execute(f"PRAGMA wal_autocheckpoint={INLINE_CHECKPOINT_PAGES}").close()
    connection.execute("CREATE TABLE IF NOT EXISTS pages (body BLOB)").close()
    return connection


def write_pages(connection: sqlite3.Connection, rows: int = ROWS) -> None:
    for _ in range(rows):
        connection.execute("INSERT INTO pages VALUES (zeroblob(?))", (PAGE_BYTES - 100,)).close()


def settles(condition: Callable[[], bool], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


async def test_the_thread_copies_what_the_serving_connection_left_in_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    connection = serving_connection(path)
    write_pages(connection)
    assert path.stat().st_size < 10 * PAGE_BYTES  # 1,500 commits and no checkpoint in any of them
    async with checkpoints_in_the_background(path):
        assert settles(lambda: path.stat().st_size > ROWS * PAGE_BYTES)
    connection.close()


async def test_the_last_writes_are_copied_when_the_block_ends_and_the_thread_goes_with_it(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    connection = serving_connection(path)
    async with checkpoints_in_the_background(path):
        assert any(thread.name == "sqlite-checkpoints" for thread in threading.enumerate())
        write_pages(connection)
    assert path.stat().st_size > ROWS * PAGE_BYTES
    assert not any(thread.name == "sqlite-checkpoints" for thread in threading.enumerate())
    connection.close()


def test_the_app_checkpoints_while_it_runs_on_sqlite(tmp_path: Path, migrated_template: Path) -> None:
    settings = make_settings(tmp_path)
    (tmp_path / "provconnect.sqlite3").write_bytes(migrated_template.read_bytes())
    with TestClient(create_app(settings)):
        assert any(thread.name == "sqlite-checkpoints" for thread in threading.enumerate())
    assert not any(thread.name == "sqlite-checkpoints" for thread in threading.enumerate())


def test_the_serving_connections_leave_checkpoints_to_the_thread_unless_the_url_says_otherwise() -> None:
    ours = connection_config("sqlite:///srv/provconnect.sqlite3")["credentials"]
    assert (ours["wal_autocheckpoint"], ours["journal_size_limit"]) == (INLINE_CHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES)
    theirs = connection_config("sqlite:///srv/p.sqlite3?wal_autocheckpoint=1000&journal_size_limit=0")["credentials"]
    assert (int(theirs["wal_autocheckpoint"]), int(theirs["journal_size_limit"])) == (1000, 0)
