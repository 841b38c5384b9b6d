"""What one Redis command of a PIN post costs a worker: redis-py against web/redis_client.py.

    .venv/bin/python -m tests.bench.redis_clients [--rounds 3] [--commands 20000]

Each client sends the PIN post's two scripts (the per-address hit with the session read along, and
the session rotation) in turns, from 1 and then 16 concurrent tasks (a worker under the bench's
load has about 16 requests in flight). Prints, per command, this process's CPU and Redis's (from
/proc), and commands per second; medians of the rounds, the clients alternating within each round.
Not part of ``make test``; needs ``PROVCONNECT_TEST_REDIS`` or Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from web.redis_address import RedisAddress
from web.redis_client import RedisClient, Script
from web.session_backends import ROTATION_SCRIPT
from web.window_counters import HIT_SCRIPT

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
RECORD = secrets.token_bytes(180)  # about a pending session's record
Send = Callable[[str, int], Awaitable[object]]
"""Sends the ``n``-th command of task ``name``."""


def redis_cpu_seconds() -> float:
    pids = subprocess.run(["pgrep", "-x", "redis-server"], capture_output=True, text=True).stdout.split()
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND
    return total


async def measure(send: Send, tasks: int, commands: int) -> tuple[float, float, float]:
    """(client CPU µs, Redis CPU µs) per command, and commands per second."""

    async def task(name: str) -> None:
        for n in range(commands // tasks):
            await send(name, n)

    await task("warm-up")
    redis_before, cpu_before, started = redis_cpu_seconds(), time.process_time(), time.perf_counter()
    await asyncio.gather(*(task(f"t{i}") for i in range(tasks)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_before
    redis = redis_cpu_seconds() - redis_before
    return cpu / commands * 1e6, redis / commands * 1e6, commands / wall


async def ours(url: str, prefix: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    client = RedisClient(RedisAddress.from_url(url))
    hit, replace = Script.of(HIT_SCRIPT), Script.of(ROTATION_SCRIPT)

    async def send(name: str, n: int) -> object:
        if n % 2 == 0:
            return await client.script(hit, [f"{prefix}:a:{name}", f"{prefix}:s:{name}"], [60_000])
        return await client.script(replace, [f"{prefix}:s:{name}", f"{prefix}:o:{name}"], [RECORD, 600])

    return send, client.aclose


async def redis_py(url: str, prefix: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    from redis.asyncio import BlockingConnectionPool, Redis

    client = Redis.from_pool(BlockingConnectionPool.from_url(url, max_connections=64, timeout=5))
    hit, replace = client.register_script(HIT_SCRIPT), client.register_script(ROTATION_SCRIPT)

    async def send(name: str, n: int) -> object:
        if n % 2 == 0:
            return await hit(keys=[f"{prefix}:a:{name}", f"{prefix}:s:{name}"], args=[60_000])
        return await replace(keys=[f"{prefix}:s:{name}", f"{prefix}:o:{name}"], args=[RECORD, 600])

    return send, client.aclose


async def main(rounds: int, commands: int) -> None:
    url = os.environ.get("PROVCONNECT_TEST_REDIS", "redis://127.0.0.1:6379/0")
    prefix = f"bench-{secrets.token_hex(4)}"
    clients = {"redis-py (pool)": redis_py, "web/redis_client": ours}
    figures: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    for _ in range(rounds):
        for tasks in (1, 16):
            for label, make in clients.items():
                send, close = await make(url, prefix)
                figures.setdefault((label, tasks), []).append(await measure(send, tasks, commands))
                await close()
    print(f"per command, median of {rounds} rounds of {commands} commands (the PIN post's two scripts in turns):")
    print(f"{'client':18s} {'tasks':>5s} {'client CPU µs':>14s} {'Redis CPU µs':>13s} {'commands/s':>11s}")
    for (label, tasks), runs in figures.items():
        cpu, redis, rate = (statistics.median(column) for column in zip(*runs))
        print(f"{label:18s} {tasks:5d} {cpu:14.1f} {redis:13.1f} {rate:11.0f}")
    cleanup = RedisClient(RedisAddress.from_url(url))
    for kind in "aso":
        keys = [f"{prefix}:{kind}:{name}" for name in ["warm-up", *(f"t{i}" for i in range(16))]]
        await cleanup.command("DEL", *keys)
    await cleanup.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--commands", type=int, default=20_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.commands))
