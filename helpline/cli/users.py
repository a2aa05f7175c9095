"""`helpline users add | list | disable`: staff accounts."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from helpline.cli.common import account_service, open_store
from helpline.config import Settings
from helpline.domain.roles import Role
from helpline.errors import HelplineError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="manage staff accounts")
    users_sub = users.add_subparsers(dest="action", required=True)
    add = users_sub.add_parser("add", help="add an account; password from stdin or prompt")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--languages", default="", help="comma-separated, e.g. nl,en,pl")
    add.add_argument("--generate", action="store_true",
                     help="generate a strong password and print it")
    users_sub.add_parser("list", help="list accounts")
    disable = users_sub.add_parser("disable", help="disable an account and drop its sessions")
    disable.add_argument("name")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    async with open_store(settings) as store:
        accounts = account_service(store, settings)
        if args.action == "add":
            password = _read_password(args.generate)
            languages = tuple(x.strip() for x in args.languages.split(",") if x.strip())
            await accounts.add_user(args.name, Role(args.role), password, languages)
            print(f"added {args.name} ({args.role})")
            if args.generate:
                print(f"password: {password}")
        elif args.action == "list":
            for member in await accounts.list_users():
                state = "disabled" if member.disabled else "active"
                langs = ",".join(member.languages) or "-"
                print(f"{member.username}\t{member.role.value}\t{state}\t{langs}")
        elif args.action == "disable":
            revoked = await accounts.disable_user(args.name)
            print(f"disabled {args.name}; revoked {revoked} session(s)")
    return 0


def _read_password(generate: bool) -> str:
    if generate:
        return secrets.token_urlsafe(15)
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise HelplineError("The two passwords differ.")
        return first
    return sys.stdin.readline().rstrip("\n")
