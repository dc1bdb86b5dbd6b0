"""`gateway trust tl add|list|refresh|remove`: trusted lists (ETSI TS 119 612) as trust anchors and
the source of signatures' qualification. A refused list is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from gateway.cli.common import add_config_argument, config_from_args


def register(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser("tl", help="trusted lists (ETSI TS 119 612): add, list, refresh, remove")
    tl = p.add_subparsers(dest="tl_action", metavar="ACTION")
    tl.required = True
    add = tl.add_parser("add", help="import a trusted list (file or URL) signed by a pinned certificate")
    add.add_argument("source", metavar="FILE_OR_URL")
    add.add_argument("--signer", type=Path, action="append", default=[], metavar="CERT",
                     help="the certificate the list must be signed with (PEM/DER; repeatable); without it, "
                          "the one an imported list of lists gives for the list's territory")
    add.add_argument("--at", type=_time, metavar="TIME", help="judge the list as of this time (ISO 8601)")
    add.add_argument("--follow", metavar="CC[,CC]",
                     help="for a list of lists: also import the lists it points to (territory codes or *)")
    add_config_argument(add)
    add.set_defaults(func=run_add)
    lst = tl.add_parser("list", help="list the imported trusted lists")
    lst.add_argument("--services", action="store_true",
                     help="also each service: type, status since, provider and name")
    add_config_argument(lst)
    lst.set_defaults(func=run_list)
    ref = tl.add_parser("refresh", help="read every list again from its source (a refused one is kept)")
    ref.add_argument("--at", type=_time, metavar="TIME", help="judge the lists as of this time")
    add_config_argument(ref)
    ref.set_defaults(func=run_refresh)
    rm = tl.add_parser("remove", help="remove a list by id, source or territory")
    rm.add_argument("selector")
    add_config_argument(rm)
    rm.set_defaults(func=run_remove)


def _time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _line(entry) -> str:  # type: ignore[no-untyped-def]
    m = entry.meta
    kind = "LOTL" if m.get("lotl") else "TL"
    nxt = (m.get("next_update") or "-")[:10]
    err = f"  (last refresh refused: {m['last_error']})" if m.get("last_error") else ""
    return (f"{entry.id}  {m.get('territory')}  {kind} #{m.get('sequence')}  next update {nxt}  "
            f"{entry.source}{err}")


def _report(outcomes) -> int:  # type: ignore[no-untyped-def]
    code = 0
    for o in outcomes:
        for w in o.warnings:
            print(f"gateway: warning: {w}", file=sys.stderr)
        if o.error:
            print(f"gateway: error: {o.source}: {o.error}", file=sys.stderr)
            code = 2
        else:
            print(f"ok {_line(o.entry)}")
    return code


def run_add(args: argparse.Namespace) -> int:
    from gateway.pki.tl.manage import add_list

    cfg = config_from_args(args, required=True)
    follow = [t.strip() for t in args.follow.split(",") if t.strip()] if args.follow else None
    return _report(add_list(cfg, args.source, args.signer, at=args.at, follow=follow))


def run_list(args: argparse.Namespace) -> int:
    from gateway.pki.tl.manage import list_lists
    from gateway.pki.tl.parse import load_tree, parse_tree

    cfg = config_from_args(args, required=True)
    entries = list_lists(cfg)
    for entry in entries:
        print(_line(entry))
        if not args.services:
            continue
        for provider, service in parse_tree(load_tree(entry.data())).services():
            history = ", ".join(f"{s.status} since {s.since:%Y-%m-%d}" for s in service.states)
            print(f"    {service.current.type}  {history}  {provider.name} / {service.name}")
    if not entries:
        print("no trusted list imported: reports carry no qualification")
    return 0


def run_refresh(args: argparse.Namespace) -> int:
    from gateway.pki.tl.manage import refresh_lists

    cfg = config_from_args(args, required=True)
    return _report(refresh_lists(cfg, at=args.at))


def run_remove(args: argparse.Namespace) -> int:
    from gateway.pki.tl.manage import remove_list

    cfg = config_from_args(args, required=True)
    for entry in remove_list(cfg, args.selector):
        print(f"removed {_line(entry)}")
    return 0
