"""Litestar's Cookie, encoded without http.cookies and dataclasses.asdict.

Litestar builds each Set-Cookie header through a SimpleCookie fed by ``asdict`` (a deep copy of
the cookie): py-spy put ~6% of the PIN step's CPU there, for its three cookies. The values this
application sets are URL-safe tokens (or empty, to expire one), so the header is written out
directly, in exactly SimpleCookie's text; any other value falls back to Litestar's own encoding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from litestar.datastructures import Cookie

_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.\-]+")  # needs no quoting in a cookie
EMPTY_VALUE = '""'  # how SimpleCookie writes an empty value (the expired session cookie)


@dataclass
class PlainCookie(Cookie):
    def to_encoded_header(self) -> tuple[bytes, bytes]:
        value = self.value or ""
        if (value and _PLAIN_VALUE.fullmatch(value) is None) or self.domain or self.expires is not None:
            return super().to_encoded_header()
        # SimpleCookie's order: its attributes sorted by name; an empty value is written as "".
        parts = [f"{self.key}={value or EMPTY_VALUE}"]
        if self.httponly:
            parts.append("HttpOnly")
        if self.max_age is not None:
            parts.append(f"Max-Age={self.max_age}")
        if self.path:
            parts.append(f"Path={self.path}")
        if self.samesite:
            parts.append(f"SameSite={self.samesite}")
        if self.secure:
            parts.append("Secure")
        return b"set-cookie", "; ".join(parts).encode("latin-1")
