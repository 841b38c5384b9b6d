"""First run: the one-time link printed on an empty installation creates the first administrator."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Template

from web.auth.passwords import PasswordPolicyError, check_password_policy
from web.auth.setup_tokens import redeem_setup_token, setup_token_valid
from web.auth.users import UsernameError, create_user, normalise_username
from web.views.deps import AppServices
from web.views.forms import FormInvalid, read_form
from web.views.render import render
from web.views.signin import AUTH_BODY_LIMIT_BYTES, show_next
from web.views.visit import advance, open_visit

LINK_NOT_VALID = "This setup link is not valid. It may have been used already; an administrator can add users."


class SetupForm(msgspec.Struct):
    token: Annotated[str, msgspec.Meta(max_length=128)]
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]


SETUP_MESSAGES = {
    "token": LINK_NOT_VALID,
    "username": "Choose a username.",
    "password": "Choose a password of 8 to 1,024 characters.",
}


@get("/setup")
async def setup_page(request: Request, services: AppServices, token: FromQuery[str] = "") -> Template:
    if not await setup_token_valid(services.keyed, token):
        return _link_not_valid(request)
    return render(request, "setup", {"token": token})


@post("/setup", request_max_body_size=AUTH_BODY_LIMIT_BYTES)
async def setup_submit(request: Request, services: AppServices) -> Response:
    try:
        form = await read_form(request, SetupForm, SETUP_MESSAGES)
    except FormInvalid as invalid:
        return render(request, "setup", {"errors": invalid.errors}, status=invalid.status)
    if not await setup_token_valid(services.keyed, form.token):
        return _link_not_valid(request)
    try:
        name = normalise_username(form.username)
        check_password_policy(form.password)
    except (UsernameError, PasswordPolicyError) as bad:
        field = "username" if isinstance(bad, UsernameError) else "password"
        context = {"errors": {field: str(bad)}, "token": form.token, "username": form.username}
        return render(request, "setup", context, status=422)
    if not await redeem_setup_token(services.keyed, form.token):
        return _link_not_valid(request)
    user = await create_user(services.hashing, name, form.password, is_admin=True)
    # The new administrator goes straight on to set up their authenticator.
    state = await services.flow.start(user, now=services.clock())
    visit = await open_visit(request, services)
    return await show_next(request, services, await advance(services, visit, state))


def _link_not_valid(request: Request) -> Template:
    return render(request, "setup", {"errors": {"_form": LINK_NOT_VALID}, "token": None}, status=404)
