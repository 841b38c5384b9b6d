"""Unit-test fixtures: the anyio backend, and the ORM opened on the per-test SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from web.db import close_database, open_database
from web.services import Services, build_services
from web.settings import Settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[None]:
    """Tortoise open on this test's freshly migrated SQLite file, closed afterwards."""
    context = await open_database(settings)
    try:
        yield
    finally:
        await close_database(context)


@pytest.fixture
def services(settings: Settings) -> Services:
    return build_services(settings)
