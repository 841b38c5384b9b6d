"""The second factor against the database: sealed secrets, single-use steps, recovery codes.

Single use is an atomic conditional UPDATE (``WHERE totp_last_step < step``): it works the same on
SQLite and PostgreSQL and across instances, so of N concurrent posts of one code exactly one wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType

from tortoise.transactions import in_transaction

from web import db_statements
from web.auth import recovery, totp
from web.auth.crypto import Keyed, Sealed, SecretBox
from web.models import RecoveryCode, User


NOTHING: Mapping[str, object] = MappingProxyType({})  # no further columns to write


class InvalidPin(Exception):
    """The PIN was wrong or already used. ``drift_seconds`` is set when the device clock looks off."""

    def __init__(self, drift_seconds: int | None = None) -> None:
        super().__init__("invalid PIN")
        self.drift_seconds = drift_seconds


class InvalidRecoveryCode(Exception):
    """The recovery code is unknown or already used."""


class AlreadyEnrolled(Exception):
    """The account got an authenticator in the meantime; enrollment cannot overwrite it."""


@dataclass(frozen=True, slots=True)
class Enrollment:
    """A confirmed enrollment: the recovery codes to show once."""

    recovery_codes: list[str]


def _owner(user_id: int) -> str:
    return f"user:{user_id}"


class TwoFactor:
    """TOTP and recovery-code checks for one deployment's keys."""

    def __init__(self, box: SecretBox, keyed: Keyed) -> None:
        self._box = box
        self._keyed = keyed

    # -- secrets -------------------------------------------------------------------------------

    def seal_secret(self, user_id: int, secret: str) -> Sealed:
        return self._box.seal(secret.encode(), owner=_owner(user_id))

    def open_secret(self, user_id: int, sealed: Sealed) -> str:
        return self._box.open(sealed, owner=_owner(user_id)).decode()

    def _user_secret(self, user: User) -> str:
        assert user.totp_secret_sealed is not None and user.totp_key_id is not None
        return self.open_secret(user.id, Sealed(user.totp_key_id, bytes(user.totp_secret_sealed)))

    # -- PIN -----------------------------------------------------------------------------------

    async def verify_pin(self, user: User, pin: str, *, now: float, on_success: Mapping[str, object] = NOTHING) -> int:
        """Accept ``pin`` once for ``user``; returns the step claimed or raises :class:`InvalidPin`.

        ``on_success``: more user-row columns to write in the claim's own statement (the throttle
        reset, the sign-in record), so a success costs one write instead of three.
        """
        check = totp.match_step(self._user_secret(user), pin, now=now)
        if check.step is None:
            if check.drift_seconds and check.drift_seconds > 0:
                await self._burn_future_step(user, totp.current_step(now) + check.drift_seconds // totp.STEP_SECONDS)
            raise InvalidPin(check.drift_seconds)
        # The key id and epoch in the filter: an admin reset landing mid-check makes the claim fail.
        claimed = await db_statements.update(
            User,
            {"id": user.id, "totp_key_id": user.totp_key_id, "auth_epoch": user.auth_epoch, "totp_last_step__lt": check.step},
            {"totp_last_step": check.step, **on_success},
        )
        if claimed != 1:
            raise InvalidPin()  # replay: this step (or a later one) was already used
        return check.step

    @staticmethod
    async def _burn_future_step(user: User, step: int) -> None:
        # The drift hint tells the client this wrong code is a *future* one; claim that step now so
        # the code cannot be replayed when its time comes (the hint must not multiply the guesses).
        await User.filter(
            id=user.id, totp_key_id=user.totp_key_id, auth_epoch=user.auth_epoch, totp_last_step__lt=step
        ).update(totp_last_step=step)

    @staticmethod
    def check_candidate(secret: str, pin: str, *, now: float) -> totp.PinCheck:
        """The live check during enrollment: the same window check, nothing claimed or stored."""
        return totp.match_step(secret, pin, now=now)

    async def confirm_enrollment(
        self, user_id: int, secret: str, pin: str, *, now: float, on_success: Mapping[str, object] = NOTHING
    ) -> Enrollment:
        """Store ``secret`` for the user if ``pin`` proves the app has it; issue recovery codes.

        ``on_success``: more user-row columns written by the same statement (the throttle reset).
        """
        check = self.check_candidate(secret, pin, now=now)
        if check.step is None:
            raise InvalidPin(check.drift_seconds)
        sealed = self.seal_secret(user_id, secret)
        async with in_transaction():
            # One statement both refuses an enrolled account and claims the step (single use).
            stored = await User.filter(
                id=user_id, totp_secret_sealed__isnull=True, totp_last_step__lt=check.step
            ).update(
                totp_secret_sealed=sealed.ciphertext,
                totp_key_id=sealed.key_id,
                totp_last_step=check.step,
                totp_enabled_at=datetime.now(timezone.utc),
                **on_success,
            )
            if stored != 1:
                raise AlreadyEnrolled() if await self._is_enrolled(user_id) else InvalidPin()
            codes = await self._replace_recovery_codes(user_id)
        return Enrollment(recovery_codes=codes)

    @staticmethod
    async def _is_enrolled(user_id: int) -> bool:
        return await User.filter(id=user_id, totp_secret_sealed__isnull=False).exists()

    # -- recovery codes ------------------------------------------------------------------------

    async def use_recovery_code(self, user_id: int, code: str, *, on_success: Mapping[str, object] = NOTHING) -> None:
        """Spend one recovery code; raises :class:`InvalidRecoveryCode` if it is not spendable.

        ``on_success``: user-row columns to write once the code is spent (the throttle reset).
        """
        try:
            fingerprint = recovery.fingerprint(self._keyed, code)
        except recovery.RecoveryCodeFormatError:
            raise InvalidRecoveryCode() from None
        spent = await RecoveryCode.filter(
            user_id=user_id, fingerprint=fingerprint, used_at__isnull=True
        ).update(used_at=datetime.now(timezone.utc))
        if spent != 1:
            raise InvalidRecoveryCode()
        if on_success:
            await User.filter(id=user_id).update(**on_success)

    async def _replace_recovery_codes(self, user_id: int) -> list[str]:
        codes = recovery.new_codes()
        await RecoveryCode.filter(user_id=user_id).delete()
        await RecoveryCode.bulk_create(
            [RecoveryCode(user_id=user_id, fingerprint=recovery.fingerprint(self._keyed, c)) for c in codes]
        )
        return codes

    async def recovery_codes_left(self, user_id: int) -> int:
        return await RecoveryCode.filter(user_id=user_id, used_at__isnull=True).count()
