"""Accounts: username rules, creation, lookup and the administrative 2FA reset."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from web.auth.passwords import PasswordHashing
from web.models import USERNAME_MAX_CHARS, KnownDevice, RecoveryCode, User

# After NFKC + case folding: letters, digits and . _ @ - ; must start with a letter or digit.
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._@-]*", flags=re.ASCII)
USERNAME_RULE = "Use 1 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit."


class UsernameError(ValueError):
    """The username is not allowed; the message is safe to show beside the field."""


class UsernameTaken(UsernameError):
    """Another account already has this username."""


class UnknownUser(LookupError):
    """No account has this username."""


def normalise_username(raw: str) -> str:
    """The one canonical spelling of a username, or :class:`UsernameError`."""
    name = unicodedata.normalize("NFKC", raw).casefold().strip()
    if not 1 <= len(name) <= USERNAME_MAX_CHARS or USERNAME_PATTERN.fullmatch(name) is None:
        raise UsernameError(USERNAME_RULE)
    return name


def canonical_or_none(raw: str) -> str | None:
    """For sign-in: the canonical name, or None when the text cannot be any username."""
    try:
        return normalise_username(raw)
    except UsernameError:
        return None


async def create_user(
    hashing: PasswordHashing, username: str, password: str, *, is_admin: bool = False
) -> User:
    name = normalise_username(username)
    password_hash = await hashing.hash(password)
    try:
        return await User.create(username=name, password_hash=password_hash, is_admin=is_admin)
    except IntegrityError:
        if await User.exists(username=name):
            raise UsernameTaken("That username is taken.") from None
        raise


async def find_user(username: str) -> User | None:
    name = canonical_or_none(username)
    return None if name is None else await User.get_or_none(username=name)


async def get_user(username: str) -> User:
    user = await find_user(username)
    if user is None:
        raise UnknownUser(f"no user named {username!r}")
    return user


async def get_user_by_id(user_id: int) -> User:
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise UnknownUser(f"no user with id {user_id}")
    return user


async def list_users() -> list[User]:
    return await User.all().order_by("username")


async def count_users() -> int:
    return await User.all().count()


async def reset_two_factor(user_id: int, *, exempt: bool = False, changed_by_admin: str | None = None) -> None:
    """Remove the authenticator and recovery codes and end every session of the user.

    ``exempt`` lets the user in with the password alone afterwards (an admin's revoke);
    ``changed_by_admin`` ("reset", "revoke") is what the user is told, with the date, at next sign-in.
    """
    told = {"two_factor_changed_by_admin": changed_by_admin, "two_factor_changed_at": datetime.now(timezone.utc)}
    async with in_transaction():
        await RecoveryCode.filter(user_id=user_id).delete()
        await User.filter(id=user_id).update(
            totp_secret_sealed=None,
            totp_key_id=None,
            totp_enabled_at=None,
            totp_last_step=0,
            totp_exempt=exempt,
            **(told if changed_by_admin else {}),
        )
        await bump_auth_epoch(user_id)


async def bump_auth_epoch(user_id: int) -> None:
    """End every session of the user, and forget their known devices.

    Sessions carry the epoch they were made in; a bumped epoch makes them all stale at once. The
    known devices go too: after a password or 2FA change, or a disable, a browser that once signed
    in must not keep its own password counter (a private budget of guesses at the new password).
    """
    await User.filter(id=user_id).update(auth_epoch=F("auth_epoch") + 1)
    await KnownDevice.filter(user_id=user_id).delete()


def sign_in_changes() -> dict[str, object]:
    """A full sign-in on the user row: when, and forget the admin change the user has now been told about."""
    return {
        "last_sign_in_at": datetime.now(timezone.utc),
        "two_factor_changed_by_admin": None,
        "two_factor_changed_at": None,
    }


async def record_sign_in(user_id: int) -> None:
    await User.filter(id=user_id).update(**sign_in_changes())


def two_factor_state(user: User) -> str:
    """The user's 2FA state as shown on the command line: enabled, not set up or exempt."""
    if user.totp_exempt:
        return "exempt"
    return "enabled" if user.has_totp else "not set up"
