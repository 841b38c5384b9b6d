"""Password hashing: argon2id, off the event loop, a bounded number at once.

Hashing is deliberately slow. Run on the event loop it would freeze every other request, and run
without a bound a burst of password posts would take every core; a capacity limiter keeps the
rest of the server responsive while posts wait their turn.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import anyio.to_thread
from anyio import CapacityLimiter
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 1024


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
    """Hash and verify passwords in worker threads, ``concurrency`` at a time.

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
        self._limiter = CapacityLimiter(concurrency)
        self._gate = gate
        # Verified against when the username is unknown, so both cases cost the same time.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))

    async def hash(self, password: str) -> str:
        check_password_policy(password)
        return await anyio.to_thread.run_sync(self._hash, password, limiter=self._limiter)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; with no hash, spend the same time and say False."""
        if not PASSWORD_MIN_CHARS <= len(password) <= PASSWORD_MAX_CHARS:
            return False  # never hash an oversized input, never truncate one
        target = stored_hash or self._dummy_hash
        matched = await anyio.to_thread.run_sync(self._verify, target, password, limiter=self._limiter)
        return matched and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    def _hash(self, password: str) -> str:
        with self._gate():
            return self._hasher.hash(password)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            with self._gate():
                return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
