"""Password hashing: argon2id, off the event loop, a bounded number at once.

Hashing is deliberately slow. Run on the event loop it would freeze every other request, and run
without a bound a burst of password posts would take every core; a pool of ``concurrency``
threads keeps the rest of the server responsive while posts wait their turn.

The hashing threads also run at a lower CPU priority (``HASHING_NICENESS``; argon2's lane
threads inherit it): when a core is contended, the event loops serving pages and PIN steps go
first and a hash waits a few milliseconds, instead of a page waiting for argon2's four lanes to
let go of both cores. With nothing else to run, a hash takes the same time as before.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")

PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 1024
# Nice value of the hashing threads (0 is the event loop's, 19 the lowest priority). Measured with
# two workers under a password flood, the page's p99: 21-49 ms at 0, 9-10 ms at 10, 7-8 ms at 15,
# 6-8 ms at 19. At 15 a hash keeps ~3% of a core that event loops keep busy (CFS weights 36 to
# 1024): sign-ins slow down while the loops are saturated, but never stop.
HASHING_NICENESS = 15


class PasswordPolicyError(ValueError):
    """A new password breaks the policy; the message is safe to show beside the field."""


def check_password_policy(password: str) -> None:
    """Refuse passwords that are too short or too long, before anything is hashed."""
    if len(password) < PASSWORD_MIN_CHARS:
        raise PasswordPolicyError(f"Use at least {PASSWORD_MIN_CHARS} characters.")
    if len(password) > PASSWORD_MAX_CHARS:
        raise PasswordPolicyError(f"Use at most {PASSWORD_MAX_CHARS} characters.")
    if "\x00" in password:
        raise PasswordPolicyError("The password contains a character that is not allowed.")


class PasswordHashing:
    """Hash and verify passwords in ``concurrency`` threads of their own, at a lower CPU priority.

    ``gate``: held around each hash inside its thread, to bound hashing beyond this process
    (web/hash_slots.py: the machine's slots, shared by every worker).
    """

    def __init__(
        self,
        concurrency: int,
        hasher: PasswordHasher | None = None,
        *,
        gate: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._threads = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="password-hashing", initializer=_lower_this_threads_priority
        )
        self._gate = gate
        # Verified against when the username is unknown, so both cases cost the same time.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))

    async def hash(self, password: str) -> str:
        check_password_policy(password)
        return await self._in_thread(self._hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; with no hash, spend the same time and say False."""
        if not PASSWORD_MIN_CHARS <= len(password) <= PASSWORD_MAX_CHARS:
            return False  # never hash an oversized input, never truncate one
        target = stored_hash or self._dummy_hash
        matched = await self._in_thread(self._verify, target, password)
        return matched and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    async def _in_thread(self, function: Callable[..., T], *args: str) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, partial(function, *args))

    def _hash(self, password: str) -> str:
        with self._gate():
            return self._hasher.hash(password)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            with self._gate():
                return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def _lower_this_threads_priority() -> None:
    # On Linux each thread has its own nice value, and threads it starts (argon2's lanes) inherit it.
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)
    except OSError:  # a platform without per-thread priorities: hash at the normal one
        pass
