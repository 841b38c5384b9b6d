"""Who may reach the account and administration routes, and what everyone else gets instead.

Guards run before any handler of the controllers that list them, fragments included: a visitor
who is not fully signed in gets the sign-in step they are at, a signed-in non-admin gets 403 on
every admin route. htmx is told to put either answer in place of the whole panel (HX-Retarget),
so a refused click inside a table row cannot nest a sign-in form in the row.
"""

from __future__ import annotations

from typing import cast

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from web.auth.flow import SignInState
from web.services import Services
from web.views.panels import panel_for
from web.views.render import is_htmx, render
from web.views.visit import Visit, open_visit

RETARGET_PANEL = {"hx-retarget": "#panel", "hx-reswap": "outerHTML"}
NOT_ADMIN = "Only administrators can use this page."
SESSION_ENDED_NOTICE = "Your session has ended. Sign in again."


class SignInRequired(HTTPException):
    """The visitor is not (or no longer) fully signed in."""

    status_code = 403

    def __init__(self, visit: Visit) -> None:
        super().__init__(detail="sign in required")
        self.visit = visit


async def signed_in_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    services = cast(Services, connection.app.state.services)
    visit = await open_visit(cast(Request, connection), services)
    connection.state.visit = visit
    if not visit.signed_in:
        raise SignInRequired(visit)


async def admin_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    await signed_in_only(connection, handler)
    if not signed_in_state(connection).is_admin:  # refreshed from the database by resume()
        raise PermissionDeniedException(NOT_ADMIN, headers=RETARGET_PANEL)


def visit_of(connection: ASGIConnection) -> Visit:
    return cast(Visit, connection.state.visit)


def signed_in_state(connection: ASGIConnection) -> SignInState:
    state = visit_of(connection).state
    assert state is not None  # the guards let only signed-in visits through
    return state


def sign_in_required(request: Request, exc: SignInRequired) -> Response:
    """The sign-in step this browser is at: a page for a plain GET, a 403 panel for anything else."""
    services = cast(Services, request.app.state.services)
    panel, context = panel_for(services, exc.visit.state)
    if exc.visit.ended:
        context = {**context, "notice": SESSION_ENDED_NOTICE}
    status = 200 if request.method == "GET" and not is_htmx(request) else 403
    return render(request, panel, context, status=status, cookies=exc.visit.cookies, headers=RETARGET_PANEL)


ACCESS_HANDLERS = {SignInRequired: sign_in_required}
