"""The first-administrator link: a one-time token printed on the console of an empty installation."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from web.auth.crypto import Keyed
from web.models import SetupToken, User

SETUP_TOKEN_TTL_SECONDS = 24 * 3600


def _fingerprint(keyed: Keyed, token: str) -> str:
    return keyed.digest("setup:" + token)


async def issue_setup_token(keyed: Keyed) -> str | None:
    """A new setup token if no account exists yet (older tokens are withdrawn), else None."""
    if await User.exists():
        return None
    token = secrets.token_urlsafe(32)
    await SetupToken.all().delete()
    expires = datetime.now(timezone.utc) + timedelta(seconds=SETUP_TOKEN_TTL_SECONDS)
    await SetupToken.create(fingerprint=_fingerprint(keyed, token), expires_at=expires)
    return token


async def setup_token_valid(keyed: Keyed, token: str) -> bool:
    if not token or len(token) > 128 or await User.exists():
        return False
    now = datetime.now(timezone.utc)
    return await SetupToken.filter(fingerprint=_fingerprint(keyed, token), expires_at__gt=now).exists()


async def redeem_setup_token(keyed: Keyed, token: str) -> bool:
    """Spend the token: True for exactly one caller, however many race."""
    now = datetime.now(timezone.utc)
    if len(token) > 128 or await User.exists():
        return False
    deleted = await SetupToken.filter(fingerprint=_fingerprint(keyed, token), expires_at__gt=now).delete()
    return deleted == 1
