"""Which panel shows a sign-in state, and what that panel needs to render."""

from __future__ import annotations

from typing import Any

from web.auth import totp
from web.auth.flow import SignInState, Stage
from web.services import Services
from web.views.qr import qr_svg

SUGGESTED_APPS = ("Authy", "Google Authenticator", "Microsoft Authenticator", "LastPass Authenticator")


def panel_for(services: Services, state: SignInState | None, *, use_recovery: bool = False) -> tuple[str, dict[str, Any]]:
    """The panel name and context for a state (None: the credentials step)."""
    if state is None:
        return "credentials", {}
    if state.stage is Stage.PENDING:
        return "pin", {"use_recovery": use_recovery}
    if state.stage is Stage.ENROLLING:
        return "enroll", panel_context(services, state)
    if state.stage is Stage.RECOVERY_CODES:
        return "recovery_codes", {"codes": services.flow.recovery_codes(state)}
    return "home", {"username": state.username, "is_admin": state.is_admin}


def panel_context(services: Services, state: SignInState) -> dict[str, Any]:
    """The enrollment panel: the candidate secret as QR, as grouped text and as an otpauth:// link."""
    secret = services.flow.candidate_secret(state)
    uri = totp.provisioning_uri(secret, account=state.username, issuer=services.settings.issuer)
    return {
        "apps": SUGGESTED_APPS,
        "secret": secret,
        "secret_grouped": totp.group_secret(secret),
        "otpauth_uri": uri,
        "qr": qr_svg(uri, label=f"QR code for {services.settings.issuer} ({state.username})"),
        "username": state.username,
    }
