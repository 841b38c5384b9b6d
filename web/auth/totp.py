"""TOTP (RFC 6238, 30-second steps, 6 digits): format check, window check and clock-drift hint.

Order matters: the format is checked in plain ASCII first (pyotp NFKC-normalises its input, so
fullwidth digits would otherwise pass), then the ±1 step window. Single use is the caller's job:
:func:`match_step` returns the time step that matched so the caller can claim it atomically.
"""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass

import pyotp

PIN_DIGITS = 6
STEP_SECONDS = 30
SECRET_BYTES = 20  # 160 bits, the RFC 4226 recommendation
WINDOW_STEPS = 1  # accept the previous and next step: phones drift (README, decided deviations)
DRIFT_SEARCH_STEPS = 10  # look this far (±5 minutes) to tell a user their clock is off
PIN_PATTERN = re.compile(r"[0-9]{6}", flags=re.ASCII)
PIN_SEPARATORS = re.compile(r"[ \t\-]")


class PinFormatError(ValueError):
    """The PIN is not six ASCII digits."""


@dataclass(frozen=True, slots=True)
class PinCheck:
    """The outcome of checking a PIN against a secret at one moment."""

    step: int | None
    """The matched time step inside the window, or None if the PIN does not match."""
    drift_seconds: int | None = None
    """If the PIN matches a step outside the window: how far the device clock seems off."""

    @property
    def ok(self) -> bool:
        return self.step is not None


def new_secret() -> str:
    """A fresh base32 secret of 160 random bits."""
    return pyotp.random_base32(length=SECRET_BYTES * 8 // 5)


def normalise_pin(raw: str) -> str:
    """Drop the spaces and dashes people paste; everything else is left for the format check."""
    return PIN_SEPARATORS.sub("", raw)


def require_pin_format(pin: str) -> str:
    """Return ``pin`` if it is exactly six ASCII digits, else raise :class:`PinFormatError`."""
    if PIN_PATTERN.fullmatch(pin) is None:
        raise PinFormatError("Enter the 6-digit code from your authenticator app.")
    return pin


def current_step(now: float) -> int:
    return int(now) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=PIN_DIGITS, interval=STEP_SECONDS).generate_otp(step)


def match_step(secret: str, pin: str, *, now: float | None = None) -> PinCheck:
    """Check a well-formed ``pin`` against ``secret`` within the window around ``now``."""
    require_pin_format(pin)
    step_now = current_step(time.time() if now is None else now)
    for offset in _offsets(WINDOW_STEPS, step_now):
        if hmac.compare_digest(code_at(secret, step_now + offset), pin):
            return PinCheck(step=step_now + offset)
    return PinCheck(step=None, drift_seconds=_drift(secret, pin, step_now))


def _drift(secret: str, pin: str, step_now: int) -> int | None:
    for offset in _offsets(DRIFT_SEARCH_STEPS, step_now):
        if abs(offset) > WINDOW_STEPS and hmac.compare_digest(code_at(secret, step_now + offset), pin):
            return offset * STEP_SECONDS
    return None


def _offsets(reach: int, step_now: int) -> list[int]:
    # Nearest first, so the smallest plausible drift is the one reported; no step before 1970.
    offsets = [offset for offset in range(-reach, reach + 1) if step_now + offset >= 0]
    return sorted(offsets, key=lambda offset: (abs(offset), offset))


def group_secret(secret: str, size: int = 4) -> str:
    """The key as people read it: groups of four separated by spaces."""
    return " ".join(secret[i : i + size] for i in range(0, len(secret), size))


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI that authenticator apps read from the QR code."""
    return pyotp.TOTP(secret, digits=PIN_DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def describe_drift(seconds: int) -> str:
    """Tell the user which way their device clock is off, rounded to the half minute."""
    minutes = round(abs(seconds) / 30) / 2
    amount = f"{minutes:g} minute" + ("" if minutes == 1 else "s")
    direction = "ahead" if seconds > 0 else "behind"
    return f"Your device's clock looks about {amount} {direction}. Set it to update automatically, then try a new code."
