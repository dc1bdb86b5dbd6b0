#!/usr/bin/env python3
"""Run the external conformance corpus (../shared/conformance, EU DSS test files) against
`gateway verify` and print the agreement per format.

usage: python scripts/conformance.py [--gateway .venv/bin/gateway] [--only FORMAT ...] [-v] [--in-process]

Uses the corpus's own score.py (its judging rules) once per format; exits 0 when every row of the
formats run agrees, 1 otherwise, 2 when the corpus is absent. `--in-process` calls the validation
engine directly with the options score.py passes to `gateway verify` (no process start per row) and
judges with score.py's own `judge`.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

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


def load_score() -> ModuleType:
    spec = importlib.util.spec_from_file_location("conformance_score", CORPUS / "score.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_format_in_process(fmt: str, verbose: bool) -> tuple[int, int, str]:
    """Like run_format, calling gateway.signing.validation.engine.validate in this process."""
    from gateway.signing.validation.engine import validate
    from gateway.signing.validation.policy import ValidationPolicy

    score = load_score()
    ok_count = total = 0
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for row in score.rows():
            if row["format"] != fmt:
                continue
            total += 1
            detached = {}
            if row["detached"] not in ("", "-"):
                for name in row["detached"].split(";"):
                    dest = Path(tmp) / str(total) / score.original_name(name.strip())
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(CORPUS / "files" / name.strip(), dest)
                    detached[dest.name] = dest
            path = CORPUS / "files" / row["file"]
            report = validate(path, ValidationPolicy(offline=True, detached=detached)).to_dict()
            ok, _sub = score.judge(row, report)
            ok_count += ok
            if verbose or not ok:
                got = f"{report.get('indication')}/{report.get('subindication')}"
                mark = "ok  " if ok else "MISS"
                lines.append(f"{mark} {fmt:<13} {row['expected']:<13} {row['expected_sub']:<24} "
                             f"got {got:<40} {row['file']}")
    return ok_count, total, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateway", default=str(ROOT / ".venv" / "bin" / "gateway"))
    ap.add_argument("--only", action="append", choices=FORMATS, help="format(s) to run (default: all)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every row")
    ap.add_argument("--in-process", action="store_true", help="call the engine directly (faster)")
    args = ap.parse_args(argv)
    if not (CORPUS / "score.py").is_file():
        print(f"conformance corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    total_ok = total = 0
    for fmt in args.only or FORMATS:
        if args.in_process:
            ok, n, output = run_format_in_process(fmt, args.verbose)
        else:
            ok, n, output = run_format(fmt, args.gateway, args.verbose)
        if n == 0:
            continue
        if args.verbose or ok < n:
            rows = [line for line in output.splitlines() if line and not line.startswith("agreement")]
            print("\n".join(rows))
        print(f"{fmt:<13} {ok}/{n} ({100.0 * ok / n:.1f}%)")
        total_ok, total = total_ok + ok, total + n
    if total:
        print(f"{'all':<13} {total_ok}/{total} ({100.0 * total_ok / total:.1f}%)")
    return 0 if total and total_ok == total else 1


if __name__ == "__main__":
    sys.exit(main())
