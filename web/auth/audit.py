"""The audit log: who did what to whom, when, from where, and why. Never a password, PIN or secret.

Callers pass names and outcomes only; the one free-text column is the reason an administrator
types, which is cleaned (control characters dropped, length capped) before it is stored.
The client address comes from the request being served: the web layer puts it in
``CLIENT_ADDRESS`` (a context variable) so the domain code never needs the request itself.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from web import db_statements
from web.auth.paging import Page, paginate
from web.models import AuditEvent

CLIENT_ADDRESS: ContextVar[str | None] = ContextVar("audit_client_address", default=None)
REASON_MAX_CHARS = 500
ADDRESS_MAX_CHARS = 64
PAGE_SIZE = 50
EXPORT_MAX_ROWS = 100_000

VIA_WEB = "web"
VIA_CLI = "cli"
SUCCESS, FAILURE, THROTTLED, REFUSED = "success", "failure", "throttled", "refused"
OUTCOMES = (SUCCESS, FAILURE, THROTTLED, REFUSED)

# Sign-in and self-service
SIGN_IN = "sign_in"
PASSWORD_STEP = "sign_in.password"
PIN_STEP = "sign_in.pin"
RECOVERY_CODE = "sign_in.recovery_code"
ENROLLED = "two_factor.enrolled"
REPLACED = "two_factor.replaced"
CODES_REGENERATED = "recovery_codes.regenerated"
PASSWORD_CHANGED = "password.changed"
STEP_UP = "step_up"
# Administration
ADD_USER = "admin.add_user"
RESET_2FA = "admin.reset_2fa"
REVOKE_2FA = "admin.revoke_2fa"
REQUIRE_2FA = "admin.require_2fa"
UNLOCK = "admin.unlock"
DISABLE = "admin.disable"
ENABLE = "admin.enable"
RESET_PASSWORD = "admin.reset_password"
GRANT_ADMIN = "admin.grant_admin"
REVOKE_ADMIN = "admin.revoke_admin"
POLICY_2FA_ON = "admin.policy_2fa_required"
POLICY_2FA_OFF = "admin.policy_2fa_optional"

LABELS = {
    SIGN_IN: "Signed in",
    PASSWORD_STEP: "Password step",
    PIN_STEP: "PIN step",
    RECOVERY_CODE: "Recovery code used",
    ENROLLED: "2FA set up",
    REPLACED: "Authenticator replaced",
    CODES_REGENERATED: "Recovery codes regenerated",
    PASSWORD_CHANGED: "Password changed",
    STEP_UP: "PIN re-checked",
    ADD_USER: "User added",
    RESET_2FA: "2FA reset",
    REVOKE_2FA: "2FA revoked",
    REQUIRE_2FA: "2FA required",
    UNLOCK: "Account unlocked",
    DISABLE: "Account disabled",
    ENABLE: "Account enabled",
    RESET_PASSWORD: "Password reset",
    GRANT_ADMIN: "Made administrator",
    REVOKE_ADMIN: "Administrator role removed",
    POLICY_2FA_ON: "2FA required for all users",
    POLICY_2FA_OFF: "2FA made optional",
}
SIGN_IN_ACTIONS = (SIGN_IN, PASSWORD_STEP, PIN_STEP, RECOVERY_CODE)
CSV_HEADER = ("time (UTC)", "action", "outcome", "actor", "target", "client address", "via", "reason")
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


async def record(
    action: str,
    *,
    outcome: str = SUCCESS,
    actor: str | None = None,
    target: str | None = None,
    reason: str | None = None,
    via: str = VIA_WEB,
    client_address: str | None = None,
) -> None:
    address = client_address if client_address is not None else CLIENT_ADDRESS.get()
    await db_statements.insert(  # one row on every sign-in: the hot path's INSERT (web/db_statements.py)
        AuditEvent,
        at=datetime.now(timezone.utc),
        action=action,
        outcome=outcome,
        actor=actor,
        target=target,
        reason=clean_reason(reason),
        via=via,
        client_address=address[:ADDRESS_MAX_CHARS] if address else None,
    )


def clean_reason(reason: str | None) -> str | None:
    """A reason fit to store and show: one line, no control characters, at most REASON_MAX_CHARS."""
    if reason is None:
        return None
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in reason)
    text = " ".join(text.split())[:REASON_MAX_CHARS]
    return text or None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the audit view narrows down to; empty values mean "any"."""

    user: str = ""
    action: str = ""
    outcome: str = ""

    def query(self) -> QuerySet[AuditEvent]:
        query = AuditEvent.all()
        if self.user:
            query = query.filter(Q(actor=self.user) | Q(target=self.user))
        if self.action in LABELS:
            query = query.filter(action=self.action)
        elif self.action == "sign_ins":
            query = query.filter(action__in=SIGN_IN_ACTIONS)
        elif self.action == "admin":
            query = query.filter(action__startswith="admin.")
        if self.outcome in OUTCOMES:
            query = query.filter(outcome=self.outcome)
        return query.order_by("-at", "-id")


async def search(filters: AuditFilter, page: int, size: int = PAGE_SIZE) -> Page[AuditEvent]:
    return await paginate(filters.query(), page, size)


async def recent_sign_ins(username: str, limit: int = 10) -> list[AuditEvent]:
    """The account's last sign-in events (successes and failures), newest first."""
    query = AuditEvent.filter(target=username, action__in=SIGN_IN_ACTIONS).order_by("-at", "-id")
    return list(await query.limit(limit))


async def export_csv(filters: AuditFilter) -> str:
    rows = await filters.query().limit(EXPORT_MAX_ROWS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(_csv_row(event) for event in rows)
    return buffer.getvalue()


def _csv_row(event: AuditEvent) -> Iterable[str]:
    at = event.at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    values = (at, event.action, event.outcome, event.actor, event.target, event.client_address, event.via, event.reason)
    return [_csv_safe(value or "") for value in values]


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ is run as a formula by spreadsheets (CSV injection, OWASP).
    return "'" + value if value.startswith(CSV_FORMULA_PREFIXES) else value


def format_time(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
