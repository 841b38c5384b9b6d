"""What the administration handlers share: the query string, step-up, refusals, and how to answer.

An htmx request gets the region it targets (a row, the users table, a form); a plain request gets
the whole administration page with the same partials inside, built from the same query string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from litestar import Request
from litestar.response import Template

from web.auth import audit, policy, totp
from web.auth.account import NoAuthenticator, recently_verified
from web.auth.admin_actions import Actor
from web.auth.directory import STATE_FILTERS, UserFilter, account_label, find_users, two_factor_label
from web.auth.flow import SignInState
from web.auth.users import USERNAME_RULE
from web.models import User
from web.services import Services
from web.views import admin_copy
from web.views.refusals import StepUpNeeded
from web.views.render import current_csrf_token, is_htmx, render
from web.views.visit import Visit

ADMIN_BODY_LIMIT_BYTES = 16 * 1024
QUERY_TEXT_MAX_CHARS = 64


@dataclass(frozen=True, slots=True)
class AdminQuery:
    """The page's query string: users search, filter and page; audit filters and page."""

    q: str = ""
    state: str = ""
    page: int = 1
    audit_user: str = ""
    audit_action: str = ""
    audit_outcome: str = ""
    audit_page: int = 1

    @classmethod
    def of(cls, request: Request) -> AdminQuery:
        params = request.query_params

        def text(name: str) -> str:
            return str(params.get(name) or "")[:QUERY_TEXT_MAX_CHARS]

        def number(name: str) -> int:
            raw = text(name)
            return int(raw) if raw.isdigit() and len(raw) < 8 else 1

        return cls(text("q"), text("state"), number("page"), text("audit_user"), text("audit_action"),
                   text("audit_outcome"), number("audit_page"))

    def users_qs(self, extra: Mapping[str, Any] | None = None, **changes: Any) -> str:
        values = replace(self, **changes)
        pairs = {k: v for k, v in (("q", values.q), ("state", values.state), ("page", values.page)) if v}
        return urlencode({**pairs, **(extra or {})})

    def audit_qs(self, **changes: Any) -> str:
        values = replace(self, **changes)
        pairs = (("audit_user", values.audit_user), ("audit_action", values.audit_action),
                 ("audit_outcome", values.audit_outcome), ("audit_page", values.audit_page))
        return urlencode({k: v for k, v in pairs if v})

    @property
    def audit_filter(self) -> audit.AuditFilter:
        return audit.AuditFilter(self.audit_user.strip().casefold(), self.audit_action, self.audit_outcome)


@dataclass(frozen=True, slots=True)
class OpenRow:
    """A row showing its inline confirmation (``action``), the outcome of one, or both."""

    user_id: int
    action: str | None = None
    errors: Mapping[str, str] = field(default_factory=dict)
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class StepUp:
    needed: bool  # the next change must carry a PIN
    possible: bool  # the admin has an authenticator to take a PIN from


async def step_up_of(state: SignInState, now: float) -> StepUp:
    if recently_verified(state, now):
        return StepUp(needed=False, possible=True)
    enrolled = await User.filter(id=state.user_id, totp_secret_sealed__isnull=False).exists()
    return StepUp(needed=True, possible=enrolled)


async def verified(services: Services, visit: Visit, pin: str) -> SignInState:
    """The admin's state once their second factor is recent: as it was, or after checking ``pin``."""
    state = visit.state
    assert state is not None
    now = services.clock()
    if recently_verified(state, now):
        return state
    if not pin:
        step_up = await step_up_of(state, now)
        raise StepUpNeeded() if step_up.possible else NoAuthenticator()
    state = await services.account.step_up(state, totp.normalise_pin(pin), now=now)
    await services.sessions.save(visit.session_id, state)  # type: ignore[arg-type]
    visit.state = state
    return state


def actor_of(request: Request, state: SignInState) -> Actor:
    return Actor(state.username, state.user_id, audit.VIA_WEB, request.client.host if request.client else None)


# -- contexts and answers ------------------------------------------------------------------------


async def users_context(services: Services, state: SignInState, query: AdminQuery) -> dict[str, Any]:
    return {
        "users": await find_users(UserFilter(query.q, query.state), query.page),
        "query": query,
        "state_filters": STATE_FILTERS,
        **await row_basics(services, state),
    }


async def row_basics(services: Services, state: SignInState) -> dict[str, Any]:
    return {
        "me": state.user_id,
        "stepup": await step_up_of(state, services.clock()),
        "open_row": None,
        "row_actions": admin_copy.row_actions,
        "copy": admin_copy.ACTION_COPY,
        "two_factor_label": two_factor_label,
        "account_label": account_label,
        "format_time": audit.format_time,
        "username_rule": USERNAME_RULE,
    }


async def audit_context(query: AdminQuery) -> dict[str, Any]:
    return {
        "events": await audit.search(query.audit_filter, query.audit_page),
        "query": query,
        "audit_labels": audit.LABELS,
        "audit_outcomes": audit.OUTCOMES,
        "format_time": audit.format_time,
    }


async def page_context(services: Services, state: SignInState, query: AdminQuery) -> dict[str, Any]:
    return {
        **await users_context(services, state, query),
        **await audit_context(query),
        "username": state.username,
        "policy_required": await policy.two_factor_required(),
        "add_errors": {},
        "add_values": {},
        "add_notice": None,
        "policy_errors": {},
        "policy_notice": None,
    }


async def respond(
    request: Request,
    services: Services,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Template:
    """The region for htmx; for a plain request the whole page, with ``context`` laid over it."""
    if is_htmx(request):
        values = {"csrf": current_csrf_token(request), **context}
        return Template(template, context=values, status_code=status, headers=dict(headers or {}))
    state = request.state.visit.state
    full = {**await page_context(services, state, AdminQuery.of(request)), **context}
    return render(request, "admin", full, status=status, headers=headers)
