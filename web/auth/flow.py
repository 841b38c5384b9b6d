"""The sign-in flow: a small state machine held on the server, never in the browser.

    anonymous --password ok--> pending(user)            (expires after PENDING_TTL_SECONDS)
    pending   --PIN or recovery code ok--> signed_in
    password ok, not enrolled --> enrolling(user, candidate secret) --PIN ok--> recovery_codes
    recovery_codes --continue--> signed_in
    password ok, exempt user (or 2FA optional and not enrolled) --> signed_in
    signed_in after an admin's password reset --> change_password --new password--> signed_in
    any --sign out, timeout, auth epoch bumped (admin reset), account disabled--> anonymous

Every function takes the current state and plain values and returns the next state or raises a
domain error; storing the state and choosing what to render is the web layer's job.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from web import db_statements
from web.auth import audit, devices, policy, recovery, throttle, totp
from web.auth.crypto import Keyed, Sealed, SecretBox
from web.auth.passwords import PasswordHashing
from web.auth.two_factor import NOTHING, InvalidPin, TwoFactor
from web.auth.users import canonical_or_none, find_user, record_sign_in, sign_in_changes
from web.models import User

PENDING_TTL_SECONDS = 5 * 60
# A request refreshes the session's last-seen time in the store at most this often: the idle
# timeout may end a session up to this much early, and most requests write nothing back.
SEEN_AT_WRITE_SECONDS = 60
T = TypeVar("T")


class Stage(str, enum.Enum):
    PENDING = "pending"
    ENROLLING = "enrolling"
    RECOVERY_CODES = "recovery_codes"
    SIGNED_IN = "signed_in"
    CHANGE_PASSWORD = "change_password"  # fully authenticated, but must replace an admin-set password


class SignInState(msgspec.Struct, kw_only=True):
    """What the server remembers about one browser between requests."""

    stage: Stage
    user_id: int
    username: str
    is_admin: bool
    auth_epoch: int
    started_at: float
    stage_at: float
    seen_at: float
    second_factor_at: float | None = None
    candidate_key_id: str | None = None
    candidate_secret: bytes | None = None
    recovery_codes_key_id: str | None = None
    recovery_codes: bytes | None = None
    must_change_password: bool = False
    admin_change: str | None = None
    """What an administrator last did to the user's 2FA ("reset", "revoke", "require"): told at sign-in."""
    admin_change_at: float | None = None


class InvalidCredentials(Exception):
    """Wrong password, unknown user or disabled account: deliberately indistinguishable to the user.

    ``username`` is the account's name when one exists (for the log), never what was typed.
    """

    def __init__(self, username: str | None = None) -> None:
        super().__init__("invalid credentials")
        self.username = username


class WrongStage(Exception):
    """The request belongs to another step than the one this session is at."""


@dataclass(frozen=True, slots=True)
class Resumed:
    """A live session after a request: its refreshed state and the account row it was checked against."""

    state: SignInState
    user: User
    """Read at the start of this request; later steps of the same request reuse it."""
    stale: bool
    """True when the stored state is worth writing back (last seen long ago, or the role changed)."""


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_seconds: int
    max_seconds: int
    pending_seconds: int = PENDING_TTL_SECONDS


class SignInFlow:
    """The transitions of the sign-in state machine."""

    def __init__(
        self,
        hashing: PasswordHashing,
        two_factor: TwoFactor,
        box: SecretBox,
        policy: SessionPolicy,
        devices_key: Keyed,
        phantoms: throttle.PhantomCounters,
    ) -> None:
        self._hashing = hashing
        self._two_factor = two_factor
        self._box = box  # seals what a session holds: the candidate secret, the new recovery codes
        self.policy = policy
        self._devices_key = devices_key  # fingerprints known-device cookies
        self._phantoms = phantoms  # throttle names without an account exactly like real ones

    async def remember_device(self, state: SignInState, device_token: str | None) -> str | None:
        """After a full sign-in: the new known-device token to hand out, if this browser needs one."""
        if state.stage is not Stage.SIGNED_IN:
            return None
        return await devices.remember_device(self._devices_key, state.user_id, device_token)

    # -- step 1 --------------------------------------------------------------------------------

    async def authenticate(
        self, username: str, password: str, *, now: float, device_token: str | None = None
    ) -> SignInState:
        """Check the password and return the state the user goes to next.

        The attempt is counted before the hash is checked: on the device's own row when the
        browser is a known device of this user, else on the account's row (throttle.PASSWORD).
        """
        user = await find_user(username)
        if user is None:
            # Same throttle, same dummy-hash time: nothing tells an unknown name from a wrong password.
            await self._phantoms.count_attempt(canonical_or_none(username) or username, now=now)
            await self._hashing.verify(None, password)
            raise InvalidCredentials()
        row = await devices.find_device(self._devices_key, user.id, device_token)
        model, row_id = (type(row), row.id) if row is not None else (User, user.id)
        try:
            await throttle.count_attempt(model, row_id, throttle.PASSWORD, now=now)
        except throttle.Throttled as throttled:
            throttled.username = user.username
            raise
        if not await self._hashing.verify(user.password_hash, password) or user.is_disabled:
            raise InvalidCredentials(user.username)
        await throttle.record_success(model, row_id, throttle.PASSWORD)
        return await self.start(user, now=now)

    async def start(self, user: User, *, now: float) -> SignInState:
        """The state right after ``user`` proved their password: PIN, enrollment or (exempt) signed in."""
        state = SignInState(
            stage=Stage.PENDING,
            user_id=user.id,
            username=user.username,
            is_admin=user.is_admin,
            auth_epoch=user.auth_epoch,
            started_at=now,
            stage_at=now,
            seen_at=now,
            must_change_password=user.must_change_password,
            admin_change=user.two_factor_changed_by_admin,
            admin_change_at=user.two_factor_changed_at.timestamp() if user.two_factor_changed_at else None,
        )
        if user.totp_exempt:
            return await self._signed_in(state, now, second_factor=False)
        if user.has_totp:
            return state
        if not await policy.two_factor_required():
            return await self._signed_in(state, now, second_factor=False)  # may still enroll from /account
        return self._start_enrollment(state, now)

    # -- continuing a session ------------------------------------------------------------------

    async def resume(self, state: SignInState, *, now: float) -> Resumed | None:
        """The session after a request at ``now``, or None if it has ended."""
        if self._timed_out(state, now):
            return None
        user = await db_statements.fetch_one(User, id=state.user_id)
        if user is None or user.is_disabled or user.auth_epoch != state.auth_epoch:
            return None
        stale = now - state.seen_at >= SEEN_AT_WRITE_SECONDS or user.is_admin != state.is_admin
        return Resumed(msgspec.structs.replace(state, seen_at=now, is_admin=user.is_admin), user, stale)

    def _timed_out(self, state: SignInState, now: float) -> bool:
        if now - state.seen_at > self.policy.idle_seconds or now - state.started_at > self.policy.max_seconds:
            return True
        in_progress = state.stage in (Stage.PENDING, Stage.ENROLLING, Stage.CHANGE_PASSWORD)
        return in_progress and now - state.stage_at > self.policy.pending_seconds

    # -- step 2: PIN or recovery code ----------------------------------------------------------

    async def submit_pin(self, state: SignInState, pin: str, *, now: float, user: User | None = None) -> SignInState:
        """The PIN step. ``user``: the account row this request already read (resume), if any."""
        user = await self._user_at(state, Stage.PENDING, user)
        signs_in = _sign_in_changes(state)

        def claim(on_success: Mapping[str, object]) -> Awaitable[int]:
            # One UPDATE claims the step, resets the counter and records the sign-in.
            return self._two_factor.verify_pin(user, pin, now=now, on_success={**on_success, **signs_in})

        await self.second_factor(user, now, lambda: totp.require_pin_format(pin), claim)
        return await self._signed_in(state, now, second_factor=True, recorded=True)

    async def submit_recovery_code(
        self, state: SignInState, code: str, *, now: float, user: User | None = None
    ) -> SignInState:
        user = await self._user_at(state, Stage.PENDING, user)
        signs_in = _sign_in_changes(state)

        def spend(on_success: Mapping[str, object]) -> Awaitable[None]:
            return self._two_factor.use_recovery_code(user.id, code, on_success={**on_success, **signs_in})

        await self.second_factor(user, now, lambda: recovery.canonical(code), spend)
        return await self._signed_in(state, now, second_factor=True, recorded=True)

    async def second_factor(
        self,
        user: User,
        now: float,
        check_format: Callable[[], object],
        check_secret: Callable[[Mapping[str, object]], Awaitable[T]],
        *,
        success_resets: bool = True,
    ) -> T:
        """The one path of every second-factor attempt (sign-in, step-up, account changes):
        throttle, format, count, check, reset.

        ``user`` is the account row as this request read it: its counter is where the throttle
        starts (a stale one only costs the compare-and-set a retry). ``check_secret`` is given the
        user-row columns its success must write, in the same statement as its own claim where it
        has one: the counter reset. ``success_resets=False`` for the live check: a right code for
        a candidate key that the browser itself was given proves nothing about the account, so it
        must not reset the count.
        """
        seen = throttle.reading(user, throttle.SECOND_FACTOR)
        throttle.refuse_if_throttled(seen, now)
        check_format()  # malformed input is a 4xx that counts nothing
        await throttle.count_attempt(User, user.id, throttle.SECOND_FACTOR, now=now, seen=seen)
        # Raises on a wrong secret: the attempt stays counted.
        return await check_secret(throttle.reset_changes(throttle.SECOND_FACTOR) if success_resets else NOTHING)

    # -- enrollment ----------------------------------------------------------------------------

    def _start_enrollment(self, state: SignInState, now: float) -> SignInState:
        sealed = self._box.seal(totp.new_secret().encode(), owner=_candidate_owner(state))
        return msgspec.structs.replace(
            state,
            stage=Stage.ENROLLING,
            stage_at=now,
            candidate_key_id=sealed.key_id,
            candidate_secret=sealed.ciphertext,
        )

    def candidate_secret(self, state: SignInState) -> str:
        if state.stage is not Stage.ENROLLING or state.candidate_secret is None:
            raise WrongStage()
        sealed = Sealed(state.candidate_key_id or "", state.candidate_secret)
        return self._box.open(sealed, owner=_candidate_owner(state)).decode()

    async def check_candidate(self, state: SignInState, pin: str, *, now: float) -> bool:
        """The live check while typing: the same throttled path as confirmation; claims nothing."""
        secret = self.candidate_secret(state)
        user = await self._enrolling_user(state)

        async def check(_: Mapping[str, object]) -> None:
            if not self._two_factor.check_candidate(secret, pin, now=now).ok:
                raise InvalidPin()

        try:
            await self.second_factor(user, now, lambda: totp.require_pin_format(pin), check, success_resets=False)
        except InvalidPin:
            return False
        return True

    async def confirm_enrollment(self, state: SignInState, pin: str, *, now: float) -> SignInState:
        secret = self.candidate_secret(state)
        user = await self._enrolling_user(state)
        enrollment = await self.second_factor(
            user,
            now,
            lambda: totp.require_pin_format(pin),
            lambda on_success: self._two_factor.confirm_enrollment(
                user.id, secret, pin, now=now, on_success=on_success
            ),
        )
        sealed = self._box.seal("\n".join(enrollment.recovery_codes).encode(), owner=_codes_owner(state))
        return msgspec.structs.replace(
            state,
            stage=Stage.RECOVERY_CODES,
            stage_at=now,
            second_factor_at=now,
            candidate_key_id=None,
            candidate_secret=None,
            recovery_codes_key_id=sealed.key_id,
            recovery_codes=sealed.ciphertext,
        )

    def recovery_codes(self, state: SignInState) -> list[str]:
        if state.stage is not Stage.RECOVERY_CODES or state.recovery_codes is None:
            raise WrongStage()
        sealed = Sealed(state.recovery_codes_key_id or "", state.recovery_codes)
        return self._box.open(sealed, owner=_codes_owner(state)).decode().split("\n")

    async def acknowledge_recovery_codes(self, state: SignInState, *, now: float) -> SignInState:
        if state.stage is not Stage.RECOVERY_CODES:
            raise WrongStage()
        return await self._signed_in(state, now, second_factor=True)

    # -- helpers -------------------------------------------------------------------------------

    async def _user_at(self, state: SignInState, stage: Stage, user: User | None) -> User:
        if state.stage is not stage:
            raise WrongStage()
        if user is None or user.id != state.user_id:
            user = await User.get_or_none(id=state.user_id)
        if user is None or not user.has_totp:
            raise WrongStage()
        return user

    async def _enrolling_user(self, state: SignInState) -> User:
        user = await User.get_or_none(id=state.user_id)
        if user is None or user.has_totp:
            raise WrongStage()  # enrolled meanwhile (another browser): this enrollment is over
        return user

    async def finish_password_change(self, state: SignInState, *, now: float, auth_epoch: int) -> SignInState:
        """After the forced password change (which bumped the epoch): the user is signed in."""
        if state.stage is not Stage.CHANGE_PASSWORD:
            raise WrongStage()
        changed = msgspec.structs.replace(state, must_change_password=False, auth_epoch=auth_epoch)
        return await self._signed_in(changed, now, second_factor=False)


    async def _signed_in(
        self, state: SignInState, now: float, *, second_factor: bool, recorded: bool = False
    ) -> SignInState:
        """``recorded``: the step's own claim already wrote the sign-in record (_sign_in_changes)."""
        # Fully authenticated, but an admin chose the password: it is replaced before anything else.
        stage = Stage.CHANGE_PASSWORD if state.must_change_password else Stage.SIGNED_IN
        if stage is Stage.SIGNED_IN:
            if not recorded:
                await record_sign_in(state.user_id)
            await audit.record(audit.SIGN_IN, actor=state.username, target=state.username)
        return msgspec.structs.replace(
            state,
            stage=stage,
            stage_at=now,
            second_factor_at=now if second_factor else state.second_factor_at,
            candidate_key_id=None,
            candidate_secret=None,
            recovery_codes_key_id=None,
            recovery_codes=None,
        )


def _sign_in_changes(state: SignInState) -> Mapping[str, object]:
    """What a full sign-in writes on the user row, when passing this step signs the user in."""
    return NOTHING if state.must_change_password else sign_in_changes()


def _candidate_owner(state: SignInState) -> str:
    return f"enrolling:{state.user_id}:{state.started_at}"


def _codes_owner(state: SignInState) -> str:
    return f"recovery-codes:{state.user_id}:{state.started_at}"
