"""The audit log in the administration page: filters, pages, and the CSV export."""

from __future__ import annotations

from datetime import datetime, timezone

from litestar import Controller, Request, Response, get
from litestar.response import Template

from web.auth import audit
from web.views.access import ACCESS_HANDLERS, admin_only
from web.views.admin_support import AdminQuery, audit_context, respond
from web.views.deps import AppServices

AUDIT_REGION = "partials/admin/audit.html"


class AdminAuditController(Controller):
    path = "/admin/audit"
    guards = [admin_only]
    exception_handlers = ACCESS_HANDLERS  # type: ignore[assignment]

    @get("/")
    async def events(self, request: Request, services: AppServices) -> Template:
        return await respond(request, services, AUDIT_REGION, await audit_context(AdminQuery.of(request)))

    @get("/export.csv")
    async def export(self, request: Request) -> Response[str]:
        body = await audit.export_csv(AdminQuery.of(request).audit_filter)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        disposition = f'attachment; filename="provconnect-audit-{stamp}.csv"'
        return Response(body, media_type="text/csv; charset=utf-8", headers={"content-disposition": disposition})
