"""`gateway sign --format F [--level L] --key KEY [--key-password-env VAR] [--cert CERT] [--tsa URL]
[--out OUT] INPUT...`

One signed file per input (one container for the ASiC-E formats); prints the outputs written. KEY is
a PKCS#12 file, a Ukrainian container (Key-6.dat, .pfx, .jks), a DSTU PEM bundle or a PKCS#11 URI.
A certificate that is expired or not yet valid is refused unless --allow-expired (then a warning).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.cli.common import add_config_argument, config_from_args

LEVEL_CHOICES = ["B-B", "B-T", "B-LT", "B-LTA", "X-LONG"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sign", help="sign local files (CAdES, PAdES, XAdES, ASiC)",
                              description="Sign local files with the seal key.")
    p.add_argument("--format", required=True, metavar="F",
                   help="cades | cades-attached | pades | xades | xades-enveloped | asice-cades | ...")
    p.add_argument("--level", type=str.upper, choices=LEVEL_CHOICES,
                   help="B-B, B-T (needs a TSA), B-LT, B-LTA, or X-Long (CAdES formats: CAdES-C with the "
                        "certificate and revocation values) (default: B-T with a TSA, else B-B)")
    p.add_argument("--key", metavar="KEY", help="PKCS#12 file or PKCS#11 URI (default: [signing] key)")
    p.add_argument("--key-password-env", metavar="VAR", help="variable holding the key password/PIN")
    p.add_argument("--key-entry-password-env", metavar="VAR",
                   help="variable holding a .jks key entry's password when it differs from the store's")
    p.add_argument("--cert", metavar="CERT",
                   help="signing certificate (+ chain) for key files that do not hold it (Key-6.dat, .pfx)")
    p.add_argument("--allow-expired", action="store_true",
                   help="sign even with an expired or not yet valid certificate (prints a warning)")
    p.add_argument("--tsa", metavar="URL", help="RFC 3161 TSA (default: [signing] tsa_url)")
    p.add_argument("--digest", metavar="ALG", help="digest algorithm (default: sha256 for RSA/P-256)")
    p.add_argument("--out", metavar="OUT", help="output file (or folder for several inputs)")
    add_config_argument(p)
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.errors import SigningError
    from gateway.pki.trust import trust_roots
    from gateway.signing.formats import SignRequest, get_format, sign_files
    from gateway.signing.keys import certificate_validity_problem, signing_key_from_config

    cfg = config_from_args(args)
    get_format(args.format)  # an unknown format fails before any password is asked for
    tsa = args.tsa or cfg.signing.tsa_url or None
    level = args.level or (cfg.signing.default_level.upper() if cfg.signing.default_level else None) \
        or ("B-T" if tsa else "B-B")
    key = signing_key_from_config(cfg, key=args.key, password_env=args.key_password_env, cert=args.cert,
                                  key_entry_password_env=args.key_entry_password_env)
    allow_expired = args.allow_expired or cfg.signing.allow_expired
    problem = certificate_validity_problem(key)
    if problem and not allow_expired:
        key.close()
        raise SigningError(f"{problem}; refusing to sign (--allow-expired to sign anyway)")
    if problem:
        print(f"gateway: warning: {problem}; signing anyway (--allow-expired)", file=sys.stderr)
    req = SignRequest(level=level, tsa_url=tsa, digest_algorithm=args.digest, allow_expired=allow_expired,
                      trust_roots=trust_roots(cfg) if level in ("B-LT", "B-LTA", "X-LONG") else [])
    try:
        outputs = sign_files(args.format, key, [Path(p) for p in args.inputs], req,
                             Path(args.out) if args.out else None)
    finally:
        key.close()
    for out in outputs:
        print(out)
    return 0
