"""`gateway audit list|verify`: read and check the hash-chained audit log."""

from __future__ import annotations

import argparse
import getpass
import json
import os
from typing import Any

from gateway.cli.common import add_config_argument, config_from_args
from gateway.config import Config


def cli_actor() -> str:
    """Who did it, for entries written by the CLI: the operating-system user."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = str(os.getuid())
    return f"cli:{who}"


def record(cfg: Config, action: str, obj: str, details: dict[str, Any]) -> None:
    """Write one audit entry for a change the CLI made outside the database (e.g. trust files)."""
    from gateway.store.audit import append
    from gateway.store.db import open_database

    db = open_database(cfg)
    try:
        with db.session() as s:
            append(s, cli_actor(), action, obj, details)
    finally:
        db.dispose()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("audit", help="the audit log (append-only, hash-chained)")
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("list", help="print entries, oldest first")
    p.add_argument("--action", help="only actions starting with this, e.g. seal. or login")
    p.add_argument("--last", type=int, metavar="N", help="only the newest N entries")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_config_argument(p)
    p.set_defaults(func=_list)
    p = sub.add_parser("verify", help="check the chain: exit 0 intact, 1 tampered (each problem on a line)")
    p.add_argument("--head", metavar="HASH",
                   help="a head hash printed by an earlier verify: also catches entries cut off the end")
    add_config_argument(p)
    p.set_defaults(func=_verify)


def _list(args: argparse.Namespace) -> int:
    from gateway.store.audit import entries
    from gateway.store.db import open_database

    db = open_database(config_from_args(args))
    try:
        with db.session() as s:
            rows = entries(s, action=args.action, limit=args.last, newest_first=bool(args.last))
            if args.last:
                rows.reverse()
            for r in rows:
                if args.json:
                    entry = {"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action,
                             "object": r.object, "details": json.loads(r.details), "hash": r.hash}
                    print(json.dumps(entry, ensure_ascii=False))
                else:
                    print(f"{r.id}\t{r.at:%Y-%m-%d %H:%M:%S}\t{r.actor}\t{r.action}\t{r.object}\t{r.details}")
    finally:
        db.dispose()
    return 0


def _verify(args: argparse.Namespace) -> int:
    from gateway.store.audit import verify
    from gateway.store.db import open_database

    db = open_database(config_from_args(args))
    try:
        with db.session() as s:
            result = verify(s, head=args.head)
    finally:
        db.dispose()
    for problem in result.problems:
        print(f"TAMPERED: {problem.message}")
    state = "intact" if result.ok else f"{len(result.problems)} problem(s)"
    print(f"{result.entries} entries, {state}; head {result.head}")
    return 0 if result.ok else 1
