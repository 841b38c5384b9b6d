"""The command line, run as an operator would: a real process on a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET_KEY

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run(data_dir: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PROVCONNECT_DATA_DIR": str(data_dir), "PROVCONNECT_SECRET_KEY": TEST_SECRET_KEY, **env}
    return subprocess.run(
        [sys.executable, "-m", "web", *args], input=stdin, capture_output=True, text=True,
        cwd=PROJECT_ROOT, env=environment, timeout=60,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path


def test_user_add_list_and_reset(data_dir: Path) -> None:
    added = run(data_dir, "user", "add", "Alice", "--admin", "--password-stdin", stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    run(data_dir, "user", "add", "bob", "--password-stdin", stdin="correct horse battery\n")
    listing = run(data_dir, "user", "list")
    assert listing.returncode == 0
    assert listing.stdout.splitlines() == ["alice\tadmin\tnot set up\tactive", "bob\tuser\tnot set up\tactive"]
    reset = run(data_dir, "user", "reset-2fa", "bob")
    assert reset.returncode == 0 and "2FA reset for bob" in reset.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("user", "reset-2fa", "nobody"), "", "no user named 'nobody'"),
        (("user", "add", "<script>", "--password-stdin"), "correct horse battery\n", "Use 1 to 64 of"),
        (("user", "add", "carol", "--password-stdin"), "short\n", "at least 8"),
    ],
)
def test_user_errors_exit_1_with_one_line(data_dir: Path, args: tuple[str, ...], stdin: str, message: str) -> None:
    result = run(data_dir, *args, stdin=stdin)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_taken_name_exits_1(data_dir: Path) -> None:
    run(data_dir, "user", "add", "dave", "--password-stdin", stdin="correct horse battery\n")
    again = run(data_dir, "user", "add", "DAVE", "--password-stdin", stdin="correct horse battery\n")
    assert again.returncode == 1 and again.stderr.strip() == "error: That username is taken."


def test_bad_setting_stops_with_one_line_naming_the_variable(data_dir: Path) -> None:
    result = run(data_dir, "user", "list", PROVCONNECT_PORT="eighty")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: PROVCONNECT_PORT: must be a whole number from 1 to 65535, got 'eighty'"
    ]


def test_migrate_is_idempotent(data_dir: Path) -> None:
    assert run(data_dir, "migrate").returncode == 0
    assert run(data_dir, "migrate").returncode == 0
    assert (data_dir / "provconnect.sqlite3").exists()


def test_generated_key_file_is_private(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PROVCONNECT_")}
    environment["PROVCONNECT_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "web", "user", "list"], capture_output=True, text=True, cwd=PROJECT_ROOT,
        env=environment, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_several_workers_without_redis_are_refused_with_one_line(data_dir: Path) -> None:
    result = run(data_dir, "serve", "--workers", "2", "--port", "8999", PROVCONNECT_REDIS_URL="")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: --workers above 1 needs PROVCONNECT_REDIS_URL (sessions must be shared by the workers)"
    ]
