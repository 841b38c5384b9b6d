"""Server-side sessions with rotation: the id changes at every sign-in step and is never adopted.

Litestar's own server-side sessions reuse whatever id the client sends and never rotate it, so
this module keeps the few lines it needs itself. The backend (memory or Redis,
web/session_backends.py) only ever sees a hash of the id: a dump of it gives nobody a cookie that
works.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import msgspec
from litestar.datastructures import Cookie
from litestar.types import Scope

from web.auth.flow import SignInState
from web.cookies import PlainCookie
from web.session_backends import SessionBackend

SESSION_ID_BYTES = 32
MAX_SESSION_ID_CHARS = 128  # ours are 43; a longer cookie is never looked up
SESSION_COOKIE = "provconnect_session"
DEVICE_COOKIE = "provconnect_device"
DEVICE_COOKIE_MAX_AGE_SECONDS = 90 * 24 * 3600
SECURE_PREFIX = "__Host-"

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SignInState)


@dataclass(frozen=True, slots=True)
class CookieNames:
    session: str
    csrf: str
    device: str


def cookie_names(secure: bool) -> CookieNames:
    # __Host- cookies are Secure, host-only and path=/: a sibling subdomain cannot plant them.
    prefix = SECURE_PREFIX if secure else ""
    return CookieNames(session=prefix + SESSION_COOKIE, csrf=prefix + "csrftoken", device=prefix + DEVICE_COOKIE)


def _new_session_id() -> str:
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def _store_key(session_id: str) -> str:
    return "session:" + hashlib.sha256(session_id.encode()).hexdigest()


# Where a read-ahead of the session record waits in the ASGI scope's state for the handler.
READ_AHEAD = "provconnect.session_read_ahead"


@dataclass(frozen=True, slots=True)
class ReadAhead:
    """A session record read before the handler ran, in a round trip that was made anyway.

    The per-address limit's hit in Redis brings back the record of the session cookie the request
    carries (web/views/address_limit.py): one round trip instead of two on every post. It is the
    same read the handler would make a moment later; :meth:`SessionStore.load` uses it only for
    the very key it would have read.
    """

    store_key: str
    record: bytes | None


class SessionStore:
    """Sessions in a backend, keyed by a hash of their random id."""

    def __init__(self, backend: SessionBackend, *, secure: bool, idle_seconds: int) -> None:
        self._backend = backend
        self._secure = secure
        self._idle_seconds = idle_seconds
        self.cookie_name = cookie_names(secure).session
        self.device_cookie_name = cookie_names(secure).device

    def store_key_in(self, scope: Scope) -> str | None:
        """The backend key of the session cookie in ``scope``'s headers, for a read-ahead."""
        for name, value in scope["headers"]:
            if name == b"cookie":
                for pair in value.decode("latin-1").split(";"):
                    key, _, session_id = pair.strip().partition("=")
                    if key == self.cookie_name and session_id and len(session_id) <= MAX_SESSION_ID_CHARS:
                        return _store_key(session_id)
        return None

    async def load(self, session_id: str | None, read_ahead: ReadAhead | None = None) -> SignInState | None:
        if not session_id or len(session_id) > MAX_SESSION_ID_CHARS:
            return None
        key = _store_key(session_id)
        raw = read_ahead.record if read_ahead is not None and read_ahead.store_key == key else await self._backend.get(key)
        if raw is None:
            return None  # unknown or ended id: never adopted, the caller starts anonymous
        try:
            return _decoder.decode(raw)
        except msgspec.DecodeError:
            return None

    async def create(self, state: SignInState) -> str:
        session_id = _new_session_id()
        await self._backend.put(_store_key(session_id), _encoder.encode(state), self._idle_seconds)
        return session_id

    async def rotate(self, old_id: str | None, state: SignInState) -> str:
        """Store ``state`` under a fresh id and delete the old one, in one step."""
        if not old_id:
            return await self.create(state)
        new_id = _new_session_id()
        await self._backend.replace(_store_key(old_id), _store_key(new_id), _encoder.encode(state), self._idle_seconds)
        return new_id

    async def save(self, session_id: str, state: SignInState) -> bool:
        """Update a live session; False (and nothing written) if it ended meanwhile.

        A request that loaded the session before a sign-out, rotation or reset finished must not
        write it back to life: the backend writes only if the key is still there, in one step.
        """
        return await self._backend.update(_store_key(session_id), _encoder.encode(state), self._idle_seconds)

    async def destroy(self, session_id: str | None) -> None:
        """End a session. A late save finds no key and writes nothing (see :meth:`save`)."""
        if session_id:
            await self._backend.delete(_store_key(session_id))

    def cookie(self, session_id: str) -> Cookie:
        # No max-age: a browser session cookie; the server-side timeouts decide the real end.
        return self._cookie(self.cookie_name, session_id)

    def device_cookie(self, token: str) -> Cookie:
        """The known-device cookie: long-lived, but it only picks a password-throttling counter."""
        return self._cookie(self.device_cookie_name, token, max_age=DEVICE_COOKIE_MAX_AGE_SECONDS)

    def expired_cookie(self) -> Cookie:
        return self._cookie(self.cookie_name, "", max_age=0)

    def _cookie(self, key: str, value: str, *, max_age: int | None = None) -> Cookie:
        return PlainCookie(
            key=key, value=value, path="/", secure=self._secure, httponly=True, samesite="lax", max_age=max_age
        )
