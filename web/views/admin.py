"""Administration: the users table, per-row actions with inline confirmation, adding users, the 2FA policy.

Every route is behind ``admin_only`` (fragments included), every post carries the CSRF token, and
every change needs a second factor checked in the last 10 minutes: when it is older, the forms
show a PIN box and the change is made only if the PIN is right (step-up).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from web.auth import admin_actions, policy
from web.auth.audit import REASON_MAX_CHARS
from web.models import User
from web.services import Services
from web.views.access import ACCESS_HANDLERS, admin_only, signed_in_state, visit_of
from web.views.admin_copy import ALL_SLUGS, RESET_PASSWORD
from web.views.admin_support import (
    ADMIN_BODY_LIMIT_BYTES,
    AdminQuery,
    OpenRow,
    actor_of,
    page_context,
    respond,
    row_basics,
    users_context,
    verified,
)
from web.views.deps import AppServices
from web.views.forms import read_form
from web.views.refusals import Refusal, refusals
from web.views.render import is_htmx, render, see_other

USERS_REGION = "partials/admin/users.html"
ROW_REGION = "partials/admin/user_row.html"
ADD_REGION = "partials/admin/add_user.html"
POLICY_REGION = "partials/admin/policy.html"
USERS_CHANGED = {"hx-trigger": "users-changed"}  # the users table reloads itself on this event


class ActionForm(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(max_length=REASON_MAX_CHARS)] = ""
    pin: Annotated[str, msgspec.Meta(max_length=64)] = ""
    password: Annotated[str, msgspec.Meta(max_length=1024)] = ""


class AddUserForm(msgspec.Struct):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    admin: str = ""
    pin: Annotated[str, msgspec.Meta(max_length=64)] = ""


class PolicyForm(msgspec.Struct):
    required: str = ""
    reason: Annotated[str, msgspec.Meta(max_length=REASON_MAX_CHARS)] = ""
    pin: Annotated[str, msgspec.Meta(max_length=64)] = ""


MESSAGES = {
    "reason": f"Keep the reason under {REASON_MAX_CHARS} characters.",
    "pin": "Enter the 6-digit code from your authenticator app.",
    "password": "Enter an initial password of 8 to 1,024 characters.",
    "username": "Enter a username.",
    "admin": "Tick the box or leave it.",
    "required": "Tick the box or leave it.",
}


class AdminController(Controller):
    path = "/admin"
    guards = [admin_only]
    exception_handlers = ACCESS_HANDLERS  # type: ignore[assignment]
    request_max_body_size = ADMIN_BODY_LIMIT_BYTES

    @get("/")
    async def page(
        self, request: Request, services: AppServices, confirm: FromQuery[str] = "", done: FromQuery[str] = "",
        user: FromQuery[int | None] = None,
    ) -> Template:
        """The whole page; ``?confirm=`` opens a row's confirmation and ``?done=`` reports one (no JS)."""
        context = await page_context(services, signed_in_state(request), AdminQuery.of(request))
        return render(request, "admin", {**context, **await _reported(confirm, done, user)})

    @get("/users")
    async def users(self, request: Request, services: AppServices) -> Template:
        context = await users_context(services, signed_in_state(request), AdminQuery.of(request))
        return await respond(request, services, USERS_REGION, context)

    @get("/users/{user_id:int}/row")
    async def row(self, request: Request, services: AppServices, user_id: FromPath[int], confirm: FromQuery[str] = "") -> Template:
        return await _row(request, services, OpenRow(user_id, confirm if confirm in ALL_SLUGS else None))

    @post("/users/{user_id:int}/{slug:str}")
    async def act(self, request: Request, services: AppServices, user_id: FromPath[int], slug: FromPath[str]) -> Response:
        if slug not in ALL_SLUGS:
            raise NotFoundException()
        try:
            async with refusals():
                form = await read_form(request, ActionForm, MESSAGES)
                await verified(services, visit_of(request), form.pin)
                done = await _perform(request, services, slug, user_id, form)
        except Refusal as refused:
            opened = OpenRow(user_id, slug, errors=refused.errors)
            return await _row(request, services, opened, status=refused.status, headers=refused.headers)
        if not is_htmx(request):
            return see_other(f"/admin?{AdminQuery.of(request).users_qs(extra={'done': slug, 'user': user_id})}")
        return await _row(request, services, OpenRow(user_id, notice=done.message))

    @post("/users")
    async def add(self, request: Request, services: AppServices) -> Response:
        form: AddUserForm | None = None
        try:
            async with refusals():
                form = await read_form(request, AddUserForm, MESSAGES)
                state = await verified(services, visit_of(request), form.pin)
                user = await admin_actions.add_user(
                    services.hashing, actor_of(request, state), form.username, form.password, is_admin=bool(form.admin)
                )
        except Refusal as refused:
            values = {"username": form.username[:256], "admin": bool(form.admin)} if form else {}
            context = {"add_errors": refused.errors, "add_values": values, "add_notice": None}
            return await _add_region(request, services, context, status=refused.status, headers=refused.headers)
        if not is_htmx(request):
            return see_other(f"/admin?done=add-user&user={user.id}")
        notice = _ADDED.format(name=user.username)
        context = {"add_errors": {}, "add_values": {}, "add_notice": notice}
        return await _add_region(request, services, context, headers=USERS_CHANGED)

    @post("/policy")
    async def set_policy(self, request: Request, services: AppServices) -> Response:
        try:
            async with refusals():
                form = await read_form(request, PolicyForm, MESSAGES)
                state = await verified(services, visit_of(request), form.pin)
                required = bool(form.required)
                await admin_actions.set_two_factor_policy(actor_of(request, state), required, reason=form.reason)
        except Refusal as refused:
            context = {"policy_errors": refused.errors, "policy_notice": None, **await _policy_basics(request, services)}
            return await respond(request, services, POLICY_REGION, context, status=refused.status, headers=refused.headers)
        if not is_htmx(request):
            return see_other("/admin?done=policy")
        context = {"policy_errors": {}, "policy_notice": _POLICY_SAVED[required], **await _policy_basics(request, services)}
        return await respond(request, services, POLICY_REGION, context)


_ADDED = "{name} was added. Their first sign-in asks them to replace the initial password."
_POLICY_SAVED = {
    True: "Saved: 2FA is required for all users.",
    False: "Saved: 2FA is optional; users can still set it up on their account page.",
}


async def _perform(request: Request, services: Services, slug: str, user_id: int, form: ActionForm) -> admin_actions.Done:
    actor = actor_of(request, signed_in_state(request))
    reason = form.reason or None
    if slug == RESET_PASSWORD:
        return await admin_actions.reset_password(services.hashing, actor, user_id, form.password, reason=reason)
    return await admin_actions.perform(slug, actor, user_id, reason=reason)


async def _row(request: Request, services: Services, opened: OpenRow, *, status: int = 200,
               headers: dict[str, str] | None = None) -> Template:
    user = await User.get_or_none(id=opened.user_id)
    if user is None:
        raise NotFoundException()
    context = {**await row_basics(services, signed_in_state(request)), "user": user, "open_row": opened,
               "query": AdminQuery.of(request)}
    return await respond(request, services, ROW_REGION, context, status=status, headers=headers)


async def _add_region(request: Request, services: Services, context: dict[str, Any], *, status: int = 200,
                      headers: dict[str, str] | None = None) -> Template:
    context = {**context, **await _policy_basics(request, services)}
    return await respond(request, services, ADD_REGION, context, status=status, headers=headers)


async def _policy_basics(request: Request, services: Services) -> dict[str, Any]:
    basics = await row_basics(services, signed_in_state(request))
    return {**basics, "policy_required": await policy.two_factor_required()}


async def _reported(confirm: str, done: str, user_id: int | None) -> dict[str, Any]:
    """For plain requests: the row to open (?confirm=) or the outcome to announce (?done=)."""
    if done == "policy":
        return {"policy_notice": "Saved."}
    target = await User.get_or_none(id=user_id) if user_id is not None else None
    if target is None:
        return {}
    if done == "add-user":
        return {"add_notice": _ADDED.format(name=target.username)}
    if done in ALL_SLUGS:
        return {"open_row": OpenRow(target.id, notice=_done_message(done, target.username))}
    if confirm in ALL_SLUGS:
        return {"open_row": OpenRow(target.id, confirm)}
    return {}


def _done_message(slug: str, name: str) -> str:
    template = admin_actions.PASSWORD_RESET_DONE if slug == RESET_PASSWORD else admin_actions.ACTIONS[slug].message
    return template.format(name=name)
