"""Per-account attempt counters: escalating delays, a hard limit, shared by every instance.

Each counter is a pair of columns on a database row (failures, blocked-until). An attempt is
counted *before* its secret is checked, by a compare-and-set on the failure count, so concurrent
attempts from any number of sessions, addresses and instances are counted exactly and none slips
past a delay. The attempt is counted as a failure up front (with the delay a failure would earn);
a success resets the counter. When throttled, nothing is evaluated, so the answer is the same
whether or not the secret would have been right.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from web import db_statements
from web.models import PhantomCounter

FREE_FAILURES = 5  # consecutive failures allowed without any wait
BASE_DELAY_SECONDS = 5.0  # the wait after the first failure beyond the free ones; doubles after each
MAX_DELAY_SECONDS = 15 * 60.0
MAX_DOUBLINGS = 32  # far past the cap already
HARD_LIMIT_FAILURES = 100  # NIST SP 800-63B: at most 100 consecutive failures, then an admin unlocks
CAS_ATTEMPTS = 8  # compare-and-set retries when concurrent attempts race on one row


@dataclass(frozen=True, slots=True)
class Counter:
    """The two columns that hold one counter, and whether reaching the limit locks the account."""

    failures: str
    blocked_until: str
    locks_account: bool = False


PASSWORD = Counter("password_failures", "password_blocked_until")
SECOND_FACTOR = Counter("second_factor_failures", "second_factor_blocked_until", locks_account=True)


@dataclass(frozen=True, slots=True)
class Reading:
    """One counter's values as read from its row."""

    failures: int
    blocked_until: float
    locked: bool


def reading(row: Model, counter: Counter) -> Reading:
    """The counter's values in a row this request has already loaded (saves reading it again).

    A stale reading is safe: the compare-and-set in :func:`count_attempt` then misses and reads anew.
    """
    locked = counter.locks_account and getattr(row, "locked_at") is not None
    return Reading(int(getattr(row, counter.failures)), float(getattr(row, counter.blocked_until)), locked)


class Throttled(Exception):
    """Too many attempts: try again after ``retry_after`` seconds, or never (``locked``) until unlocked."""

    def __init__(self, retry_after: int, *, locked: bool = False) -> None:
        super().__init__("too many attempts")
        self.retry_after = retry_after
        self.locked = locked
        self.username: str | None = None  # the account's name, set only when an account exists (for logs)


def delay_after(failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive failures: 0 for the free ones, then doubling."""
    if failures < FREE_FAILURES:
        return 0.0
    doublings = min(failures - FREE_FAILURES, MAX_DOUBLINGS)  # bounded: 2.0 ** n overflows past ~1023
    return min(BASE_DELAY_SECONDS * 2.0**doublings, MAX_DELAY_SECONDS)


async def count_attempt(
    model: type[Model], row_id: int, counter: Counter, *, now: float, seen: Reading | None = None
) -> int:
    """Count one attempt on ``model`` row ``row_id`` before its secret is checked, or raise Throttled.

    ``seen`` is the counter as this request already read it: the first compare-and-set starts
    from it instead of a read of its own. Returns the failure count this attempt would leave
    behind if it fails.
    """
    for _ in range(CAS_ATTEMPTS):
        current = seen if seen is not None else await _read(model, row_id, counter)
        seen = None
        refuse_if_throttled(current, now)
        after = current.failures + 1
        changes: dict[str, object] = {counter.failures: after, counter.blocked_until: now + delay_after(after)}
        if counter.locks_account and after >= HARD_LIMIT_FAILURES:
            changes["locked_at"] = datetime.now(timezone.utc)
        # Compare-and-set on the count: of concurrent attempts that read the same value, one wins.
        if await db_statements.update(model, {"id": row_id, counter.failures: current.failures}, changes) == 1:
            return after
    raise Throttled(retry_after=1)  # lost every race: a burst is under way, back off


def reset_changes(counter: Counter) -> dict[str, object]:
    """The column values a success of this factor writes: the count, the delay and (2FA) the lock."""
    changes: dict[str, object] = {counter.failures: 0, counter.blocked_until: 0}
    if counter.locks_account:
        changes["locked_at"] = None
    return changes


async def record_success(model: type[Model], row_id: int, counter: Counter) -> None:
    """A success of this factor resets its counter (and, for the second factor, the lock)."""
    await model.filter(id=row_id).update(**reset_changes(counter))


async def _read(model: type[Model], row_id: int, counter: Counter) -> Reading:
    fields = [counter.failures, counter.blocked_until] + (["locked_at"] if counter.locks_account else [])
    row = await model.filter(id=row_id).values(*fields)
    if not row:
        raise Throttled(retry_after=1)  # the row vanished mid-flight: refuse, fail closed
    values = row[0]
    locked = counter.locks_account and values["locked_at"] is not None
    return Reading(int(values[counter.failures]), float(values[counter.blocked_until]), locked)


def refuse_if_throttled(current: Reading, now: float) -> None:
    """Raise Throttled if an attempt at ``now`` must not be evaluated."""
    if current.locked or current.failures >= HARD_LIMIT_FAILURES:
        raise Throttled(retry_after=0, locked=True)
    if current.blocked_until > now:
        raise Throttled(retry_after=max(1, math.ceil(current.blocked_until - now)))


class PhantomCounters:
    """Password counters for names that have no account, with the same delays as real ones.

    Without them a 429 after a few wrong passwords would tell an attacker that the name exists.
    They are rows like the real counters (same compare-and-set, never expiring, since a real
    counter only resets on a success), keyed by a keyed hash of the name, never the name itself.
    """

    def __init__(self, fingerprint: Callable[[str], str]) -> None:
        self._fingerprint = fingerprint

    async def count_attempt(self, name: str, *, now: float) -> None:
        row = await _phantom_row(self._fingerprint(name))
        await count_attempt(PhantomCounter, row.id, PASSWORD, now=now)


async def _phantom_row(fingerprint: str) -> PhantomCounter:
    row = await PhantomCounter.get_or_none(fingerprint=fingerprint)
    if row is not None:
        return row
    try:
        return await PhantomCounter.create(fingerprint=fingerprint)
    except IntegrityError:  # a concurrent attempt created it first
        return await PhantomCounter.get(fingerprint=fingerprint)
