"""SQLite's WAL checkpoints, in a thread of their own instead of inside a request's commit.

In WAL mode a commit appends its pages to the ``-wal`` file; a checkpoint copies them back into
the database file and syncs it (with ``synchronous=NORMAL`` the only sync there is). By default
the commit that takes the WAL past 1,000 pages runs the checkpoint itself, on the thread that
committed, which here is the event loop's (web/db_sqlite.py): every request of the worker waited
for the copy and the sync. Here a serving connection checkpoints only past
``INLINE_CHECKPOINT_PAGES`` (a fence should this thread ever stall), and a thread with its own
connection checkpoints every ``CHECKPOINT_EVERY_SECONDS``: PASSIVE, so it never waits for a reader
or a writer and copies what it can. sqlite3 lets go of the GIL while SQLite works, so the loop
runs on meanwhile. With several workers each runs one; SQLite lets one checkpoint at a time and
the others skip their turn.

The WAL file is cut back to ``WAL_SIZE_LIMIT_BYTES`` after a checkpoint. Tortoise's default, 16
KiB, truncated it every time, and each commit after that grew the file again on the disk.
Measured on the PIN step's five statements (README, Performance).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread

CHECKPOINT_EVERY_SECONDS = 0.5
INLINE_CHECKPOINT_PAGES = 10_000  # 40 MB of WAL with 4 KiB pages; SQLite's default is 1,000
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024

log = logging.getLogger(__name__)


@asynccontextmanager
async def checkpoints_in_the_background(database_file: Path) -> AsyncIterator[None]:
    """Checkpoint ``database_file``'s WAL from a thread while the block (the app's lifespan) runs."""
    stop = threading.Event()
    worker = threading.Thread(
        target=_keep_checkpointing, args=(database_file, stop), name="sqlite-checkpoints", daemon=True
    )
    worker.start()
    try:
        yield
    finally:
        stop.set()
        await anyio.to_thread.run_sync(worker.join)


def _keep_checkpointing(database_file: Path, stop: threading.Event) -> None:
    connection = sqlite3.connect(database_file, isolation_level=None, check_same_thread=False)
    try:
        while not stop.wait(CHECKPOINT_EVERY_SECONDS):
            checkpoint(connection)
        checkpoint(connection)  # what the last requests wrote, before the serving connections close
    finally:
        connection.close()


def checkpoint(connection: sqlite3.Connection) -> None:
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
    except sqlite3.OperationalError as error:
        # Busy: another worker's thread is checkpointing right now. Anything else is worth a line,
        # and the next turn tries again (the serving connections' own fence holds meanwhile).
        if getattr(error, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:
            log.warning("WAL checkpoint failed: %s", error)
