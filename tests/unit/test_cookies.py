"""PlainCookie writes exactly the Set-Cookie header Litestar's Cookie writes."""

from __future__ import annotations

import itertools
import secrets

import pytest
from litestar.datastructures import Cookie

from web.cookies import PlainCookie

VALUES = ["", secrets.token_urlsafe(32), "0123abcd.ef45-6789_", "needs quoting; really", 'quote"d', "é"]


@pytest.mark.parametrize(
    ("value", "secure", "httponly", "max_age", "samesite"),
    list(itertools.product(VALUES, (True, False, None), (True, False), (None, 0, 7_776_000), ("lax", "strict"))),
)
def test_the_header_is_litestars_to_the_byte(
    value: str, secure: bool | None, httponly: bool, max_age: int | None, samesite: str
) -> None:
    options = dict(key="__Host-provconnect_session", value=value, path="/", secure=secure, httponly=httponly,
                   max_age=max_age, samesite=samesite)
    assert PlainCookie(**options).to_encoded_header() == Cookie(**options).to_encoded_header()  # type: ignore[arg-type]


def test_domain_and_expires_take_litestars_own_path() -> None:
    options = dict(key="k", value="v", domain="example.com", expires=60)
    assert PlainCookie(**options).to_encoded_header() == Cookie(**options).to_encoded_header()  # type: ignore[arg-type]
