"""Per-client-address limit on state-changing requests, counted in the shared counters.

This is the coarse outer fence (floods, password spraying from one address); the per-account
counters in web/auth/throttle.py are what stop guessing. The limit is loose so that an office
behind one address can still sign in at nine o'clock: a sign-in is about 2 to 8 posts. Each post
is one atomic hit on a one-minute window shared by every instance (web/window_counters.py).

In Redis the hit also brings back the record of the session the post carries, so the handler
does not make a round trip of its own for it (web/sessions.py, ``ReadAhead``).
"""

from __future__ import annotations

import math

from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from web.sessions import READ_AHEAD, ReadAhead, SessionStore
from web.window_counters import Hit, WindowCounters

POSTS_PER_ADDRESS_PER_MINUTE = 600
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class PerAddressLimit(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(
        self, counters: WindowCounters, sessions: SessionStore, limit: int = POSTS_PER_ADDRESS_PER_MINUTE
    ) -> None:
        self._counters = counters
        self._sessions = sessions
        self._limit = limit

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["method"] not in READ_ONLY_METHODS:
            client = scope.get("client")
            session_key = self._sessions.store_key_in(scope) if self._counters.reads_along else None
            hit = await self._counters.hit(f"address:{client[0] if client else ''}", read_along=session_key)
            if hit.count > self._limit:
                raise TooManyRequestsException(headers=self._refusal_headers(hit))
            if session_key is not None:
                scope.setdefault("state", {})[READ_AHEAD] = ReadAhead(session_key, hit.read_along)
        await next_app(scope, receive, send)

    def _refusal_headers(self, hit: Hit) -> dict[str, str]:
        reset = str(max(1, math.ceil(hit.resets_in)))
        return {
            "Retry-After": reset,
            "RateLimit-Limit": str(self._limit),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": reset,
            "RateLimit-Policy": f"{self._limit}; w={self._counters.window_seconds}",
        }
