"""Redis (the shared store of sessions and per-address limits) unreachable: sign-in fails closed with 503."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import TestClient

from tests.conftest import DATABASE_FILE, make_settings
from tests.support import Browser, install_clock, seed_user
from web.app import create_app

pytest.importorskip("hiredis")

NOTHING_LISTENS = "redis://127.0.0.1:1/0"  # port 1 on loopback: connection refused at once


def test_unreachable_redis_answers_503_and_lets_nobody_in(tmp_path: Path, migrated_template: Path) -> None:
    (tmp_path / DATABASE_FILE).write_bytes(migrated_template.read_bytes())
    settings = make_settings(tmp_path, redis_url=NOTHING_LISTENS)
    with TestClient(create_app(settings)) as client:
        install_clock(client.app)
        alice = seed_user(client, "alice")
        browser = Browser(client)  # the sign-in page itself needs no store
        answer = browser.password(alice)
        assert answer.status_code == 503 and "Temporarily unavailable" in answer.text
        assert "Traceback" not in answer.text and "Signed in as" not in client.get("/").text
