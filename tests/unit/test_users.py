"""Accounts: the one canonical username, duplicates, and the administrative 2FA reset."""

from __future__ import annotations

import pytest

from web.auth import totp
from web.auth.users import (
    UsernameError,
    UsernameTaken,
    create_user,
    find_user,
    normalise_username,
    reset_two_factor,
)
from web.models import RecoveryCode, User
from web.services import Services

PASSWORD = "correct horse battery staple"
NOW = 1_800_000_015.0
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice", "alice"),
        ("ＡLICE", "alice"),  # fullwidth A folds under NFKC
        ("Alice", "alice"),
        ("Straße", "strasse"),  # ß case-folds to ss
        ("  bob  ", "bob"),
        ("ops.admin_1@example-corp", "ops.admin_1@example-corp"),
        ("a" * 64, "a" * 64),
    ],
)
def test_normalise_username(raw: str, expected: str) -> None:
    assert normalise_username(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "<script>alert(1)</script>",
        "",
        "   ",
        "a" * 65,
        ".alice",
        "-alice",
        "al ice",
        "alice\x00",
        "zoë",
        "al\u200bice",  # zero-width space
    ],
)
def test_normalise_username_refuses(raw: str) -> None:
    with pytest.raises(UsernameError):
        normalise_username(raw)


@pytest.mark.anyio
@pytest.mark.usefixtures("database")
async def test_a_username_differing_only_in_case_is_taken(services: Services) -> None:
    await create_user(services.hashing, "alice", PASSWORD)
    with pytest.raises(UsernameTaken):
        await create_user(services.hashing, "ALICE", PASSWORD)
    assert await User.all().count() == 1


@pytest.mark.anyio
@pytest.mark.usefixtures("database")
async def test_create_user_stores_the_canonical_name_and_an_argon2id_hash(services: Services) -> None:
    user = await create_user(services.hashing, "ＡLICE", PASSWORD)
    stored = await User.get(id=user.id)
    assert stored.username == "alice"
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    assert (await find_user("Alice")) is not None


@pytest.mark.anyio
@pytest.mark.usefixtures("database")
async def test_reset_two_factor_removes_the_authenticator_and_codes_and_bumps_the_epoch(
    services: Services,
) -> None:
    user = await create_user(services.hashing, "alice", PASSWORD)
    await services.two_factor.confirm_enrollment(user.id, SECRET, totp.code_at(SECRET, totp.current_step(NOW)), now=NOW)
    before = await User.get(id=user.id)
    assert before.has_totp and await RecoveryCode.filter(user_id=user.id).count() == 10

    await reset_two_factor(user.id)

    after = await User.get(id=user.id)
    assert after.totp_secret_sealed is None and after.totp_key_id is None and after.totp_enabled_at is None
    assert await RecoveryCode.filter(user_id=user.id).count() == 0
    assert after.auth_epoch == before.auth_epoch + 1


@pytest.mark.anyio
@pytest.mark.usefixtures("database")
async def test_reset_two_factor_leaves_other_users_alone(services: Services) -> None:
    alice = await create_user(services.hashing, "alice", PASSWORD)
    bob = await create_user(services.hashing, "bob", PASSWORD)
    code = totp.code_at(SECRET, totp.current_step(NOW))
    await services.two_factor.confirm_enrollment(alice.id, SECRET, code, now=NOW)
    await services.two_factor.confirm_enrollment(bob.id, SECRET, code, now=NOW)

    await reset_two_factor(alice.id)

    still = await User.get(id=bob.id)
    assert still.has_totp and still.auth_epoch == 0
    assert await RecoveryCode.filter(user_id=bob.id).count() == 10
