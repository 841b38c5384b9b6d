"""Recovery codes: ten single-use codes of 80 random bits, shown once and stored as keyed hashes.

The codes are random enough that a fast keyed hash (HMAC-SHA256) is the right store: argon2 would
add nothing against guessing 80 bits, and the key keeps a database dump alone from testing guesses.
"""

from __future__ import annotations

import base64
import re
import secrets

from web.auth.crypto import Keyed

RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_BYTES = 10  # 80 bits, above the 64 the product asks for
RECOVERY_GROUP_CHARS = 4
CANONICAL_PATTERN = re.compile(r"[a-z2-7]{16}", flags=re.ASCII)


class RecoveryCodeFormatError(ValueError):
    """The text cannot be a recovery code."""


def new_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Fresh codes as shown to people: ``abcd-efgh-ijkl-mnop``."""
    return [_display(_random_canonical()) for _ in range(count)]


def canonical(raw: str) -> str:
    """The comparable form of a typed code: lower case, without spaces and dashes."""
    if not raw.isascii():  # before lower()/strip(): U+212A KELVIN SIGN lowercases to "k"
        raise RecoveryCodeFormatError("Enter a recovery code like abcd-efgh-ijkl-mnop.")
    text = raw.strip().lower().replace("-", "").replace(" ", "")
    if CANONICAL_PATTERN.fullmatch(text) is None:
        raise RecoveryCodeFormatError("Enter a recovery code like abcd-efgh-ijkl-mnop.")
    return text


def fingerprint(keyed: Keyed, code: str) -> str:
    """The stored form of a code (any display form of the same code gives the same value)."""
    return keyed.digest("recovery:" + canonical(code))


def _random_canonical() -> str:
    return base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()


def _display(code: str) -> str:
    return "-".join(code[i : i + RECOVERY_GROUP_CHARS] for i in range(0, len(code), RECOVERY_GROUP_CHARS))
