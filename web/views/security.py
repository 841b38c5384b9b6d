"""Response headers every answer carries, and the same-origin check on state-changing requests."""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import PermissionDeniedException
from litestar.types import Message, Scope

# No inline script or style anywhere, so the policy needs no 'unsafe-*' source at all.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on every post.
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
STATIC_PREFIX = "/static/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CROSS_SITE_REFUSED = "This request came from another site and was refused."


async def add_security_headers(message: Message, scope: Scope) -> None:
    """before_send hook: security headers everywhere, and no-store on everything but static files."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    if not scope.get("path", "").startswith(STATIC_PREFIX):
        headers["cache-control"] = "no-store"
        headers["vary"] = "HX-Request, Cookie"


async def require_same_origin(request: Request) -> None:
    """before_request hook: refuse a state-changing request that a browser says is cross-site.

    Browsers send Sec-Fetch-Site on every request; older ones at least send Origin on posts.
    A client that sends neither (curl, a script) still needs the CSRF token. async on purpose:
    Litestar runs a plain function here in a worker thread, a thread hop on every request.
    """
    if request.method in SAFE_METHODS:
        return
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        if fetch_site != "same-origin":
            raise PermissionDeniedException(CROSS_SITE_REFUSED)
        return
    origin = request.headers.get("origin")
    if origin is not None and not _same_origin(origin, request):
        raise PermissionDeniedException(CROSS_SITE_REFUSED)


def _same_origin(origin: str, request: Request) -> bool:
    if origin == "null":
        return False
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()
