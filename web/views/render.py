"""One place decides how a panel goes out: as a fragment for htmx, or inside the full page.

The HX-Request header chooses only the rendering, never what is allowed: every step answers a plain
form post with the whole page, so the console works with JavaScript off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.middleware.csrf import generate_csrf_token
from litestar.response import Redirect, Template
from litestar.utils.scope.state import ScopeState

from web.cookies import PlainCookie
from web.services import Services

PAGE_TEMPLATE = "page.html"
HTMX_HEADER = "hx-request"
PANEL_DEFAULTS: dict[str, Any] = {
    "errors": {}, "notice": None, "hint": None, "username": "", "token": None, "use_recovery": False,
}


def is_htmx(request: Request) -> bool:
    # History-restore requests want the whole page back, not a fragment.
    return request.headers.get(HTMX_HEADER) == "true" and request.headers.get("hx-history-restore-request") != "true"


def current_csrf_token(request: Request) -> str:
    token = ScopeState.from_scope(request.scope).csrf_token
    return token if isinstance(token, str) else ""  # unset (Empty) on error pages before the middleware


def render(
    request: Request,
    panel: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    cookies: Iterable[Cookie] = (),
    headers: Mapping[str, str] | None = None,
    csrf_token: str | None = None,
) -> Template:
    """Render ``panels/<panel>.html``: alone for htmx, else inside the page shell."""
    values = {
        **PANEL_DEFAULTS,
        "panel_template": f"panels/{panel}.html",
        "csrf": csrf_token if csrf_token is not None else current_csrf_token(request),
        **(context or {}),
    }
    template = values["panel_template"] if is_htmx(request) else PAGE_TEMPLATE
    return Template(
        template_name=template,
        context=values,
        status_code=status,
        cookies=list(cookies),
        headers=dict(headers or {}),
    )


def see_other(location: str, *, cookies: Iterable[Cookie] = ()) -> Redirect:
    """Post/redirect/get for plain form posts: the browser lands on a page it can reload."""
    return Redirect(path=location, status_code=303, cookies=list(cookies))


def fresh_csrf(services: Services) -> tuple[str, Cookie]:
    """A new CSRF token and its cookie: rotated whenever the session id is."""
    token = generate_csrf_token(secret=services.csrf_secret)
    cookie = PlainCookie(
        key=services.csrf_cookie,
        value=token,
        path="/",
        secure=services.settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return token, cookie
