"""The users table of the administration page: states, search, filters and pages.

One COUNT and one LIMIT/OFFSET query per page, reading only the columns the table shows, so the
page costs the same with ten users or ten thousand.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from tortoise.queryset import QuerySet

from web.auth.paging import Page, paginate
from web.models import User

PAGE_SIZE = 50
SEARCH_MAX_CHARS = 64
ENABLED, NOT_SET_UP, EXEMPT = "Enabled", "Not set up", "Exempt"
ACTIVE, DISABLED, LOCKED = "Active", "Disabled", "Locked"
# The filter menu: value in the query string -> label shown.
STATE_FILTERS = {
    "": "All users",
    "enabled": "2FA enabled",
    "not-set-up": "2FA not set up",
    "exempt": "2FA exempt",
    "active": "Active",
    "disabled": "Disabled",
    "locked": "Locked",
    "admins": "Administrators",
}
TABLE_COLUMNS = (
    "id", "username", "is_admin", "is_disabled", "totp_exempt", "totp_secret_sealed", "last_sign_in_at", "locked_at",
    "password_failures", "second_factor_failures",
)


def two_factor_label(user: User) -> str:
    """Enabled, Not set up or Exempt (exempt wins: an exempt user signs in with the password alone)."""
    if user.totp_exempt:
        return EXEMPT
    return ENABLED if user.has_totp else NOT_SET_UP


def account_label(user: User) -> str:
    if user.is_disabled:
        return DISABLED
    return LOCKED if user.locked_at is not None else ACTIVE


@dataclass(frozen=True, slots=True)
class UserFilter:
    search: str = ""
    state: str = ""

    def query(self) -> QuerySet[User]:
        query = _by_state(User.all(), self.state if self.state in STATE_FILTERS else "")
        needle = normalise_search(self.search)
        if needle:
            query = query.filter(username__contains=needle)  # LIKE wildcards in the needle are escaped
        return query.order_by("username").only(*TABLE_COLUMNS)


def normalise_search(raw: str) -> str:
    # Usernames are stored NFKC + case-folded: fold the search the same way so "ＡLI" finds "alice".
    return unicodedata.normalize("NFKC", raw).casefold().strip()[:SEARCH_MAX_CHARS]


def _by_state(query: QuerySet[User], state: str) -> QuerySet[User]:
    if state == "enabled":
        return query.filter(totp_exempt=False, totp_secret_sealed__isnull=False)
    if state == "not-set-up":
        return query.filter(totp_exempt=False, totp_secret_sealed__isnull=True)
    if state == "exempt":
        return query.filter(totp_exempt=True)
    if state == "active":
        return query.filter(is_disabled=False, locked_at__isnull=True)
    if state == "disabled":
        return query.filter(is_disabled=True)
    if state == "locked":
        return query.filter(is_disabled=False, locked_at__isnull=False)
    if state == "admins":
        return query.filter(is_admin=True)
    return query


async def find_users(filters: UserFilter, page: int, size: int = PAGE_SIZE) -> Page[User]:
    return await paginate(filters.query(), page, size)
