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
            path = unquote(parts.path)
            return cls(None, 0, path, False, username, password, _db(parts.path, parts.query, unix=True))
        if not host:
            raise BadRedisUrl("names no host (redis://HOST:6379/0)")
        db = _db(parts.path, parts.query, unix=False)
        return cls(host, port or DEFAULT_PORT, None, parts.scheme == "rediss", username, password, db)


def _db(path: str, query: str, *, unix: bool) -> int:
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - ({"db"} if unix else set()))
    if unknown:
        raise BadRedisUrl(f"option {unknown[0]!r} is not understood here")
    if unix:
        raw = options["db"][-1] if "db" in options else "0"
    else:
        raw = path.strip("/") or "0"
    if not raw.isascii() or not raw.isdigit():
        raise BadRedisUrl("the database must be a number (redis://HOST:6379/0)")
    return int(raw)
