"""Deployment-wide switches an administrator can change: for now, whether 2FA is required for all.

Stored as rows of ``PolicySetting``; a missing row means the default, so a fresh installation
requires two-factor authentication without anyone having to switch it on.
"""

from __future__ import annotations

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from web.models import PolicySetting, User

TWO_FACTOR_REQUIRED_KEY = "two_factor_required"
TWO_FACTOR_REQUIRED_DEFAULT = True
ON, OFF = "on", "off"


async def two_factor_required() -> bool:
    """True when every user who is not exempt must set up an authenticator to sign in."""
    row = await PolicySetting.get_or_none(key=TWO_FACTOR_REQUIRED_KEY)
    return TWO_FACTOR_REQUIRED_DEFAULT if row is None else row.value == ON


async def set_two_factor_required(required: bool) -> None:
    """Switch the policy. Switching it on ends the sessions of everyone signed in without a second
    factor (not enrolled, not exempt): they must enroll at their next sign-in, not hours later."""
    async with in_transaction():
        await PolicySetting.update_or_create(key=TWO_FACTOR_REQUIRED_KEY, defaults={"value": ON if required else OFF})
        if required:
            await User.filter(totp_secret_sealed__isnull=True, totp_exempt=False).update(auth_epoch=F("auth_epoch") + 1)
