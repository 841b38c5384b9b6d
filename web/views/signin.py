"""The sign-in steps: password, PIN or recovery code, enrollment, recovery codes, sign out.

Each handler reads as its steps: load the visit, check the stage, read the form, ask the flow,
answer. The answers and the small steps live in web/views/signin_steps.py.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.response import Template

from web.auth import totp
from web.auth.flow import InvalidCredentials, SignInState, Stage, WrongStage
from web.auth.recovery import RecoveryCodeFormatError
from web.auth.throttle import Throttled
from web.auth.two_factor import AlreadyEnrolled, InvalidPin, InvalidRecoveryCode
from web.views.deps import AppServices
from web.views.forms import FormInvalid, read_form
from web.views.panels import panel_context
from web.views.render import fresh_csrf, is_htmx, render, see_other
from web.views.signin_steps import (
    AUTH_BODY_LIMIT_BYTES,
    INVALID_CREDENTIALS,
    INVALID_RECOVERY_CODE,
    RECOVERY_MESSAGE,
    SESSION_ENDED,
    at_stage,
    credentials_answer,
    device_token,
    log_step,
    pin_errors,
    pin_failure,
    pin_status,
    read_pin,
    retry_after,
    show_next,
    throttled_answer,
    wrong_stage,
)
from web.views.visit import advance, end_visit, open_visit

__all__ = ["AUTH_BODY_LIMIT_BYTES", "SESSION_ENDED", "SignInController", "show_next", "sign_out"]


class PasswordForm(msgspec.Struct):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


PASSWORD_MESSAGES = {
    "username": "Enter your username.",
    "password": "Enter your password (at most 1,024 characters).",
}


class RecoveryForm(msgspec.Struct):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class SignInController(Controller):
    path = "/signin"
    request_max_body_size = AUTH_BODY_LIMIT_BYTES

    @post("/password")
    async def password(self, request: Request, services: AppServices) -> Response:
        visit = await open_visit(request, services)
        try:
            form = await read_form(request, PasswordForm, PASSWORD_MESSAGES)
            state = await services.flow.authenticate(
                form.username, form.password, now=services.clock(), device_token=device_token(request, services)
            )
        except FormInvalid as invalid:
            return credentials_answer(request, invalid.errors, status=invalid.status)
        except InvalidCredentials as failed:
            log_step(request, "password", "failure", failed.username)
            return credentials_answer(request, {"_form": INVALID_CREDENTIALS}, status=401, username=form.username)
        except Throttled as throttled:
            log_step(request, "password", "throttled", throttled.username)
            return throttled_answer(request, "credentials", {"username": form.username[:256]}, throttled)
        log_step(request, "password", "success", state.username)
        return await show_next(request, services, await advance(services, visit, state))

    @post("/pin")
    async def pin(self, request: Request, services: AppServices) -> Response:
        visit = await open_visit(request, services)
        if not at_stage(visit, Stage.PENDING):
            return await wrong_stage(request, services, visit)
        try:
            pin = await read_pin(request)
            state = await services.flow.submit_pin(visit.state, pin, now=services.clock(), user=visit.user)  # type: ignore[arg-type]
        except (FormInvalid, totp.PinFormatError) as invalid:
            return render(request, "pin", {"errors": pin_errors(invalid)}, status=422)
        except InvalidPin as wrong:
            log_step(request, "pin", "failure", visit.username)
            return render(request, "pin", pin_failure(wrong), status=401)
        except Throttled as throttled:
            log_step(request, "pin", "throttled", visit.username)
            return throttled_answer(request, "pin", {}, throttled)
        except WrongStage:
            return await wrong_stage(request, services, visit)
        return await show_next(request, services, await advance(services, visit, state))

    @post("/recovery")
    async def recovery(self, request: Request, services: AppServices) -> Response:
        visit = await open_visit(request, services)
        if not at_stage(visit, Stage.PENDING):
            return await wrong_stage(request, services, visit)
        recovery_mode = {"use_recovery": True}
        try:
            form = await read_form(request, RecoveryForm, {"code": RECOVERY_MESSAGE})
            state = await services.flow.submit_recovery_code(visit.state, form.code, now=services.clock(), user=visit.user)  # type: ignore[arg-type]
        except (FormInvalid, RecoveryCodeFormatError):
            return render(request, "pin", {**recovery_mode, "errors": {"code": RECOVERY_MESSAGE}}, status=422)
        except InvalidRecoveryCode:
            log_step(request, "recovery_code", "failure", visit.username)
            return render(request, "pin", {**recovery_mode, "errors": {"_form": INVALID_RECOVERY_CODE}}, status=401)
        except Throttled as throttled:
            log_step(request, "recovery_code", "throttled", visit.username)
            return throttled_answer(request, "pin", recovery_mode, throttled)
        except WrongStage:
            return await wrong_stage(request, services, visit)
        return await show_next(request, services, await advance(services, visit, state))

    @post("/enroll/check")
    async def enroll_check(self, request: Request, services: AppServices) -> Template:
        """The live status under the PIN box while typing: same throttled check, claims nothing."""
        visit = await open_visit(request, services)
        if not at_stage(visit, Stage.ENROLLING):
            return pin_status("expired", status_code=403)
        try:
            pin = await read_pin(request)
            valid = await services.flow.check_candidate(visit.state, pin, now=services.clock())  # type: ignore[arg-type]
        except (FormInvalid, totp.PinFormatError):
            return pin_status("invalid")
        except WrongStage:
            return pin_status("expired", status_code=403)
        except Throttled as throttled:
            log_step(request, "live_check", "throttled", visit.username)
            return pin_status("throttled", status_code=429, headers=retry_after(throttled))
        if not valid:
            log_step(request, "live_check", "failure", visit.username)  # counted on the second-factor throttle
        return pin_status("valid" if valid else "invalid")

    @post("/enroll")
    async def enroll(self, request: Request, services: AppServices) -> Response:
        visit = await open_visit(request, services)
        if not at_stage(visit, Stage.ENROLLING):
            return await wrong_stage(request, services, visit)
        state: SignInState = visit.state  # type: ignore[assignment]
        try:
            pin = await read_pin(request)
            next_state = await services.flow.confirm_enrollment(state, pin, now=services.clock())
        except (FormInvalid, totp.PinFormatError) as invalid:
            context = {**panel_context(services, state), "errors": pin_errors(invalid)}
            return render(request, "enroll", context, status=422)
        except InvalidPin as wrong:
            log_step(request, "enroll", "failure", state.username)
            return render(request, "enroll", {**panel_context(services, state), **pin_failure(wrong)}, status=401)
        except Throttled as throttled:
            log_step(request, "enroll", "throttled", state.username)
            return throttled_answer(request, "enroll", panel_context(services, state), throttled)
        except (WrongStage, AlreadyEnrolled):
            return await wrong_stage(request, services, visit)
        return await show_next(request, services, await advance(services, visit, next_state))

    @get("/recovery-codes.txt")
    async def recovery_codes_file(self, request: Request, services: AppServices) -> Response:
        visit = await open_visit(request, services)
        if not at_stage(visit, Stage.RECOVERY_CODES):
            return await wrong_stage(request, services, visit)
        codes = services.flow.recovery_codes(visit.state)  # type: ignore[arg-type]
        issuer = services.settings.issuer
        body = f"{issuer} recovery codes for {visit.state.username}\n"  # type: ignore[union-attr]
        body += "Each code works once, in place of a PIN.\n\n" + "\n".join(codes) + "\n"
        disposition = f'attachment; filename="{issuer.lower()}-recovery-codes.txt"'
        return Response(body, media_type="text/plain; charset=utf-8", headers={"content-disposition": disposition})

    @post("/continue")
    async def continue_(self, request: Request, services: AppServices) -> Response:
        visit = await open_visit(request, services)
        if not at_stage(visit, Stage.RECOVERY_CODES):
            return await wrong_stage(request, services, visit)
        state = await services.flow.acknowledge_recovery_codes(visit.state, now=services.clock())  # type: ignore[arg-type]
        return await show_next(request, services, await advance(services, visit, state))


@post("/signout", request_max_body_size=AUTH_BODY_LIMIT_BYTES)
async def sign_out(request: Request, services: AppServices) -> Response:
    visit = await open_visit(request, services)
    if visit.state is not None:
        log_step(request, "sign_out", "success", visit.state.username)
    cookies = await end_visit(services, visit)
    token, csrf_cookie = fresh_csrf(services)
    if not is_htmx(request):
        return see_other("/", cookies=[*cookies, csrf_cookie])
    context = {"notice": "You have signed out."}
    return render(request, "credentials", context, cookies=[*cookies, csrf_cookie], csrf_token=token)

