from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from tests.support import Browser, FakeClock, install_clock
from web.app import create_app
from web.settings import Settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def clock(client: TestClient) -> FakeClock:
    return install_clock(client.app)


@pytest.fixture
def browser(client: TestClient, clock: FakeClock) -> Browser:
    return Browser(client)
