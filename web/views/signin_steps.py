"""The named steps the sign-in handlers are made of: reading a PIN, and each kind of answer."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.response import Template

from web.auth import totp
from web.auth.flow import SignInState, Stage
from web.auth.throttle import Throttled
from web.auth.two_factor import InvalidPin
from web.logs import auth_event
from web.services import Services
from web.views.forms import FormInvalid, read_form
from web.views.panels import panel_for
from web.views.render import is_htmx, render, see_other
from web.views.throttling import throttle_message
from web.views.visit import Advanced, Visit

AUTH_BODY_LIMIT_BYTES = 16 * 1024  # a 1,024-character password fits many times; a flood does not
INVALID_CREDENTIALS = "Invalid username or password"
INVALID_PIN = "Invalid PIN code"
INVALID_RECOVERY_CODE = "Invalid recovery code"
SESSION_ENDED = "Your sign-in has expired or was not started. Sign in again."
PIN_MESSAGE = "Enter the 6-digit code from your authenticator app."
RECOVERY_MESSAGE = "Enter a recovery code like abcd-efgh-ijkl-mnop."


class PinForm(msgspec.Struct):
    pin: Annotated[str, msgspec.Meta(max_length=64)]


def log_step(request: Request, event: str, outcome: str, user: str | None) -> None:
    auth_event(event, outcome, user=user, client=request.client.host if request.client else None)


def at_stage(visit: Visit, stage: Stage) -> bool:
    return visit.state is not None and visit.state.stage is stage


async def read_pin(request: Request) -> str:
    """The PIN as typed, less pasted spaces and dashes; the flow checks its format in order."""
    form = await read_form(request, PinForm, {"pin": PIN_MESSAGE})
    return totp.normalise_pin(form.pin)


def pin_errors(invalid: Exception) -> dict[str, str]:
    if isinstance(invalid, FormInvalid) and "_form" in invalid.errors:
        return invalid.errors
    return {"pin": PIN_MESSAGE}


def device_token(request: Request, services: Services) -> str | None:
    return request.cookies.get(services.sessions.device_cookie_name)


def retry_after(throttled: Throttled) -> dict[str, str]:
    return {} if throttled.locked else {"retry-after": str(throttled.retry_after)}


def throttled_answer(request: Request, panel: str, context: dict[str, object], throttled: Throttled) -> Template:
    """429 with when to retry; nothing was evaluated, so it says nothing about the secret."""
    errors = {"_form": throttle_message(throttled)}
    return render(request, panel, {**context, "errors": errors}, status=429, headers=retry_after(throttled))


def pin_status(status: str, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Template:
    return Template("partials/pin_status.html", context={"status": status}, status_code=status_code, headers=headers)


def pin_failure(wrong: InvalidPin) -> dict[str, object]:
    hint = totp.describe_drift(wrong.drift_seconds) if wrong.drift_seconds else None
    return {"errors": {"_form": INVALID_PIN}, "hint": hint}


def credentials_answer(request: Request, errors: dict[str, str], *, status: int, username: str = "") -> Template:
    return render(request, "credentials", {"errors": errors, "username": username[:256]}, status=status)


async def show_next(request: Request, services: Services, advanced: Advanced) -> Response:
    """After a transition: the next panel for htmx, a redirect to the page for a plain post."""
    log_step(request, f"stage.{advanced.state.stage.value}", "success", advanced.state.username)
    cookies = [*advanced.cookies, *await _known_device_cookie(request, services, advanced.state)]
    if not is_htmx(request):
        return see_other("/", cookies=cookies)
    panel, context = panel_for(services, advanced.state)
    return render(request, panel, context, cookies=cookies, csrf_token=advanced.csrf_token)


async def _known_device_cookie(request: Request, services: Services, state: SignInState) -> list[Cookie]:
    token = await services.flow.remember_device(state, device_token(request, services))
    return [] if token is None else [services.sessions.device_cookie(token)]


async def wrong_stage(request: Request, services: Services, visit: Visit) -> Response:
    """A step posted out of order: refuse it and show where this browser really is."""
    if visit.state is None:
        return render(request, "credentials", {"errors": {"_form": SESSION_ENDED}}, status=403, cookies=visit.cookies)
    panel, context = panel_for(services, visit.state)
    return render(request, panel, {**context, "errors": {"_form": "That step is not available now."}}, status=403)
