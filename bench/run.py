"""`make bench`: runs every `bench/bench_*.py` module's `run()` and prints the result lines it returns.

A module exposes `run() -> list[str]`; lines are printed under the module's name. A module that fails
is reported and makes the exit status 1, the others still run.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE.parent))  # the gateway package, when run without installing
    wanted = set(argv)
    status = 0
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted and path.stem not in wanted:
            continue
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            lines = _load(path).run()
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            traceback.print_exc()
            status = 1
            continue
        for line in lines:
            print(f"  {line}", flush=True)
        print(f"  ({time.perf_counter() - started:.1f} s)", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
