"""Settings: one struct read from the environment and validated at start-up.

Every bad value raises :class:`SettingsError` with one line that names the variable, so an operator
sees exactly what to fix and nothing starts half-configured.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import msgspec

from web.redis_address import BadRedisUrl, RedisAddress

ENV_PREFIX = "PROVCONNECT_"
SECRET_KEY_FILE_NAME = "secret.key"
SECRET_KEY_MIN_CHARS = 32
SECRET_KEY_FILE_MODE = 0o600
POSTGRES_SCHEMES = ("postgres://", "postgresql://")
REDIS_NAMESPACE_PATTERN = re.compile(r"[A-Za-z0-9._-]+", flags=re.ASCII)

SecureCookies = Literal["auto", "on", "off"]


class SettingsError(ValueError):
    """A setting has a bad value; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """The whole configuration of one server process."""

    data_dir: Path
    """Folder for the SQLite file and the generated key file (``PROVCONNECT_DATA_DIR``)."""
    database_url: str
    """Tortoise database URL (``PROVCONNECT_DATABASE_URL``); SQLite under ``data_dir`` by default."""
    redis_url: str | None = None
    """Shared store for sessions and per-address limits (``PROVCONNECT_REDIS_URL``); in-process if unset."""
    redis_namespace: str = "provconnect"
    """Prefix of every key this deployment puts in Redis (``PROVCONNECT_REDIS_NAMESPACE``)."""
    secret_key: str
    """Master key (``PROVCONNECT_SECRET_KEY``); encrypts TOTP secrets and signs tokens."""
    issuer: str = "ProVconnect"
    """Issuer name shown in authenticator apps (``PROVCONNECT_ISSUER``)."""
    host: str = "127.0.0.1"
    """Listen address (``PROVCONNECT_HOST``)."""
    port: int = 8000
    """Listen port (``PROVCONNECT_PORT``)."""
    secure_cookies: bool = False
    """``Secure`` + ``__Host-`` cookies (``PROVCONNECT_SECURE_COOKIES``: auto, on, off)."""
    session_idle_minutes: int = 30
    """A session ends after this many minutes without a request (``PROVCONNECT_SESSION_IDLE_MINUTES``)."""
    session_max_hours: int = 12
    """A session ends this many hours after sign-in whatever happens (``PROVCONNECT_SESSION_MAX_HOURS``)."""
    password_hash_concurrency: int = 1
    """Password hashes computed at once on this machine, by all the workers and instances that share
    the data directory (``PROVCONNECT_PASSWORD_HASH_CONCURRENCY``); the rest wait."""

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite://")

    @property
    def session_idle_seconds(self) -> int:
        return self.session_idle_minutes * 60

    @property
    def session_max_seconds(self) -> int:
        return self.session_max_hours * 3600


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read, validate and resolve the settings (creating the data folder and key file if needed)."""
    env = os.environ if environ is None else environ
    data_dir = Path(_get(env, "DATA_DIR") or "./var").expanduser().resolve()
    host = _get(env, "HOST") or "127.0.0.1"
    return Settings(
        data_dir=data_dir,
        database_url=_database_url(env, data_dir),
        redis_url=_redis_url(env),
        redis_namespace=_redis_namespace(env),
        secret_key=_secret_key(env, data_dir),
        issuer=_issuer(env),
        host=host,
        port=_int(env, "PORT", 8000, 1, 65535),
        secure_cookies=_secure_cookies(env, host),
        session_idle_minutes=_int(env, "SESSION_IDLE_MINUTES", 30, 1, 24 * 60),
        session_max_hours=_int(env, "SESSION_MAX_HOURS", 12, 1, 24 * 30),
        password_hash_concurrency=_int(
            env, "PASSWORD_HASH_CONCURRENCY", _default_hash_concurrency(), 1, 64
        ),
    )


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(ENV_PREFIX + name)
    return value.strip() if value is not None and value.strip() else None


def _fail(name: str, why: str) -> SettingsError:
    return SettingsError(f"{ENV_PREFIX}{name}: {why}")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _get(env, name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise _fail(name, f"must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


def _database_url(env: Mapping[str, str], data_dir: Path) -> str:
    raw = _get(env, "DATABASE_URL")
    if raw is None:
        return f"sqlite://{data_dir / 'provconnect.sqlite3'}"
    if raw.startswith("sqlite://"):
        return raw
    if not raw.startswith(POSTGRES_SCHEMES):
        raise _fail("DATABASE_URL", "must start with sqlite:// or postgres://")
    _require_driver("DATABASE_URL", "asyncpg", "postgres")
    if not urlsplit(raw).path.strip("/"):
        raise _fail("DATABASE_URL", "names no database (postgres://user@host:5432/DATABASE)")
    return raw


def _redis_url(env: Mapping[str, str]) -> str | None:
    raw = _get(env, "REDIS_URL")
    if raw is None:
        return None
    try:
        RedisAddress.from_url(raw)
    except BadRedisUrl as bad:
        raise _fail("REDIS_URL", str(bad)) from None
    _require_driver("REDIS_URL", "hiredis", "redis")
    return raw


def _redis_namespace(env: Mapping[str, str]) -> str:
    raw = _get(env, "REDIS_NAMESPACE") or "provconnect"
    if len(raw) > 64 or REDIS_NAMESPACE_PATTERN.fullmatch(raw) is None:
        raise _fail("REDIS_NAMESPACE", "use 1 to 64 of A-Z a-z 0-9 . _ -")
    return raw


def _require_driver(name: str, module: str, extra: str) -> None:
    # An optional driver: fail at start-up, naming the setting, rather than at the first request.
    if importlib.util.find_spec(module) is None:
        raise _fail(name, f"needs the {module} package: pip install 'provconnect-signin[{extra}]'")


def _issuer(env: Mapping[str, str]) -> str:
    raw = _get(env, "ISSUER") or "ProVconnect"
    # The issuer goes into the otpauth:// label, where a colon separates issuer and account.
    if ":" in raw or len(raw) > 64 or not raw.isprintable():
        raise _fail("ISSUER", "must be printable, at most 64 characters and without ':'")
    return raw


def _secure_cookies(env: Mapping[str, str], host: str) -> bool:
    raw = (_get(env, "SECURE_COOKIES") or "auto").lower()
    if raw == "on":
        return True
    if raw == "off":
        return False
    if raw != "auto":
        raise _fail("SECURE_COOKIES", f"must be auto, on or off, got {raw!r}")
    return not _is_loopback(host)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _default_hash_concurrency() -> int:
    # Leave at least one core for page renders while a burst of password posts is hashed.
    return max(1, (os.cpu_count() or 2) - 1)


def _secret_key(env: Mapping[str, str], data_dir: Path) -> str:
    raw = _get(env, "SECRET_KEY")
    if raw is not None:
        if len(raw) < SECRET_KEY_MIN_CHARS:
            raise _fail("SECRET_KEY", f"must be at least {SECRET_KEY_MIN_CHARS} characters")
        return raw
    return _read_or_create_key_file(data_dir)


def _read_or_create_key_file(data_dir: Path) -> str:
    path = data_dir / SECRET_KEY_FILE_NAME
    if path.exists():
        return _read_key_file(path)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        _publish_new_key(path)
    except FileExistsError:
        pass  # another worker starting at the same moment won the race: use its key
    except OSError as exc:
        raise _fail("DATA_DIR", f"cannot create {path}: {exc.strerror}") from None
    return _read_key_file(path)


def _publish_new_key(path: Path) -> None:
    # Write a private temporary file, then hard-link it into place: the link either appears
    # complete or fails with FileExistsError, so no worker ever reads a half-written key.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_KEY_FILE_MODE)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _read_key_file(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise _fail("DATA_DIR", f"cannot read {path}: {exc.strerror}") from None
    if len(key) < SECRET_KEY_MIN_CHARS:
        raise _fail("SECRET_KEY", f"the key in {path} is shorter than {SECRET_KEY_MIN_CHARS} characters")
    return key
