"""The access log never holds the query string (where the one-time setup token travels)."""

from __future__ import annotations

import logging

from web.logs import DropQueryStrings, uvicorn_log_config


def test_access_records_lose_their_query_string() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/setup?token=very-secret", "1.1", 200), None,
    )
    assert DropQueryStrings().filter(record)
    assert "very-secret" not in record.getMessage() and "/setup" in record.getMessage()


def test_the_filter_is_installed_on_the_access_handler() -> None:
    config = uvicorn_log_config()
    assert config["handlers"]["access"]["filters"] == ["drop_query_strings"]
