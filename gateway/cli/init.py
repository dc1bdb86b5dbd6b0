"""`gateway init DIR [--name NAME --edrpou CODE --port N --pki PKI_DIR]`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="write a ready-to-run development gateway.toml with a development PKI")
    p.add_argument("dir", metavar="DIR", type=Path)
    p.add_argument("--name", default="Mykolaiv City Council", help="organization name")
    p.add_argument("--edrpou", default="04056612", help="organization's EDRPOU code (8 digits)")
    p.add_argument("--port", type=int, default=8080, help="HTTP port of the gateway (the PKI uses PORT+1)")
    p.add_argument("--pki", metavar="PKI_DIR", type=Path,
                   help="share the development PKI in PKI_DIR (created if absent) with other gateways")
    p.add_argument("--force", action="store_true", help="overwrite an existing gateway.toml")
    p.add_argument("--dstu", action="store_true",
                   help="make the seal a DSTU 4145 key (national algorithms) with a DSTU root of its own")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.errors import GatewayError
    from gateway.pki.init import init_gateway

    if not 0 < args.port < 65535:
        raise GatewayError("--port must be between 1 and 65534")
    path = init_gateway(args.dir, name=args.name, edrpou=args.edrpou, port=args.port, pki_dir=args.pki,
                        force=args.force, dstu=args.dstu)
    print(f"wrote {path} (development only: keys and PKI are not for production)")
    print(f"start it with: gateway serve --config {path}")
    return 0
