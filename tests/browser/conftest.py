"""Real-browser fixtures: Chromium through Playwright (sync API) against the real server in a subprocess.

The browser is ``PROVCONNECT_CHROMIUM`` or ``/usr/bin/chromium``. When none is found (or Playwright is
missing) every browser test is skipped with the reason, except under ``CI=true``, where that is a failure.

The server is started as an operator would (``python -m web serve``) on a free loopback port, with its
own data directory and secret key; users are created with the CLI (``python -m web user add``), which
shares the SQLite file with the running server.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, Response

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # gitignored
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_SECONDS = 20.0
CLI_SECONDS = 30.0
PASSWORD = "correct horse battery staple"
SETUP_LINK = re.compile(r"/setup\?token=\S+")
# The only console error a browser test may expect: Chromium reports every 4xx answer to a fetch/XHR
# as "Failed to load resource: the server responded with a status of 401 (Unauthorized)".
HTTP_401_CONSOLE = re.compile(r"^Failed to load resource: the server responded with a status of 401\b")

_user_numbers = itertools.count(1)


def _in_ci() -> bool:
    return os.environ.get("CI") == "true"


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: browser tests must run)", pytrace=False)
    pytest.skip(reason)


# -- browser ---------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    """PROVCONNECT_CHROMIUM (a path or a command name) or /usr/bin/chromium, if executable."""
    wanted = os.environ.get("PROVCONNECT_CHROMIUM") or DEFAULT_CHROMIUM
    found = shutil.which(wanted)
    return str(Path(found).resolve()) if found else None


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = find_chromium()
    if path is None:
        wanted = os.environ.get("PROVCONNECT_CHROMIUM")
        where = f"PROVCONNECT_CHROMIUM={wanted!r} is not an executable" if wanted else (
            f"no Chromium at {DEFAULT_CHROMIUM} and PROVCONNECT_CHROMIUM is not set"
        )
        _unavailable(f"browser tests need Chromium: {where}")
    assert path is not None
    return path


# Module scope, not session: Playwright's sync API keeps an event loop running in the main thread
# while it is started, and later tests (and fixtures) that call asyncio.run() would fail under it.
@pytest.fixture(scope="module")
def playwright(chromium_executable: str) -> Iterator[Playwright]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - depends on the environment
        _unavailable(f"browser tests need the playwright package ({error}); install the project's [test] extra")
        raise
    manager = sync_playwright().start()
    try:
        yield manager
    finally:
        manager.stop()


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_executable: str) -> Iterator[Browser]:
    try:
        launched = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
    except Exception as error:  # the binary exists but cannot start: say why, do not hide it
        pytest.fail(f"Chromium at {chromium_executable} did not start: {error}", pytrace=False)
    try:
        yield launched
    finally:
        launched.close()


# -- server ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(data_dir: Path) -> dict[str, str]:
    # Drop any PROVCONNECT_* from the caller's shell (a database URL, Redis, cookies...): this server
    # must be a plain single-machine install on its own SQLite file.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROVCONNECT_")}
    env.update(
        PROVCONNECT_DATA_DIR=str(data_dir),
        PROVCONNECT_SECRET_KEY=secrets.token_urlsafe(48),
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class Server:
    base_url: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def origin(self) -> str:
        return self.base_url

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def setup_link(self) -> str | None:
        match = SETUP_LINK.search(self.log())
        return match.group(0) if match else None

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "web", *args],
            input=stdin,
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=CLI_SECONDS,
            check=False,
        )

    def add_user(self, prefix: str = "user", password: str = PASSWORD) -> User:
        """A new user without 2FA (enrollment on first sign-in), unique across the session."""
        name = f"{prefix}{next(_user_numbers)}-{secrets.token_hex(3)}"
        done = self.cli("user", "add", name, "--password-stdin", stdin=password + "\n")
        assert done.returncode == 0, f"user add {name} failed ({done.returncode}): {done.stderr.strip()}"
        return User(name, password)


@dataclass
class User:
    username: str
    password: str
    secret: str | None = None
    recovery_codes: list[str] = field(default_factory=list)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"the server exited with status {server.process.returncode} before answering /healthz:\n{server.log()}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(server.url("/healthz"), timeout=2) as answer:
                if answer.status == 200:
                    return
                last = f"status {answer.status}"
        except urllib.error.HTTPError as error:
            last = f"status {error.code}"
        except OSError as error:
            last = str(error)
        time.sleep(0.1)
    pytest.fail(f"/healthz did not answer 200 within {SERVER_START_SECONDS:.0f} s ({last}):\n{server.log()}", pytrace=False)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(chromium_executable: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``python -m web serve`` on a free loopback port with an empty database of its own."""
    data_dir = tmp_path_factory.mktemp("browser-server")
    env = _server_env(data_dir)
    port = _free_port()
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:  # a file, not a pipe: a full pipe would stall the server
        process = subprocess.Popen(
            [sys.executable, "-m", "web", "serve", "--port", str(port)],
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = Server(f"http://127.0.0.1:{port}", env, log_path, process)
    try:
        _wait_healthy(running)
        yield running
    finally:
        _stop(process)


# -- page with a watch on errors ---------------------------------------------------------------------


# Reports violations as console errors too, so they are caught even if Chromium's own wording changes.
# Init scripts are injected by the browser, not the page, so the page's CSP does not apply to them.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("Content Security Policy violation (securitypolicyviolation): " +
    event.violatedDirective + " blocked " + (event.blockedURI || "inline") +
    " at " + (event.sourceFile || "?") + ":" + (event.lineNumber || "?"));
});
"""


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions, CSP violations and 5xx answers seen by one page."""

    console_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    allowed_seen: list[str] = field(default_factory=list)

    def allow_http_401(self) -> None:
        """For failure tests: Chromium's 'Failed to load resource ... 401' console line is expected."""
        self.allowed.append(HTTP_401_CONSOLE)

    def on_console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text:
            self.csp_violations.append(f"[{message.type}] {text} @ {message.location}")
            return
        if message.type != "error":
            return
        if any(pattern.search(text) for pattern in self.allowed):
            self.allowed_seen.append(text)
            return
        self.console_errors.append(f"{text} @ {message.location}")

    def on_page_error(self, error: Any) -> None:
        self.page_errors.append(str(error))

    def on_response(self, response: Response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.request.method} {response.url}")

    def summary(self) -> str:
        parts = {
            "console errors": self.console_errors,
            "CSP violations": self.csp_violations,
            "page errors (uncaught exceptions)": self.page_errors,
            "server errors (5xx)": self.server_errors,
        }
        return "\n".join(f"{name}:\n  " + "\n  ".join(items) for name, items in parts.items() if items)


def new_watched_page(context: BrowserContext, problems: PageProblems) -> Page:
    context.add_init_script(CSP_REPORTER)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("console", problems.on_console)
    page.on("pageerror", problems.on_page_error)
    page.on("response", problems.on_response)
    return page


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@dataclass
class Session:
    """One browser context + page against the server, with its error watch."""

    context: BrowserContext
    page: Page
    problems: PageProblems


def _open_session(browser: Browser, server: Server, problems: PageProblems, **options: Any) -> Session:
    context = browser.new_context(base_url=server.base_url, **options)
    context.set_default_timeout(10_000)
    return Session(context, new_watched_page(context, problems), problems)


@pytest.fixture
def open_session(browser: Browser, server: Server, problems: PageProblems, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Factory: ``open_session(**context_options)``; every page it opens is checked for errors at the end."""
    sessions: list[Session] = []

    def opener(**options: Any) -> Session:
        session = _open_session(browser, server, problems, **options)
        sessions.append(session)
        return session

    yield opener
    try:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            for number, session in enumerate(sessions):
                if not session.page.is_closed():
                    session.page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{number}-failure.png"), full_page=True)
        # Give late console messages (a last htmx answer) a moment to arrive before judging.
        for session in sessions:
            if not session.page.is_closed():
                session.page.wait_for_timeout(100)
    finally:
        for session in sessions:
            session.context.close()
    summary = problems.summary()
    assert not summary, f"the page reported problems:\n{summary}"


@pytest.fixture
def session(open_session: Any) -> Session:
    """A JavaScript-enabled browser session (the default for most tests)."""
    return open_session()  # type: ignore[no-any-return]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
