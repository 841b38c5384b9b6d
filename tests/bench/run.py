"""``make bench``: the server as a user starts it, driven from other processes on loopback.

For each configuration (SQLite, PostgreSQL + Redis; 1 and 2 workers) it seeds users, starts
``python -m web serve --workers N``, and measures, several runs each, in this order:

- ceiling: requests/s of GET /healthz (one trivial query) on the same server, same run;
- page: requests/s of GET / (the sign-in page: CSRF cookie, template, security headers);
- PIN: requests/s of the PIN step (session read, user read, single-use UPDATE, session rotation,
  fragment), each post a pending session of its own user;
- sign-ins: complete sign-ins per second (password, then PIN), against the argon2 verifications
  per second this machine does alone with as many threads as the server may hash at once;
- page latency p50/p99 alone, and while a flood of password posts runs;
- peak RSS per worker.

GETs are driven by wrk; POSTs by tests/bench/load.py (raw asyncio sockets), each in its own
process. Every figure is the median of the runs; ratios are taken within a run, then the median.
``--quick`` does one short run of the first configuration (a smoke test of the harness).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.server_process import PROJECT_ROOT, ServerProcess

PASSWORD = "correct horse battery staple"
BENCH_SECRET_KEY = "bench-secret-key-that-is-long-enough-0123456789"
POSTGRES_URL = os.environ.get("PROVCONNECT_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PROVCONNECT_TEST_REDIS", "redis://127.0.0.1:6379/0")
CSRF_INPUT = re.compile(r'name="_csrf_token" value="([0-9a-f]+)"')
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # every bench user's; single use is per user


@dataclass(frozen=True)
class Config:
    name: str
    workers: int
    postgres: bool
    redis: bool
    sqlite_pragmas: str = ""  # a query string overriding the default WAL + synchronous=NORMAL


CONFIGS = [
    Config("SQLite", 1, postgres=False, redis=False),
    Config("SQLite + Redis", 2, postgres=False, redis=True),
    Config("PostgreSQL + Redis", 1, postgres=True, redis=True),
    Config("PostgreSQL + Redis", 2, postgres=True, redis=True),
]
DURABILITY_CONFIGS = [
    Config("SQLite WAL, synchronous=FULL", 1, postgres=False, redis=False, sqlite_pragmas="synchronous=FULL"),
    Config(
        "SQLite rollback journal, FULL", 1, postgres=False, redis=False,
        sqlite_pragmas="journal_mode=DELETE&synchronous=FULL",
    ),
]


@dataclass(frozen=True)
class Plan:
    runs: int = 3
    seconds: float = 5.0
    pin_users: int = 2500  # per run: the PIN step stops when they are used up (or after `seconds`)
    signin_users: int = 250  # per run, real argon2 hashes
    flood_users: int = 40
    connections: int = 32


@dataclass
class RunFigures:
    values: dict[str, float] = field(default_factory=dict)


# -- set-up -------------------------------------------------------------------------------------


def environment(config: Config, data_dir: Path, database: str | None, namespace: str) -> dict[str, str]:
    env = {"PROVCONNECT_DATA_DIR": str(data_dir), "PROVCONNECT_SECRET_KEY": BENCH_SECRET_KEY}
    if database:
        env["PROVCONNECT_DATABASE_URL"] = database
    elif config.sqlite_pragmas:
        env["PROVCONNECT_DATABASE_URL"] = f"sqlite://{data_dir / 'provconnect.sqlite3'}?{config.sqlite_pragmas}"
    if config.redis:
        env["PROVCONNECT_REDIS_URL"] = REDIS_URL
        env["PROVCONNECT_REDIS_NAMESPACE"] = namespace
    return env


async def seed(env: dict[str, str], plan: Plan) -> None:
    """Users straight into the database: cheap-hash ones for the PIN step, real ones for sign-ins."""
    from argon2 import PasswordHasher
    from tortoise.context import TortoiseContext

    from web.db import apply_migrations, tortoise_config
    from web.models import User
    from web.services import build_services
    from web.settings import load_settings

    from tortoise.backends.base.executor import EXECUTOR_CACHE

    EXECUTOR_CACHE.clear()  # Tortoise keeps SQL per connection name: this process seeds both dialects
    settings = load_settings(env)
    await apply_migrations(settings)
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    real = PasswordHasher().hash(PASSWORD)
    box = build_services(settings).two_factor
    groups = [("p", plan.pin_users * plan.runs, cheap), ("s", plan.signin_users * plan.runs, real),
              ("f", plan.flood_users, real)]
    async with TortoiseContext() as context:
        await context.init(config=tortoise_config(settings))
        next_id = 1
        for prefix, count, password_hash in groups:
            users = []
            for n in range(count):
                sealed = box.seal_secret(next_id, TOTP_SECRET)
                users.append(User(
                    id=next_id, username=f"{prefix}{n}", password_hash=password_hash,
                    totp_secret_sealed=sealed.ciphertext, totp_key_id=sealed.key_id,
                ))
                next_id += 1
            await User.bulk_create(users, batch_size=500)


def create_database(name: str) -> str:
    import asyncpg

    async def create() -> None:
        connection = await asyncpg.connect(POSTGRES_URL)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    import asyncpg

    async def drop() -> None:
        connection = await asyncpg.connect(POSTGRES_URL)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


def clear_redis(namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{namespace}*", count=1000):
        client.unlink(key)
    client.close()


# -- measurements -------------------------------------------------------------------------------


def wrk(url: str, seconds: float, connections: int, *, latency: bool = False) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", url]
    if latency:
        command.insert(1, "--latency")
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise RuntimeError(f"wrk saw {non_2xx.group(1)} error answers from {url}:\n{output}")
    for percent in ("50", "99"):
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if found:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]
            figures[f"p{percent}_ms"] = float(found.group(1)) * scale
    return figures


def load(job: dict[str, object]) -> dict[str, object]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(job, handle)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.bench.load", handle.name], capture_output=True, text=True,
            cwd=PROJECT_ROOT, timeout=float(job.get("seconds", 60)) + 120,  # type: ignore[arg-type]
        )
    finally:
        os.unlink(handle.name)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed ({job['kind']}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def current_pin() -> str:
    from web.auth import totp

    return totp.code_at(TOTP_SECRET, totp.current_step(time.time()))


class Bench:
    def __init__(self, server: ServerProcess, plan: Plan, hashing_threads: int) -> None:
        self.server, self.plan, self.hashing_threads = server, plan, hashing_threads
        page = httpx.get(server.url + "/")
        self.csrf_cookie = "; ".join(f"{k}={v}" for k, v in page.cookies.items())
        self.csrf_token = CSRF_INPUT.search(page.text).group(1)  # type: ignore[union-attr]
        self.address_offset = 0

    def job(self, kind: str, **fields: object) -> dict[str, object]:
        self.address_offset += 5000  # fresh source addresses for every job
        return {
            "kind": kind, "host": "127.0.0.1", "port": self.server.port, "csrf_cookie": self.csrf_cookie,
            "csrf_token": self.csrf_token, "password": PASSWORD, "address_offset": self.address_offset,
            "connections": self.plan.connections, "seconds": self.plan.seconds, **fields,
        }

    def run(self, number: int) -> RunFigures:
        plan, url = self.plan, self.server.url
        figures = RunFigures()
        values = figures.values
        # The PIN step's sessions are made first, so that the posts follow the ceiling at once:
        # on this shared machine the noise drifts within seconds, and a ratio is only as good as
        # the two figures' closeness in time.
        sessions = self._pending_sessions(number)
        values["ceiling"] = wrk(url + "/healthz", plan.seconds, plan.connections)["rps"]
        values["pin"] = self._pin_rate(sessions)
        values["page"] = wrk(url + "/", plan.seconds, plan.connections)["rps"]
        # The bound under the same noise as the sign-ins: measured right before them, server idle.
        values["argon2"] = argon2_rate(self.hashing_threads, seconds=3)
        values["signins"] = self._signin_rate(number)
        idle = wrk(url + "/", plan.seconds, 4, latency=True)
        values["p50_idle"], values["p99_idle"] = idle["p50_ms"], idle["p99_ms"]
        flooded = self._latency_under_flood()
        values["p50_flood"], values["p99_flood"] = flooded["p50_ms"], flooded["p99_ms"]
        return figures

    def _pending_sessions(self, number: int) -> list[str]:
        """A session at the PIN step for each of this run's PIN users (password posts, cheap hashes)."""
        users = [f"p{n}" for n in range(number * self.plan.pin_users, (number + 1) * self.plan.pin_users)]
        prepared = load(self.job("prepare", items=users, seconds=120))
        sessions: list[str] = prepared["cookies"]  # type: ignore[assignment]
        assert len(sessions) == len(users), f"only {len(sessions)} of {len(users)} pending sessions: {prepared['statuses']}"
        return sessions

    def _pin_rate(self, sessions: list[str]) -> float:
        done = load(self.job("pins", items=sessions, pin=current_pin()))
        return _rate(done, ok=200)

    def _signin_rate(self, number: int) -> float:
        users = [f"s{n}" for n in range(number * self.plan.signin_users, (number + 1) * self.plan.signin_users)]
        seconds = self.plan.seconds * 2  # a slow measure: about ten a second per hashing core
        done = load(self.job("signin", items=users, pin=current_pin(), connections=8, seconds=seconds))
        completed = done["statuses"].get("200", 0) // 2  # type: ignore[union-attr]
        return completed / float(done["seconds"])  # type: ignore[arg-type]

    def _latency_under_flood(self) -> dict[str, float]:
        users = [f"f{n}" for n in range(self.plan.flood_users)]
        flood_seconds = self.plan.seconds + 2
        flood: dict[str, object] = {}
        thread = threading.Thread(
            target=lambda: flood.update(load(self.job("flood", users=users, connections=16, seconds=flood_seconds)))
        )
        thread.start()
        time.sleep(1)  # let the flood fill the hashing queue first
        figures = wrk(self.server.url + "/", self.plan.seconds, 4, latency=True)
        thread.join(timeout=flood_seconds + 120)
        statuses = flood.get("statuses", {})
        if set(statuses) - {"200"}:  # type: ignore[arg-type]
            raise RuntimeError(f"the password flood got {statuses}")
        return figures


def _rate(done: dict[str, object], *, ok: int) -> float:
    statuses: dict[str, int] = done["statuses"]  # type: ignore[assignment]
    if set(statuses) - {str(ok)}:
        raise RuntimeError(f"unexpected answers: {statuses}")
    return statuses.get(str(ok), 0) / float(done["seconds"])  # type: ignore[arg-type]


def peak_rss_mb(server: ServerProcess) -> float:
    peaks = []
    for pid in server.worker_pids():
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)  # type: ignore[union-attr]
    return max(peaks)


def argon2_rate(threads: int, seconds: float = 4.0) -> float:
    """Verifications per second with ``threads`` at once, in a process of its own (no server running)."""
    code = (
        "import sys, time, threading\n"
        "from argon2 import PasswordHasher\n"
        "ph = PasswordHasher(); h = ph.hash('x' * 28); n = [0]; stop = time.perf_counter() + float(sys.argv[2])\n"
        "def run():\n"
        "    while time.perf_counter() < stop:\n"
        "        ph.verify(h, 'x' * 28); n[0] += 1\n"
        "ts = [threading.Thread(target=run) for _ in range(int(sys.argv[1]))]\n"
        "start = time.perf_counter(); [t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(n[0] / (time.perf_counter() - start))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(threads), str(seconds)], capture_output=True, text=True, check=True)
    return float(done.stdout)


def servers_missing() -> str | None:
    """Why PostgreSQL or Redis cannot be used for the benchmark, or None if both answer."""
    try:
        import asyncpg
        import redis

        async def ping() -> None:
            connection = await asyncpg.connect(POSTGRES_URL, timeout=5)
            await connection.close()

        asyncio.run(ping())
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).ping()
    except Exception as error:  # noqa: BLE001 - any reason is reported as it is
        return f"{type(error).__name__}: {error}"
    return None


# -- one configuration --------------------------------------------------------------------------


@contextmanager
def seeded_server(config: Config, plan: Plan, data_dir: Path, label: str = "bench") -> Iterator[ServerProcess]:
    """A fresh database and Redis namespace, seeded for ``plan``, and the server started on them as
    an operator would (warmed up); all of it removed at the end, whatever happens."""
    namespace = f"provconnect-{label}-{secrets.token_hex(4)}"
    database_name = f"provconnect_{label}_{secrets.token_hex(4)}" if config.postgres else None
    database = create_database(database_name) if database_name else None
    env = environment(config, data_dir, database, namespace)
    server: ServerProcess | None = None
    try:
        asyncio.run(seed(env, plan))
        server = ServerProcess(env, data_dir / "server.log", workers=config.workers).wait_ready()
        wrk(server.url + "/", 2, 8)  # warm-up: imports, template cache, connection pools
        yield server
    finally:
        if server is not None:
            server.stop()
        if database_name:
            drop_database(database_name)
        if config.redis:
            clear_redis(namespace)


def measure(config: Config, plan: Plan, scratch: Path) -> dict[str, float]:
    data_dir = scratch / re.sub(r"\W+", "-", f"{config.name}-{config.workers}").strip("-").lower()
    data_dir.mkdir()
    with seeded_server(config, plan, data_dir) as server:
        cores = os.cpu_count() or 2
        # The server hashes cores - 1 passwords at once on the whole machine (web/hash_slots.py).
        bench = Bench(server, plan, hashing_threads=max(1, cores - 1))
        runs = [bench.run(n) for n in range(plan.runs)]
        summary = {key: statistics.median(r.values[key] for r in runs) for key in runs[0].values}
        for key in ("page", "pin"):
            summary[f"{key}_ratio"] = statistics.median(r.values[key] / r.values["ceiling"] for r in runs)
        summary["signins_ratio"] = statistics.median(r.values["signins"] / r.values["argon2"] for r in runs)
        summary["flood_ratio"] = statistics.median(r.values["p99_flood"] / r.values["p99_idle"] for r in runs)
        summary["rss_mb"] = peak_rss_mb(server)
        return summary


def table(rows: list[tuple[Config, dict[str, float]]]) -> str:
    header = (
        "| configuration | workers | ceiling req/s | sign-in page req/s | PIN step req/s | sign-ins/s (argon2 bound) "
        "| page p50/p99 ms idle | p50/p99 ms in flood (p99 ×) | peak RSS MB/worker |"
    )
    lines = [header, "|" + "---|" * 9]
    for config, s in rows:
        lines.append(
            f"| {config.name} | {config.workers} | {s['ceiling']:.0f} | {s['page']:.0f} ({s['page_ratio']:.0%}) "
            f"| {s['pin']:.0f} ({s['pin_ratio']:.0%}) | {s['signins']:.1f} ({s['argon2']:.1f}: {s['signins_ratio']:.0%}) "
            f"| {s['p50_idle']:.1f} / {s['p99_idle']:.1f} | {s['p50_flood']:.1f} / {s['p99_flood']:.1f} "
            f"({s['flood_ratio']:.1f}×) | {s['rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short run of the first configuration")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--only", help="run only configurations whose name contains this text")
    parser.add_argument("--durability", action="store_true", help="also SQLite with synchronous=FULL and a rollback journal")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk not found (Debian: apt-get install wrk)")
    plan = Plan(runs=1, seconds=2, pin_users=600, signin_users=40) if args.quick else Plan(runs=args.runs, seconds=args.seconds)
    configs = CONFIGS + (DURABILITY_CONFIGS if args.durability else [])
    if args.only:
        configs = [c for c in configs if args.only.lower() in f"{c.name} {c.workers}".lower()]
    if args.quick:
        configs = configs[:1]
    missing = servers_missing()
    if missing and any(c.postgres or c.redis for c in configs):
        print(f"bench: leaving out the PostgreSQL/Redis configurations: {missing}", file=sys.stderr)
        configs = [c for c in configs if not (c.postgres or c.redis)]
    cores = os.cpu_count() or 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="provconnect-bench-") as scratch:
        for config in configs:
            print(f"bench: {config.name}, {config.workers} worker(s)...", file=sys.stderr, flush=True)
            rows.append((config, measure(config, plan, Path(scratch))))
    print(f"\n{cores} cores; {plan.runs} run(s) of {plan.seconds:g} s per figure; medians; (ratio to the ceiling)\n")
    print(table(rows))


if __name__ == "__main__":
    main()
