"""A session record read ahead (with the per-address hit) stands in only for the very read it saves."""

from __future__ import annotations

import msgspec
import pytest

from web.auth.flow import SignInState, Stage
from web.session_backends import MemorySessions
from web.sessions import ReadAhead, SessionStore

pytestmark = pytest.mark.anyio

STATE = SignInState(
    stage=Stage.PENDING, user_id=7, username="alice", is_admin=False, auth_epoch=0,
    started_at=1.0, stage_at=1.0, seen_at=1.0,
)


def scope_with(cookie_header: bytes) -> dict[str, object]:
    return {"type": "http", "headers": [(b"host", b"x"), (b"cookie", cookie_header)]}


@pytest.fixture
def store() -> SessionStore:
    return SessionStore(MemorySessions(), secure=False, idle_seconds=600)


async def test_the_read_ahead_of_the_cookies_session_is_used(store: SessionStore) -> None:
    session_id = await store.create(STATE)
    key = store.store_key_in(scope_with(f"csrftoken=t; {store.cookie_name}={session_id}".encode()))  # type: ignore[arg-type]
    assert key is not None
    await store.destroy(session_id)  # the backend no longer has it: what is loaded comes from the read-ahead
    assert await store.load(session_id, ReadAhead(key, msgspec.msgpack.encode(STATE))) == STATE
    assert await store.load(session_id, ReadAhead(key, None)) is None  # read ahead and absent: absent


async def test_a_read_ahead_of_another_key_is_ignored(store: SessionStore) -> None:
    session_id = await store.create(STATE)
    other = store.store_key_in(scope_with(f"{store.cookie_name}=another-id".encode()))  # type: ignore[arg-type]
    assert other is not None
    assert await store.load(session_id, ReadAhead(other, None)) == STATE  # read from the backend instead


def test_no_key_without_a_plausible_session_cookie(store: SessionStore) -> None:
    for header in (b"", b"csrftoken=t", f"{store.cookie_name}=".encode(), f"{store.cookie_name}={'x' * 129}".encode(),
                   f"x{store.cookie_name}=abc".encode()):
        assert store.store_key_in(scope_with(header)) is None, header  # type: ignore[arg-type]
    assert store.store_key_in({"type": "http", "headers": []}) is None  # type: ignore[arg-type]
