"""Where Redis is and how to log in to it, read from ``PROVCONNECT_REDIS_URL``.

    redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]      TCP (port 6379, database 0 by default)
    rediss://…                                      the same over TLS, the certificate verified
    unix://[[USER]:PASSWORD@]/PATH/TO/SOCKET[?db=DB] a Unix socket on this machine

A URL this module cannot read in full is refused at start-up, naming what is wrong, rather than
half-understood: an option it does not know would otherwise be silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_PORT = 6379
SCHEMES = ("redis", "rediss", "unix")


class BadRedisUrl(ValueError):
    """The URL cannot be used; the message says why and never repeats the password."""


@dataclass(frozen=True, slots=True)
class RedisAddress:
    host: str | None
    port: int
    path: str | None
    """The Unix socket's path; None for TCP."""
    tls: bool
    username: str | None
    password: str | None = field(repr=False)
    db: int

    @classmethod
    def from_url(cls, url: str) -> RedisAddress:
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:  # an unclosed [ or a bracketed host that is no IPv6 address; a bad port
            raise BadRedisUrl("cannot be read as redis://HOST:PORT/DB (check the host and the port)") from None
        if parts.scheme not in SCHEMES:
            raise BadRedisUrl("must start with redis://, rediss:// or unix://")
        if port is not None and not 0 < port < 65536:
            raise BadRedisUrl("the port must be a number from 1 to 65535")
        if parts.fragment:
            raise BadRedisUrl("has a '#' part, which is not understood here")
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if username is not None and password is None:
            raise BadRedisUrl("names a user without a password (redis://USER:PASSWORD@HOST)")
        if parts.scheme == "unix":
            if not parts.path or host or port is not None:
                raise BadRedisUrl("a unix:// URL names the socket's path: unix:///run/redis/redis.sock")
            _only_options(parts.query, allowed={"db"})
            db = _db_number(parse_qs(parts.query, keep_blank_values=True).get("db", ["0"])[-1])
            return cls(None, 0, unquote(parts.path), False, username, password, db)
        if not host:
            raise BadRedisUrl("names no host (redis://HOST:6379/0)")
        _only_options(parts.query, allowed=set())
        db = _db_number(parts.path.strip("/") or "0")
        return cls(host, port or DEFAULT_PORT, None, parts.scheme == "rediss", username, password, db)


def _only_options(query: str, *, allowed: set[str]) -> None:
    unknown = sorted(set(parse_qs(query, keep_blank_values=True)) - allowed)
    if unknown:
        raise BadRedisUrl(f"option {unknown[0]!r} is not understood here")


def _db_number(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit():
        raise BadRedisUrl("the database must be a number (redis://HOST:6379/0)")
    return int(raw)
