"""Benchmark: the administration users table with 10,000 users (not part of ``make test``).

    .venv/bin/python -m tests.bench.users_table [--users 10000] [--runs 7] [--requests 20]

Seeds a fresh SQLite database with that many users in a mix of states, signs an administrator in
through the app, and times the users table as the browser asks for it (in-process, through the
whole Litestar stack: guard, session, queries, template), plus the two queries alone. Each figure
is the median over ``--runs`` runs of the mean of ``--requests`` requests. It prints figures and
asserts nothing about time: compare runs on one machine, not across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from litestar.testing import TestClient

from tests.conftest import make_settings
from tests.support import Browser, FakeClock, seed_user
from web.app import create_app, services_of
from web.auth.directory import UserFilter, find_users
from web.db import apply_migrations
from web.models import User

LOCKED_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)  # a real datetime: PostgreSQL refuses strings

HTMX = {"HX-Request": "true"}
BATCH = 1000


def seed(client: TestClient, count: int) -> None:
    """``count`` users: a third enrolled, a tenth exempt, 2% disabled, 1% locked, a few admins."""

    async def insert() -> None:
        rows = []
        for number in range(count):
            rows.append(User(
                username=f"user-{number:05d}",
                password_hash="$argon2id$bench-not-a-real-hash",
                totp_secret_sealed=b"\x00" * 48 if number % 3 == 0 else None,
                totp_key_id="bench" if number % 3 == 0 else None,
                totp_exempt=number % 10 == 7,
                is_disabled=number % 50 == 11,
                locked_at=LOCKED_AT if number % 100 == 13 else None,
                is_admin=number % 1000 == 0,
            ))
        await User.bulk_create(rows, batch_size=BATCH)

    client.blocking_portal.call(insert)


def timed(run: Callable[[], object], requests: int, runs: int) -> tuple[float, float]:
    """(median, max) over ``runs`` of the mean milliseconds per call, after two warm-up calls."""
    run(), run()
    means = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(requests):
            run()
        means.append((time.perf_counter() - started) * 1000 / requests)
    return statistics.median(means), max(means)


def get(client: TestClient, path: str, *, htmx: bool = True) -> Callable[[], object]:
    def call() -> object:
        response = client.get(path, headers=HTMX if htmx else {})
        assert response.status_code == 200, (path, response.status_code)
        return response

    return call


def query(client: TestClient, filters: UserFilter, page: int) -> Callable[[], object]:
    return lambda: client.blocking_portal.call(find_users, filters, page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-users-"))
    try:
        settings = make_settings(folder)
        asyncio.run(apply_migrations(settings))
        with TestClient(create_app(settings)) as client:
            clock = FakeClock(time.time())
            services_of(client.app).clock = clock
            admin = seed_user(client, "bench-admin", admin=True)
            seed(client, args.users)
            Browser(client).sign_in(admin, clock)
            last_page = -(-(args.users + 1) // 50)
            cases = {
                "GET /admin (whole page, users + audit)": get(client, "/admin", htmx=False),
                "GET /admin/users (first page, fragment)": get(client, "/admin/users"),
                f"GET /admin/users?page={last_page} (last page)": get(client, f"/admin/users?page={last_page}"),
                "GET /admin/users?q=user-0999 (search)": get(client, "/admin/users?q=user-0999"),
                "GET /admin/users?state=locked (filter)": get(client, "/admin/users?state=locked"),
                "find_users(): first page, queries only": query(client, UserFilter(), 1),
                f"find_users(): page {last_page}, queries only": query(client, UserFilter(), last_page),
            }
            print(f"users table with {args.users:,} users (+1 admin); median of {args.runs} runs x {args.requests} requests")
            print(f"{'case':<48} {'median ms':>10} {'worst run ms':>13}")
            for name, run in cases.items():
                median, worst = timed(run, args.requests, args.runs)
                print(f"{name:<48} {median:>10.2f} {worst:>13.2f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
