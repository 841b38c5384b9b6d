"""``serve --workers 2``: a real supervisor and two workers, each on a listening socket of its own.

What web/workers.py promises: a burst of keep-alive connections is spread over the workers (with
one shared socket the first worker to wake took them all), a port already served is refused with
one line, and a worker that dies is replaced on its socket so no connection waits on a socket
nobody serves. SQLite and the shared Redis (workers need it for sessions).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backends import SharedServers
from tests.conftest import TEST_SECRET_KEY
from tests.server_process import PROJECT_ROOT, ServerProcess

CONNECTIONS = 24  # all on one of two workers by chance: 2 in 2**24
REPLACEMENT_TIMEOUT_SECONDS = 60


@pytest.fixture(scope="module")
def environment(shared_servers: SharedServers, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "PROVCONNECT_DATA_DIR": str(tmp_path_factory.mktemp("workers")),
        "PROVCONNECT_SECRET_KEY": TEST_SECRET_KEY,
        "PROVCONNECT_REDIS_URL": shared_servers.redis_url,
        "PROVCONNECT_REDIS_NAMESPACE": shared_servers.new_namespace(),
    }


@pytest.fixture
def server(environment: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(environment, tmp_path / "server.log", workers=2)
    try:
        yield process.wait_ready()
    finally:
        process.stop()


def _established_by_worker(server: ServerProcess) -> dict[int, int]:
    """How many established connections to the server's port each worker holds (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == server.port and fields[3] == "01":  # ESTABLISHED
                inodes.add(fields[9])
    held = {}
    for pid in server.worker_pids():
        links = (os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir() if fd.is_symlink())
        held[pid] = sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in inodes)
    return held


def _open_at_once(server: ServerProcess, count: int) -> list[socket.socket]:
    """``count`` keep-alive connections from distinct loopback addresses, each answered once."""
    connections = []
    for n in range(count):
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=30, source_address=(f"127.0.9.{n + 1}", 0))
        connections.append(connection)
    for connection in connections:  # requests only once all are open: the burst a proxy's pool makes
        connection.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
    for connection in connections:
        assert connection.recv(4096).startswith(b"HTTP/1.1 200")
    return connections


def _assert_a_burst_reaches_both_workers(server: ServerProcess) -> None:
    connections = _open_at_once(server, CONNECTIONS)
    try:
        held = _established_by_worker(server)
        assert len(held) == 2 and sum(held.values()) == CONNECTIONS, held
        assert min(held.values()) > 0, f"one worker took every connection: {held}"
    finally:
        for connection in connections:
            connection.close()


def test_a_burst_of_keep_alive_connections_is_spread_over_both_workers(server: ServerProcess) -> None:
    _assert_a_burst_reaches_both_workers(server)


def test_a_port_already_served_is_refused_with_one_line(server: ServerProcess, environment: dict[str, str]) -> None:
    env = {**os.environ, **environment}
    result = subprocess.run(
        [sys.executable, "-m", "web", "serve", "--port", str(server.port), "--workers", "2"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: cannot listen on 127.0.0.1:{server.port}: ")
    assert httpx.get(server.url + "/healthz").status_code == 200  # the running server is untouched


def test_a_worker_that_dies_is_replaced_on_its_own_socket(server: ServerProcess) -> None:
    victim, survivor = server.worker_pids()
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + REPLACEMENT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        pids = server.worker_pids()
        if len(pids) == 2 and victim not in pids:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"no replacement worker after {REPLACEMENT_TIMEOUT_SECONDS}s: {server.worker_pids()}")
    assert survivor in server.worker_pids()
    server.wait_ready()
    # New connections land on both sockets by their addresses: every one must be answered.
    _assert_a_burst_reaches_both_workers(server)


def test_sighup_replaces_every_worker_while_the_port_keeps_answering(server: ServerProcess) -> None:
    before = set(server.worker_pids())
    os.kill(server.process.pid, signal.SIGHUP)  # uvicorn's supervisor: restart all workers, one by one
    deadline = time.monotonic() + REPLACEMENT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert httpx.get(server.url + "/healthz", timeout=30).status_code == 200
        now = set(server.worker_pids())
        if len(now) == 2 and not now & before:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"workers not replaced after {REPLACEMENT_TIMEOUT_SECONDS}s: {before} -> {server.worker_pids()}")
    _assert_a_burst_reaches_both_workers(server)
