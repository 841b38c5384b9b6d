"""Tell the audit log which client address the request being served comes from.

A plain ASGI middleware: it runs in the task that serves the request, so the context variable it
sets is what ``web.auth.audit.record`` reads, without the domain code ever seeing the request.
The address is the peer of the connection (``request.client.host``); behind a proxy that is the
proxy, as the server does not trust forwarded headers.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Receive, Scope, Send

from web.auth.audit import CLIENT_ADDRESS


def audit_context(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        token = CLIENT_ADDRESS.set(client[0] if client else None)
        try:
            await app(scope, receive, send)
        finally:
            CLIENT_ADDRESS.reset(token)

    return middleware
