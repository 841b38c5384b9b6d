"""PROVCONNECT_REDIS_URL read in full, or refused naming what is wrong (never the password)."""

from __future__ import annotations

import pytest

from web.redis_address import BadRedisUrl, RedisAddress


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://cache", RedisAddress("cache", 6379, None, False, None, None, 0)),
        ("redis://cache:6380/2", RedisAddress("cache", 6380, None, False, None, None, 2)),
        ("rediss://:p%40ss@cache/1", RedisAddress("cache", 6379, None, True, None, "p@ss", 1)),
        ("redis://app:pw@[::1]:7000/0", RedisAddress("::1", 7000, None, False, "app", "pw", 0)),
        ("unix:///run/redis/redis.sock", RedisAddress(None, 0, "/run/redis/redis.sock", False, None, None, 0)),
        ("unix://app:pw@/run/redis.sock?db=4", RedisAddress(None, 0, "/run/redis.sock", False, "app", "pw", 4)),
        ("unix:///run/my%20redis.sock", RedisAddress(None, 0, "/run/my redis.sock", False, None, None, 0)),
    ],
)
def test_a_url_is_read_in_full(url: str, expected: RedisAddress) -> None:
    assert RedisAddress.from_url(url) == expected


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://cache", "must start with"),
        ("redis://", "names no host"),
        ("redis://cache:0/0", "port"),
        ("redis://cache:port/0", "port"),
        ("redis://cache/one", "database must be a number"),
        ("redis://cache/０", "database must be a number"),
        ("redis://cache/0?ssl_cert_reqs=none", "'ssl_cert_reqs' is not understood"),
        ("unix://cache/run/redis.sock", "names the socket's path"),
        ("unix:///run/redis.sock?db=x", "database must be a number"),
        ("unix:///run/redis.sock?db=", "database must be a number"),
        ("unix://:6379/run/redis.sock", "names the socket's path"),
        ("redis://[::1/0", "cannot be read"),
        ("redis://[cache]/0", "cannot be read"),
        ("redis://app@cache/0", "a user without a password"),
        ("redis://cache/0#primary", "'#' part"),
    ],
)
def test_a_url_that_cannot_be_read_in_full_is_refused(url: str, why: str) -> None:
    with pytest.raises(BadRedisUrl, match=why):
        RedisAddress.from_url(url)


def test_the_password_stays_out_of_the_address_as_printed() -> None:
    assert "hunter2" not in repr(RedisAddress.from_url("redis://app:hunter2@cache:6379/0"))
