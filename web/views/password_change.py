"""The forced password change: after an admin's password reset, the next sign-in replaces it first."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import Cookie

from web.auth.flow import SignInState, Stage
from web.services import Services
from web.views.account import as_new_password_errors, require_same_twice
from web.views.deps import AppServices
from web.views.forms import read_form
from web.views.panels import panel_for
from web.views.refusals import Refusal, refusals
from web.views.render import render
from web.views.signin import AUTH_BODY_LIMIT_BYTES, SESSION_ENDED, show_next
from web.views.visit import advance, open_visit

NOT_NOW = "That step is not available now."


class NewPasswordForm(msgspec.Struct):
    new_password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    repeat_password: Annotated[str, msgspec.Meta(max_length=1024)]


MESSAGES = {
    "new_password": "Choose a password of 8 to 1,024 characters.",
    "repeat_password": "Repeat the new password.",
}


@post("/signin/new-password", request_max_body_size=AUTH_BODY_LIMIT_BYTES)
async def new_password(request: Request, services: AppServices) -> Response:
    visit = await open_visit(request, services)
    if visit.state is None or visit.state.stage is not Stage.CHANGE_PASSWORD:
        return _not_now(request, services, visit.state, visit.cookies)
    try:
        async with refusals():
            form = await read_form(request, NewPasswordForm, MESSAGES)
            require_same_twice(form.new_password, form.repeat_password)
            state = await services.account.choose_new_password(visit.state, form.new_password, now=services.clock())
    except Refusal as refused:
        context = {"username": visit.state.username, "errors": as_new_password_errors(refused.errors)}
        return render(request, "change_password", context, status=refused.status, headers=refused.headers)
    return await show_next(request, services, await advance(services, visit, state))


def _not_now(request: Request, services: Services, state: SignInState | None, cookies: list[Cookie]) -> Response:
    if state is None:
        return render(request, "credentials", {"errors": {"_form": SESSION_ENDED}}, status=403, cookies=cookies)
    panel, context = panel_for(services, state)
    return render(request, panel, {**context, "errors": {"_form": NOT_NOW}}, status=403)
