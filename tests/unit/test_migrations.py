"""Migrations upgrade a database that already holds accounts, on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.conftest import make_settings
from web.db import apply_migrations


def test_upgrading_from_the_first_schema_keeps_users_and_fills_new_columns(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    asyncio.run(apply_migrations(settings, target="models.0001_initial"))
    database = tmp_path / "provconnect.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO users (username, password_hash, is_admin, is_disabled, totp_last_step, totp_exempt,"
            " auth_epoch, created_at) VALUES ('old', 'x', 0, 0, 0, 0, 0, '2026-01-01 00:00:00+00:00')"
        )
    asyncio.run(apply_migrations(settings))
    with sqlite3.connect(database) as connection:
        row = connection.execute(
            "SELECT username, password_failures, second_factor_failures, must_change_password FROM users"
        ).fetchone()
    assert row == ("old", 0, 0, 0)
