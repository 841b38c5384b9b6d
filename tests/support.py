"""Test helpers: a fake clock, user seeding through the app's portal, and a form-posting client."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyotp
from litestar import Litestar
from litestar.testing import TestClient

from web.app import services_of
from web.auth import totp
from web.auth.users import create_user
from web.models import User

CSRF_INPUT = re.compile(r'name="_csrf_token" value="([0-9a-f]+)"')
SECRET_KEY_TEXT = re.compile(r'data-copy-text="([A-Z2-7]+)"')
RECOVERY_CODE_TEXT = re.compile(r"<code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code>")
PASSWORD = "correct horse battery staple"
# A moment well inside a 30-second step, so ±1 step arithmetic in tests is unambiguous.
START_TIME = 1_800_000_015.0


class FakeClock:
    """The app's clock, moved by hand."""

    def __init__(self, now: float = START_TIME) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class SeededUser:
    username: str
    password: str
    secret: str | None
    user_id: int

    def pin(self, at: float, offset_steps: int = 0) -> str:
        assert self.secret is not None
        return totp.code_at(self.secret, totp.current_step(at) + offset_steps)


def install_clock(app: Litestar) -> FakeClock:
    clock = FakeClock()
    services_of(app).clock = clock
    return clock


def seed_user(
    client: TestClient, username: str, *, enrolled: bool = True, admin: bool = False, exempt: bool = False
) -> SeededUser:
    """Create a user through the app's own event loop (the test client runs it on another)."""
    services = services_of(client.app)
    secret = pyotp.random_base32(32) if enrolled else None

    async def create() -> int:
        user = await create_user(services.hashing, username, PASSWORD, is_admin=admin)
        if secret is not None:
            sealed = services.two_factor.seal_secret(user.id, secret)
            await User.filter(id=user.id).update(totp_secret_sealed=sealed.ciphertext, totp_key_id=sealed.key_id)
        if exempt:
            await User.filter(id=user.id).update(totp_exempt=True)
        return user.id

    user_id = client.blocking_portal.call(create)
    return SeededUser(username, PASSWORD, secret, user_id)


def load_user(client: TestClient, user_id: int) -> User:
    async def fetch() -> User:
        return await User.get(id=user_id)

    return client.blocking_portal.call(fetch)


def csrf_token(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


class Browser:
    """Posts forms as the page would: with the CSRF token of the last page, optionally as htmx."""

    def __init__(self, client: TestClient, *, htmx: bool = True) -> None:
        self.client = client
        self.htmx = htmx
        self.token = csrf_token(client.get("/").text)

    def post(self, path: str, data: dict[str, str], *, htmx: bool | None = None, **kwargs):  # type: ignore[no-untyped-def]
        headers = {"HX-Request": "true"} if (self.htmx if htmx is None else htmx) else {}
        headers.update(kwargs.pop("headers", {}))
        response = self.client.post(path, data={**data, "_csrf_token": self.token}, headers=headers, **kwargs)
        if CSRF_INPUT.search(response.text):
            self.token = csrf_token(response.text)
        return response

    def get(self, path: str):  # type: ignore[no-untyped-def]
        response = self.client.get(path)
        if CSRF_INPUT.search(response.text):
            self.token = csrf_token(response.text)
        return response

    def password(self, user: SeededUser | str, password: str | None = None):  # type: ignore[no-untyped-def]
        name = user if isinstance(user, str) else user.username
        secret = password if password is not None else (user.password if not isinstance(user, str) else PASSWORD)
        return self.post("/signin/password", {"username": name, "password": secret})

    def sign_in(self, user: SeededUser, clock: FakeClock):  # type: ignore[no-untyped-def]
        first = self.password(user)
        assert first.status_code == 200, first.text
        return self.post("/signin/pin", {"pin": user.pin(clock.now)})

    def session_id(self) -> str | None:
        for name in ("provconnect_session", "__Host-provconnect_session"):
            value = self.client.cookies.get(name)
            if value:
                return value
        return None
