"""What the one-configuration tools (profile.py, cpu.py) share: the backend options and a seeded server.

``make bench`` (run.py) loops over every configuration itself; these tools measure one, chosen on
the command line, and clean up after it whatever happens.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.bench.run import Bench, Config, Plan, load
from tests.bench.run import seeded_server as seeded_server_in
from tests.server_process import ServerProcess

BACKEND_HELP = "sqlite: SQLite + in-process state; redis: SQLite + Redis; postgres: PostgreSQL + Redis"


def add_server_arguments(parser: argparse.ArgumentParser, *, workers: int, backend: str) -> None:
    parser.add_argument("--workers", type=int, default=workers)
    parser.add_argument("--backend", choices=["sqlite", "redis", "postgres"], default=backend, help=BACKEND_HELP)


@dataclass(frozen=True)
class ToolServer:
    server: ServerProcess
    bench: Bench
    scratch: Path

    def pending_sessions(self, count: int) -> list[str]:
        """A session at the PIN step for each of the seeded users p0, p1, ... (cheap hashes)."""
        prepared = load(self.bench.job("prepare", items=[f"p{n}" for n in range(count)], seconds=120))
        return prepared["cookies"]  # type: ignore[return-value]


@contextmanager
def seeded_server(label: str, args: argparse.Namespace, plan: Plan) -> Iterator[ToolServer]:
    """The server as ``make bench`` starts it, for ``args.backend`` and ``args.workers``."""
    config = Config(label, args.workers, postgres=args.backend == "postgres", redis=args.backend != "sqlite")
    with tempfile.TemporaryDirectory() as scratch, seeded_server_in(config, plan, Path(scratch), label) as server:
        yield ToolServer(server, Bench(server, plan, hashing_threads=1), Path(scratch))
