"""Logging: uvicorn's access log without query strings, and one JSON line per authentication event.

The first-administrator link carries its one-time token in the query string; an access log line
must never hold a secret (ASVS 16.5.3), so every access record is cut at the '?'.
"""

from __future__ import annotations

import json
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
    config["formatters"] = {**LOGGING_CONFIG["formatters"], "json": {"()": "web.logs.JsonLineFormatter"}}
    config["handlers"]["auth"] = {"formatter": "json", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    config["loggers"] = {**LOGGING_CONFIG["loggers"], AUTH_LOGGER.name: {"handlers": ["auth"], "level": "INFO", "propagate": False}}
    return config


AUTH_LOGGER = logging.getLogger("provconnect.auth")


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: machines parse it, people can still read it."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            **getattr(record, "fields", {"message": record.getMessage()}),
        }
        return json.dumps(payload, ensure_ascii=True, separators=(",", ":"))


def auth_event(event: str, outcome: str, *, user: str | None, client: str | None, **extra: str | int) -> None:
    """Log one authentication event. Callers pass names and outcomes only, never a secret:
    no password, PIN, TOTP secret, recovery code, session id or token may go in ``extra``."""
    fields = {"event": event, "outcome": outcome, "user": user, "client": client, **extra}
    AUTH_LOGGER.info("%s %s", event, outcome, extra={"fields": fields})
