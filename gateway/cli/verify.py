"""`gateway verify`: validate a signed file and print the report (INTERFACE.md).

Exit status: 0 TOTAL_PASSED, 1 TOTAL_FAILED, 3 INDETERMINATE or NO_SIGNATURE_FOUND, 2 usage/I/O error.
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.cli.common import add_config_argument, config_from_args
from gateway.errors import GatewayError
from gateway.fileutil import write_atomically
from gateway.signing.detailed import detailed_dict
from gateway.signing.readable import LANGS, render_html, render_pdf


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("verify", help="validate a signed file (CAdES, PAdES, XAdES, ASiC)")
    p.add_argument("file", metavar="FILE", help="the signed file")
    p.add_argument("--json", action="store_true", help="print the full JSON report")
    p.add_argument("--trust", action="append", default=[], metavar="PEM_OR_DIR",
                   help="trust anchor certificate(s): a file (PEM/DER/PKCS#7) or a folder; repeatable")
    p.add_argument("--detached", action="append", default=[], metavar="FILE",
                   help="the signed content of a detached signature; repeatable")
    p.add_argument("--certs", action="append", default=[], metavar="PEM_DER_OR_P7B",
                   help="certificates the signature does not carry (the signer's, intermediates); "
                        "never trusted as anchors; repeatable")
    p.add_argument("--at", metavar="TIME", help="validate as of this time (RFC 3339; UTC if no zone)")
    p.add_argument("--offline", action="store_true", help="fetch nothing (no OCSP, CRL, AIA)")
    p.add_argument("--detailed", action="store_true",
                   help="add every EN 319 102-1 building-block check and the one that decided (with --json)")
    p.add_argument("--html", metavar="OUT", help="also write the readable report as HTML")
    p.add_argument("--pdf", metavar="OUT", help="also write the readable report as PDF")
    p.add_argument("--lang", choices=LANGS, default="uk", help="language of --html/--pdf (default uk)")
    add_config_argument(p)
    p.set_defaults(func=run)


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise GatewayError(f"--at: not a date/time: {text!r} (e.g. 2024-05-01T12:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_policy(args: argparse.Namespace) -> Any:
    from gateway.pki.trust import tl_qualifier, trust_roots
    from gateway.signing.certificates import load_certificates
    from gateway.signing.validation.fetchpolicy import from_settings
    from gateway.signing.validation.policy import ValidationPolicy

    config = config_from_args(args)
    roots = [cert for item in args.trust for cert in load_certificates(item)] + trust_roots(config)
    detached: dict[str, Path] = {}
    for item in args.detached:
        path = Path(item)
        if not path.is_file():
            raise GatewayError(f"no such detached file: {path}")
        detached[path.name] = path
    cache_dir = config.resolve(config.trust.cache_dir) if config.trust.cache_dir else None
    return ValidationPolicy(
        trust_roots=roots,
        offline=args.offline or config.trust.revocation == "offline",
        at=parse_time(args.at) if args.at else None,
        cache_dir=cache_dir,
        fetch=from_settings(config.trust),
        ocsp_fresh_seconds=config.trust.ocsp_fresh_seconds,
        fetch_backoff_seconds=config.trust.fetch_backoff_seconds,
        detached=detached,
        extra_certificates=[cert for item in args.certs for cert in load_certificates(item)],
        source_name=Path(args.file).name,
        qualifier=tl_qualifier(config),
        signature_policy_dir=(config.resolve(config.trust.signature_policies)
                              if config.trust.signature_policies else None),
    )


class _NoTraceback(logging.Filter):
    """Libraries (pyhanko) log some recoverable problems with a traceback; the user sees one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


def run(args: argparse.Namespace) -> int:
    from gateway.signing.validation.engine import validate

    for handler in logging.getLogger().handlers:
        handler.addFilter(_NoTraceback())
    policy = build_policy(args)
    path = Path(args.file)
    if not path.is_file():
        raise GatewayError(f"no such file: {path}")
    report = validate(path, policy)
    wanted_checks = args.detailed or args.html or args.pdf
    shape = detailed_dict(report) if wanted_checks else report.to_dict()
    if args.html:
        write_atomically(Path(args.html), render_html(shape, args.lang).encode())
    if args.pdf:
        write_atomically(Path(args.pdf), render_pdf(shape, args.lang))
    if args.json:
        print(json.dumps(shape if args.detailed else report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(summary(shape))
    return report.exit_code


def summary(d: dict[str, Any]) -> str:
    """A few human-readable lines: the verdict, then one block per signature."""
    sub = f" / {d['subindication']}" if d.get("subindication") else ""
    lines = [f"{d['indication']}{sub} ({d['container']}, {len(d['signatures'])} signature(s))"]
    lines.extend(f"  error: {e}" for e in d.get("errors", []))
    for s in d["signatures"]:
        ssub = f" / {s['subindication']}" if s.get("subindication") else ""
        fmt = f"{s['format']} ({s['profile']})" if s.get("profile") else s["format"]
        lines.append(f"- {s['id']} {fmt}: {s['indication']}{ssub}, intact={str(s['intact']).lower()}")
        signer = s["signer"]
        if signer.get("subject"):
            codes = ", ".join(f"{k.upper()} {signer[k]}" for k in ("edrpou", "drfo") if signer.get(k))
            lines.append(f"  signer: {signer['subject']}" + (f" ({codes})" if codes else ""))
        if s.get("best_signature_time") and s["best_signature_time"] != d.get("validation_time"):
            lines.append(f"  existed at (proof from a timestamp): {s['best_signature_time']}")
        lines.extend(f"  error: {e}" for e in s.get("errors", []))
        lines.extend(f"  warning: {w}" for w in s.get("warnings", []))
    return "\n".join(lines)
