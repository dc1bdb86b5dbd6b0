"""`gateway trust add|list|remove|tl [--config FILE]`: the trust anchors of a gateway (trusted lists:
`trust_tl`)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from gateway.cli import trust_tl
from gateway.cli.audit import record
from gateway.cli.common import add_config_argument, config_from_args
from gateway.errors import GatewayError
from gateway.pki import trustops


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trust", help="manage trust anchors (PEM/DER/PKCS#7 bundles)")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    add = actions.add_parser("add", help="trust the certificates of a file (PEM, DER or PKCS#7)")
    add.add_argument("file", type=Path)
    add.add_argument("--force", action="store_true",
                     help="trust end-entity, expired, revoked or withdrawn certificates too "
                          "(refused without it)")
    add_config_argument(add)
    add.set_defaults(func=run_add)
    lst = actions.add_parser("list", help="list trust anchors")
    add_config_argument(lst)
    lst.set_defaults(func=run_list)
    rm = actions.add_parser("remove", help="remove anchors by fingerprint prefix or subject text")
    rm.add_argument("selector", help="a fingerprint prefix (8+ hex digits) or text of the subject")
    rm.add_argument("--all", action="store_true", dest="all_matching",
                    help="remove every anchor the selector matches (refused without it when several do)")
    rm.add_argument("--force", action="store_true",
                    help="remove even the last anchor (then no signature can pass validation)")
    add_config_argument(rm)
    rm.set_defaults(func=run_remove)
    trust_tl.register(actions)


def _line(anchor) -> str:  # type: ignore[no-untyped-def]
    """SHA-256 fingerprint, validity and subject of an anchor, on one line."""
    from gateway.signing.certificates import name_text

    cert = anchor.certificate
    since, until = (t.strftime("%Y-%m-%d") for t in (cert.not_valid_before, cert.not_valid_after))
    expired = "  (EXPIRED)" if cert.not_valid_after < datetime.now(UTC) else ""
    return f"{anchor.fingerprint}  {since}..{until}  {name_text(cert.subject)}{expired}"


def run_add(args: argparse.Namespace) -> int:
    from gateway.pki.trust import bundle_anchors
    from gateway.signing.certificates import load_certificates

    cfg = config_from_args(args, required=True)
    if not args.file.is_file():
        raise GatewayError(f"no such file: {args.file}")
    added = trustops.add(cfg, args.file.read_bytes(), force=args.force, source=str(args.file))
    if added:
        record(cfg, "trust.add", "trust", {"added": [a.fingerprint for a in added], "file": str(args.file)})
    for anchor in added:
        print(f"added {_line(anchor)}")
    certs = load_certificates(args.file)
    skipped = len(certs) - len(bundle_anchors(certs))
    if skipped:
        print(f"skipped {skipped} certificates of the bundle that are not CAs (OCSP, TSA, end entities)")
    if not added:
        print("nothing added: every certificate is trusted already")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from gateway.pki.trust import list_anchors

    cfg = config_from_args(args, required=True)
    anchors = list_anchors(cfg)
    for anchor in anchors:
        print(_line(anchor))
    if not anchors:
        print("no trust anchors: no signature can reach TOTAL_PASSED")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from gateway.pki.trust import remove_anchors

    cfg = config_from_args(args, required=True)
    removed = remove_anchors(cfg, args.selector, all_matching=args.all_matching, allow_last=args.force)
    record(cfg, "trust.remove", "trust", {"removed": [a.fingerprint for a in removed]})
    for anchor in removed:
        print(f"removed {_line(anchor)}")
    return 0
