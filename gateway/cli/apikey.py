"""`gateway apikey create|list|revoke`: API keys for the EDMS (stored hashed)."""

from __future__ import annotations

import argparse

from gateway.cli.audit import cli_actor
from gateway.cli.common import add_config_argument, config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("apikey", help="API keys for the EDMS")
    sub = parser.add_subparsers(dest="apikey_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("create", help="make a new key; prints it as the last line (shown only once)")
    p.add_argument("--name", required=True, help="who uses the key, e.g. the EDMS instance")
    p.add_argument("--role", default="edms", choices=["edms", "officer", "operator", "auditor"],
                   help="edms (default): letters, signing, validation; officer: /api/v1/admin; "
                        "operator: re-queue and decide on messages; auditor: read-only")
    p.add_argument("--all-letters", action="store_true",
                   help="an edms key that sees every key's letters (default: only its own)")
    add_config_argument(p)
    p.set_defaults(func=_create)
    p = sub.add_parser("list", help="list keys (never the keys themselves)")
    add_config_argument(p)
    p.set_defaults(func=_list)
    p = sub.add_parser("revoke", help="revoke a key by id or name")
    p.add_argument("key", metavar="ID_OR_NAME")
    add_config_argument(p)
    p.set_defaults(func=_revoke)


def _db(args: argparse.Namespace):
    from gateway.store.db import open_database

    return open_database(config_from_args(args))


def _create(args: argparse.Namespace) -> int:
    from gateway.errors import GatewayError
    from gateway.store.apikeys import create_key
    from gateway.store.audit import append

    db = _db(args)
    try:
        with db.session() as s:
            try:
                row, key = create_key(s, args.name, args.role, all_letters=args.all_letters)
            except ValueError as exc:
                raise GatewayError(str(exc)) from None
            ident = row.id
            append(s, cli_actor(), "apikey.create", f"apikey:{ident}",
                   {"name": row.name, "role": row.role, "all_letters": row.all_letters})
    finally:
        db.dispose()
    print(f"API key {ident} ({args.name}, role {args.role}) created; it is shown only now:")
    print(key)
    return 0


def _list(args: argparse.Namespace) -> int:
    from gateway.store.apikeys import list_keys

    db = _db(args)
    try:
        with db.session() as s:
            for row in list_keys(s):
                state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
                created = f"{row.created_at:%Y-%m-%d %H:%M}"
                print(f"{row.id}\t{row.name}\t{row.role}\t{row.prefix}…\t{created}\t{state}")
    finally:
        db.dispose()
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from gateway.errors import GatewayError
    from gateway.store.apikeys import revoke_key
    from gateway.store.audit import append

    db = _db(args)
    try:
        with db.session() as s:
            row = revoke_key(s, args.key)
            if row is None:
                raise GatewayError(f"no active API key {args.key!r}")
            append(s, cli_actor(), "apikey.revoke", f"apikey:{row.id}", {"name": row.name})
            print(f"revoked API key {row.id} ({row.name})")
    finally:
        db.dispose()
    return 0
