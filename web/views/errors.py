"""Every 4xx and 5xx is a readable page or fragment, never a stack trace."""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.response import Template

from web.views.render import render

logger = logging.getLogger("provconnect.errors")

TITLES = {
    400: "That request was not understood",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed here",
    413: "That request is too large",
    415: "Send the form as a web form",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}
MESSAGES = {
    400: "Reload the page and try again.",
    403: "Reload the page and try again. If this keeps happening, make sure cookies are enabled.",
    404: "There is nothing at this address.",
    405: "Reload the page and try again.",
    413: "Reload the page and try again.",
    429: "Too many attempts from your network address. Try again in a minute.",
    415: "Reload the page and try again.",
    500: "The error was logged. Try again in a moment.",
    503: "The service cannot reach its database. Try again in a moment.",
}
CSRF_FAILED = "CSRF token verification failed"


def _error_page(request: Request, status: int, message: str | None = None) -> Template:
    context = {
        "status": status,
        "title": TITLES.get(status, "Request refused"),
        "message": message or MESSAGES.get(status, "Reload the page and try again."),
    }
    return render(request, "error", context, status=status)


def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    message = None
    if isinstance(exc, PermissionDeniedException):
        # Litestar's CSRF middleware says CSRF_FAILED; explain it in words a person can act on.
        message = "This form has expired. Reload the page and try again." if exc.detail == CSRF_FAILED else exc.detail
    response = _error_page(request, exc.status_code, message)
    if exc.headers:
        response.headers.update(exc.headers)  # the per-address limit's Retry-After among them
    return response


def database_unavailable_handler(request: Request, exc: Exception) -> Response:
    """Fail closed: nothing was stored and nobody was let in; say so and let the client retry."""
    logger.error("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    response = _error_page(request, 503)
    response.headers["retry-after"] = "5"
    return response


def internal_error_handler(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error_page(request, 500)
