"""The sign-in steps: password, PIN or recovery code, enrollment, recovery codes, sign out."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.response import Template

from web.auth import totp
from web.auth.flow import InvalidCredentials, SignInState, Stage, WrongStage
from web.auth.recovery import RecoveryCodeFormatError
from web.auth.throttle import Throttled
from web.auth.two_factor import AlreadyEnrolled, InvalidPin, InvalidRecoveryCode
from web.logs import auth_event
from web.services import Services
from web.views.deps import AppServices
from web.views.forms import FormInvalid, read_form
from web.views.panels import panel_context, panel_for
from web.views.render import fresh_csrf, is_htmx, render, see_other
from web.views.throttling import throttle_message
from web.views.visit import Advanced, Visit, advance, end_visit, open_visit

AUTH_BODY_LIMIT_BYTES = 16 * 1024  # a 1,024-character password fits many times; a flood does not
INVALID_CREDENTIALS = "Invalid username or password"
INVALID_PIN = "Invalid PIN code"
INVALID_RECOVERY_CODE = "Invalid recovery code"
SESSION_ENDED = "Your sign-in has expired or was not started. Sign in again."
PIN_MESSAGE = "Enter the 6-digit code from your authenticator app."
RECOVERY_MESSAGE = "Enter a recovery code like abcd-efgh-ijkl-mnop."


class PasswordForm(msgspec.Struct):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


PASSWORD_MESSAGES = {
    "username": "Enter your username.",
    "password": "Enter your password (at most 1,024 characters).",
}


class PinForm(msgspec.Struct):
    pin: Annotated[str, msgspec.Meta(max_length=64)]


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
                form.username, form.password, now=services.clock(), device_token=_device_token(request, services)
            )
        except FormInvalid as invalid:
            return _credentials(request, invalid.errors, status=invalid.status)
        except InvalidCredentials as failed:
            _log(request, "password", "failure", failed.username)
            return _credentials(request, {"_form": INVALID_CREDENTIALS}, status=401, username=form.username)
        except Throttled as throttled:
            _log(request, "password", "throttled", throttled.username)
            return _throttled(request, "credentials", {"username": form.username[:256]}, throttled)
        _log(request, "password", "success", state.username)
        return await show_next(request, services, await advance(services, visit, state))

    @post("/pin")
    async def pin(self, request: Request, services: AppServices) -> Response:
        visit = await open_visit(request, services)
        if not _at(visit, Stage.PENDING):
            return await _wrong_stage(request, services, visit)
        try:
            pin = await _read_pin(request)
            state = await services.flow.submit_pin(visit.state, pin, now=services.clock())  # type: ignore[arg-type]
        except (FormInvalid, totp.PinFormatError) as invalid:
            return render(request, "pin", {"errors": _pin_errors(invalid)}, status=422)
        except InvalidPin as wrong:
            _log(request, "pin", "failure", visit.username)
            return render(request, "pin", _pin_failure(wrong), status=401)
        except Throttled as throttled:
            _log(request, "pin", "throttled", visit.username)
            return _throttled(request, "pin", {}, throttled)
        except WrongStage:
            return await _wrong_stage(request, services, visit)
        return await show_next(request, services, await advance(services, visit, state))

    @post("/recovery")
    async def recovery(self, request: Request, services: AppServices) -> Response:
        visit = await open_visit(request, services)
        if not _at(visit, Stage.PENDING):
            return await _wrong_stage(request, services, visit)
        recovery_mode = {"use_recovery": True}
        try:
            form = await read_form(request, RecoveryForm, {"code": RECOVERY_MESSAGE})
            state = await services.flow.submit_recovery_code(visit.state, form.code, now=services.clock())  # type: ignore[arg-type]
        except (FormInvalid, RecoveryCodeFormatError):
            return render(request, "pin", {**recovery_mode, "errors": {"code": RECOVERY_MESSAGE}}, status=422)
        except InvalidRecoveryCode:
            _log(request, "recovery_code", "failure", visit.username)
            return render(request, "pin", {**recovery_mode, "errors": {"_form": INVALID_RECOVERY_CODE}}, status=401)
        except Throttled as throttled:
            _log(request, "recovery_code", "throttled", visit.username)
            return _throttled(request, "pin", recovery_mode, throttled)
        except WrongStage:
            return await _wrong_stage(request, services, visit)
        return await show_next(request, services, await advance(services, visit, state))

    @post("/enroll/check")
    async def enroll_check(self, request: Request, services: AppServices) -> Template:
        """The live status under the PIN box while typing: same throttled check, claims nothing."""
        visit = await open_visit(request, services)
        if not _at(visit, Stage.ENROLLING):
            return _pin_status("expired", status_code=403)
        try:
            pin = await _read_pin(request)
            valid = await services.flow.check_candidate(visit.state, pin, now=services.clock())  # type: ignore[arg-type]
        except (FormInvalid, totp.PinFormatError):
            return _pin_status("invalid")
        except Throttled as throttled:
            _log(request, "live_check", "throttled", visit.username)
            return _pin_status("throttled", status_code=429, headers=_retry_after(throttled))
        if not valid:
            _log(request, "live_check", "failure", visit.username)  # counted on the second-factor throttle
        return _pin_status("valid" if valid else "invalid")

    @post("/enroll")
    async def enroll(self, request: Request, services: AppServices) -> Response:
        visit = await open_visit(request, services)
        if not _at(visit, Stage.ENROLLING):
            return await _wrong_stage(request, services, visit)
        state: SignInState = visit.state  # type: ignore[assignment]
        try:
            pin = await _read_pin(request)
            next_state = await services.flow.confirm_enrollment(state, pin, now=services.clock())
        except (FormInvalid, totp.PinFormatError) as invalid:
            context = {**panel_context(services, state), "errors": _pin_errors(invalid)}
            return render(request, "enroll", context, status=422)
        except InvalidPin as wrong:
            _log(request, "enroll", "failure", state.username)
            return render(request, "enroll", {**panel_context(services, state), **_pin_failure(wrong)}, status=401)
        except Throttled as throttled:
            _log(request, "enroll", "throttled", state.username)
            return _throttled(request, "enroll", panel_context(services, state), throttled)
        except (WrongStage, AlreadyEnrolled):
            return await _wrong_stage(request, services, visit)
        return await show_next(request, services, await advance(services, visit, next_state))

    @get("/recovery-codes.txt")
    async def recovery_codes_file(self, request: Request, services: AppServices) -> Response:
        visit = await open_visit(request, services)
        if not _at(visit, Stage.RECOVERY_CODES):
            return await _wrong_stage(request, services, visit)
        codes = services.flow.recovery_codes(visit.state)  # type: ignore[arg-type]
        issuer = services.settings.issuer
        body = f"{issuer} recovery codes for {visit.state.username}\n"  # type: ignore[union-attr]
        body += "Each code works once, in place of a PIN.\n\n" + "\n".join(codes) + "\n"
        disposition = f'attachment; filename="{issuer.lower()}-recovery-codes.txt"'
        return Response(body, media_type="text/plain; charset=utf-8", headers={"content-disposition": disposition})

    @post("/continue")
    async def continue_(self, request: Request, services: AppServices) -> Response:
        visit = await open_visit(request, services)
        if not _at(visit, Stage.RECOVERY_CODES):
            return await _wrong_stage(request, services, visit)
        state = await services.flow.acknowledge_recovery_codes(visit.state, now=services.clock())  # type: ignore[arg-type]
        return await show_next(request, services, await advance(services, visit, state))


@post("/signout", request_max_body_size=AUTH_BODY_LIMIT_BYTES)
async def sign_out(request: Request, services: AppServices) -> Response:
    visit = await open_visit(request, services)
    if visit.state is not None:
        _log(request, "sign_out", "success", visit.state.username)
    cookies = await end_visit(services, visit)
    token, csrf_cookie = fresh_csrf(services)
    if not is_htmx(request):
        return see_other("/", cookies=[*cookies, csrf_cookie])
    context = {"notice": "You have signed out."}
    return render(request, "credentials", context, cookies=[*cookies, csrf_cookie], csrf_token=token)


# -- named steps ---------------------------------------------------------------------------------


def _log(request: Request, event: str, outcome: str, user: str | None) -> None:
    auth_event(event, outcome, user=user, client=request.client.host if request.client else None)


def _at(visit: Visit, stage: Stage) -> bool:
    return visit.state is not None and visit.state.stage is stage


async def _read_pin(request: Request) -> str:
    """The PIN as typed, less pasted spaces and dashes; the flow checks its format in order."""
    form = await read_form(request, PinForm, {"pin": PIN_MESSAGE})
    return totp.normalise_pin(form.pin)


def _pin_errors(invalid: Exception) -> dict[str, str]:
    if isinstance(invalid, FormInvalid) and "_form" in invalid.errors:
        return invalid.errors
    return {"pin": PIN_MESSAGE}


def _device_token(request: Request, services: Services) -> str | None:
    return request.cookies.get(services.sessions.device_cookie_name)


def _retry_after(throttled: Throttled) -> dict[str, str]:
    return {} if throttled.locked else {"retry-after": str(throttled.retry_after)}


def _throttled(request: Request, panel: str, context: dict[str, object], throttled: Throttled) -> Template:
    """429 with when to retry; nothing was evaluated, so it says nothing about the secret."""
    errors = {"_form": throttle_message(throttled)}
    return render(request, panel, {**context, "errors": errors}, status=429, headers=_retry_after(throttled))


def _pin_status(status: str, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Template:
    return Template("partials/pin_status.html", context={"status": status}, status_code=status_code, headers=headers)


def _pin_failure(wrong: InvalidPin) -> dict[str, object]:
    hint = totp.describe_drift(wrong.drift_seconds) if wrong.drift_seconds else None
    return {"errors": {"_form": INVALID_PIN}, "hint": hint}


def _credentials(request: Request, errors: dict[str, str], *, status: int, username: str = "") -> Template:
    return render(request, "credentials", {"errors": errors, "username": username[:256]}, status=status)


async def show_next(request: Request, services: Services, advanced: Advanced) -> Response:
    """After a transition: the next panel for htmx, a redirect to the page for a plain post."""
    _log(request, f"stage.{advanced.state.stage.value}", "success", advanced.state.username)
    cookies = [*advanced.cookies, *await _known_device_cookie(request, services, advanced.state)]
    if not is_htmx(request):
        return see_other("/", cookies=cookies)
    panel, context = panel_for(services, advanced.state)
    return render(request, panel, context, cookies=cookies, csrf_token=advanced.csrf_token)


async def _known_device_cookie(request: Request, services: Services, state: SignInState) -> list[Cookie]:
    token = await services.flow.remember_device(state, _device_token(request, services))
    return [] if token is None else [services.sessions.device_cookie(token)]


async def _wrong_stage(request: Request, services: Services, visit: Visit) -> Response:
    """A step posted out of order: refuse it and show where this browser really is."""
    if visit.state is None:
        return render(request, "credentials", {"errors": {"_form": SESSION_ENDED}}, status=403, cookies=visit.cookies)
    panel, context = panel_for(services, visit.state)
    return render(request, panel, {**context, "errors": {"_form": "That step is not available now."}}, status=403)
