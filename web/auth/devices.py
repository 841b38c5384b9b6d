"""Known devices: a browser that completed a full sign-in keeps a long-lived random cookie.

Password failures from a known device are counted on that device's own row instead of the
account's, so a burst of wrong passwords from elsewhere (which throttles and may finally lock the
account's counter) cannot keep the real user, on their usual browser, from reaching the PIN step.
The cookie alone signs nobody in: it only chooses which counter a password attempt is charged to.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from web import db_statements
from web.auth.crypto import Keyed
from web.models import KnownDevice

DEVICE_TOKEN_BYTES = 32
DEVICE_TTL_DAYS = 90
DEVICE_TOKEN_MAX_CHARS = 128
MAX_DEVICES_PER_USER = 20  # oldest forgotten first, so the table cannot grow without bound


def _fingerprint(keyed: Keyed, token: str) -> str:
    return keyed.digest("device:" + token)


async def find_device(keyed: Keyed, user_id: int, token: str | None) -> KnownDevice | None:
    """The user's known device behind ``token``, if the token is one and is still fresh."""
    if not _plausible(token):
        return None
    return await KnownDevice.get_or_none(
        user_id=user_id, fingerprint=_fingerprint(keyed, token), last_used_at__gte=_fresh_since()  # type: ignore[arg-type]
    )


async def remember_device(keyed: Keyed, user_id: int, token: str | None) -> str | None:
    """After a full sign-in: refresh the known device, or register a new one and return its token."""
    now = datetime.now(timezone.utc)
    if _plausible(token):
        fresh = {"user_id": user_id, "fingerprint": _fingerprint(keyed, token), "last_used_at__gte": _fresh_since()}  # type: ignore[arg-type]
        if await db_statements.update(KnownDevice, fresh, {"last_used_at": now}) == 1:
            return None
    new_token = secrets.token_urlsafe(DEVICE_TOKEN_BYTES)
    others = await db_statements.insert_returning(
        KnownDevice,
        OTHER_DEVICES,
        user_id=user_id,
        fingerprint=_fingerprint(keyed, new_token),
        created_at=now,
        last_used_at=now,
        password_failures=0,
        password_blocked_until=0.0,
    )
    if int(others) >= MAX_DEVICES_PER_USER:  # type: ignore[call-overload]
        await db_statements.execute(KnownDevice, FORGET_OLDEST_SQL, user_id, user_id, MAX_DEVICES_PER_USER)
    return new_token


def _plausible(token: str | None) -> bool:
    return bool(token) and len(token) <= DEVICE_TOKEN_MAX_CHARS  # type: ignore[arg-type]


def _fresh_since() -> datetime:
    return datetime.now(timezone.utc) - timedelta(days=DEVICE_TTL_DAYS)


# Counted by the INSERT itself (its RETURNING clause): a read of its own would be one more round
# trip per new device. PostgreSQL's subquery cannot see the new row, SQLite's can: hence "id <>".
# Counted rather than capped by a DELETE each time: a DELETE waits for SQLite's one writer even when
# it deletes nothing, and workers sharing one SQLite file would queue for that lock on every sign-in.
OTHER_DEVICES = (
    "(SELECT COUNT(*) FROM known_devices AS other"
    " WHERE other.user_id = known_devices.user_id AND other.id <> known_devices.id)"
)
# Keep the newest MAX_DEVICES_PER_USER, delete the rest.
FORGET_OLDEST_SQL = (
    "DELETE FROM known_devices WHERE user_id = ? AND id NOT IN "
    "(SELECT id FROM known_devices WHERE user_id = ? ORDER BY last_used_at DESC, id DESC LIMIT ?)"
)
