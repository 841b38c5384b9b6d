"""Administration domain: the rules of the actions, the audit log's hygiene, the users directory."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from web.auth import admin_actions, audit, policy
from web.auth.admin_actions import COMMAND_LINE, ActionRefused, Actor
from web.auth.directory import UserFilter, find_users
from web.auth.paging import MAX_PAGE_NUMBER, page_number
from web.auth.users import create_user
from web.models import AuditEvent, User
from web.services import Services

LOCKED_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)  # a real datetime: PostgreSQL refuses strings

PASSWORD = "correct horse battery staple"

def with_database(test):  # type: ignore[no-untyped-def]
    return pytest.mark.anyio(pytest.mark.usefixtures("database")(test))


async def _user(services: Services, name: str, **changes: object) -> User:
    user = await create_user(services.hashing, name, PASSWORD)
    if changes:
        await User.filter(id=user.id).update(**changes)
    return await User.get(id=user.id)


@with_database
async def test_the_last_enabled_admin_can_be_neither_disabled_nor_demoted(services: Services) -> None:
    root = await _user(services, "root", is_admin=True)
    for slug in ("disable", "remove-admin"):
        with pytest.raises(ActionRefused, match="last enabled administrator"):
            await admin_actions.perform(slug, COMMAND_LINE, root.id)
    # A disabled admin does not count as one who can still manage the installation.
    other = await _user(services, "other", is_admin=True, is_disabled=True)
    with pytest.raises(ActionRefused):
        await admin_actions.perform("remove-admin", COMMAND_LINE, root.id)
    await admin_actions.perform("enable", COMMAND_LINE, other.id)
    await admin_actions.perform("remove-admin", COMMAND_LINE, root.id)
    assert not (await User.get(id=root.id)).is_admin
    outcomes = await AuditEvent.filter(target="root").order_by("id").values_list("outcome", flat=True)
    assert outcomes == ["refused", "refused", "refused", "success"]


@with_database
async def test_two_admins_demoting_each_other_at_once_leave_one(services: Services) -> None:
    first = await _user(services, "first", is_admin=True)
    second = await _user(services, "second", is_admin=True)
    results = await asyncio.gather(
        admin_actions.perform("remove-admin", Actor("first", first.id), second.id),
        admin_actions.perform("remove-admin", Actor("second", second.id), first.id),
        return_exceptions=True,
    )
    assert sum(isinstance(result, ActionRefused) for result in results) == 1
    assert await User.filter(is_admin=True).count() == 1


@with_database
async def test_reset_and_revoke_tell_the_user_and_end_sessions(services: Services) -> None:
    bob = await _user(services, "bob", totp_secret_sealed=b"x" * 40, totp_key_id="k1")
    await admin_actions.perform("revoke-2fa", COMMAND_LINE, bob.id)
    revoked = await User.get(id=bob.id)
    assert revoked.totp_exempt and not revoked.has_totp and revoked.auth_epoch == 1
    assert revoked.two_factor_changed_by_admin == "revoke" and revoked.two_factor_changed_at is not None
    await admin_actions.perform("require-2fa", COMMAND_LINE, bob.id)
    required = await User.get(id=bob.id)
    assert not required.totp_exempt and required.auth_epoch == 2 and required.two_factor_changed_by_admin == "require"
    with pytest.raises(ActionRefused) as refused:
        await admin_actions.perform("require-2fa", COMMAND_LINE, bob.id)
    assert refused.value.status == 409


@with_database
async def test_policy_defaults_to_required_and_is_switched_with_an_audit_entry(services: Services) -> None:
    assert await policy.two_factor_required()
    await admin_actions.set_two_factor_policy(Actor("root", 1, client_address="192.0.2.7"), False, reason="pilot")
    assert not await policy.two_factor_required()
    event = await AuditEvent.get(action=audit.POLICY_2FA_OFF)
    assert (event.actor, event.client_address, event.reason) == ("root", "192.0.2.7", "pilot")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("lost\nphone\r\n\tticket\x1b[31m 42", "lost phone ticket [31m 42"),
        ("x" * 600, "x" * audit.REASON_MAX_CHARS),
    ],
)
def test_reasons_are_one_clean_line(raw: str | None, stored: str | None) -> None:
    assert audit.clean_reason(raw) == stored


@with_database
async def test_audit_record_takes_the_address_from_the_request_context(services: Services) -> None:
    token = audit.CLIENT_ADDRESS.set("198.51.100.4")
    try:
        await audit.record(audit.SIGN_IN, actor="bob", target="bob")
    finally:
        audit.CLIENT_ADDRESS.reset(token)
    assert (await AuditEvent.get(action=audit.SIGN_IN)).client_address == "198.51.100.4"


@with_database
async def test_directory_search_filters_and_pages(services: Services) -> None:
    await User.bulk_create([User(username=f"user_{number:03d}", password_hash="x") for number in range(120)])
    await _user(services, "userx001")  # "_" in a search is a character, not a LIKE wildcard
    await _user(services, "locked1", locked_at=LOCKED_AT)
    await _user(services, "exempt1", totp_exempt=True)
    page = await find_users(UserFilter(search="USER_0"), 1, size=50)
    assert page.total == 100 and len(page.items) == 50 and page.pages == 2
    assert [user.username for user in page.items][:2] == ["user_000", "user_001"]
    last = await find_users(UserFilter(search="user_0"), 99, size=50)  # past the end: the last page
    assert last.number == 2 and last.items[-1].username == "user_099"
    assert [u.username for u in (await find_users(UserFilter(state="locked"), 1)).items] == ["locked1"]
    assert [u.username for u in (await find_users(UserFilter(state="exempt"), 1)).items] == ["exempt1"]
    assert (await find_users(UserFilter(state="bogus"), 1)).total == 123


def test_page_numbers_are_clamped() -> None:
    assert page_number(None) == 1 and page_number(-5) == 1 and page_number(10**12) == MAX_PAGE_NUMBER
