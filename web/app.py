"""create_app(settings): wiring only. Nothing happens at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar_htmx import HTMXPlugin

from web.db import close_database, database_upkeep, open_database, outage_errors
from web.services import Services, build_services
from web.settings import Settings
from web.views.account import AccountController
from web.views.account_authenticator import AuthenticatorController
from web.views.address_limit import PerAddressLimit
from web.views.admin import AdminController
from web.views.admin_audit import AdminAuditController
from web.views.audit_context import audit_context
from web.views.errors import database_unavailable_handler, http_exception_handler, internal_error_handler
from web.views.pages import healthz, index
from web.views.password_change import new_password
from web.views.security import add_security_headers, require_same_origin
from web.views.setup import setup_page, setup_submit
from web.views.signin import SignInController, sign_out

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "components"
STATIC_DIR = PROJECT_ROOT / "static"
STATIC_MAX_AGE_SECONDS = 3600


def template_environment() -> Environment:
    # Built by hand so autoescape is explicit: from_environment() would keep Jinja's default (off).
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates change only with a release: no stat() of every template file on every render.
        auto_reload=False,
    )


def create_app(settings: Settings) -> Litestar:
    services = build_services(settings)

    @asynccontextmanager
    async def database(_: Litestar) -> AsyncIterator[None]:
        context = await open_database(settings)
        try:
            async with database_upkeep(settings):
                yield
        finally:
            await close_database(context)

    app = Litestar(
        route_handlers=[
            index,
            AccountController,
            AuthenticatorController,
            AdminController,
            AdminAuditController,
            new_password,
            healthz,
            setup_page,
            setup_submit,
            SignInController,
            sign_out,
            create_static_files_router(
                path="/static", directories=[STATIC_DIR], cache_control=None, include_in_schema=False
            ),
        ],
        dependencies={"services": Provide(lambda: services, use_cache=True, sync_to_thread=False)},
        lifespan=[database, lambda _: services.shared.kept()],
        plugins=[HTMXPlugin()],
        template_config=TemplateConfig(
            engine=JinjaTemplateEngine.from_environment(template_environment()),
        ),
        csrf_config=CSRFConfig(
            secret=services.csrf_secret,
            cookie_name=services.csrf_cookie,
            cookie_secure=settings.secure_cookies,
            cookie_httponly=True,
            cookie_samesite="lax",
            exclude=["^/static/", "^/healthz$"],  # anchored: Litestar searches anywhere in the path
        ),
        middleware=[audit_context, PerAddressLimit(services.shared.address_counts, services.sessions)],
        before_request=require_same_origin,
        before_send=[add_security_headers],
        exception_handlers={
            HTTPException: http_exception_handler,
            **{error: database_unavailable_handler for error in outage_errors(settings)},
            Exception: internal_error_handler,
        },
        openapi_config=None,
        debug=False,
    )
    app.state.services = services
    return app


def services_of(app: Litestar) -> Services:
    return app.state.services  # type: ignore[no-any-return]
