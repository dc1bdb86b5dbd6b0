#!/usr/bin/env python3
"""Score the validator on tests/data/dss (real esig/dss files never tuned for, see its README.md).

usage: python scripts/dss_score.py [-v] [--only FORMAT] [--kinds]

Validates every row of tests/data/dss/manifest.tsv in-process, offline, without trust anchors, and
judges with the rules of ../shared/conformance/README.md (INTACT: every signature intact and not
TOTAL_FAILED; NOT_INTACT: some signature not intact and not TOTAL_PASSED; otherwise the same main
indication). Prints the misses and the agreement; exits 0 when every row agrees.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "dss"
COLUMNS = ["file", "detached", "format", "expected", "expected_sub", "signatures", "source", "evidence"]


def rows() -> Iterator[dict[str, str]]:
    with (DATA / "manifest.tsv").open(encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if cols[0] != "file" and line.strip():
                yield dict(zip(COLUMNS, cols + [""] * (8 - len(cols)), strict=True))


def judge(row: dict[str, str], report: dict[str, Any]) -> bool:
    """Whether a report agrees with a row (the corpus README's rules)."""
    sigs = report.get("signatures") or []
    top = report.get("indication")
    if row["expected"] == "INTACT":
        return bool(sigs) and all(s.get("intact") is True for s in sigs) and top != "TOTAL_FAILED"
    if row["expected"] == "NOT_INTACT":
        return any(s.get("intact") is False for s in sigs) and top != "TOTAL_PASSED"
    return top == row["expected"]


Result = tuple[dict[str, str], dict[str, Any], bool]


def run(only: str | None = None, names: set[str] | None = None) -> list[Result]:
    """(row, report, agrees) for every selected row."""
    results = []
    for row in rows():
        if (only and row["format"] != only) or (names is not None and row["file"] not in names):
            continue
        report = validate(DATA / "files" / row["file"], ValidationPolicy(offline=True)).to_dict()
        results.append((row, report, judge(row, report)))
    return results


def describe(row: dict[str, str], report: dict[str, Any], ok: bool) -> str:
    got = f"{report.get('indication')}/{report.get('subindication')}"
    intact = ",".join(str(s.get("intact"))[0] for s in report.get("signatures") or [])
    errors = "; ".join((report.get("errors") or [])[:1] + [e for s in report.get("signatures") or []
                                                           for e in s.get("errors", [])[:1]])[:160]
    return (f"{'ok  ' if ok else 'MISS'} {row['format']:<13} {row['expected']:<13} got {got:<45} "
            f"[{intact}] {row['file']}  {errors}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="one format, e.g. PAdES")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every row")
    args = ap.parse_args(argv)
    results = run(args.only)
    for row, report, ok in results:
        if args.verbose or not ok:
            print(describe(row, report, ok))
    agree = sum(ok for _, _, ok in results)
    print(f"agreement: {agree}/{len(results)} ({100.0 * agree / max(len(results), 1):.1f}%)")
    return 0 if agree == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
