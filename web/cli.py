"""Command line: ``python -m web`` (installed as ``provconnect``).

Exit status 0 on success; 1 with one line on stderr for a user error (unknown user, name taken,
bad setting). Every command reads the same PROVCONNECT_* environment as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

from tortoise.context import TortoiseContext

from web import cli_admin
from web.auth import admin_actions
from web.auth.admin_actions import COMMAND_LINE, ActionRefused
from web.auth.directory import account_label
from web.auth.passwords import PasswordHashing, PasswordPolicyError
from web.auth.setup_tokens import issue_setup_token
from web.auth.users import UnknownUser, UsernameError, list_users, two_factor_state
from web.db import apply_migrations, tortoise_config
from web.logs import uvicorn_log_config
from web.services import build_services
from web.settings import Settings, SettingsError, load_settings


class UserError(Exception):
    """A mistake the person at the keyboard can fix; printed as one line, exit status 1."""


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        args.run(settings, args)
    except (SettingsError, UserError, UnknownUser, UsernameError, PasswordPolicyError, ActionRefused) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="provconnect", description="ProVconnect sign-in console")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="apply migrations and serve the console")
    serve.add_argument("--host", help="listen address (default: PROVCONNECT_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: PROVCONNECT_PORT or 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(run=lambda settings, _: asyncio.run(apply_migrations(settings)))

    user = commands.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="create a user")
    add.add_argument("username")
    add.add_argument("--admin", action="store_true", help="make the user an administrator")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(run=_user_add)
    user.add_parser("list", help="list users with role, 2FA state and lock state").set_defaults(run=_user_list)
    cli_admin.add_commands(user, _admin_command)
    return parser


# -- commands ------------------------------------------------------------------------------------


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    host = args.host or settings.host
    port = args.port or settings.port
    if not 1 <= port <= 65535 or args.workers < 1:
        raise UserError("--port must be 1 to 65535 and --workers at least 1")
    if args.workers > 1 and settings.redis_url is None:
        # Each worker process would keep its own sessions and limits: a sign-in made in one would
        # be unknown to the next request's worker. Redis is the store they can share.
        raise UserError("--workers above 1 needs PROVCONNECT_REDIS_URL (sessions must be shared by the workers)")
    # Workers re-read the environment: make the command-line address theirs too (cookie policy).
    os.environ["PROVCONNECT_HOST"], os.environ["PROVCONNECT_PORT"] = host, str(port)
    settings = load_settings()
    asyncio.run(_with_database(settings, lambda: _announce_setup_link(settings, host, port)))
    options = dict(
        factory=True, host=host, port=port, workers=args.workers,
        proxy_headers=False, server_header=False, log_level="info", log_config=uvicorn_log_config(),
    )
    if args.workers == 1:
        uvicorn.run("web.asgi:app_factory", **options)  # type: ignore[arg-type]
    else:
        _run_workers(uvicorn.Config("web.asgi:app_factory", **options))  # type: ignore[arg-type]


def _run_workers(config: uvicorn.Config) -> None:
    """N workers on one port, each with a listening socket of its own (web/workers.py)."""
    from web.workers import AddressInUse, SocketPerWorker, listening_sockets

    try:
        sockets = listening_sockets(config.host, config.port, config.workers, backlog=config.backlog)
    except AddressInUse as taken:
        raise UserError(str(taken)) from None
    shown_host = f"[{config.host}]" if ":" in config.host else config.host
    print(f"Listening on http://{shown_host}:{config.port} with {config.workers} workers", flush=True)
    SocketPerWorker(config, sockets).run()


async def _announce_setup_link(settings: Settings, host: str, port: int) -> None:
    token = await issue_setup_token(build_services(settings).keyed)
    if token is not None:
        shown_host = f"[{host}]" if ":" in host else host
        print(
            "No users yet. Create the first administrator (link valid once, for 24 hours):\n"
            f"  http://{shown_host}:{port}/setup?token={token}",
            flush=True,
        )


def _user_add(settings: Settings, args: argparse.Namespace) -> None:
    password = _read_password(args.password_stdin)

    async def add() -> None:
        hashing = PasswordHashing(1)
        await admin_actions.add_user(hashing, COMMAND_LINE, args.username, password, is_admin=args.admin, initial=False)

    asyncio.run(_with_database(settings, add))
    print(f"created {'administrator' if args.admin else 'user'} {args.username}")


def _user_list(settings: Settings, _: argparse.Namespace) -> None:
    async def show() -> None:
        for user in await list_users():
            role = "admin" if user.is_admin else "user"
            account = account_label(user).lower()  # active, disabled or locked
            print(f"{user.username}\t{role}\t{two_factor_state(user)}\t{account}")

    asyncio.run(_with_database(settings, show))


def _admin_command(work: cli_admin.Work) -> Callable[[Settings, argparse.Namespace], None]:
    def run(settings: Settings, args: argparse.Namespace) -> None:
        said: list[str] = []

        async def act() -> None:
            said.append(await work(args))

        asyncio.run(_with_database(settings, act))
        print(said[0])

    return run


# -- helpers -------------------------------------------------------------------------------------


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise UserError("the two passwords differ")
    return first


async def _with_database(settings: Settings, work: Callable[[], Awaitable[None]]) -> None:
    await apply_migrations(settings)
    async with TortoiseContext() as context:
        await context.init(config=tortoise_config(settings))
        await work()
