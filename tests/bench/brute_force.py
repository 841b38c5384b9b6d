"""Brute force on the PIN step: how many guesses does the server actually evaluate?

    .venv/bin/python -m tests.bench.brute_force [--seconds 60] [--sessions 4] [--addresses 4]
    .venv/bin/python -m tests.bench.brute_force --url http://127.0.0.1:8000 --username NAME --password-stdin

Without ``--url`` it starts the server itself (``python -m web serve``, temporary data directory,
free loopback port), creates a user with the CLI (``python -m web user add NAME --password-stdin``)
and enrolls them through HTTP, as a person would. Then it plays the attacker who has the password
but not the phone: each session signs in with the password and posts wrong PINs as fast as it can,
re-doing the password step whenever the session no longer is at the PIN step. Like a botnet, the
sessions come from many loopback addresses (127.0.1.1, 127.0.1.2, ...: all this machine) and a
session that meets the per-address limit carries on from the next address with the same cookies,
so that coarse fence is out of the way and the per-account counter is what has to hold.
``--addresses 1`` keeps everything on 127.0.0.1 instead.

Bounded: stops after ``--seconds`` (default 60) or ``--max-requests`` (default and ceiling 100,000)
PIN posts, whichever comes first. Loopback only: a URL that is not a loopback address is refused.

Prints PIN posts sent, how many were evaluated (401), refused by the account throttle or by the
per-address limit (429), and the rates. Not collected by pytest (tests/bench is in norecursedirs).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pyotp

from tests.server_process import PROJECT_ROOT, ServerProcess
from web.auth.throttle import delay_after

MAX_REQUESTS_CEILING = 100_000
CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]+)"')
SECRET_KEY_TEXT = re.compile(r'data-copy-text="([A-Z2-7]+)"')
PIN_FIELD = 'name="pin"'
ADDRESS_LIMIT_TEXT = "network address"  # the per-address 429 page; the account's 429 says "Try again in"
REQUEST_TIMEOUT_SECONDS = 30.0
CLI_TIMEOUT_SECONDS = 60


# -- a browser-like client -----------------------------------------------------------------------------


class Attacker:
    """One session: a cookie jar, the last CSRF token, a loopback source address it can change."""

    def __init__(self, url: str, source: str | None) -> None:
        self.url = url
        self.client = self._client(source)
        self.token = ""

    def _client(self, source: str | None) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=source) if source else httpx.HTTPTransport()
        return httpx.Client(base_url=self.url, transport=transport, timeout=REQUEST_TIMEOUT_SECONDS)

    def move_to(self, source: str | None) -> None:
        """Go on from another address with the same session: cookies are not bound to an address."""
        moved = self._client(source)
        moved.cookies = self.client.cookies
        self.client.close()
        self.client = moved

    def get(self, path: str) -> httpx.Response:
        return self._keep_token(self.client.get(path))

    def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        form = {**(data or {}), "_csrf_token": self.token}
        return self._keep_token(self.client.post(path, data=form, headers={"HX-Request": "true"}))

    def _keep_token(self, answer: httpx.Response) -> httpx.Response:
        match = CSRF_INPUT.search(answer.text)
        if match:
            self.token = match.group(1)  # rotates with the session: always the latest
        return answer

    def close(self) -> None:
        self.client.close()


def retry_after(answer: httpx.Response) -> float:
    try:
        return max(0.05, float(answer.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


# -- setting up a victim ---------------------------------------------------------------------------------


@dataclass
class Victim:
    username: str
    password: str
    secret: str | None  # known only when this script enrolled the user: used to be sure a guess is wrong


def cli(env: dict[str, str], *args: str, stdin: str = "") -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PROVCONNECT_")}
    environment.update(env)
    done = subprocess.run(
        [sys.executable, "-m", "web", *args], input=stdin, env=environment, cwd=PROJECT_ROOT,
        capture_output=True, text=True, timeout=CLI_TIMEOUT_SECONDS, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"python -m web {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")


def enroll(url: str, username: str, password: str) -> str:
    """Sign in with the password, set up the authenticator, keep the recovery codes, sign out."""
    person = Attacker(url, None)
    try:
        person.get("/")
        panel = person.post("/signin/password", {"username": username, "password": password})
        found = SECRET_KEY_TEXT.search(panel.text)
        if panel.status_code != 200 or not found:
            raise SystemExit(f"no enrollment panel after the password ({panel.status_code})")
        secret = found.group(1)
        shown = person.post("/signin/enroll", {"pin": pyotp.TOTP(secret).now()})
        if shown.status_code != 200 or "<code>" not in shown.text:
            raise SystemExit(f"enrollment refused ({shown.status_code})")
        if person.post("/signin/continue").status_code != 200 or person.post("/signout").status_code != 200:
            raise SystemExit("could not finish enrollment")
        return secret
    finally:
        person.close()


# -- the attack ------------------------------------------------------------------------------------------


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    pin_posts: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    password_steps: Counter[int] = field(default_factory=Counter)
    evaluated_at: list[float] = field(default_factory=list)

    def claim(self, limit: int) -> bool:
        with self.lock:
            if self.pin_posts >= limit:
                return False
            self.pin_posts += 1
            return True


def wrong_pin(secret: str | None) -> str:
    """A guess; when the secret is known, one that matches no step within ±10 of now (truly wrong)."""
    avoid = {pyotp.TOTP(secret).at(time.time() + 30 * k) for k in range(-10, 11)} if secret else set()
    while True:
        pin = f"{secrets.randbelow(1_000_000):06d}"
        if pin not in avoid:
            return pin


def classify(answer: httpx.Response) -> str:
    if answer.status_code == 401:
        return "evaluated (401)"
    if answer.status_code == 429:
        return "refused by the per-address limit (429)" if ADDRESS_LIMIT_TEXT in answer.text else "refused by the account throttle (429)"
    if answer.status_code == 200:
        return "ACCEPTED (200)"
    return f"other ({answer.status_code})"


def to_pin_step(attacker: Attacker, victim: Victim, tally: Tally, deadline: float) -> bool:
    """The password step until the session is at the PIN step (waiting out 429s), or the time is up."""
    while time.monotonic() < deadline:
        if not attacker.token:
            attacker.get("/")
        answer = attacker.post("/signin/password", {"username": victim.username, "password": victim.password})
        with tally.lock:
            tally.password_steps[answer.status_code] += 1
        if answer.status_code == 200 and PIN_FIELD in answer.text:
            return True
        if answer.status_code == 429:
            time.sleep(min(retry_after(answer), max(0.0, deadline - time.monotonic())))
        elif answer.status_code == 403:
            attacker.token = ""  # the CSRF cookie or session is gone: start from the page again
        else:
            raise SystemExit(f"password step answered {answer.status_code}: is the password right?")
    return False


class AddressPool:
    """Loopback source addresses handed out in turn, shared by the sessions."""

    def __init__(self, count: int) -> None:
        # 127.0.1.1, 127.0.1.2, ...: all this machine, each a different client address to the server.
        self._addresses: list[str | None] = (
            [None] if count <= 1 else [f"127.0.{1 + n // 250}.{1 + n % 250}" for n in range(count)]
        )
        self._next = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._addresses)

    def take(self) -> str | None:
        with self._lock:
            address = self._addresses[self._next % len(self._addresses)]
            self._next += 1
            return address


def attack(url: str, pool: AddressPool, victim: Victim, tally: Tally, deadline: float, limit: int, started: float) -> None:
    attacker = Attacker(url, pool.take())
    try:
        if not to_pin_step(attacker, victim, tally, deadline):
            return
        while time.monotonic() < deadline and tally.claim(limit):
            answer = attacker.post("/signin/pin", {"pin": wrong_pin(victim.secret)})
            kind = classify(answer)
            with tally.lock:
                tally.statuses[kind] += 1
                if answer.status_code == 401:
                    tally.evaluated_at.append(time.monotonic() - started)
            if answer.status_code == 429 and ADDRESS_LIMIT_TEXT in answer.text and len(pool) > 1:
                attacker.move_to(pool.take())
            if answer.status_code in (200, 403):  # signed in (!) or no longer at the PIN step
                if answer.status_code == 200:
                    attacker.post("/signout")
                if not to_pin_step(attacker, victim, tally, deadline):
                    return
    finally:
        attacker.close()


# -- running it ------------------------------------------------------------------------------------------


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as error:
        raise SystemExit(f"cannot resolve {host!r}: {error}") from None
    if not addresses or not all(ipaddress.ip_address(address.split("%")[0]).is_loopback for address in addresses):
        raise SystemExit(f"refusing {url}: this bench only attacks a server on this machine (loopback)")


def greedy_ceiling(seconds: float) -> int:
    """How many guesses the throttle lets the fastest attacker make in ``seconds``, from a fresh counter."""
    failures, moment = 0, 0.0
    while moment < seconds:
        failures += 1
        moment += delay_after(failures)
    return failures


def report(url: str, victim: Victim, tally: Tally, elapsed: float, sessions: int, addresses: int) -> dict[str, object]:
    evaluated = tally.statuses["evaluated (401)"]
    figures: dict[str, object] = {
        "url": url,
        "user": victim.username,
        "sessions": sessions,
        "source_addresses": addresses,
        "seconds": round(elapsed, 1),
        "pin_posts_sent": tally.pin_posts,
        "outcomes": dict(tally.statuses),
        "evaluated": evaluated,
        "evaluated_at_seconds": [round(t, 1) for t in tally.evaluated_at],
        "throttle_ceiling_for_this_duration": greedy_ceiling(elapsed),
        "password_steps": dict(tally.password_steps),
        "pin_posts_per_second": round(tally.pin_posts / elapsed, 1) if elapsed else 0.0,
    }
    print(f"brute force on the PIN step of {url} as {victim.username!r}: {sessions} sessions from "
          f"{addresses} loopback address(es), {elapsed:.1f} s")
    print(f"  PIN attempts sent:            {tally.pin_posts}")
    for kind, count in sorted(tally.statuses.items()):
        print(f"    {kind + ':':<40}{count}")
    print(f"  evaluated at (s):             {', '.join(f'{t:.1f}' for t in tally.evaluated_at)}")
    print(f"  throttle ceiling for {elapsed:.0f} s:    {figures['throttle_ceiling_for_this_duration']} (fastest possible attacker)")
    print(f"  password steps:               {dict(tally.password_steps)}")
    print(f"  PIN posts per second:         {figures['pin_posts_per_second']}")
    return figures


def auth_log_counts(log_path: Path) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        if '"logger":"provconnect.auth"' in line:
            payload = json.loads(line)
            counts[(payload["event"], payload["outcome"])] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.brute_force", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to attack (default 60)")
    parser.add_argument("--max-requests", type=int, default=MAX_REQUESTS_CEILING, help="PIN posts at most (≤ 100,000)")
    parser.add_argument("--sessions", type=int, default=4, help="concurrent attacker sessions (default 4)")
    parser.add_argument("--addresses", type=int, default=64, help="loopback source addresses to rotate through (default 64; 1: 127.0.0.1 only)")
    parser.add_argument("--url", help="a server already running on loopback (else one is started)")
    parser.add_argument("--username", help="with --url: an enrolled user to attack")
    parser.add_argument("--password-stdin", action="store_true", help="with --url: read that user's password from stdin")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 3600 or not 0 < args.max_requests <= MAX_REQUESTS_CEILING or not 1 <= args.sessions <= 64:
        parser.error("--seconds must be in (0, 3600], --max-requests in [1, 100000], --sessions in [1, 64]")
    if not 1 <= args.addresses <= 5000:
        parser.error("--addresses must be in [1, 5000]")
    pool = AddressPool(args.addresses)

    server: ServerProcess | None = None
    workdir = tempfile.TemporaryDirectory(prefix="brute-force-")
    try:
        if args.url:
            if not (args.username and args.password_stdin):
                parser.error("--url needs --username and --password-stdin (an enrolled user of that server)")
            require_loopback(args.url)
            url = args.url.rstrip("/")
            victim = Victim(args.username, sys.stdin.readline().rstrip("\r\n"), None)
        else:
            data_dir = Path(workdir.name)
            env = {"PROVCONNECT_DATA_DIR": str(data_dir), "PROVCONNECT_SECRET_KEY": secrets.token_urlsafe(48)}
            server = ServerProcess(env, data_dir / "server.log").wait_ready()
            url = server.url
            victim = Victim(f"victim-{secrets.token_hex(3)}", f"bench-{secrets.token_hex(12)}", None)
            cli(env, "user", "add", victim.username, "--password-stdin", stdin=victim.password + "\n")
            victim.secret = enroll(url, victim.username, victim.password)

        tally = Tally()
        started = time.monotonic()
        deadline = started + args.seconds
        threads = [
            threading.Thread(
                target=attack,
                args=(url, pool, victim, tally, deadline, args.max_requests, started),
                daemon=True,
            )
            for n in range(args.sessions)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + 2 * REQUEST_TIMEOUT_SECONDS)
        elapsed = time.monotonic() - started
        figures = report(url, victim, tally, elapsed, args.sessions, len(pool))
        if server is not None:
            time.sleep(0.3)
            logged = auth_log_counts(server.log_path)
            figures["logged_pin_failures"] = logged[("pin", "failure")]
            figures["logged_pin_throttled"] = logged[("pin", "throttled")]
            print(f"  server log: pin failure lines {logged[('pin', 'failure')]}, pin throttled lines {logged[('pin', 'throttled')]}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        accepted = tally.statuses["ACCEPTED (200)"]
        over_ceiling = tally.statuses["evaluated (401)"] > figures["throttle_ceiling_for_this_duration"]  # type: ignore[operator]
        if accepted or over_ceiling:
            print("  FAIL: " + ("a guess was accepted" if accepted else "more guesses were evaluated than the throttle allows"))
            return 1
        return 0
    finally:
        if server is not None:
            server.stop()
        workdir.cleanup()


if __name__ == "__main__":
    sys.exit(main())
