"""`gateway partners add|list|remove`: the directory of bodies we exchange letters with."""

from __future__ import annotations

import argparse

from gateway.cli.common import add_config_argument, config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "partners", help="directory of partner bodies",
        description="The bodies this council exchanges letters with: where a letter to an EDRPOU goes "
                    "(SEV OVV hub or Trembita) and whose seal certificate to expect.")
    sub = parser.add_subparsers(dest="partners_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("add", help="add or update a partner")
    p.add_argument("--edrpou", required=True, metavar="CODE",
                   help="the body's EDRPOU code: 8 digits, the last one a check digit (the key of the entry)")
    p.add_argument("--name", required=True, help="the body's official name, as put in letters' headers")
    p.add_argument("--channel", choices=["sev", "trembita"], default="sev",
                   help="how letters reach it: sev (through the SEV OVV hub, default) or trembita (X-Road)")
    p.add_argument("--sev-system-id", metavar="ID",
                   help="its system id at the SEV OVV hub (the ToSysId of letters to it)")
    p.add_argument("--xroad-client", metavar="INST/CLASS/CODE/SUB",
                   help="its Trembita client subsystem: calls to our service must come from it")
    p.add_argument("--xroad-service", metavar="INST/CLASS/CODE/SUB/SERVICE[/VERSION]",
                   help="its Trembita service that receives our letters")
    p.add_argument("--cert", metavar="PEM",
                   help="the partner's seal certificate (PEM, DER or PKCS#7; the first certificate is kept)")
    add_config_argument(p)
    p.set_defaults(func=_add)
    p = sub.add_parser("list", help="list partners")
    add_config_argument(p)
    p.set_defaults(func=_list)
    p = sub.add_parser("remove", help="remove a partner")
    p.add_argument("--edrpou", required=True, metavar="CODE", help="the EDRPOU of the entry to remove")
    add_config_argument(p)
    p.set_defaults(func=_remove)


def _read_cert(path: str) -> str:
    """The first certificate of a PEM/DER/PKCS#7 file, as PEM (errors are GatewayErrors)."""
    from asn1crypto import pem

    from gateway.errors import GatewayError
    from gateway.signing.certificates import load_certificates

    certs = load_certificates(path)
    if not certs:
        raise GatewayError(f"{path}: no certificate found")
    return pem.armor("CERTIFICATE", certs[0].dump()).decode("ascii")


def _add(args: argparse.Namespace) -> int:
    from gateway.errors import GatewayError
    from gateway.store.db import open_database
    from gateway.store.partners import upsert_partner

    cert = _read_cert(args.cert) if args.cert else None
    db = open_database(config_from_args(args))
    try:
        with db.session() as s:
            try:
                upsert_partner(s, edrpou=args.edrpou, name=args.name, channel=args.channel,
                               sev_system_id=args.sev_system_id, xroad_client=args.xroad_client,
                               xroad_service=args.xroad_service, cert_pem=cert)
            except ValueError as exc:
                raise GatewayError(str(exc)) from None
    finally:
        db.dispose()
    print(f"partner {args.edrpou} ({args.name}) saved")
    return 0


def _list(args: argparse.Namespace) -> int:
    from gateway.store.db import open_database
    from gateway.store.partners import list_partners

    db = open_database(config_from_args(args))
    try:
        with db.session() as s:
            for p in list_partners(s):
                route = p.sev_system_id or p.xroad_service or p.xroad_client or "-"
                print(f"{p.edrpou}\t{p.channel}\t{route}\t{p.name}")
    finally:
        db.dispose()
    return 0


def _remove(args: argparse.Namespace) -> int:
    from gateway.errors import GatewayError
    from gateway.store.db import open_database
    from gateway.store.partners import remove_partner

    db = open_database(config_from_args(args))
    try:
        with db.session() as s:
            if not remove_partner(s, args.edrpou):
                raise GatewayError(f"no partner with EDRPOU {args.edrpou}")
    finally:
        db.dispose()
    print(f"partner {args.edrpou} removed")
    return 0
