"""Several instances starting at once each apply the migrations: one at a time, all of them succeed."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path

from tests.backends import SharedServers, run_sql, with_database
from tests.conftest import TEST_SECRET_KEY
from tests.server_process import PROJECT_ROOT

INSTANCES = 3


def migrate_at_once(environment: dict[str, str]) -> list[subprocess.CompletedProcess[bytes]]:
    plain = {k: v for k, v in os.environ.items() if not k.startswith("PROVCONNECT_")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "web", "migrate"], cwd=PROJECT_ROOT, env={**plain, **environment},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for _ in range(INSTANCES)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def test_instances_migrating_one_postgres_database_at_once_all_succeed(
    shared_servers: SharedServers, tmp_path: Path
) -> None:
    name = f"provconnect_test_migrate_{secrets.token_hex(4)}"
    asyncio.run(run_sql(shared_servers.server_url, f'CREATE DATABASE "{name}"'))
    try:
        environment = {
            "PROVCONNECT_DATA_DIR": str(tmp_path),
            "PROVCONNECT_SECRET_KEY": TEST_SECRET_KEY,
            "PROVCONNECT_DATABASE_URL": with_database(shared_servers.server_url, name),
        }
        results = migrate_at_once(environment)
        assert [r.returncode for r in results] == [0] * INSTANCES, [r.stderr.decode()[-500:] for r in results]
    finally:
        asyncio.run(run_sql(shared_servers.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_processes_migrating_one_sqlite_file_at_once_all_succeed(tmp_path: Path) -> None:
    environment = {"PROVCONNECT_DATA_DIR": str(tmp_path), "PROVCONNECT_SECRET_KEY": TEST_SECRET_KEY}
    results = migrate_at_once(environment)
    assert [r.returncode for r in results] == [0] * INSTANCES, [r.stderr.decode()[-500:] for r in results]
