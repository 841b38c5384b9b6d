"""The sign-in flow with its failures, recovery-code use and enrollments written to the audit log.

A thin layer over SignInFlow rather than lines inside each step: the steps stay about deciding,
and what is recorded is in one place. What is written is the step, the outcome and the account
name, never what was typed. A failed password step records the account only when the name
belongs to one (people type passwords into the username box), and both cases write one row, so
the audit adds the same time whether or not the account exists. Successful sign-ins are recorded
by the flow itself, at the one place every sign-in ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from web.auth import audit
from web.auth.flow import InvalidCredentials, SignInFlow, SignInState
from web.auth.throttle import Throttled
from web.auth.two_factor import InvalidPin, InvalidRecoveryCode
from web.auth.users import find_user
from web.models import User


def _outcome(error: Exception) -> str | None:
    if isinstance(error, Throttled):
        return audit.THROTTLED
    if isinstance(error, (InvalidCredentials, InvalidPin, InvalidRecoveryCode)):
        return audit.FAILURE
    return None  # malformed input or a step out of order: no secret was tried


class AuditedSignInFlow(SignInFlow):
    async def authenticate(self, username: str, password: str, *, now: float, **options: Any) -> SignInState:
        try:
            return await super().authenticate(username, password, now=now, **options)
        except Exception as error:
            outcome = _outcome(error)
            if outcome is not None:
                user = await find_user(username)
                await audit.record(audit.PASSWORD_STEP, outcome=outcome, target=user.username if user else None)
            raise

    async def submit_pin(self, state: SignInState, pin: str, *, now: float, user: User | None = None) -> SignInState:
        step = super().submit_pin
        return await _recorded(audit.PIN_STEP, state, lambda: step(state, pin, now=now, user=user))

    async def submit_recovery_code(
        self, state: SignInState, code: str, *, now: float, user: User | None = None
    ) -> SignInState:
        step = super().submit_recovery_code
        result = await _recorded(audit.RECOVERY_CODE, state, lambda: step(state, code, now=now, user=user))
        await audit.record(audit.RECOVERY_CODE, actor=state.username, target=state.username)
        return result

    async def confirm_enrollment(self, state: SignInState, pin: str, *, now: float) -> SignInState:
        step = super().confirm_enrollment
        result = await _recorded(audit.ENROLLED, state, lambda: step(state, pin, now=now))
        await audit.record(audit.ENROLLED, actor=state.username, target=state.username)
        return result


async def _recorded(action: str, state: SignInState, step: Callable[[], Awaitable[SignInState]]) -> SignInState:
    """Run ``step``; if it fails on a secret (or is throttled), record that before re-raising."""
    try:
        return await step()
    except Exception as error:
        outcome = _outcome(error)
        if outcome is not None:
            await audit.record(action, outcome=outcome, actor=state.username, target=state.username)
        raise
