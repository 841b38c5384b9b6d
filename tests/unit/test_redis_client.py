"""The pipelined Redis client: replies matched to their commands, failures failing closed.

Against the shared test Redis (``PROVCONNECT_TEST_REDIS``), a redis-server of the test's own for
TLS, AUTH and the Unix socket (tests/private_redis.py), and loopback servers that misbehave as
no real Redis can be made to: silent, speaking garbage, answering what was not asked.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.backends import SharedServers
from tests.conftest import make_settings
from tests.private_redis import PrivateRedis, private_redis
from tests.tcp_proxy import TcpProxy
from web.redis_address import RedisAddress
from web.redis_client import RedisClient, RedisCommandError, RedisUnavailable, Script
from web.shared_state import build_shared_state

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def client(shared_servers: SharedServers) -> AsyncIterator[RedisClient]:
    redis = RedisClient(RedisAddress.from_url(shared_servers.redis_url))
    yield redis
    await redis.aclose()


@pytest.fixture
def key(shared_servers: SharedServers) -> str:
    return f"{shared_servers.new_namespace()}:test"


@asynccontextmanager
async def loopback_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP server on 127.0.0.1 running ``handler`` per connection; yields its URL and a list that
    grows by one per connection accepted."""
    accepted: list[int] = []

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(counted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0", accepted
    finally:
        server.close()


async def test_commands_get_their_own_replies_when_hundreds_share_one_connection(
    client: RedisClient, key: str
) -> None:
    async def round_trip(n: int) -> tuple[bytes | None, int]:
        await client.command("SET", f"{key}:{n}", f"value {n}", "EX", 60)
        return await client.command("GET", f"{key}:{n}"), await client.command("CLIENT", "ID")

    answers = await asyncio.gather(*(round_trip(n) for n in range(300)))
    assert [value for value, _ in answers] == [f"value {n}".encode() for n in range(300)]
    assert len({connection for _, connection in answers}) == 1  # one connection carried them all
    assert await client.command("GET", f"{key}:absent") is None
    assert await client.command("DEL", *(f"{key}:{n}" for n in range(300))) == 300


async def test_a_script_redis_does_not_know_yet_is_sent_in_full_and_then_by_its_hash(
    client: RedisClient, key: str
) -> None:
    script = Script.of(f"-- {secrets.token_hex(8)}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert await client.command("SCRIPT", "EXISTS", script.sha1) == [0]
    assert await client.script(script, [key], [5]) == 5  # NOSCRIPT, then EVAL
    assert await client.command("SCRIPT", "EXISTS", script.sha1) == [1]
    assert await client.script(script, [key], [2]) == 7
    await client.command("DEL", key)


async def test_a_cancelled_command_leaves_the_replies_after_it_matched(client: RedisClient, key: str) -> None:
    waiting = asyncio.ensure_future(client.command("BLPOP", f"{key}:empty", "0.3"))  # answers nil in 0.3 s
    await asyncio.sleep(0.05)
    waiting.cancel()
    assert await client.command("ECHO", "after") == b"after"  # not BLPOP's nil, which came first
    assert await client.command("ECHO", "again") == b"again"


async def test_a_command_redis_refuses_is_an_error_of_its_own_not_an_outage(client: RedisClient, key: str) -> None:
    with pytest.raises(RedisCommandError, match="unknown command"):
        await client.command("NO-SUCH-COMMAND")
    await client.command("SET", key, "text", "EX", 60)
    with pytest.raises(RedisCommandError, match="WRONGTYPE"):
        await client.command("LPUSH", key, "x")
    assert await client.command("GET", key) == b"text"  # the connection goes on
    await client.command("DEL", key)


async def test_the_database_in_the_url_is_selected(shared_servers: SharedServers, key: str) -> None:
    other = RedisClient(RedisAddress.from_url(shared_servers.redis_url.rsplit("/", 1)[0] + "/3"))
    default = RedisClient(RedisAddress.from_url(shared_servers.redis_url))
    try:
        await other.command("SET", key, "in 3", "EX", 60)
        assert await default.command("GET", key) is None
        assert await other.command("GET", key) == b"in 3"
    finally:
        await other.command("DEL", key)
        await other.aclose()
        await default.aclose()


async def test_nothing_listening_is_unavailable_at_once() -> None:
    client = RedisClient(RedisAddress.from_url("redis://127.0.0.1:1/0"))
    with pytest.raises(RedisUnavailable, match="cannot reach Redis"):
        await asyncio.wait_for(client.command("PING"), 2)


async def test_a_silent_redis_is_unavailable_after_the_timeout_and_the_next_command_reconnects() -> None:
    async with loopback_server(silent) as (url, accepted):
        client = RedisClient(RedisAddress.from_url(url), timeout_seconds=0.3)
        started = asyncio.get_running_loop().time()
        outcomes = await asyncio.gather(*(client.command("GET", f"k{n}") for n in range(5)), return_exceptions=True)
        assert all(isinstance(outcome, RedisUnavailable) for outcome in outcomes), outcomes
        assert "did not answer within 0.3 s" in str(outcomes[0])
        assert 0.3 <= asyncio.get_running_loop().time() - started < 2
        with pytest.raises(RedisUnavailable):
            await client.command("GET", "k")
        assert len(accepted) == 2  # the second command did not wait on the dead connection
        await client.aclose()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(65536):  # reads every command, answers none, until the client goes
        pass


def answering(answer: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            writer.write(answer)

    return handler


async def test_bytes_that_are_not_the_redis_protocol_drop_the_connection() -> None:
    async with loopback_server(answering(b"?garbage\r\n")) as (url, accepted):
        client = RedisClient(RedisAddress.from_url(url))
        for _ in range(2):
            with pytest.raises(RedisUnavailable, match="not its protocol"):
                await client.command("PING")
        assert len(accepted) == 2
        await client.aclose()


async def test_a_reply_to_no_command_drops_the_connection() -> None:
    async with loopback_server(answering(b"+OK\r\n+OK\r\n")) as (url, accepted):
        client = RedisClient(RedisAddress.from_url(url))
        assert await client.command("PING") == b"OK"  # the first reply is PING's, the second nobody's
        assert await client.command("PING") == b"OK"
        assert len(accepted) == 2  # so the second PING went down a new connection
        await client.aclose()


@pytest.mark.parametrize(
    ("refusal", "said"),
    [
        (b"-LOADING Redis is loading the dataset in memory\r\n", "LOADING"),
        (b"-ERR max number of clients reached\r\n", "max number of clients"),
    ],
)
async def test_a_redis_that_cannot_serve_now_is_an_outage(refusal: bytes, said: str) -> None:
    async with loopback_server(answering(refusal)) as (url, _):
        client = RedisClient(RedisAddress.from_url(url))
        with pytest.raises(RedisUnavailable, match=said):
            await client.command("GET", "k")
        await client.aclose()


async def test_a_cut_connection_fails_what_waits_and_the_next_command_reconnects(
    shared_servers: SharedServers, key: str
) -> None:
    host_port = shared_servers.redis_url.split("://", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    proxy = TcpProxy(host, int(port))
    client = RedisClient(RedisAddress.from_url(f"redis://127.0.0.1:{proxy.port}/0"), timeout_seconds=2)
    try:
        assert await client.command("ECHO", "before") == b"before"
        waiting = asyncio.ensure_future(client.command("BLPOP", f"{key}:empty", "1"))
        await asyncio.sleep(0.1)
        proxy.cut()
        with pytest.raises(RedisUnavailable):
            await waiting
        with pytest.raises(RedisUnavailable):
            await client.command("ECHO", "during")
        proxy.restore()
        assert await client.command("ECHO", "after") == b"after"
    finally:
        await client.aclose()
        proxy.close()


async def test_each_command_has_its_own_time_to_answer_however_the_ones_before_it_fared() -> None:
    """The watchdog goes by the oldest command still waiting: answered ones do not count, and a
    command sent late is given its full time before the connection is given up."""

    async def answers_the_first_command_late(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(0.3)
        writer.write(b"+first\r\n")
        while await reader.read(65536):
            pass

    async with loopback_server(answers_the_first_command_late) as (url, _):
        client = RedisClient(RedisAddress.from_url(url), timeout_seconds=0.4)
        loop = asyncio.get_running_loop()
        first = asyncio.ensure_future(client.command("PING"))
        await asyncio.sleep(0.25)
        second_sent = loop.time()
        second = asyncio.ensure_future(client.command("PING"))
        assert await first == b"first"  # 0.3 s: in time
        with pytest.raises(RedisUnavailable, match="did not answer"):
            await asyncio.wait_for(second, 3)
        assert loop.time() - second_sent >= 0.4  # not when the first command's time ran out
        await client.aclose()


async def test_a_refused_set_up_never_repeats_what_was_sent() -> None:
    refusal = b"-ERR unknown command 'AUTH', with args beginning with: 'app' 'hunter2' \r\n"
    async with loopback_server(answering(refusal)) as (url, _):
        client = RedisClient(RedisAddress.from_url(url.replace("redis://", "redis://app:hunter2@")))
        with pytest.raises(RedisUnavailable) as refused:
            await client.command("PING")
        assert "set-up: ERR" in str(refused.value) and "hunter2" not in str(refused.value)
        await client.aclose()
    async with loopback_server(answering(refusal.replace(b"AUTH", b"GETX"))) as (url, _):
        client = RedisClient(RedisAddress.from_url(url))
        with pytest.raises(RedisCommandError) as refused_command:
            await client.command("GETX", "app", "hunter2")
        assert "unknown command 'GETX'" in str(refused_command.value) and "hunter2" not in str(refused_command.value)
        await client.aclose()


async def test_a_closed_client_refuses_commands_and_fails_those_waiting_to_connect() -> None:
    async with loopback_server(silent) as (url, accepted):
        client = RedisClient(RedisAddress.from_url(url.replace("redis://", "redis://:pw@")), timeout_seconds=5)
        waiting = [asyncio.ensure_future(client.command("PING")) for _ in range(3)]
        await asyncio.sleep(0.2)  # connected; AUTH sent and never answered
        await client.aclose()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(outcome, RedisUnavailable) for outcome in outcomes), outcomes
        with pytest.raises(RedisUnavailable, match="closed"):
            await client.command("PING")
        assert len(accepted) == 1  # no connection opened after the close


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path, users={"app": "s3cret-pass"}) as server:
        yield server


async def test_a_unix_socket_with_a_user_and_password(own_redis: PrivateRedis) -> None:
    client = RedisClient(RedisAddress.from_url(f"unix://app:s3cret-pass@{own_redis.socket_path}?db=2"))
    try:
        assert await client.command("ACL", "WHOAMI") == b"app"
        assert (await client.command("CLIENT", "INFO")).split(b" db=")[1].startswith(b"2 ")
    finally:
        await client.aclose()


async def test_tls_with_the_servers_certificate_verified(own_redis: PrivateRedis) -> None:
    trusted = ssl.create_default_context(cafile=str(own_redis.ca_file))
    url = f"rediss://app:s3cret-pass@127.0.0.1:{own_redis.tls_port}/0"
    client = RedisClient(RedisAddress.from_url(url), tls=trusted)
    try:
        assert await client.command("ACL", "WHOAMI") == b"app"
    finally:
        await client.aclose()
    stranger = RedisClient(RedisAddress.from_url(url))  # the system's CAs do not know this one
    with pytest.raises(RedisUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        await stranger.command("PING")
    elsewhere = url.replace("127.0.0.1", "127.0.0.2")  # the same server, by a name its certificate lacks
    misnamed = RedisClient(RedisAddress.from_url(elsewhere), tls=trusted)
    with pytest.raises(RedisUnavailable, match="IP address mismatch"):
        await misnamed.command("PING")


async def test_rediss_trusts_the_ca_that_ssl_cert_file_names(
    own_redis: PrivateRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(own_redis.ca_file))  # as an operator would, for the whole app
    url = f"rediss://app:s3cret-pass@localhost:{own_redis.tls_port}/0"
    state = build_shared_state(make_settings(tmp_path, redis_url=url))
    async with state.kept():
        await state.sessions.put("session:tls", b"record", 60)
        assert await state.sessions.get("session:tls") == b"record"


async def test_a_wrong_password_is_an_outage_that_never_repeats_the_password(own_redis: PrivateRedis) -> None:
    client = RedisClient(RedisAddress.from_url(f"unix://app:not-the-password@{own_redis.socket_path}"))
    with pytest.raises(RedisUnavailable) as refused:
        await client.command("PING")
    assert "WRONGPASS" in str(refused.value) and "not-the-password" not in str(refused.value)
    nobody = RedisClient(RedisAddress.from_url(f"unix://{own_redis.socket_path}"))
    with pytest.raises(RedisUnavailable, match="NOAUTH"):  # the default user is off
        await nobody.command("GET", "k")
    await nobody.aclose()
