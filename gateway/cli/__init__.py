"""The `gateway` command line (INTERFACE.md). Each command group lives in its own module.

A module registers its sub-commands with `register(subparsers)` and keeps heavy imports inside the
functions it runs, so `gateway --help` stays fast. Every error reaches the user as one line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from gateway.errors import GatewayError

#: modules under gateway.cli that contribute sub-commands, in help order
COMMAND_MODULES = [
    "serve", "init", "sign", "verify", "sevhub", "apikey", "trust", "partners", "keys", "user", "audit",
]

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's default exit code is 2 as well
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"gateway: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gateway", description="Signature and exchange gateway (SEV OVV, Trembita)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"gateway.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"gateway.cli.{name}":
                continue  # command group not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code = args.func(args)
    except GatewayError as exc:
        print(f"gateway: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gateway: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"gateway: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - last resort: a user never sees a traceback
        if os.environ.get("GATEWAY_DEBUG"):
            raise
        print(f"gateway: internal error ({type(exc).__name__}): {exc}", file=sys.stderr)
        return EXIT_USAGE
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
