"""`gateway user create|list|disable`: console users (officer, operator, auditor)."""

from __future__ import annotations

import argparse
import os

from gateway.cli.audit import cli_actor
from gateway.cli.common import add_config_argument, config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("user", help="console users (officer, operator, auditor)")
    sub = parser.add_subparsers(dest="user_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("create", help="add a console user")
    p.add_argument("--name", required=True, help="login name")
    p.add_argument("--role", required=True, choices=["officer", "operator", "auditor"],
                   help="officer: keys, trust, partners, users; operator: messages; auditor: read-only")
    p.add_argument("--password-env", required=True, metavar="VAR",
                   help="environment variable holding the password (at least 12 characters)")
    add_config_argument(p)
    p.set_defaults(func=_create)
    p = sub.add_parser("list", help="list users")
    add_config_argument(p)
    p.set_defaults(func=_list)
    p = sub.add_parser("disable", help="disable a user (their sessions end)")
    p.add_argument("name")
    add_config_argument(p)
    p.set_defaults(func=_disable)


def _create(args: argparse.Namespace) -> int:
    from gateway.errors import GatewayError
    from gateway.store.audit import append
    from gateway.store.db import open_database
    from gateway.store.users import UserError, create_user

    password = os.environ.get(args.password_env)
    if password is None:
        raise GatewayError(f"environment variable {args.password_env} (the password) is not set")
    db = open_database(config_from_args(args))
    try:
        with db.session() as s:
            try:
                user = create_user(s, args.name, args.role, password)
            except UserError as exc:
                raise GatewayError(str(exc)) from None
            append(s, cli_actor(), "user.create", f"user:{user.name}", {"role": user.role})
    finally:
        db.dispose()
    print(f"user {args.name} ({args.role}) created")
    return 0


def _list(args: argparse.Namespace) -> int:
    from gateway.store.db import open_database
    from gateway.store.users import list_users

    db = open_database(config_from_args(args))
    try:
        with db.session() as s:
            for u in list_users(s):
                state = f"disabled {u.disabled_at:%Y-%m-%d %H:%M}" if u.disabled_at else "active"
                print(f"{u.id}\t{u.name}\t{u.role}\t{state}")
    finally:
        db.dispose()
    return 0


def _disable(args: argparse.Namespace) -> int:
    from gateway.errors import GatewayError
    from gateway.store.audit import append
    from gateway.store.db import open_database
    from gateway.store.users import UserError, disable_user

    db = open_database(config_from_args(args))
    try:
        with db.session() as s:
            try:
                disable_user(s, args.name)
            except UserError as exc:
                raise GatewayError(str(exc)) from None
            append(s, cli_actor(), "user.disable", f"user:{args.name}")
    finally:
        db.dispose()
    print(f"user {args.name} disabled")
    return 0
