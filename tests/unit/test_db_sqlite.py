"""The inline SQLite engine waits for another process's write lock without stopping the event loop.

The other process is a plain ``sqlite3`` connection to the same file (what a second worker, an
instance or the CLI holds while it writes); the engine is the one the server runs, through Tortoise.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator

import pytest
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from web import db_sqlite
from web.models import User
from web.settings import Settings

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("backend", ["sqlite"]),  # this engine is SQLite's alone
    pytest.mark.usefixtures("database"),
]


@pytest.fixture
def other_process(settings: Settings) -> Iterator[sqlite3.Connection]:
    """Another connection to the same file, with no busy handler of its own."""
    path = settings.database_url.removeprefix("sqlite://")
    connection = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        yield connection
    finally:
        if connection.in_transaction:
            connection.rollback()
        connection.close()


async def test_a_write_waits_for_the_lock_while_the_loop_goes_on(other_process: sqlite3.Connection) -> None:
    other_process.execute("BEGIN IMMEDIATE")  # holds the write lock, as a second worker committing
    write = asyncio.create_task(User.create(username="alice", password_hash="h"))
    ticks = 0
    for _ in range(20):  # the loop runs this coroutine while the write waits
        await asyncio.sleep(0.005)
        ticks += 1
    assert ticks == 20 and not write.done()
    other_process.commit()
    created = await asyncio.wait_for(write, timeout=5)
    assert (await User.get(username="alice")).id == created.id


async def test_a_lock_held_past_the_timeout_fails_the_statement_and_changes_nothing(
    other_process: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_sqlite, "BUSY_TIMEOUT_SECONDS", 0.2)
    other_process.execute("BEGIN IMMEDIATE")
    with pytest.raises(OperationalError, match="locked"):  # answered as an outage: 503, retry
        await User.create(username="alice", password_hash="h")
    other_process.commit()
    assert not await User.exists(username="alice")


async def test_a_transaction_takes_the_write_lock_at_its_begin(other_process: sqlite3.Connection) -> None:
    async with in_transaction():
        await User.filter(username="nobody").exists()  # a read only, yet the lock is already held
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other_process.execute("BEGIN IMMEDIATE")
    other_process.execute("BEGIN IMMEDIATE")  # released at the commit
    other_process.rollback()


async def test_a_transaction_waits_at_its_begin_and_then_commits_whole(other_process: sqlite3.Connection) -> None:
    other_process.execute("BEGIN IMMEDIATE")

    async def create_two() -> None:
        async with in_transaction():
            await User.create(username="alice", password_hash="h")
            await User.create(username="bob", password_hash="h")

    transaction = asyncio.create_task(create_two())
    await asyncio.sleep(0.05)
    assert not transaction.done()
    other_process.execute("CREATE TABLE written_by_the_other (x)")
    other_process.commit()
    await asyncio.wait_for(transaction, timeout=5)
    assert sorted(await User.all().values_list("username", flat=True)) == ["alice", "bob"]


async def test_a_refusal_inside_a_transaction_is_raised_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_sqlite, "BUSY_TIMEOUT_SECONDS", 0.05)
    connection = db_sqlite.InlineConnection(sqlite3.connect(":memory:", isolation_level=None))
    calls = 0

    def refused() -> None:
        nonlocal calls
        calls += 1
        error = sqlite3.OperationalError("database is locked")
        error.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
        raise error

    await connection.execute("BEGIN")
    with pytest.raises(sqlite3.OperationalError):
        await connection._run(refused)  # the refusal may have rolled the transaction back
    assert calls == 1
    await connection.rollback()
    calls = 0
    with pytest.raises(sqlite3.OperationalError):
        await connection._run(refused)  # outside a transaction: retried until the deadline
    assert calls > 1
