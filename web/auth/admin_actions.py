"""What an administrator (or the command line) may do to an account, the rules that keep the
installation manageable, and the audit entry each action leaves, refused or done.

Rules: an admin cannot revoke their own 2FA, disable, demote or password-reset their own account
(they would lock themselves out or skip their own checks), and the last enabled administrator can
be neither disabled nor demoted. The last-admin check and the change share one transaction, with
the remaining admin rows locked (FOR UPDATE on PostgreSQL; SQLite serialises writers anyway), so
two admins demoting each other at once cannot leave nobody in charge.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from tortoise.transactions import in_transaction

from web.auth import audit, policy
from web.auth.passwords import PasswordHashing
from web.auth.users import bump_auth_epoch, create_user, get_user_by_id, reset_two_factor
from web.models import KnownDevice, User

PASSWORD_RESET_DONE = "New initial password set for {name}: they must change it at their next sign-in."
LAST_ADMIN = "This is the last enabled administrator: make someone else an administrator first."
SELF_FORBIDDEN = {
    "revoke-2fa": "You cannot revoke your own two-factor authentication.",
    "disable": "You cannot disable your own account.",
    "remove-admin": "You cannot remove your own administrator role.",
    "reset-password": "Change your own password on your account page.",
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a signed-in administrator, or the command line (``name`` None, via "cli")."""

    name: str | None
    user_id: int | None = None
    via: str = audit.VIA_WEB
    client_address: str | None = None


COMMAND_LINE = Actor(name=None, via=audit.VIA_CLI)


class ActionRefused(Exception):
    """The rules forbid this action now; the message is safe to show. ``status`` for the web."""

    def __init__(self, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Done:
    user: User
    message: str


@dataclass(frozen=True, slots=True)
class AdminAction:
    slug: str
    label: str
    audit_action: str
    apply: Callable[[User], Awaitable[None]]
    message: str  # "{name}" is replaced by the target's username


async def perform(slug: str, actor: Actor, target_id: int, *, reason: str | None = None) -> Done:
    """Run the action named ``slug`` on the user ``target_id``; raise ActionRefused if the rules say no."""
    action = ACTIONS[slug]
    target = await get_user_by_id(target_id)
    try:
        _refuse_self(slug, actor, target)
        await action.apply(target)
    except ActionRefused:
        await _audit(action.audit_action, actor, target.username, reason, audit.REFUSED)
        raise
    await _audit(action.audit_action, actor, target.username, reason, audit.SUCCESS)
    return Done(await get_user_by_id(target_id), action.message.format(name=target.username))


async def reset_password(
    hashing: PasswordHashing, actor: Actor, target_id: int, password: str, *, reason: str | None = None
) -> Done:
    """A new initial password the user must change at next sign-in; their sessions end."""
    target = await get_user_by_id(target_id)
    try:
        _refuse_self("reset-password", actor, target)
    except ActionRefused:
        await _audit(audit.RESET_PASSWORD, actor, target.username, reason, audit.REFUSED)
        raise
    password_hash = await hashing.hash(password)  # the policy is checked first, nothing stored on failure
    await User.filter(id=target.id).update(password_hash=password_hash, must_change_password=True)
    await bump_auth_epoch(target.id)
    await _audit(audit.RESET_PASSWORD, actor, target.username, reason, audit.SUCCESS)
    return Done(await get_user_by_id(target_id), PASSWORD_RESET_DONE.format(name=target.username))


async def add_user(
    hashing: PasswordHashing, actor: Actor, username: str, password: str, *, is_admin: bool, initial: bool = True
) -> User:
    """A new account; an ``initial`` password (set by an admin) must be changed at first sign-in."""
    user = await create_user(hashing, username, password, is_admin=is_admin)
    if initial:
        await User.filter(id=user.id).update(must_change_password=True)
    await _audit(audit.ADD_USER, actor, user.username, None, audit.SUCCESS)
    if is_admin:
        await _audit(audit.GRANT_ADMIN, actor, user.username, None, audit.SUCCESS)
    return user


async def set_two_factor_policy(actor: Actor, required: bool, *, reason: str | None = None) -> None:
    """Switch "2FA required for all users"; users already enrolled keep their authenticator either way."""
    await policy.set_two_factor_required(required)
    await audit.record(
        audit.POLICY_2FA_ON if required else audit.POLICY_2FA_OFF, actor=actor.name, reason=reason, via=actor.via,
        client_address=actor.client_address,
    )


async def _audit(action: str, actor: Actor, target: str, reason: str | None, outcome: str) -> None:
    await audit.record(
        action, outcome=outcome, actor=actor.name, target=target, reason=reason, via=actor.via,
        client_address=actor.client_address,
    )


def _refuse_self(slug: str, actor: Actor, target: User) -> None:
    if actor.user_id == target.id and slug in SELF_FORBIDDEN:
        raise ActionRefused(SELF_FORBIDDEN[slug])


async def _keep_an_admin(target: User) -> None:
    """Inside the caller's transaction: refuse if ``target`` is the last enabled administrator."""
    # Lock every enabled admin row, the target's too, in one order: a concurrent demotion waits for
    # this transaction, then sees its result. (Tortoise drops FOR UPDATE from values_list() queries.)
    admins = await User.filter(is_admin=True, is_disabled=False).order_by("id").select_for_update()
    if not any(admin.id != target.id for admin in admins):
        raise ActionRefused(LAST_ADMIN)


# -- the actions ---------------------------------------------------------------------------------


async def _reset_2fa(user: User) -> None:
    await reset_two_factor(user.id, changed_by_admin="reset")


async def _revoke_2fa(user: User) -> None:
    await reset_two_factor(user.id, exempt=True, changed_by_admin="revoke")


async def _require_2fa(user: User) -> None:
    if not user.totp_exempt:
        raise ActionRefused(f"2FA is already required for {user.username}.", status=409)
    # Their password-only sessions lack a second factor: end them.
    now = datetime.now(timezone.utc)
    await User.filter(id=user.id).update(
        totp_exempt=False, two_factor_changed_by_admin="require", two_factor_changed_at=now
    )
    await bump_auth_epoch(user.id)


async def _unlock(user: User) -> None:
    await User.filter(id=user.id).update(
        locked_at=None, password_failures=0, password_blocked_until=0,
        second_factor_failures=0, second_factor_blocked_until=0,
    )
    await KnownDevice.filter(user_id=user.id).update(password_failures=0, password_blocked_until=0)


async def _disable(user: User) -> None:
    async with in_transaction():
        await _keep_an_admin(user)
        await User.filter(id=user.id).update(is_disabled=True)
        await bump_auth_epoch(user.id)


async def _enable(user: User) -> None:
    await User.filter(id=user.id).update(is_disabled=False)


async def _grant_admin(user: User) -> None:
    await User.filter(id=user.id).update(is_admin=True)


async def _remove_admin(user: User) -> None:
    async with in_transaction():
        await _keep_an_admin(user)
        await User.filter(id=user.id).update(is_admin=False)


ACTIONS: dict[str, AdminAction] = {
    action.slug: action
    for action in (
        AdminAction("reset-2fa", "Reset 2FA", audit.RESET_2FA, _reset_2fa,
                    "2FA reset for {name}: their sessions ended, and their next sign-in shows the enrollment panel."),
        AdminAction("revoke-2fa", "Revoke 2FA", audit.REVOKE_2FA, _revoke_2fa,
                    "2FA revoked for {name}: they sign in with their password alone until you press Require 2FA."),
        AdminAction("require-2fa", "Require 2FA", audit.REQUIRE_2FA, _require_2fa,
                    "2FA required again for {name}: their next sign-in shows the enrollment panel."),
        AdminAction("unlock", "Unlock", audit.UNLOCK, _unlock, "{name} is unlocked."),
        AdminAction("disable", "Disable", audit.DISABLE, _disable, "{name} is disabled and signed out."),
        AdminAction("enable", "Enable", audit.ENABLE, _enable, "{name} can sign in again."),
        AdminAction("make-admin", "Make admin", audit.GRANT_ADMIN, _grant_admin, "{name} is now an administrator."),
        AdminAction("remove-admin", "Remove admin", audit.REVOKE_ADMIN, _remove_admin,
                    "{name} is no longer an administrator."),
    )
}
