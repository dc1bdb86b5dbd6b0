#!/usr/bin/env python3
"""Run the external conformance corpus (../shared/conformance, EU DSS test files) against
`gateway verify` and print the agreement per format.

usage: python scripts/conformance.py [--gateway .venv/bin/gateway] [--only FORMAT ...] [-v]

Uses the corpus's own score.py (its judging rules) once per format; exits 0 when every row of the
formats run agrees, 1 otherwise, 2 when the corpus is absent.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "conformance"
FORMATS = ["CAdES", "PAdES", "XAdES", "ASiC-S-CAdES", "ASiC-E-CAdES", "ASiC-S-XAdES", "ASiC-E-XAdES"]
AGREEMENT = re.compile(r"agreement: (\d+)/(\d+)")


def run_format(fmt: str, gateway: str, verbose: bool) -> tuple[int, int, str]:
    """(agreeing rows, rows, score.py output) for one format."""
    cmd = [sys.executable, str(CORPUS / "score.py"), "--gateway", gateway, "--only", fmt]
    if verbose:
        cmd.append("-v")
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    m = AGREEMENT.search(out.stdout)
    if not m:
        tail = f"{out.stdout[-500:]} {out.stderr[-500:]}"
        raise RuntimeError(f"score.py gave no agreement line for {fmt}: {tail}")
    return int(m.group(1)), int(m.group(2)), out.stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateway", default=str(ROOT / ".venv" / "bin" / "gateway"))
    ap.add_argument("--only", action="append", choices=FORMATS, help="format(s) to run (default: all)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every row")
    args = ap.parse_args(argv)
    if not (CORPUS / "score.py").is_file():
        print(f"conformance corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    total_ok = total = 0
    for fmt in args.only or FORMATS:
        ok, n, output = run_format(fmt, args.gateway, args.verbose)
        if n == 0:
            continue
        if args.verbose or ok < n:
            print("\n".join(line for line in output.splitlines() if not line.startswith("agreement")))
        print(f"{fmt:<13} {ok}/{n} ({100.0 * ok / n:.1f}%)")
        total_ok, total = total_ok + ok, total + n
    if total:
        print(f"{'all':<13} {total_ok}/{total} ({100.0 * total_ok / total:.1f}%)")
    return 0 if total and total_ok == total else 1


if __name__ == "__main__":
    sys.exit(main())
