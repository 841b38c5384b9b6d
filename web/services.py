"""The long-lived objects one server process needs, built once from the settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from web.auth.account import AccountFlow
from web.auth.audited_flow import AuditedSignInFlow
from web.auth.crypto import Keyed, SecretBox, derive_key
from web.auth.flow import SessionPolicy, SignInFlow
from web.auth.passwords import PasswordHashing
from web.auth.throttle import PhantomCounters
from web.auth.two_factor import TwoFactor
from web.hash_slots import SLOTS_DIR_NAME, HashSlots
from web.sessions import SessionStore, cookie_names
from web.settings import Settings
from web.shared_state import SharedState, build_shared_state


@dataclass(slots=True)
class Services:
    settings: Settings
    hashing: PasswordHashing
    two_factor: TwoFactor
    flow: SignInFlow
    account: AccountFlow
    """Self-service on one's own account and the step-up check of admin actions."""
    sessions: SessionStore
    shared: SharedState
    """What every instance shares when Redis is configured: sessions and per-address counts."""
    keyed: Keyed
    csrf_secret: str
    csrf_cookie: str
    clock: Callable[[], float] = field(default=time.time)


def build_services(settings: Settings) -> Services:
    master = settings.secret_key
    totp_box = SecretBox(derive_key(master, "totp-secret-at-rest"))
    session_box = SecretBox(derive_key(master, "session-sealed-values"))
    keyed = Keyed(derive_key(master, "keyed-fingerprints"))
    slots = HashSlots(settings.data_dir / SLOTS_DIR_NAME, settings.password_hash_concurrency)
    hashing = PasswordHashing(settings.password_hash_concurrency, gate=slots.hold)
    two_factor = TwoFactor(totp_box, keyed)
    policy = SessionPolicy(idle_seconds=settings.session_idle_seconds, max_seconds=settings.session_max_seconds)
    shared = build_shared_state(settings)
    sessions = SessionStore(shared.sessions, secure=settings.secure_cookies, idle_seconds=settings.session_idle_seconds)
    phantoms = PhantomCounters(keyed.digest)
    flow = AuditedSignInFlow(hashing, two_factor, session_box, policy, keyed, phantoms)  # audit: web/auth/audited_flow.py
    return Services(
        settings=settings,
        hashing=hashing,
        two_factor=two_factor,
        flow=flow,
        account=AccountFlow(flow, two_factor, hashing, SecretBox(derive_key(master, "account-sealed-values")), keyed),
        sessions=sessions,
        shared=shared,
        keyed=keyed,
        csrf_secret=derive_key(master, "csrf-token-signing").hex(),
        csrf_cookie=cookie_names(settings.secure_cookies).csrf,
    )
