"""Setting up or replacing one's authenticator from the account page.

Replacing takes a PIN from the current app first; then the enrollment panel shows a new secret,
held sealed in the session, and the old app keeps working until a code from the new one is
confirmed. Setting one up for the first time (exempt user, or 2FA optional) asks for no PIN and
ends with ten recovery codes.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.response import Template

from web.auth import totp
from web.auth.account import ChangeExpired
from web.auth.flow import SignInState
from web.auth.users import get_user_by_id
from web.services import Services
from web.views.access import ACCESS_HANDLERS, signed_in_only, signed_in_state, visit_of
from web.views.account import ACCOUNT_BODY_LIMIT_BYTES, DONE, PIN_MESSAGE, PinForm, account_page, read_pin
from web.views.deps import AppServices
from web.views.forms import read_form
from web.views.panels import panel_context
from web.views.refusals import Refusal, refusals
from web.views.render import is_htmx, render, see_other

TWO_FACTOR_ON = "Two-factor authentication is on. Save these recovery codes: they are shown only once."


class AuthenticatorController(Controller):
    path = "/account/authenticator"
    guards = [signed_in_only]
    exception_handlers = ACCESS_HANDLERS  # type: ignore[assignment]
    request_max_body_size = ACCOUNT_BODY_LIMIT_BYTES

    @post("/")
    async def start_authenticator(self, request: Request, services: AppServices) -> Response:
        visit = visit_of(request)
        try:
            async with refusals():
                form = await read_form(request, PinForm, {"pin": PIN_MESSAGE})
                state = await services.account.start_authenticator_change(
                    signed_in_state(request), totp.normalise_pin(form.pin) or None, now=services.clock()
                )
        except Refusal as refused:
            return await account_page(request, services, signed_in_state(request), status=refused.status,
                                  headers=refused.headers, authenticator_errors=refused.errors)
        await services.sessions.save(visit.session_id, state)  # type: ignore[arg-type]
        if not is_htmx(request):
            return see_other("/account/authenticator")
        return await _panel(request, services, state)

    @get("/")
    async def authenticator(self, request: Request, services: AppServices) -> Response:
        state = signed_in_state(request)
        if state.candidate_secret is None:
            return see_other("/account")
        try:
            await services.account.require_fresh_change(state, now=services.clock())
        except ChangeExpired:
            # The new key is never shown again once the step-up that allowed it is stale.
            await services.sessions.save(visit_of(request).session_id, services.account.cancel_authenticator_change(state))  # type: ignore[arg-type]
            return see_other("/account")
        return await _panel(request, services, state)

    @post("/check")
    async def check_authenticator(self, request: Request, services: AppServices) -> Template:
        """The live status under the PIN box: same throttled check as the confirmation; claims nothing."""
        state = signed_in_state(request)
        if state.candidate_secret is None:
            return Template("partials/pin_status.html", context={"status": "expired"}, status_code=403)
        try:
            async with refusals():
                valid = await services.account.check_candidate(state, await read_pin(request), now=services.clock())
        except Refusal as refused:
            status = "throttled" if refused.status == 429 else "invalid"
            return Template("partials/pin_status.html", context={"status": status}, headers=refused.headers,
                            status_code=refused.status if refused.status == 429 else 200)
        return Template("partials/pin_status.html", context={"status": "valid" if valid else "invalid"})

    @post("/confirm")
    async def confirm_authenticator(self, request: Request, services: AppServices) -> Response:
        visit = visit_of(request)
        state = signed_in_state(request)
        if state.candidate_secret is None:
            return see_other("/account") if not is_htmx(request) else await account_page(request, services, state)
        try:
            async with refusals():
                pin = await read_pin(request)
                state, codes = await services.account.confirm_authenticator(state, pin, now=services.clock())
        except Refusal as refused:
            return await _panel(request, services, state, errors=refused.errors, status=refused.status,
                                            headers=refused.headers)
        await services.sessions.save(visit.session_id, state)  # type: ignore[arg-type]
        if codes is not None:
            return await account_page(request, services, state, notice=TWO_FACTOR_ON, new_codes=codes)
        if not is_htmx(request):
            return see_other("/account?done=authenticator")
        return await account_page(request, services, state, notice=DONE["authenticator"])

    @post("/cancel")
    async def cancel_authenticator(self, request: Request, services: AppServices) -> Response:
        visit = visit_of(request)
        state = services.account.cancel_authenticator_change(signed_in_state(request))
        await services.sessions.save(visit.session_id, state)  # type: ignore[arg-type]
        if not is_htmx(request):
            return see_other("/account?done=cancelled")
        return await account_page(request, services, state, notice=DONE["cancelled"])


async def _panel(
    request: Request, services: Services, state: SignInState, *, errors: dict[str, str] | None = None,
    status: int = 200, headers: dict[str, str] | None = None,
) -> Template:
    """The enrollment panel, posting to the account's own steps, with a way back."""
    user = await get_user_by_id(state.user_id)
    context = {
        **panel_context(services, state, services.account.candidate_secret(state)),
        "enroll_action": "/account/authenticator/confirm",
        "check_action": "/account/authenticator/check",
        "cancel_action": "/account/authenticator/cancel",
        "submit_label": "Replace authenticator" if user.has_totp else "Turn on two-factor authentication",
        "replacing": user.has_totp,
        "optional": True,
        "errors": errors or {},
    }
    return render(request, "enroll", context, status=status, headers=headers)
