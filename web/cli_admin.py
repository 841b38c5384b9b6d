"""The ``user`` commands that change an account: the break-glass path when no admin can sign in.

They go through the same domain actions and rules as the administration page (the last enabled
administrator stays one), and each leaves an audit entry marked as done from the command line.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from web.auth import admin_actions
from web.auth.admin_actions import COMMAND_LINE
from web.auth.users import get_user

Work = Callable[[argparse.Namespace], Awaitable[str]]
COMMANDS = {
    "reset-2fa": "remove a user's authenticator and recovery codes and end their sessions",
    "revoke-2fa": "like reset-2fa, and let the user sign in with the password alone until require-2fa",
    "require-2fa": "require 2FA again for a user exempted by revoke-2fa",
    "unlock": "clear a user's failed-attempt counters and lock",
}


def add_commands(users: Any, runner: Callable[[Work], Callable[..., None]]) -> None:
    """Register the commands on the ``user`` sub-parsers; ``runner`` runs one with the database open."""
    for name, text in COMMANDS.items():
        command = users.add_parser(name, help=text)
        _target_arguments(command)
        command.set_defaults(run=runner(partial(_perform, name)))
    set_admin = users.add_parser("set-admin", help="make a user an administrator (--off: no longer one)")
    _target_arguments(set_admin)
    set_admin.add_argument("--off", action="store_true", help="remove the administrator role instead")
    set_admin.set_defaults(run=runner(_set_admin))


def _target_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("username")
    command.add_argument("--reason", help="why, for the audit log")


async def _perform(slug: str, args: argparse.Namespace) -> str:
    user = await get_user(args.username)
    done = await admin_actions.perform(slug, COMMAND_LINE, user.id, reason=args.reason)
    return done.message


async def _set_admin(args: argparse.Namespace) -> str:
    return await _perform("remove-admin" if args.off else "make-admin", args)
