"""`make bench`: runs every `bench/bench_*.py` module's `run()`, prints its result lines, and writes
the document: docs/benchmarks.md and docs/benchmarks.png (report.py).

A module's `run()` returns the lines to print, or a `report.Section` (lines, the document's tables,
plot panels). A module that fails is reported and makes the exit status 1, the others still run.
`BENCH_QUICK=1` (`make bench QUICK=1`): small sizes and few rounds, the document goes to var/bench/
instead of docs/, as it does when only some modules are named (`bench/run.py formats exchange`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: quick mode: fewer rounds and letters in the modules that read these (set unless given)
QUICK_ENV = {"BENCH_XADES_ROUNDS": "5", "BENCH_EXCHANGE_BURST": "40", "BENCH_EXCHANGE_SECONDS": "5"}


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE.parent))  # the gateway package, when run without installing
    import report

    if report.QUICK:
        for name, value in QUICK_ENV.items():
            os.environ.setdefault(name, value)
    wanted = set(argv)
    status = 0
    started, t0, machine = report.now(), time.perf_counter(), report.machine()
    results: dict[str, report.Section] = {}
    failed: list[str] = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted and path.stem not in wanted:
            continue
        print(f"== {name}", flush=True)
        started_module = time.perf_counter()
        try:
            result = _load(path).run()
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            traceback.print_exc()
            status = 1
            failed.append(name)
            continue
        section = result if isinstance(result, report.Section) else report.Section(list(result))
        section.lines.append(f"({time.perf_counter() - started_module:.1f} s)")
        for line in section.lines:
            print(f"  {line}", flush=True)
        results[name] = section
    folder = HERE.parent / ("var/bench" if report.QUICK or wanted else "docs")
    doc = report.write_document(folder, results, started, machine, time.perf_counter() - t0, failed)
    print(f"written: {doc}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
