"""The account-changing ``user`` commands, run as an operator would, and their audit entries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.cli.test_cli import run

PASSWORD = "correct horse battery\n"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    assert run(tmp_path, "user", "add", "root", "--admin", "--password-stdin", stdin=PASSWORD).returncode == 0
    assert run(tmp_path, "user", "add", "bob", "--password-stdin", stdin=PASSWORD).returncode == 0
    return tmp_path


def _rows(data_dir: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(data_dir / "provconnect.sqlite3") as db:
        return db.execute(sql).fetchall()


def _audit(data_dir: Path) -> list[tuple[object, ...]]:
    return _rows(data_dir, "SELECT action, outcome, actor, target, via, reason FROM audit_events ORDER BY id")


def test_revoke_then_require_2fa(data_dir: Path) -> None:
    revoked = run(data_dir, "user", "revoke-2fa", "BOB", "--reason", "lost phone, ticket 42")
    assert revoked.returncode == 0, revoked.stderr
    assert "2FA revoked for bob" in revoked.stdout
    assert "bob\tuser\texempt\tactive" in run(data_dir, "user", "list").stdout
    required = run(data_dir, "user", "require-2fa", "bob")
    assert required.returncode == 0 and "2FA required again for bob" in required.stdout
    assert "bob\tuser\tnot set up\tactive" in run(data_dir, "user", "list").stdout
    again = run(data_dir, "user", "require-2fa", "bob")
    assert again.returncode == 1 and again.stderr.strip() == "error: 2FA is already required for bob."
    assert _audit(data_dir)[-3:] == [
        ("admin.revoke_2fa", "success", None, "bob", "cli", "lost phone, ticket 42"),
        ("admin.require_2fa", "success", None, "bob", "cli", None),
        ("admin.require_2fa", "refused", None, "bob", "cli", None),
    ]


def test_reset_2fa_is_audited_as_the_command_line(data_dir: Path) -> None:
    assert run(data_dir, "user", "reset-2fa", "bob").returncode == 0
    assert _audit(data_dir)[-1] == ("admin.reset_2fa", "success", None, "bob", "cli", None)
    told = _rows(data_dir, "SELECT two_factor_changed_by_admin FROM users WHERE username = 'bob'")
    assert told == [("reset",)]


def test_unlock_clears_the_lock_and_every_counter(data_dir: Path) -> None:
    with sqlite3.connect(data_dir / "provconnect.sqlite3") as db:
        db.execute(
            "UPDATE users SET locked_at = '2026-01-01 00:00:00+00:00', password_failures = 7, "
            "password_blocked_until = 9e9, second_factor_failures = 100, second_factor_blocked_until = 9e9 "
            "WHERE username = 'bob'"
        )
    assert "bob\tuser\tnot set up\tlocked" in run(data_dir, "user", "list").stdout
    unlocked = run(data_dir, "user", "unlock", "bob")
    assert unlocked.returncode == 0 and "bob is unlocked" in unlocked.stdout
    assert _rows(
        data_dir,
        "SELECT locked_at, password_failures, password_blocked_until, second_factor_failures, "
        "second_factor_blocked_until FROM users WHERE username = 'bob'",
    ) == [(None, 0, 0, 0, 0)]
    assert "bob\tuser\tnot set up\tactive" in run(data_dir, "user", "list").stdout


def test_set_admin_and_the_last_admin_rule(data_dir: Path) -> None:
    alone = run(data_dir, "user", "set-admin", "root", "--off")
    assert alone.returncode == 1
    assert alone.stderr.strip().startswith("error: This is the last enabled administrator")
    assert run(data_dir, "user", "set-admin", "bob").returncode == 0
    assert "bob\tadmin\t" in run(data_dir, "user", "list").stdout
    demoted = run(data_dir, "user", "set-admin", "root", "--off", "--reason", "left the team")
    assert demoted.returncode == 0 and "root is no longer an administrator" in demoted.stdout
    actions = [row[:2] for row in _audit(data_dir)[-3:]]
    assert actions == [("admin.revoke_admin", "refused"), ("admin.grant_admin", "success"), ("admin.revoke_admin", "success")]


@pytest.mark.parametrize("command", ["reset-2fa", "revoke-2fa", "require-2fa", "unlock", "set-admin"])
def test_unknown_user_exits_1_with_one_line(data_dir: Path, command: str) -> None:
    result = run(data_dir, "user", command, "nobody")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: no user named 'nobody'"]


def test_user_add_is_audited_and_keeps_the_password(data_dir: Path) -> None:
    # A password typed by the operator is not an admin-set initial one: no forced change.
    assert _rows(data_dir, "SELECT must_change_password FROM users WHERE username = 'bob'") == [(0,)]
    assert ("admin.add_user", "success", None, "bob", "cli", None) in _audit(data_dir)
    assert ("admin.grant_admin", "success", None, "root", "cli", None) in _audit(data_dir)
