"""How a throttled answer reads: the same words whatever the secret would have been."""

from __future__ import annotations

from web.auth.throttle import Throttled

LOCKED_MESSAGE = "Too many attempts. This account is locked: ask an administrator to unlock it."


def throttle_message(throttled: Throttled) -> str:
    if throttled.locked:
        return LOCKED_MESSAGE
    return f"Too many attempts. Try again in {_duration(throttled.retry_after)}."


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"
