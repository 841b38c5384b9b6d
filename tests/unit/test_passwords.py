"""Passwords: argon2id, a length policy checked before hashing, and bounded concurrent hashing."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest
from argon2 import PasswordHasher

from web.auth.passwords import (
    HASHING_NICENESS,
    PASSWORD_MAX_CHARS,
    PasswordHashing,
    PasswordPolicyError,
    check_password_policy,
)

PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.anyio


class CountingHasher(PasswordHasher):
    """A real argon2 hasher that counts its verifies and how many ran at the same moment."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.verify_calls = 0
        self.running = 0
        self.max_running = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002 - argon2's name
        with self._lock:
            self.verify_calls += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture(scope="module")
def hashing() -> PasswordHashing:
    return PasswordHashing(concurrency=2)


@pytest.fixture(scope="module")
def stored_hash() -> str:
    return PasswordHasher().hash(PASSWORD)


async def test_hash_is_argon2id(hashing: PasswordHashing) -> None:
    assert (await hashing.hash(PASSWORD)).startswith("$argon2id$")


async def test_the_same_password_hashes_differently_each_time(hashing: PasswordHashing) -> None:
    assert await hashing.hash(PASSWORD) != await hashing.hash(PASSWORD)


async def test_verify_accepts_the_right_password(hashing: PasswordHashing, stored_hash: str) -> None:
    assert await hashing.verify(stored_hash, PASSWORD) is True


async def test_verify_refuses_a_wrong_password(hashing: PasswordHashing, stored_hash: str) -> None:
    assert await hashing.verify(stored_hash, PASSWORD + "!") is False


async def test_verify_refuses_a_garbage_hash(hashing: PasswordHashing) -> None:
    assert await hashing.verify("not-a-hash", PASSWORD) is False


async def test_unknown_user_is_refused_after_a_real_verify() -> None:
    hasher = CountingHasher()
    hashing = PasswordHashing(concurrency=1, hasher=hasher)
    assert await hashing.verify(None, PASSWORD) is False
    # The dummy hash was checked, so an unknown user costs the same as a wrong password.
    assert hasher.verify_calls == 1


def test_policy_refuses_seven_characters() -> None:
    with pytest.raises(PasswordPolicyError):
        check_password_policy("a" * 7)


def test_policy_accepts_eight_characters() -> None:
    check_password_policy("a" * 8)


def test_policy_accepts_exactly_1024_characters() -> None:
    check_password_policy("a" * PASSWORD_MAX_CHARS)


def test_policy_refuses_1025_characters() -> None:
    with pytest.raises(PasswordPolicyError):
        check_password_policy("a" * (PASSWORD_MAX_CHARS + 1))


def test_policy_refuses_a_null_character() -> None:
    with pytest.raises(PasswordPolicyError):
        check_password_policy("correct horse\x00battery")


async def test_an_oversized_password_is_refused_without_hashing(stored_hash: str) -> None:
    hasher = CountingHasher()
    hashing = PasswordHashing(concurrency=1, hasher=hasher)
    assert await hashing.verify(stored_hash, "a" * (PASSWORD_MAX_CHARS + 1)) is False
    assert await hashing.verify(None, "a" * (PASSWORD_MAX_CHARS + 1)) is False
    assert hasher.verify_calls == 0


async def test_a_too_short_password_is_refused_without_hashing(stored_hash: str) -> None:
    hasher = CountingHasher()
    hashing = PasswordHashing(concurrency=1, hasher=hasher)
    assert await hashing.verify(stored_hash, "a" * 7) is False
    assert hasher.verify_calls == 0


async def test_hashing_an_oversized_password_raises_the_policy_error(hashing: PasswordHashing) -> None:
    with pytest.raises(PasswordPolicyError):
        await hashing.hash("a" * (PASSWORD_MAX_CHARS + 1))


async def test_a_1024_character_password_is_hashed_whole(hashing: PasswordHashing) -> None:
    longest = "a" * PASSWORD_MAX_CHARS
    stored = await hashing.hash(longest)
    assert await hashing.verify(stored, longest) is True
    assert await hashing.verify(stored, longest[:-1]) is False
    assert await hashing.verify(stored, longest[:-1] + "b") is False


async def _max_running_of_four_verifies(concurrency: int, stored_hash: str) -> int:
    hasher = CountingHasher()
    hashing = PasswordHashing(concurrency=concurrency, hasher=hasher)
    results: list[bool] = []

    async def one() -> None:
        results.append(await hashing.verify(stored_hash, PASSWORD))

    async with anyio.create_task_group() as tasks:
        for _ in range(4):
            tasks.start_soon(one)
    assert results == [True] * 4 and hasher.verify_calls == 4
    return hasher.max_running


async def test_concurrency_one_runs_one_verify_at_a_time(stored_hash: str) -> None:
    assert await _max_running_of_four_verifies(1, stored_hash) == 1


async def test_concurrency_two_runs_at_most_two_verifies_at_once(stored_hash: str) -> None:
    assert await _max_running_of_four_verifies(2, stored_hash) <= 2


async def test_hashing_runs_below_the_event_loops_cpu_priority(stored_hash: str) -> None:
    """So that pages and PIN steps go first when a core is contended (README, Performance)."""
    seen: list[int] = []

    @contextmanager
    def record_the_priority() -> Iterator[None]:  # the gate runs in the hashing thread, around the hash
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        yield

    hashing = PasswordHashing(concurrency=1, gate=record_the_priority)
    assert await hashing.verify(stored_hash, PASSWORD) is True
    await hashing.hash(PASSWORD)
    loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen == [min(loop_priority + HASHING_NICENESS, 19)] * 2  # 19: the lowest priority there is
