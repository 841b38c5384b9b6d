"""The page itself (GET /), the account page and the health check."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.params import FromQuery
from litestar.response import Template

from web.auth.users import get_user_by_id, two_factor_state
from web.db import database_answers
from web.services import Services
from web.views.deps import AppServices
from web.views.panels import panel_for
from web.views.render import render
from web.views.visit import open_visit

SESSION_ENDED_NOTICE = "Your session has ended. Sign in again."


@get("/")
async def index(request: Request, services: AppServices, use: FromQuery[str | None] = None) -> Template:
    """The sign-in page at whatever step this browser is, or the console home when signed in."""
    visit = await open_visit(request, services)
    panel, context = panel_for(services, visit.state, use_recovery=use == "recovery")
    if visit.ended:
        context = {**context, "notice": SESSION_ENDED_NOTICE}
    return render(request, panel, context, cookies=visit.cookies)


@get("/account")
async def account(request: Request, services: AppServices) -> Template:
    """The signed-in user's own settings; anyone else gets the sign-in step they are at."""
    visit = await open_visit(request, services)
    if not visit.signed_in:
        panel, context = panel_for(services, visit.state)
        return render(request, panel, context, cookies=visit.cookies)
    state = visit.state
    assert state is not None
    user = await get_user_by_id(state.user_id)
    context = {
        "username": user.username,
        "is_admin": user.is_admin,
        "two_factor_state": two_factor_state(user).capitalize(),
        "recovery_codes_left": await services.two_factor.recovery_codes_left(user.id),
    }
    return render(request, "account", context)


@get("/healthz", cache=False)
async def healthz() -> Response[str]:
    if await database_answers():
        return Response("ok\n", media_type="text/plain", status_code=200)
    return Response("database unavailable\n", media_type="text/plain", status_code=503)
