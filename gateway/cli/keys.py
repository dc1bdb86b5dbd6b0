"""`gateway keys list|import|generate|csr|attach|activate|tokens`: the keys registry of the seal."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gateway.cli.audit import cli_actor
from gateway.cli.common import add_config_argument, config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("keys", help="seal keys: PKCS#12/Ukrainian containers, PKCS#11, CSR")
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("list", help="keys with their certificate, expiry and which one is active")
    add_config_argument(p)
    p.set_defaults(func=_list)
    p = sub.add_parser("import", help="import a key container, or register a PKCS#11 key by URI")
    p.add_argument("source", metavar="FILE_OR_PKCS11_URI",
                   help="PKCS#12 (.p12/.pfx), Key-6.dat, .jks, "
                        "or pkcs11:token=...;object=...?module-path=...")
    p.add_argument("--label", required=True, help="a name for the key in the registry")
    p.add_argument("--password-env", metavar="VAR", help="environment variable with the password or PIN")
    add_config_argument(p)
    p.set_defaults(func=_import)
    p = sub.add_parser("generate", help="generate a key and print a CSR with the organization's EDRPOU")
    p.add_argument("--label", required=True, help="a name for the key in the registry")
    p.add_argument("--algorithm", default="rsa-3072", choices=["rsa-3072", "rsa-2048", "ec-p256", "ec-p384"],
                   help="key type and size (default rsa-3072)")
    p.add_argument("--out", type=Path, metavar="CSR_FILE", help="write the CSR here (default: stdout)")
    add_config_argument(p)
    p.set_defaults(func=_generate)
    p = sub.add_parser("csr", help="print the CSR of a generated key again")
    p.add_argument("key", metavar="ID_OR_LABEL")
    add_config_argument(p)
    p.set_defaults(func=_csr)
    p = sub.add_parser("attach", help="attach the certificate issued for a generated key")
    p.add_argument("key", metavar="ID_OR_LABEL")
    p.add_argument("certificate", type=Path, help="PEM (with the CA chain after it) or DER")
    add_config_argument(p)
    p.set_defaults(func=_attach)
    p = sub.add_parser("activate",
                       help="make a key the seal; a running gateway uses it from its next signature")
    p.add_argument("key", metavar="ID_OR_LABEL")
    add_config_argument(p)
    p.set_defaults(func=_activate)
    p = sub.add_parser("tokens", help="PKCS#11 tokens present ([keys] pkcs11_module or --module)")
    p.add_argument("--module", help="PKCS#11 module path or file name")
    p.add_argument("--pin-env", metavar="VAR",
                   help="environment variable with the user PIN: also list the keys")
    add_config_argument(p)
    p.set_defaults(func=_tokens)


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from gateway.store.db import open_database

    cfg = config_from_args(args)
    return cfg, open_database(cfg)


def _secret(var: str | None) -> bytes | None:
    from gateway.errors import GatewayError

    if not var:
        return None
    if var not in os.environ:
        raise GatewayError(f"environment variable {var} (key password) is not set")
    return os.environ[var].encode()


def describe(row) -> str:  # type: ignore[no-untyped-def]
    """One line per key: id, label, kind, active mark, expiry, certificate subject."""
    from gateway.signing.certificates import name_text, parse_certificates

    subject = "-"
    if row.cert_pem:
        subject = name_text(parse_certificates(row.cert_pem.encode(), "registry")[0].subject)
    until = f"{row.not_after:%Y-%m-%d}" if row.not_after else "no certificate"
    mark = "ACTIVE" if row.active else "-"
    return f"{row.id}\t{row.label}\t{row.kind}\t{mark}\t{until}\t{subject}"


def _list(args: argparse.Namespace) -> int:
    from gateway.store.keyregistry import list_keys

    _, db = _open(args)
    try:
        with db.session() as s:
            rows = list_keys(s)
            for row in rows:
                print(describe(row))
            if not rows:
                print("no keys in the registry ([signing] key is the seal)")
    finally:
        db.dispose()
    return 0


def _import(args: argparse.Namespace) -> int:
    from gateway.errors import GatewayError
    from gateway.store import keyregistry
    from gateway.store.audit import append

    cfg, db = _open(args)
    secret = _secret(args.password_env)
    try:
        with db.session() as s:
            if args.source.startswith("pkcs11:"):
                row = keyregistry.add_pkcs11(s, cfg, args.label, args.source, secret)
            else:
                path = Path(args.source)
                if not path.is_file():
                    raise GatewayError(f"no such key file: {path}")
                row = keyregistry.import_container(s, cfg, args.label, path.read_bytes(), path.name, secret)
            append(s, cli_actor(), "key.import", f"key:{row.id}", {"label": row.label, "kind": row.kind})
            line = describe(row)
    finally:
        db.dispose()
    print(f"imported {line}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from gateway.store import keyregistry
    from gateway.store.audit import append

    cfg, db = _open(args)
    try:
        with db.session() as s:
            row = keyregistry.generate(s, cfg, args.label, args.algorithm)
            append(s, cli_actor(), "key.generate", f"key:{row.id}", {"label": row.label,
                                                                      "algorithm": args.algorithm})
            csr, ident = row.csr_pem, row.id
    finally:
        db.dispose()
    _emit_csr(csr or "", args.out)
    print(f"generated key {ident} ({args.label}); give the CSR to the qualified provider, then "
          f"`gateway keys attach {ident} CERT`", file=sys.stderr)
    return 0


def _emit_csr(csr: str, out: Path | None) -> None:
    if out:
        out.write_text(csr, encoding="ascii")
    else:
        print(csr, end="")


def _csr(args: argparse.Namespace) -> int:
    from gateway.errors import GatewayError
    from gateway.store import keyregistry

    _, db = _open(args)
    try:
        with db.session() as s:
            row = keyregistry.get(s, args.key)
            if not row.csr_pem:
                raise GatewayError(f"key {row.label!r} was imported, not generated: it has no CSR")
            csr = row.csr_pem
    finally:
        db.dispose()
    print(csr, end="")
    return 0


def _attach(args: argparse.Namespace) -> int:
    from gateway.store import keyregistry
    from gateway.store.audit import append

    cfg, db = _open(args)
    try:
        with db.session() as s:
            row = keyregistry.attach(s, cfg, args.key, args.certificate.read_bytes())
            append(s, cli_actor(), "key.attach", f"key:{row.id}", {"label": row.label,
                                                                    "not_after": str(row.not_after)})
            line = describe(row)
    finally:
        db.dispose()
    print(f"attached {line}")
    return 0


def _activate(args: argparse.Namespace) -> int:
    from gateway.store import keyregistry
    from gateway.store.audit import append

    cfg, db = _open(args)
    try:
        with db.session() as s:
            row = keyregistry.get(s, args.key)
            keyregistry.load(cfg, row).close()  # it opens, before it becomes the seal
            keyregistry.activate(s, row.id)
            append(s, cli_actor(), "key.activate", f"key:{row.id}", {"label": row.label})
            line = describe(row)
    finally:
        db.dispose()
    print(f"active {line}")
    return 0


def _tokens(args: argparse.Namespace) -> int:
    from gateway.signing.pkcs11 import list_tokens

    cfg = config_from_args(args)
    pin = _secret(args.pin_env)
    tokens = list_tokens(args.module or cfg.keys.pkcs11_module, pin.decode() if pin else None)
    for token in tokens:
        print("\n".join(token.lines()))
    if not tokens:
        print("no token present")
    return 0
