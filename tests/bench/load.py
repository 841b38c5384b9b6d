"""The load generator for POSTs: raw HTTP/1.1 over asyncio, run in its own process.

``python -m tests.bench.load JOB.json`` prints one JSON result. Jobs:

- ``prepare``: a password post per user (cheap-hash users); returns their pending session cookies.
- ``pins``: one PIN post per pending session, as fast as ``connections`` keep-alive connections
  allow; every session (a user of its own) is used once, as single use of a time step demands.
- ``signin``: complete sign-ins, password then PIN, one user each.
- ``flood``: password posts round the users until ``seconds`` have passed.

Every connection comes from its own loopback address (127.x.y.z are all this machine) and is
replaced after ``POSTS_PER_ADDRESS`` posts, so the server's per-address limit, which stays on,
sees many modest clients instead of one huge one. Every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

POSTS_PER_ADDRESS = 400  # under the server's 600 posts per address per minute
TIMEOUT_SECONDS = 60
SESSION_COOKIE = re.compile(rb"set-cookie: (provconnect_session=[^;]+)", re.IGNORECASE)


@dataclass
class Result:
    started: float = 0.0
    finished: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)

    def add(self, status: int, latency: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(latency)


class Addresses:
    """Distinct loopback source addresses, from 127.1.0.1 up."""

    def __init__(self, offset: int) -> None:
        self._numbers = itertools.count(offset + 1)

    def next(self) -> str:
        n = next(self._numbers)
        return f"127.{1 + (n >> 16) % 250}.{(n >> 8) & 0xFF}.{max(1, n & 0xFF)}"


class Connection:
    def __init__(self, host: str, port: int, addresses: Addresses) -> None:
        self.host, self.port, self._addresses = host, port, addresses
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._used = 0

    async def request(self, raw: bytes) -> tuple[int, bytes, bytes]:
        if self._writer is None or self._used >= POSTS_PER_ADDRESS:
            await self._reconnect()
        assert self._reader is not None and self._writer is not None
        self._used += 1
        self._writer.write(raw)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
        body = await self._reader.readexactly(int(length.group(1))) if length else b""
        if re.search(rb"\r\nconnection: *close", head, re.IGNORECASE):
            await self.close()
        return status, head, body

    async def _reconnect(self) -> None:
        await self.close()
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, local_addr=(self._addresses.next(), 0)
        )
        self._used = 0

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        self._reader = self._writer = None


def form_post(host: str, path: str, fields: dict[str, str], cookies: str) -> bytes:
    body = "&".join(f"{k}={quote(v, safe='')}" for k, v in fields.items()).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nHX-Request: true\r\nCookie: {cookies}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _run(job: dict[str, Any]) -> Result:
    host, port = job["host"], job["port"]
    host_header = f"{host}:{port}"
    addresses = Addresses(job.get("address_offset", 0))
    csrf_cookie, token = job["csrf_cookie"], job["csrf_token"]
    result = Result()
    connections = [Connection(host, port, addresses) for _ in range(job["connections"])]
    deadline = time.monotonic() + job.get("seconds", TIMEOUT_SECONDS)
    kind = job["kind"]
    items = iter(job.get("items", []))
    users = itertools.cycle(job.get("users", [""]))

    def password(user: str) -> bytes:
        fields = {"username": user, "password": job["password"], "_csrf_token": token}
        return form_post(host_header, "/signin/password", fields, csrf_cookie)

    def pin(session: str) -> bytes:
        fields = {"pin": job["pin"], "_csrf_token": token}
        return form_post(host_header, "/signin/pin", fields, f"{csrf_cookie}; {session}")

    async def timed(connection: Connection, raw: bytes) -> tuple[int, bytes]:
        began = time.perf_counter()
        status, head, _ = await connection.request(raw)
        result.add(status, time.perf_counter() - began)
        return status, head

    async def worker(connection: Connection) -> None:
        while time.monotonic() < deadline:
            if kind == "flood":
                await timed(connection, password(next(users)))
                continue
            item = next(items, None)
            if item is None:
                return
            if kind == "pins":
                await timed(connection, pin(item))
            elif kind == "prepare":
                status, head = await timed(connection, password(item))
                found = SESSION_COOKIE.search(head)
                if status == 200 and found:
                    result.cookies.append(found.group(1).decode())
            elif kind == "signin":
                status, head = await timed(connection, password(item))
                found = SESSION_COOKIE.search(head)
                if status == 200 and found:
                    await timed(connection, pin(found.group(1).decode()))

    result.started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    result.finished = time.perf_counter()
    for connection in connections:
        await connection.close()
    return result


def main() -> None:
    with open(sys.argv[1]) as handle:
        job = json.load(handle)
    result = asyncio.run(_run(job))
    json.dump(
        {
            "seconds": result.finished - result.started,
            "statuses": result.statuses,
            "latencies": result.latencies,
            "cookies": result.cookies,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
