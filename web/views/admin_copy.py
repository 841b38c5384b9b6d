"""The words of the users table: which buttons a row offers, and what each confirmation says."""

from __future__ import annotations

from dataclasses import dataclass

from web.auth.admin_actions import ACTIONS, SELF_FORBIDDEN
from web.models import User

RESET_PASSWORD = "reset-password"


@dataclass(frozen=True, slots=True)
class ActionCopy:
    label: str  # the row's button
    confirm: str  # the confirmation button: always starts with "Confirm"
    explains: str  # "{name}" is the target's username (escaped by the template, like everything)


ACTION_COPY = {
    "reset-2fa": ActionCopy(
        "Reset 2FA", "Confirm reset 2FA",
        "Removes the authenticator and recovery codes of {name} and ends their sessions. "
        "Their next sign-in shows the enrollment panel.",
    ),
    "revoke-2fa": ActionCopy(
        "Revoke 2FA", "Confirm revoke 2FA",
        "Removes the authenticator and recovery codes of {name}, ends their sessions and lets them sign in "
        "with the password alone until you press Require 2FA.",
    ),
    "require-2fa": ActionCopy(
        "Require 2FA", "Confirm require 2FA",
        "{name} must set up an authenticator at their next sign-in; their sessions end now.",
    ),
    "unlock": ActionCopy("Unlock", "Confirm unlock", "Clears the failed-attempt counters and the lock of {name}."),
    "disable": ActionCopy("Disable", "Confirm disable", "{name} can no longer sign in; their sessions end now."),
    "enable": ActionCopy("Enable", "Confirm enable", "{name} can sign in again."),
    RESET_PASSWORD: ActionCopy(
        "Reset password", "Confirm reset password",
        "Sets a new initial password that {name} must change at their next sign-in; their sessions end now.",
    ),
    "make-admin": ActionCopy("Make admin", "Confirm make admin", "{name} gets access to administration."),
    "remove-admin": ActionCopy("Remove admin", "Confirm remove admin", "{name} loses access to administration."),
}
ALL_SLUGS = frozenset(ACTION_COPY)
assert ALL_SLUGS == frozenset(ACTIONS) | {RESET_PASSWORD}


def row_actions(user: User, me: int) -> list[str]:
    """The buttons of one row, in order; an admin's own row leaves out what they may not do to themselves."""
    slugs = ["reset-2fa", "revoke-2fa"] + (["require-2fa"] if user.totp_exempt else [])
    if user.locked_at is not None or user.password_failures or user.second_factor_failures:
        slugs.append("unlock")
    slugs += ["enable" if user.is_disabled else "disable", RESET_PASSWORD]
    slugs.append("remove-admin" if user.is_admin else "make-admin")
    return [slug for slug in slugs if not (user.id == me and slug in SELF_FORBIDDEN)]
