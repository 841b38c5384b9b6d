"""Password-hash slots shared by every process on this machine that uses one data directory.

Each worker bounds its own hashing threads, but ``serve --workers 2`` on two cores then hashed
two passwords at once, and one argon2id verification already keeps ~1.5 cores busy (its four
lanes run in threads): during a flood of password posts the sign-in page's p99 rose to 8.8 times
its idle p99, against 2.7 times with one worker. The slots are lock files: a hashing thread holds
an exclusive ``flock`` on one of them while it hashes, so at most ``count`` hashes run at once
across all workers and instances on the machine, and a core stays free for everything else.
A lock dies with its holder, so a crashed worker leaves no slot taken.
"""

from __future__ import annotations

import fcntl
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SLOTS_DIR_NAME = "hash-slots"


class HashSlots:
    """``count`` machine-wide slots under ``directory``; :meth:`hold` blocks until one is free."""

    def __init__(self, directory: Path, count: int) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._paths = [directory / f"slot-{n}.lock" for n in range(count)]

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold a free slot for the block (call it from a worker thread: it may wait)."""
        descriptor = self._acquire()
        try:
            yield
        finally:
            os.close(descriptor)  # closing the descriptor releases its lock

    def _acquire(self) -> int:
        for path in random.sample(self._paths, len(self._paths)):
            descriptor = _open(path)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return descriptor
            except BlockingIOError:
                os.close(descriptor)
        # Every slot taken: wait on one of them (the kernel wakes one waiter when it is let go).
        descriptor = _open(random.choice(self._paths))
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
