"""Self-service on one's own account, and the step-up check that guards admin actions.

Step-up: a PIN from the user's authenticator, checked on the same throttled, single-use path as
sign-in, refreshes ``second_factor_at``; admin actions need it to be under STEP_UP_MAX_AGE_SECONDS
old. An account without an authenticator (exempt, or 2FA optional and never enrolled) cannot pass
step-up: it has no second factor to show, so it must enroll first (README, Administration).

Replacing the authenticator keeps the old secret working until a code from the new one confirms
it; the candidate secret lives sealed in the session meanwhile, as during enrollment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

import msgspec
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from web.auth import audit, recovery, throttle, totp
from web.auth.crypto import Keyed, Sealed, SecretBox
from web.auth.flow import SignInFlow, SignInState, Stage, WrongStage
from web.auth.passwords import PasswordHashing, PasswordPolicyError, check_password_policy
from web.auth.two_factor import InvalidPin, TwoFactor
from web.models import KnownDevice, RecoveryCode, User

STEP_UP_MAX_AGE_SECONDS = 10 * 60


class NoAuthenticator(Exception):
    """The account has no authenticator, so no PIN can confirm it is really them."""


class WrongPassword(Exception):
    """The current password given was not the account's."""


class ChangeExpired(Exception):
    """The step-up that started an authenticator replacement is too old: start again with a PIN."""


class SessionStale(Exception):
    """The account changed under this session (another change, an admin action): sign in again."""


def recently_verified(state: SignInState, now: float) -> bool:
    return state.second_factor_at is not None and 0 <= now - state.second_factor_at <= STEP_UP_MAX_AGE_SECONDS


class AccountFlow:
    def __init__(
        self, flow: SignInFlow, two_factor: TwoFactor, hashing: PasswordHashing, box: SecretBox, keyed: Keyed
    ) -> None:
        self._flow = flow
        self._two_factor = two_factor
        self._hashing = hashing
        self._box = box  # seals the candidate authenticator secret held in the session
        self._keyed = keyed

    # -- step-up -------------------------------------------------------------------------------

    async def step_up(self, state: SignInState, pin: str, *, now: float) -> SignInState:
        """Check a PIN of the signed-in user; the returned state counts as recently verified."""
        user = await _signed_in_user(state)
        if not user.has_totp:
            raise NoAuthenticator()
        try:
            await self._flow.second_factor(
                user,
                now,
                lambda: totp.require_pin_format(pin),
                lambda on_success: self._two_factor.verify_pin(user, pin, now=now, on_success=on_success),
            )
        except (InvalidPin, throttle.Throttled) as error:
            outcome = audit.THROTTLED if isinstance(error, throttle.Throttled) else audit.FAILURE
            await audit.record(audit.STEP_UP, outcome=outcome, actor=user.username, target=user.username)
            raise
        return msgspec.structs.replace(state, second_factor_at=now)

    # -- passwords -----------------------------------------------------------------------------

    async def change_password(self, state: SignInState, current: str, new: str, *, now: float) -> SignInState:
        """Replace the password; every other session of the account ends (this one carries on)."""
        user = await _signed_in_user(state)
        check_password_policy(new)
        await throttle.count_attempt(User, user.id, throttle.PASSWORD, now=now)
        if not await self._hashing.verify(user.password_hash, current):
            raise WrongPassword()
        await throttle.record_success(User, user.id, throttle.PASSWORD)
        epoch = await self._store_password(state, new)
        return msgspec.structs.replace(state, auth_epoch=epoch)

    async def choose_new_password(self, state: SignInState, new: str, *, now: float) -> SignInState:
        """The forced change after an admin's password reset; then the user is signed in."""
        if state.stage is not Stage.CHANGE_PASSWORD:
            raise WrongStage()
        check_password_policy(new)
        user = await User.get(id=state.user_id)
        if await self._hashing.verify(user.password_hash, new):
            raise PasswordPolicyError("Choose a password different from the one you were given.")
        epoch = await self._store_password(state, new)
        return await self._flow.finish_password_change(state, now=now, auth_epoch=epoch)

    async def _store_password(self, state: SignInState, new: str) -> int:
        password_hash = await self._hashing.hash(new)
        # Conditional on the session's epoch: if an admin just ended this session, nothing changes.
        changed = await User.filter(id=state.user_id, auth_epoch=state.auth_epoch).update(
            password_hash=password_hash, must_change_password=False, auth_epoch=F("auth_epoch") + 1
        )
        if changed != 1:
            raise SessionStale()
        await KnownDevice.filter(user_id=state.user_id).delete()  # no private guess budgets at the new one
        await audit.record(audit.PASSWORD_CHANGED, actor=state.username, target=state.username)
        return state.auth_epoch + 1

    # -- recovery codes ------------------------------------------------------------------------

    async def regenerate_recovery_codes(self, state: SignInState, pin: str, *, now: float) -> tuple[SignInState, list[str]]:
        state = await self.step_up(state, pin, now=now)
        async with in_transaction():
            codes = await self._issue_recovery_codes(state.user_id)
        await audit.record(audit.CODES_REGENERATED, actor=state.username, target=state.username)
        return state, codes

    async def _issue_recovery_codes(self, user_id: int) -> list[str]:
        codes = recovery.new_codes()
        await RecoveryCode.filter(user_id=user_id).delete()
        fingerprints = [recovery.fingerprint(self._keyed, code) for code in codes]
        await RecoveryCode.bulk_create([RecoveryCode(user_id=user_id, fingerprint=f) for f in fingerprints])
        return codes

    # -- setting up or replacing the authenticator ---------------------------------------------

    async def start_authenticator_change(self, state: SignInState, pin: str | None, *, now: float) -> SignInState:
        """A candidate secret to scan; replacing an existing authenticator takes a PIN from it first."""
        user = await _signed_in_user(state)
        if user.has_totp:
            state = await self.step_up(state, pin or "", now=now)
        sealed = self._box.seal(totp.new_secret().encode(), owner=_candidate_owner(state))
        return msgspec.structs.replace(state, candidate_key_id=sealed.key_id, candidate_secret=sealed.ciphertext)

    def candidate_secret(self, state: SignInState) -> str:
        if state.stage is not Stage.SIGNED_IN or state.candidate_secret is None:
            raise WrongStage()
        sealed = Sealed(state.candidate_key_id or "", state.candidate_secret)
        return self._box.open(sealed, owner=_candidate_owner(state)).decode()

    @staticmethod
    def cancel_authenticator_change(state: SignInState) -> SignInState:
        return msgspec.structs.replace(state, candidate_key_id=None, candidate_secret=None)

    async def require_fresh_change(self, state: SignInState, *, now: float) -> User:
        """A replacement is only as good as the step-up that started it: it expires with it.

        Without this, a half-finished replacement left in a session could be confirmed hours later
        with an attacker's own app, swapping out the real authenticator (and passing step-up).
        """
        user = await _signed_in_user(state)
        if user.has_totp and not recently_verified(state, now):
            raise ChangeExpired()
        return user

    async def check_candidate(self, state: SignInState, pin: str, *, now: float) -> bool:
        """The live check while typing: throttled like every PIN check; claims nothing."""
        user = await self.require_fresh_change(state, now=now)
        secret = self.candidate_secret(state)

        async def check(_: Mapping[str, object]) -> None:
            if not self._two_factor.check_candidate(secret, pin, now=now).ok:
                raise InvalidPin()

        try:
            await self._flow.second_factor(user, now, lambda: totp.require_pin_format(pin), check, success_resets=False)
        except InvalidPin:
            return False
        return True

    async def confirm_authenticator(
        self, state: SignInState, pin: str, *, now: float
    ) -> tuple[SignInState, list[str] | None]:
        """Store the candidate once a code from it is right; a first set-up also issues recovery codes."""
        user = await self.require_fresh_change(state, now=now)
        secret = self.candidate_secret(state)
        codes = await self._flow.second_factor(
            user,
            now,
            lambda: totp.require_pin_format(pin),
            lambda on_success: self._store_authenticator(user, secret, pin, now, on_success),
        )
        action = audit.REPLACED if user.has_totp else audit.ENROLLED
        await audit.record(action, actor=user.username, target=user.username)
        # Proving the *new* app is not a step-up for an account that already had one.
        verified_at = state.second_factor_at if user.has_totp else now
        done = msgspec.structs.replace(state, candidate_key_id=None, candidate_secret=None, second_factor_at=verified_at)
        return done, codes

    async def _store_authenticator(
        self, user: User, secret: str, pin: str, now: float, on_success: Mapping[str, object]
    ) -> list[str] | None:
        check = self._two_factor.check_candidate(secret, pin, now=now)
        if check.step is None:
            raise InvalidPin(check.drift_seconds)
        sealed = self._two_factor.seal_secret(user.id, secret)
        # Only over the very secret this change started from (or none): a concurrent change loses.
        current = {"totp_secret_sealed": user.totp_secret_sealed} if user.has_totp else {"totp_secret_sealed__isnull": True}
        async with in_transaction():
            stored = await User.filter(id=user.id, auth_epoch=user.auth_epoch, **current).update(
                totp_secret_sealed=sealed.ciphertext, totp_key_id=sealed.key_id, totp_last_step=check.step,
                totp_enabled_at=datetime.now(timezone.utc), totp_exempt=False, **on_success,
            )
            if stored != 1:
                raise SessionStale()
            return None if user.has_totp else await self._issue_recovery_codes(user.id)


async def _signed_in_user(state: SignInState) -> User:
    if state.stage is not Stage.SIGNED_IN:
        raise WrongStage()
    user = await User.get_or_none(id=state.user_id)
    if user is None or user.auth_epoch != state.auth_epoch:
        raise SessionStale()
    return user


def _candidate_owner(state: SignInState) -> str:
    return f"new-authenticator:{state.user_id}:{state.started_at}"
