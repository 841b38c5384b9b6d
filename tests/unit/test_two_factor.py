"""The second factor against a real SQLite database: sealed secrets, single use, recovery codes."""

from __future__ import annotations

import asyncio

import pytest

from tests.backends import database_dump
from web.auth import recovery, totp
from web.auth.crypto import Sealed
from web.auth.totp import PinFormatError
from web.auth.two_factor import AlreadyEnrolled, InvalidPin, InvalidRecoveryCode, TwoFactor
from web.auth.users import create_user, reset_two_factor
from web.models import RecoveryCode, User
from web.services import Services
from web.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("database")]

PASSWORD = "correct horse battery staple"
NOW = 1_800_000_015.0  # inside a step, so ±1 step arithmetic is unambiguous
STEP = 30.0
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
OTHER_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def pin(secret: str, at: float, offset_steps: int = 0) -> str:
    return totp.code_at(secret, totp.current_step(at) + offset_steps)


def database_bytes(settings: Settings) -> bytes:
    """Every SQLite file on disk (main file, WAL, journal) or a PostgreSQL dump, as raw bytes."""
    return database_dump(settings)


@pytest.fixture
def two_factor(services: Services) -> TwoFactor:
    return services.two_factor


async def new_user(services: Services, name: str = "alice") -> User:
    return await create_user(services.hashing, name, PASSWORD)


async def enrolled_user(services: Services, name: str = "alice", secret: str = SECRET) -> tuple[User, list[str]]:
    user = await new_user(services, name)
    enrollment = await services.two_factor.confirm_enrollment(user.id, secret, pin(secret, NOW), now=NOW)
    return await User.get(id=user.id), enrollment.recovery_codes


# -- enrollment ------------------------------------------------------------------------------


async def test_enrollment_returns_ten_recovery_codes(services: Services) -> None:
    _, codes = await enrolled_user(services)
    assert len(codes) == len(set(codes)) == 10


async def test_enrollment_stores_a_sealed_secret_that_opens_to_the_original(
    services: Services, two_factor: TwoFactor
) -> None:
    user, _ = await enrolled_user(services)
    assert user.has_totp and user.totp_enabled_at is not None
    assert user.totp_last_step == totp.current_step(NOW)
    sealed = Sealed(user.totp_key_id or "", bytes(user.totp_secret_sealed or b""))
    assert SECRET.encode() not in sealed.ciphertext
    assert two_factor.open_secret(user.id, sealed) == SECRET


async def test_the_raw_secret_never_reaches_the_database_file(services: Services, settings: Settings) -> None:
    user, codes = await enrolled_user(services)
    on_disk = database_bytes(settings)
    # The row is really in these bytes, so the absences below mean something.
    assert b"alice" in on_disk and bytes(user.totp_secret_sealed or b"") in on_disk
    assert SECRET.encode() not in on_disk
    assert SECRET.lower().encode() not in on_disk
    for code in codes:
        assert code.encode() not in on_disk
        assert recovery.canonical(code).encode() not in on_disk


async def test_a_wrong_pin_leaves_the_user_row_untouched(services: Services, two_factor: TwoFactor) -> None:
    user = await new_user(services)
    wrong = pin(SECRET, NOW, offset_steps=50)
    with pytest.raises(InvalidPin):
        await two_factor.confirm_enrollment(user.id, SECRET, wrong, now=NOW)
    after = await User.get(id=user.id)
    assert after.totp_secret_sealed is None and after.totp_key_id is None
    assert after.totp_enabled_at is None and after.totp_last_step == 0
    assert await RecoveryCode.filter(user_id=user.id).count() == 0


async def test_a_malformed_pin_leaves_the_user_row_untouched(services: Services, two_factor: TwoFactor) -> None:
    user = await new_user(services)
    with pytest.raises(PinFormatError):
        await two_factor.confirm_enrollment(user.id, SECRET, "１２３４５６", now=NOW)
    after = await User.get(id=user.id)
    assert after.totp_secret_sealed is None
    assert await RecoveryCode.filter(user_id=user.id).count() == 0


async def test_a_drifted_enrollment_pin_reports_the_drift(services: Services, two_factor: TwoFactor) -> None:
    user = await new_user(services)
    with pytest.raises(InvalidPin) as raised:
        await two_factor.confirm_enrollment(user.id, SECRET, pin(SECRET, NOW, offset_steps=4), now=NOW)
    assert raised.value.drift_seconds == 120


async def test_an_enrolled_user_cannot_enroll_again(services: Services, two_factor: TwoFactor) -> None:
    user, _ = await enrolled_user(services)
    later = NOW + 2 * STEP
    with pytest.raises(AlreadyEnrolled):
        await two_factor.confirm_enrollment(user.id, OTHER_SECRET, pin(OTHER_SECRET, later), now=later)
    after = await User.get(id=user.id)
    sealed = Sealed(after.totp_key_id or "", bytes(after.totp_secret_sealed or b""))
    assert two_factor.open_secret(user.id, sealed) == SECRET


async def test_the_enrollment_code_cannot_be_used_again_to_sign_in(
    services: Services, two_factor: TwoFactor
) -> None:
    user, _ = await enrolled_user(services)
    with pytest.raises(InvalidPin):
        await two_factor.verify_pin(user, pin(SECRET, NOW), now=NOW)


# -- PIN single use --------------------------------------------------------------------------


async def test_verify_pin_returns_the_claimed_step(services: Services, two_factor: TwoFactor) -> None:
    user, _ = await enrolled_user(services)
    later = NOW + STEP
    assert await two_factor.verify_pin(user, pin(SECRET, later), now=later) == totp.current_step(later)
    assert (await User.get(id=user.id)).totp_last_step == totp.current_step(later)


async def test_verify_pin_accepts_a_code_once(services: Services, two_factor: TwoFactor) -> None:
    user, _ = await enrolled_user(services)
    later = NOW + STEP
    await two_factor.verify_pin(user, pin(SECRET, later), now=later)
    with pytest.raises(InvalidPin):
        await two_factor.verify_pin(user, pin(SECRET, later), now=later)


async def test_a_later_step_is_accepted_after_a_used_one(services: Services, two_factor: TwoFactor) -> None:
    user, _ = await enrolled_user(services)
    await two_factor.verify_pin(user, pin(SECRET, NOW + STEP), now=NOW + STEP)
    later = NOW + 2 * STEP
    assert await two_factor.verify_pin(user, pin(SECRET, later), now=later) == totp.current_step(later)


async def test_an_earlier_step_inside_the_window_is_refused_after_a_later_one_was_used(
    services: Services, two_factor: TwoFactor
) -> None:
    user, _ = await enrolled_user(services)
    later = NOW + 2 * STEP
    await two_factor.verify_pin(user, pin(SECRET, later, offset_steps=1), now=later)
    with pytest.raises(InvalidPin):
        await two_factor.verify_pin(user, pin(SECRET, later), now=later)


async def test_a_wrong_pin_claims_nothing(services: Services, two_factor: TwoFactor) -> None:
    user, _ = await enrolled_user(services)
    later = NOW + STEP
    with pytest.raises(InvalidPin):
        await two_factor.verify_pin(user, pin(SECRET, later, offset_steps=50), now=later)
    assert (await User.get(id=user.id)).totp_last_step == totp.current_step(NOW)


async def test_verify_pin_reports_drift(services: Services, two_factor: TwoFactor) -> None:
    user, _ = await enrolled_user(services)
    later = NOW + STEP
    with pytest.raises(InvalidPin) as raised:
        await two_factor.verify_pin(user, pin(SECRET, later, offset_steps=-6), now=later)
    assert raised.value.drift_seconds == -180


async def test_verify_pin_refuses_fullwidth_digits(services: Services, two_factor: TwoFactor) -> None:
    user, _ = await enrolled_user(services)
    later = NOW + STEP
    fullwidth = pin(SECRET, later).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    with pytest.raises(PinFormatError):
        await two_factor.verify_pin(user, fullwidth, now=later)


async def test_twenty_concurrent_posts_of_one_code_give_one_success(
    services: Services, two_factor: TwoFactor
) -> None:
    user, _ = await enrolled_user(services)
    later = NOW + STEP
    code = pin(SECRET, later)
    results = await asyncio.gather(
        *(two_factor.verify_pin(user, code, now=later) for _ in range(20)), return_exceptions=True
    )
    assert [r for r in results if not isinstance(r, BaseException)] == [totp.current_step(later)]
    assert all(isinstance(r, InvalidPin) for r in results if isinstance(r, BaseException))


# -- recovery codes --------------------------------------------------------------------------


async def test_a_recovery_code_works_once(services: Services, two_factor: TwoFactor) -> None:
    user, codes = await enrolled_user(services)
    await two_factor.use_recovery_code(user.id, codes[0])
    with pytest.raises(InvalidRecoveryCode):
        await two_factor.use_recovery_code(user.id, codes[0])


async def test_a_recovery_code_can_be_typed_in_another_form(services: Services, two_factor: TwoFactor) -> None:
    user, codes = await enrolled_user(services)
    await two_factor.use_recovery_code(user.id, codes[0].upper().replace("-", " "))
    with pytest.raises(InvalidRecoveryCode):
        await two_factor.use_recovery_code(user.id, codes[0])


@pytest.mark.parametrize("typed", ["", "not-a-code", "abcd-efgh-ijkl-mn0p", "１２３４"])
async def test_a_malformed_recovery_code_is_invalid(services: Services, two_factor: TwoFactor, typed: str) -> None:
    user, _ = await enrolled_user(services)
    with pytest.raises(InvalidRecoveryCode):
        await two_factor.use_recovery_code(user.id, typed)
    assert await two_factor.recovery_codes_left(user.id) == 10


async def test_an_unknown_well_formed_code_is_invalid(services: Services, two_factor: TwoFactor) -> None:
    user, _ = await enrolled_user(services)
    with pytest.raises(InvalidRecoveryCode):
        await two_factor.use_recovery_code(user.id, "abcd-efgh-ijkl-mnop")


async def test_another_users_code_does_not_work(services: Services, two_factor: TwoFactor) -> None:
    alice, _ = await enrolled_user(services, "alice")
    bob, bob_codes = await enrolled_user(services, "bob", OTHER_SECRET)
    with pytest.raises(InvalidRecoveryCode):
        await two_factor.use_recovery_code(alice.id, bob_codes[0])
    # Bob's code was not spent by the attempt on Alice's account.
    await two_factor.use_recovery_code(bob.id, bob_codes[0])


async def test_recovery_codes_left_counts_down(services: Services, two_factor: TwoFactor) -> None:
    user, codes = await enrolled_user(services)
    assert await two_factor.recovery_codes_left(user.id) == 10
    await two_factor.use_recovery_code(user.id, codes[3])
    assert await two_factor.recovery_codes_left(user.id) == 9
    await two_factor.use_recovery_code(user.id, codes[7])
    assert await two_factor.recovery_codes_left(user.id) == 8


async def test_concurrent_uses_of_one_recovery_code_give_one_success(
    services: Services, two_factor: TwoFactor
) -> None:
    user, codes = await enrolled_user(services)
    results = await asyncio.gather(
        *(two_factor.use_recovery_code(user.id, codes[0]) for _ in range(10)), return_exceptions=True
    )
    assert results.count(None) == 1
    assert all(isinstance(r, InvalidRecoveryCode) for r in results if r is not None)


async def test_a_reset_landing_mid_check_makes_the_claim_fail(services: Services, two_factor: TwoFactor) -> None:
    user, _ = await enrolled_user(services)
    await reset_two_factor(user.id)  # the caller still holds the row it loaded before the reset
    with pytest.raises(InvalidPin):
        await two_factor.verify_pin(user, pin(SECRET, NOW + STEP), now=NOW + STEP)
