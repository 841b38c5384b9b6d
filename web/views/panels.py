"""Which panel shows a sign-in state, and what that panel needs to render."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from web.auth import totp
from web.auth.flow import SignInState, Stage
from web.services import Services
from web.views.qr import qr_svg

SUGGESTED_APPS = ("Authy", "Google Authenticator", "Microsoft Authenticator", "LastPass Authenticator")
ADMIN_CHANGE_NOTICES = {
    "reset": "An administrator reset your two-factor authentication on {when}. Set up your authenticator app again.",
    "revoke": "An administrator turned off two-factor authentication for your account on {when}: "
    "you sign in with your password alone for now.",
    "require": "An administrator turned two-factor authentication back on for your account on {when}.",
}


def panel_for(services: Services, state: SignInState | None, *, use_recovery: bool = False) -> tuple[str, dict[str, Any]]:
    """The panel name and context for a state (None: the credentials step)."""
    if state is None:
        return "credentials", {}
    told = {"notice": admin_change_notice(state)}
    if state.stage is Stage.PENDING:
        return "pin", {"use_recovery": use_recovery, **told}
    if state.stage is Stage.ENROLLING:
        return "enroll", {**panel_context(services, state), **told}
    if state.stage is Stage.RECOVERY_CODES:
        return "recovery_codes", {"codes": services.flow.recovery_codes(state)}
    if state.stage is Stage.CHANGE_PASSWORD:
        return "change_password", {"username": state.username, **told}
    return "home", {"username": state.username, "is_admin": state.is_admin, **told}


def admin_change_notice(state: SignInState) -> str | None:
    """What an administrator did to this user's 2FA since their last sign-in, with the date."""
    text = ADMIN_CHANGE_NOTICES.get(state.admin_change or "")
    if text is None or state.admin_change_at is None:
        return None
    when = datetime.fromtimestamp(state.admin_change_at, timezone.utc).strftime("%d %B %Y at %H:%M UTC")
    return text.format(when=when)


def panel_context(services: Services, state: SignInState, secret: str | None = None) -> dict[str, Any]:
    """The enrollment panel: the candidate secret as QR, as grouped text and as an otpauth:// link.

    ``secret``: another candidate than the sign-in one (the account page's new authenticator).
    """
    secret = secret if secret is not None else services.flow.candidate_secret(state)
    uri = totp.provisioning_uri(secret, account=state.username, issuer=services.settings.issuer)
    return {
        "apps": SUGGESTED_APPS,
        "secret": secret,
        "secret_grouped": totp.group_secret(secret),
        "otpauth_uri": uri,
        "qr": qr_svg(uri, label=f"QR code for {services.settings.issuer} ({state.username})"),
        "username": state.username,
    }
