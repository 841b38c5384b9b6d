"""The hand-written hot-path statements store and read exactly what the ORM stores and reads."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from web import db_statements
from web.db_statements import _in_dialect
from web.models import AuditEvent, User

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("database")]


async def test_fetch_one_reads_the_row_the_orm_reads() -> None:
    created = await User.create(username="alice", password_hash="h", totp_secret_sealed=b"\x00\x01sealed")
    await User.filter(id=created.id).update(locked_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc))
    by_orm = await User.get(id=created.id)
    fetched = await db_statements.fetch_one(User, id=created.id)
    assert fetched is not None
    for name in User._meta.fields_db_projection:
        assert getattr(fetched, name) == getattr(by_orm, name), name
    assert fetched.is_admin is False and fetched.has_totp and fetched.locked_at.tzinfo is not None  # type: ignore[union-attr]
    assert await db_statements.fetch_one(User, id=created.id + 1) is None


async def test_update_is_conditional_and_counts_the_rows_it_changed() -> None:
    alice = await User.create(username="alice", password_hash="h", totp_last_step=10)
    where = {"id": alice.id, "totp_last_step__lt": 11}
    moment = datetime.now(timezone.utc)
    assert await db_statements.update(User, where, {"totp_last_step": 11, "last_sign_in_at": moment}) == 1
    assert await db_statements.update(User, where, {"totp_last_step": 11}) == 0  # the condition fails now
    again = await User.get(id=alice.id)
    assert again.totp_last_step == 11 and again.last_sign_in_at == moment


async def test_comparisons_on_datetimes_order_like_the_orm() -> None:
    alice = await User.create(username="alice", password_hash="h", last_sign_in_at=datetime.now(timezone.utc))
    hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    assert await db_statements.update(User, {"id": alice.id, "last_sign_in_at__gte": hour_ago}, {"auth_epoch": 1}) == 1
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    assert await db_statements.update(User, {"id": alice.id, "last_sign_in_at__gte": later}, {"auth_epoch": 2}) == 0
    assert await User.filter(last_sign_in_at__gte=hour_ago, auth_epoch=1).count() == 1


async def test_insert_stores_a_row_the_orm_reads_back() -> None:
    at = datetime.now(timezone.utc)
    await db_statements.insert(
        AuditEvent, at=at, action="sign_in", outcome="success", actor="a", target="a",
        reason=None, via="web", client_address="127.0.0.1",
    )
    event = await AuditEvent.get(action="sign_in")
    assert (event.at, event.actor, event.reason, event.client_address) == (at, "a", None, "127.0.0.1")
    assert await AuditEvent.filter(at__lte=at + timedelta(seconds=1)).count() == 1


async def test_execute_runs_hand_written_sql_with_values_in_order() -> None:
    for name in ("a", "b", "c"):
        await User.create(username=name, password_hash="h")
    deleted = await db_statements.execute(User, "DELETE FROM users WHERE username = ? OR username = ?", "a", "c")
    assert deleted == 2 and [u.username for u in await User.all()] == ["b"]


async def test_fetch_value_reads_one_value() -> None:
    await User.create(username="a", password_hash="h")
    assert await db_statements.fetch_value(User, "SELECT COUNT(*) AS n FROM users WHERE username = ?", "a") == 1
    assert await db_statements.fetch_value(User, "SELECT id FROM users WHERE username = ?", "nobody") is None


async def test_placeholders_are_numbered_for_postgresql() -> None:
    sql = "UPDATE t SET a = ? WHERE b = ? AND c < ?"
    assert _in_dialect(sql, "sqlite") == sql
    assert _in_dialect(sql, "postgres") == "UPDATE t SET a = $1 WHERE b = $2 AND c < $3"


async def test_insert_returning_stores_the_row_and_evaluates_the_expression_for_it() -> None:
    from web.auth.devices import OTHER_DEVICES
    from web.models import KnownDevice

    alice = await User.create(username="alice", password_hash="h")
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    others = []
    for n in range(3):
        others.append(await db_statements.insert_returning(
            KnownDevice, OTHER_DEVICES, user_id=alice.id, fingerprint=f"f{n}", created_at=moment,
            last_used_at=moment, password_failures=0, password_blocked_until=0.0,
        ))
    assert [int(count) for count in others] == [0, 1, 2]  # type: ignore[call-overload]  # the others, not the new row
    stored = await KnownDevice.get(fingerprint="f2")
    assert stored.user_id == alice.id and stored.last_used_at == moment  # type: ignore[attr-defined]
