"""The page itself (GET /) and the health check. The account page lives in web/views/account.py."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.params import FromQuery
from litestar.response import Template

from web.db import database_answers
from web.views.access import SESSION_ENDED_NOTICE
from web.views.deps import AppServices
from web.views.panels import panel_for
from web.views.render import render
from web.views.visit import open_visit


@get("/")
async def index(request: Request, services: AppServices, use: FromQuery[str | None] = None) -> Template:
    """The sign-in page at whatever step this browser is, or the console home when signed in."""
    visit = await open_visit(request, services)
    panel, context = panel_for(services, visit.state, use_recovery=use == "recovery")
    if visit.ended:
        context = {**context, "notice": SESSION_ENDED_NOTICE}
    return render(request, panel, context, cookies=visit.cookies)


@get("/healthz", cache=False)
async def healthz() -> Response[str]:
    if await database_answers():
        return Response("ok\n", media_type="text/plain", status_code=200)
    return Response("database unavailable\n", media_type="text/plain", status_code=503)
