"""A SQLite-only server does not load the PostgreSQL and Redis drivers (about 10 MB per worker with redis-py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_SECRET_KEY
from tests.server_process import PROJECT_ROOT

CHECK = """
import sys
from web.app import create_app
from web.settings import load_settings
create_app(load_settings({"PROVCONNECT_DATA_DIR": sys.argv[1], "PROVCONNECT_SECRET_KEY": sys.argv[2]}))
print(sorted(name for name in ("asyncpg", "redis", "hiredis") if name in sys.modules))
"""


def test_a_sqlite_only_app_imports_neither_the_postgresql_nor_the_redis_driver(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(tmp_path), TEST_SECRET_KEY],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60, check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
