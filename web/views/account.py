"""The account page: one's own password, recovery codes, authenticator and recent sign-ins.

Only a fully signed-in session gets here (guard ``signed_in_only``). Changing the password needs
the current one and ends every other session; new recovery codes and a new authenticator need a
PIN from the current authenticator (none is asked when setting one up for the first time).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromQuery
from litestar.response import Template

from web.auth import audit, policy, totp
from web.auth.directory import two_factor_label
from web.auth.flow import SignInState
from web.auth.users import get_user_by_id
from web.services import Services
from web.views.access import ACCESS_HANDLERS, signed_in_only, signed_in_state, visit_of
from web.views.deps import AppServices
from web.views.forms import FormInvalid, read_form
from web.views.refusals import Refusal, refusals
from web.views.render import is_htmx, render, see_other
from web.views.visit import advance

ACCOUNT_BODY_LIMIT_BYTES = 16 * 1024
PIN_MESSAGE = "Enter the 6-digit code from your authenticator app."
NOT_THE_SAME = "The two new passwords differ."
DONE = {
    "password": "Your password was changed. Your other sessions have ended.",
    "authenticator": "Your new authenticator app is set up; the old one no longer works.",
    "cancelled": "Nothing was changed.",
}
CODES_ISSUED = "New recovery codes: save them now, they are shown only once. The old codes no longer work."


class PasswordChangeForm(msgspec.Struct):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    new_password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    repeat_password: Annotated[str, msgspec.Meta(max_length=1024)]


PASSWORD_MESSAGES = {
    "current_password": "Enter your current password.",
    "new_password": "Choose a password of 8 to 1,024 characters.",
    "repeat_password": "Repeat the new password.",
}


class PinForm(msgspec.Struct):
    pin: Annotated[str, msgspec.Meta(max_length=64)] = ""


class AccountController(Controller):
    path = "/account"
    guards = [signed_in_only]
    exception_handlers = ACCESS_HANDLERS  # type: ignore[assignment]
    request_max_body_size = ACCOUNT_BODY_LIMIT_BYTES

    @get("/")
    async def page(self, request: Request, services: AppServices, done: FromQuery[str] = "") -> Template:
        return await account_page(request, services, signed_in_state(request), notice=DONE.get(done))

    @post("/password")
    async def change_password(self, request: Request, services: AppServices) -> Response:
        visit = visit_of(request)
        try:
            async with refusals():
                form = await read_form(request, PasswordChangeForm, PASSWORD_MESSAGES)
                require_same_twice(form.new_password, form.repeat_password)
                state = await services.account.change_password(
                    signed_in_state(request), form.current_password, form.new_password, now=services.clock()
                )
        except Refusal as refused:
            errors = as_new_password_errors(refused.errors)
            return await account_page(request, services, signed_in_state(request), status=refused.status,
                                  headers=refused.headers, password_errors=errors)
        # The epoch moved on (other sessions end): this one goes on under a fresh id, with the new epoch.
        advanced = await advance(services, visit, state)
        if not is_htmx(request):
            return see_other("/account?done=password", cookies=advanced.cookies)
        return await account_page(request, services, advanced.state, notice=DONE["password"], cookies=advanced.cookies,
                              csrf_token=advanced.csrf_token)

    @post("/recovery-codes")
    async def regenerate_codes(self, request: Request, services: AppServices) -> Response:
        visit = visit_of(request)
        try:
            async with refusals():
                pin = await read_pin(request)
                state, codes = await services.account.regenerate_recovery_codes(
                    signed_in_state(request), pin, now=services.clock()
                )
        except Refusal as refused:
            return await account_page(request, services, signed_in_state(request), status=refused.status,
                                  headers=refused.headers, codes_errors=refused.errors)
        await services.sessions.save(visit.session_id, state)  # type: ignore[arg-type]
        # Shown once, in this answer (a plain post too: there is nothing to redirect to that could show them).
        return await account_page(request, services, state, notice=CODES_ISSUED, new_codes=codes)


# -- named steps ---------------------------------------------------------------------------------


def require_same_twice(new: str, repeated: str) -> None:
    if new != repeated:
        raise FormInvalid({"repeat_password": NOT_THE_SAME})


def as_new_password_errors(errors: dict[str, str]) -> dict[str, str]:
    """The password policy speaks of "password"; on these forms the box is "new_password"."""
    return {("new_password" if name == "password" else name): text for name, text in errors.items()}


async def read_pin(request: Request) -> str:
    form = await read_form(request, PinForm, {"pin": PIN_MESSAGE})
    return totp.normalise_pin(form.pin)


async def account_page(
    request: Request,
    services: Services,
    state: SignInState,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    cookies: Iterable[Cookie] = (),
    csrf_token: str | None = None,
    **extra: Any,
) -> Template:
    user = await get_user_by_id(state.user_id)
    context = {
        "username": user.username,
        "is_admin": user.is_admin,
        "two_factor_state": two_factor_label(user),
        "has_totp": user.has_totp,
        "two_factor_required": await policy.two_factor_required(),
        "recovery_codes_left": await services.two_factor.recovery_codes_left(user.id),
        "recent": await audit.recent_sign_ins(user.username),
        "audit_labels": audit.LABELS,
        "format_time": audit.format_time,
        "new_codes": None,
        "password_errors": {},
        "codes_errors": {},
        "authenticator_errors": {},
        **extra,
    }
    return render(request, "account", context, status=status, headers=headers, cookies=cookies, csrf_token=csrf_token)
