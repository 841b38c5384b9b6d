"""Loading and storing the sign-in state of the browser behind a request."""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar import Request
from litestar.datastructures import Cookie

from web.auth.flow import SignInState, Stage
from web.models import User
from web.services import Services
from web.sessions import READ_AHEAD
from web.views.render import fresh_csrf


@dataclass(slots=True)
class Visit:
    """The session (if any) a request belongs to, after timeouts and revocation were applied."""

    session_id: str | None
    state: SignInState | None
    ended: bool = False
    """True when the browser brought a session that has just ended (timeout, reset, disabled)."""
    cookies: list[Cookie] = field(default_factory=list)
    user: User | None = None
    """The account row read by this request's resume: the steps after it reuse it."""

    @property
    def username(self) -> str | None:
        return self.state.username if self.state is not None else None

    @property
    def signed_in(self) -> bool:
        return self.state is not None and self.state.stage is Stage.SIGNED_IN


async def open_visit(request: Request, services: Services) -> Visit:
    session_id = request.cookies.get(services.sessions.cookie_name)
    stored = await services.sessions.load(session_id, request.scope.get("state", {}).get(READ_AHEAD))
    if stored is None:
        # An id the server does not know is never adopted; drop the cookie that carried it.
        cookies = [services.sessions.expired_cookie()] if session_id else []
        return Visit(None, None, cookies=cookies)
    resumed = await services.flow.resume(stored, now=services.clock())
    if resumed is None:
        await services.sessions.destroy(session_id)
        return Visit(None, None, ended=True, cookies=[services.sessions.expired_cookie()])
    if resumed.stale:
        await services.sessions.save(session_id, resumed.state)  # type: ignore[arg-type]
    return Visit(session_id, resumed.state, user=resumed.user)


@dataclass(frozen=True, slots=True)
class Advanced:
    """A state stored under a fresh session id, with the cookies and CSRF token that go with it."""

    state: SignInState
    csrf_token: str
    cookies: list[Cookie]


async def advance(services: Services, visit: Visit, state: SignInState) -> Advanced:
    """Store the next state under a new session id (the old one is deleted) and rotate CSRF."""
    new_id = await services.sessions.rotate(visit.session_id, state)
    token, csrf_cookie = fresh_csrf(services)
    return Advanced(state, token, [services.sessions.cookie(new_id), csrf_cookie])


async def end_visit(services: Services, visit: Visit) -> list[Cookie]:
    await services.sessions.destroy(visit.session_id)
    return [services.sessions.expired_cookie()]
