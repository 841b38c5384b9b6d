"""Where a request's time goes: py-spy samples one server worker while a load runs.

    .venv/bin/python -m tests.bench.profile [pin|page|healthz] [--backend sqlite|redis|postgres]
        [--workers N] [--idle]

With several workers the first is sampled; ``--idle`` also counts the samples where its thread
waits off the CPU (in SQLite's busy handler, say), which py-spy leaves out by default.

Needs py-spy (``pip install py-spy``) and wrk. Prints the share of samples that fall inside
each of a list of named areas (ORM, session store, templates, ...) and the top leaf functions.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from tests.bench.run import Plan, current_pin, load, wrk
from tests.bench.tool_server import add_server_arguments, seeded_server

# (label, text that marks a frame as inside it), checked in order against each stack.
AREAS = [
    ("argon2", "argon2"),
    ("hot-path SQL and its driver (web/db_statements.py)", "web/db_statements.py"),
    ("Tortoise ORM + driver (queries)", "tortoise/"),
    ("asyncpg", "asyncpg/"),
    ("aiosqlite / sqlite3", "aiosqlite"),
    ("Redis client", "redis_client.py"),
    ("in-process sessions and counts (web/expiring.py)", "web/expiring.py"),
    ("session store (web/sessions.py)", "web/sessions.py"),
    ("Jinja templates", "jinja2/"),
    ("CSRF middleware", "middleware/csrf.py"),
    ("per-address counter (web/window_counters.py)", "web/window_counters.py"),
    ("form parsing", "multipart"),
    ("TOTP / crypto", "web/auth/totp.py"),
    ("uvicorn HTTP parsing", "uvicorn/protocols"),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["pin", "page", "healthz"], nargs="?", default="pin")
    add_server_arguments(parser, workers=1, backend="sqlite")
    parser.add_argument("--idle", action="store_true", help="count samples off the CPU too")
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    plan = Plan(runs=1, seconds=args.seconds, pin_users=4000, signin_users=1, flood_users=1)
    with seeded_server("profile", args, plan) as tool:
        raw = tool.scratch / "samples.txt"
        if args.what == "pin":
            job = tool.bench.job("pins", items=tool.pending_sessions(plan.pin_users), pin=current_pin())
            drive = threading.Thread(target=lambda: print("load:", load(job)["statuses"], file=sys.stderr))
        else:
            url = tool.server.url + ("/" if args.what == "page" else "/healthz")
            drive = threading.Thread(target=lambda: wrk(url, args.seconds, 32))
        drive.start()
        subprocess.run(
            [shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record",
             "--pid", str(tool.server.worker_pids()[0]), "--duration", str(int(args.seconds) - 2),
             "--format", "raw", "--output", str(raw), "--rate", "200", "--threads", *(["--idle"] if args.idle else [])],
            check=True, capture_output=True,
        )
        drive.join()
        shutil.copy(raw, "/tmp/provconnect-profile-samples.txt")
        report(raw, args.idle)


# The steps of one request, innermost first: a sample counts for the first of these in its stack.
STEPS = [
    ("session store (load, save, rotate)", ("web/sessions.py",)),
    ("resume: timeouts, the user read", ("resume (web/auth/flow.py",)),
    ("PIN check: counter, TOTP, claim, audit row", ("submit_pin (", "audited_flow.py")),
    ("known-device cookie (insert, count)", ("devices.py",)),
    ("template rendering", ("jinja2/", "litestar/template", "response/template.py")),
    ("form parsing", ("read_form", "multipart", "_kwargs")),
    ("per-address limit", ("web/window_counters.py",)),
    ("CSRF check", ("_csrf_tokens_match", "generate_csrf", "_decode_csrf", "CSRFMiddleware._set_cookie")),
    ("access log and auth log lines", ("logging/",)),
    ("answer headers: security, cookies", ("security.py", "cookie.py", "to_asgi_response")),
    ("handler and Litestar around it", ("litestar/",)),
    ("uvicorn and the event loop", ("uvicorn/", "asyncio/")),
]


def report(raw: Path, idle_too: bool = False) -> None:
    steps: collections.Counter[str] = collections.Counter()
    areas: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = idle = 0
    threads: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        thread, frames = frames[0], frames[1:]
        if not frames:
            continue
        threads[thread.split(" ")[-1]] += count
        if not thread.endswith("MainThread"):
            continue  # the event loop's thread does the request work; the others wait for work
        if "select" in frames[-1] and ("selectors.py" in frames[-1] or "base_events.py" in frames[-1]):
            idle += count  # the event loop waiting for I/O
            continue
        total += count
        leaves[frames[-1]] += count
        steps[next((label for label, marks in STEPS if any(m in f for f in frames for m in marks)), "other")] += count
        for label, marker in AREAS:
            if any(marker in frame for frame in frames):
                areas[label] += count
                break
    state = "at work or waiting off the CPU" if idle_too else "at work"
    print(f"{total} samples of the event loop's thread {state} ({idle} more in its select, waiting for I/O)")
    for label, count in areas.most_common():
        print(f"  {count / total:6.1%}  {label}")
    print("by step of the request:")
    for label, count in steps.most_common():
        print(f"  {count / total:6.1%}  {label}")
    print("samples per thread:", dict(threads))
    print("top leaf functions:")
    for frame, count in leaves.most_common(15):
        print(f"  {count / total:6.1%}  {frame}")


if __name__ == "__main__":
    main()
