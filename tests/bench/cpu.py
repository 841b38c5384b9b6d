"""Where the machine's CPU goes per PIN post: the workers, PostgreSQL, Redis, the load generator.

    .venv/bin/python -m tests.bench.cpu [--workers N] [--backend sqlite|redis|postgres]

Starts the server as ``make bench`` does, makes the pending sessions, then reads each process's
CPU time (utime + stime from /proc) and context switches before and after one run of PIN posts,
and prints them per post next to the rate and the ceiling measured right after. On two cores a
two-worker PIN step is bound by the whole machine's CPU, so this says which process to make
cheaper, and how often one process's wake-up takes a core from another. Absolute figures
move with the noise of a shared machine: compare runs made minutes apart, several times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.bench.run import Plan, current_pin, wrk
from tests.bench.tool_server import add_server_arguments, seeded_server
from tests.server_process import PROJECT_ROOT

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process; 0 if it has gone (a PostgreSQL backend that ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def switches(pid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches of one process so far: waits, and preemptions."""
    counts = {"voluntary_ctxt_switches": 0, "nonvoluntary_ctxt_switches": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in counts:
                counts[name] = int(value)
    except FileNotFoundError:
        pass
    return counts["voluntary_ctxt_switches"], counts["nonvoluntary_ctxt_switches"]


def total_switches(pids: list[int]) -> tuple[int, int]:
    pairs = [switches(pid) for pid in pids]
    return sum(v for v, _ in pairs), sum(n for _, n in pairs)


def pids_of(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_arguments(parser, workers=2, backend="redis")
    args = parser.parse_args()
    plan = Plan(runs=1, seconds=6, pin_users=3000, signin_users=1, flood_users=1)
    with seeded_server("cpu", args, plan) as tool:
        server = tool.server
        job = tool.scratch / "pins.json"
        job.write_text(json.dumps(tool.bench.job("pins", items=tool.pending_sessions(plan.pin_users), pin=current_pin())))
        groups = {"workers": server.worker_pids(), "PostgreSQL": pids_of("postgres"), "Redis": pids_of("redis-server")}
        before = {label: sum(map(cpu_seconds, pids)) for label, pids in groups.items()}
        switched_before = {label: total_switches(pids) for label, pids in groups.items()}
        generator = subprocess.Popen([sys.executable, "-m", "tests.bench.load", str(job)], cwd=PROJECT_ROOT,
                                     stdout=subprocess.PIPE, text=True)
        generator_cpu, generator_switches = 0.0, (0, 0)
        while generator.poll() is None:  # its last reading before it exits
            generator_cpu = cpu_seconds(generator.pid) or generator_cpu
            generator_switches = max(generator_switches, switches(generator.pid))
            time.sleep(0.05)
        done = json.loads(generator.communicate()[0])
        after = {label: sum(map(cpu_seconds, pids)) for label, pids in groups.items()}
        switched = {
            label: tuple(now - then for now, then in zip(total_switches(pids), switched_before[label]))
            for label, pids in groups.items()
        } | {"load generator": generator_switches}
        posts = done["statuses"].get("200", 0)
        ceiling = wrk(server.url + "/healthz", 5, plan.connections)["rps"]
        rate = posts / done["seconds"]
        print(f"{args.workers} worker(s), {args.backend}: {posts} PIN posts, {rate:.0f}/s; "
              f"ceiling {ceiling:.0f}/s right after ({rate / ceiling:.1%}); answers {done['statuses']}")
        print("CPU per PIN post (ms), cores kept busy during the run, context switches per post (waits,")
        print("and preemptions: another process took the core):")
        spent = {label: after[label] - before[label] for label in groups} | {"load generator": generator_cpu}
        for label, seconds in spent.items():
            waits, preempted = switched[label]
            print(f"  {label:16s} {seconds / posts * 1000:5.2f} ms  {seconds / done['seconds']:4.2f} cores  "
                  f"{waits / posts:5.2f} waits  {preempted / posts:5.2f} preempted")
        print(f"  {'all of them':16s} {sum(spent.values()) / posts * 1000:5.2f} ms  "
              f"{sum(spent.values()) / done['seconds']:4.2f} of {os.cpu_count()} cores")

if __name__ == "__main__":
    main()
