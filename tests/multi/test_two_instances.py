"""Two real server processes on two ports sharing one PostgreSQL database and one Redis.

What a load balancer in front of several instances relies on: a session made on one instance is
valid on the other, sign-out and an admin reset on one end it on both, and one PIN posted to both
at the same moment is accepted exactly once; posts from one address count once, on either.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.backends import SharedServers
from tests.conftest import TEST_SECRET_KEY
from tests.server_process import PROJECT_ROOT, ServerProcess
from tests.support import CSRF_INPUT, PASSWORD, SECRET_KEY_TEXT
from web.auth import totp
from web.views.address_limit import POSTS_PER_ADDRESS_PER_MINUTE

SIGNED_IN = re.compile(r"Signed in as <strong>([^<]+)</strong>")
REQUEST_TIMEOUT_SECONDS = 30


@pytest.fixture(scope="module")
def environment(shared_servers: SharedServers, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    shared_servers.empty_tables()
    return {
        "PROVCONNECT_DATA_DIR": str(tmp_path_factory.mktemp("two-instances")),
        "PROVCONNECT_SECRET_KEY": TEST_SECRET_KEY,
        "PROVCONNECT_DATABASE_URL": shared_servers.database_url,
        "PROVCONNECT_REDIS_URL": shared_servers.redis_url,
        "PROVCONNECT_REDIS_NAMESPACE": shared_servers.new_namespace(),
    }


@pytest.fixture(scope="module")
def instances(environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerProcess]]:
    logs = tmp_path_factory.mktemp("logs")
    servers = [ServerProcess(environment, logs / f"instance-{n}.log") for n in (1, 2)]
    try:
        yield [server.wait_ready() for server in servers]
    finally:
        for server in servers:
            server.stop()


class Person:
    """A browser: one cookie jar, whichever instance the load balancer sends each request to."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS, headers={"HX-Request": "true"})
        self.token = ""
        self.secret: str | None = None

    def get(self, server: ServerProcess, path: str = "/") -> httpx.Response:
        return self._remember(self.http.get(server.url + path))

    def post(self, server: ServerProcess, path: str, data: dict[str, str]) -> httpx.Response:
        return self._remember(self.http.post(server.url + path, data={**data, "_csrf_token": self.token}))

    def signed_in_as(self, server: ServerProcess) -> str | None:
        match = SIGNED_IN.search(self.get(server).text)
        return match.group(1) if match else None

    def _remember(self, response: httpx.Response) -> httpx.Response:
        if match := CSRF_INPUT.search(response.text):
            self.token = match.group(1)
        return response


def cli(environment: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web", *args], input=stdin, capture_output=True, text=True, cwd=PROJECT_ROOT,
        env={**_plain_environment(), **environment}, timeout=60, check=True,
    )


def _plain_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PROVCONNECT_")}


def enrolled(environment: dict[str, str], name: str, on: ServerProcess) -> Person:
    """A user added with the CLI who sets up their authenticator on ``on``: signed in there."""
    cli(environment, "user", "add", name, "--password-stdin", stdin=PASSWORD + "\n")
    person = Person()
    person.get(on)
    panel = person.post(on, "/signin/password", {"username": name, "password": PASSWORD})
    match = SECRET_KEY_TEXT.search(panel.text)
    assert match, panel.text
    person.secret = match.group(1)
    codes = person.post(on, "/signin/enroll", {"pin": totp.code_at(person.secret, current_step())})
    assert codes.status_code == 200 and "Recovery codes" in codes.text, codes.text
    assert person.post(on, "/signin/continue", {}).status_code == 200
    return person


def current_step() -> int:
    return totp.current_step(time.time())


def test_a_session_made_on_one_instance_is_valid_on_the_other(
    instances: list[ServerProcess], environment: dict[str, str]
) -> None:
    first, second = instances
    alice = enrolled(environment, "alice", on=first)
    assert alice.signed_in_as(first) == "alice"
    assert alice.signed_in_as(second) == "alice"


def test_sign_out_on_one_instance_ends_the_session_on_both(
    instances: list[ServerProcess], environment: dict[str, str]
) -> None:
    first, second = instances
    bob = enrolled(environment, "bob", on=first)
    assert bob.signed_in_as(second) == "bob"
    cookies_before = dict(bob.http.cookies)
    assert bob.post(second, "/signout", {}).status_code == 200
    assert bob.signed_in_as(first) is None
    # Even the old cookie, replayed, is dead on both: the session ended on the server.
    replay = httpx.Client(cookies=cookies_before, timeout=REQUEST_TIMEOUT_SECONDS)
    assert all(SIGNED_IN.search(replay.get(server.url + "/").text) is None for server in instances)


def test_an_admin_reset_ends_the_users_session_on_every_instance(
    instances: list[ServerProcess], environment: dict[str, str]
) -> None:
    first, second = instances
    carol = enrolled(environment, "carol", on=first)
    assert carol.signed_in_as(second) == "carol"
    cli(environment, "user", "reset-2fa", "carol")
    assert carol.signed_in_as(second) is None
    assert carol.signed_in_as(first) is None


def test_one_pin_posted_to_both_instances_at_once_is_accepted_exactly_once(
    instances: list[ServerProcess], environment: dict[str, str]
) -> None:
    dave = enrolled(environment, "dave", on=instances[0])  # enrollment claimed the current step
    browsers = []
    for server in instances:  # two browsers, each at the PIN step on its own instance
        browser = Person()
        browser.get(server)
        assert browser.post(server, "/signin/password", {"username": "dave", "password": PASSWORD}).status_code == 200
        browsers.append((browser, server))
    pin = totp.code_at(dave.secret or "", current_step() + 1)  # the next step: inside the ±1 window
    start = threading.Barrier(len(browsers))
    statuses: list[int] = []

    def post(browser: Person, server: ServerProcess) -> None:
        start.wait(timeout=REQUEST_TIMEOUT_SECONDS)
        statuses.append(browser.post(server, "/signin/pin", {"pin": pin}).status_code)

    threads = [threading.Thread(target=post, args=pair) for pair in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT_SECONDS)
    # One success; the other is a replay (401) or held back by the account's shared throttle (429).
    assert statuses.count(200) == 1 and set(statuses) <= {200, 401, 429}, statuses
    assert sorted(browser.signed_in_as(server) is not None for browser, server in browsers) == [False, True]


def test_posts_from_one_address_spread_over_both_instances_are_counted_exactly(
    instances: list[ServerProcess],
) -> None:
    """The per-address limit is one counter for every instance, and concurrent hits all count.

    A client that spreads its posts over the instances behind the load balancer gets exactly
    the limit, not the limit per instance nor more through lost updates.
    """
    # A source address of its own, so the other tests' posts this minute do not count here.
    transport = httpx.HTTPTransport(local_address="127.0.0.77")
    client = httpx.Client(transport=transport, timeout=REQUEST_TIMEOUT_SECONDS, headers={"HX-Request": "true"})
    page = client.get(instances[0].url + "/")
    token = CSRF_INPUT.search(page.text).group(1)  # type: ignore[union-attr]
    over = 40
    posts = [instances[n % 2] for n in range(POSTS_PER_ADDRESS_PER_MINUTE + over)]

    def post(server: ServerProcess) -> int:
        return client.post(server.url + "/signin/pin", data={"pin": "123456", "_csrf_token": token}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(post, posts))
    assert statuses.count(429) == over, {status: statuses.count(status) for status in set(statuses)}
    refused = client.post(instances[1].url + "/signin/pin", data={"pin": "123456", "_csrf_token": token})
    assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 60
