"""Logging set-up for the server: uvicorn's access log without query strings.

The first-administrator link carries its one-time token in the query string; an access log line
must never hold a secret (ASVS 16.5.3), so every access record is cut at the '?'.
"""

from __future__ import annotations

import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG


class DropQueryStrings(logging.Filter):
    """Rewrite uvicorn access records so the path has no query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access records carry (client, method, path, http_version, status) as args.
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            args = list(record.args)
            args[2] = args[2].split("?", 1)[0]
            record.args = tuple(args)
        return True


def uvicorn_log_config() -> dict[str, Any]:
    config: dict[str, Any] = {key: (dict(value) if isinstance(value, dict) else value) for key, value in LOGGING_CONFIG.items()}
    config["filters"] = {"drop_query_strings": {"()": "web.logs.DropQueryStrings"}}
    config["handlers"] = {name: dict(handler) for name, handler in LOGGING_CONFIG["handlers"].items()}
    config["handlers"]["access"]["filters"] = ["drop_query_strings"]
    return config
