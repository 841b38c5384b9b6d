"""When the database is unreachable, sign-in fails closed with a readable 503 and recovers by itself.

The database is a real PostgreSQL reached through a loopback proxy that the test cuts and restores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from litestar.testing import TestClient

from tests.backends import SharedServers
from tests.conftest import make_settings
from tests.support import Browser, install_clock, seed_user
from tests.tcp_proxy import TcpProxy
from web.app import create_app

RECOVERY_ATTEMPTS = 50


@pytest.fixture
def proxy(shared_servers: SharedServers) -> Iterator[TcpProxy]:
    shared_servers.empty_tables()
    target = urlsplit(shared_servers.database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    yield proxy
    proxy.close()


@pytest.fixture
def client(proxy: TcpProxy, shared_servers: SharedServers, tmp_path: Path) -> Iterator[TestClient]:
    target = urlsplit(shared_servers.database_url)
    netloc = f"{target.username or 'postgres'}@127.0.0.1:{proxy.port}"
    proxied = urlunsplit((target.scheme, netloc, target.path, target.query, ""))
    with TestClient(create_app(make_settings(tmp_path, database_url=proxied))) as test_client:
        yield test_client


def test_unreachable_database_answers_503_lets_nobody_in_and_recovers(client: TestClient, proxy: TcpProxy) -> None:
    clock = install_clock(client.app)
    alice = seed_user(client, "alice")
    browser = Browser(client)
    browser.password(alice)

    proxy.cut()
    down = browser.post("/signin/pin", {"pin": alice.pin(clock.now)})
    assert down.status_code == 503 and "Temporarily unavailable" in down.text and "Traceback" not in down.text
    assert client.get("/healthz").status_code == 503
    assert browser.password(alice).status_code == 503
    assert "Signed in as" not in client.get("/").text

    proxy.restore()
    statuses = [client.get("/healthz").status_code for _ in range(RECOVERY_ATTEMPTS)]
    assert statuses[-1] == 200, statuses  # recovered without a restart
    clock.advance(30)
    browser.password(alice)
    assert browser.post("/signin/pin", {"pin": alice.pin(clock.now)}).status_code == 200
