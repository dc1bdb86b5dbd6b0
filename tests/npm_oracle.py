"""npm packages used as second implementations (xadesjs, node-soap), installed on demand.

Each oracle lives in its own folder under tests/oracles/ with a package.json and lock file; `npm ci`
runs once per folder (under a file lock, for pytest-xdist workers). Without node/npm, or when the
registry cannot be reached, a developer's run skips with the reason; under CI (CI=true) that is a
failure, since a skipped oracle proves nothing.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ORACLES = Path(__file__).resolve().parent / "oracles"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs node and npm: .ci/run)")
    pytest.skip(reason)


def npm_oracle(folder: str, package: str) -> Path:
    """tests/oracles/FOLDER with its npm dependencies installed (checked by PACKAGE's presence)."""
    root = ORACLES / folder
    if shutil.which("node") is None or shutil.which("npm") is None:
        _unavailable(f"node/npm not installed: the {package} oracle cannot run")
    with (root / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "node_modules" / package).is_dir():
            try:
                out = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=root, capture_output=True,
                                     text=True, timeout=300)
            except subprocess.TimeoutExpired:
                _unavailable("npm ci timed out: the npm registry is not reachable")
            if out.returncode != 0:
                _unavailable(f"npm ci failed (registry unavailable?): {out.stderr.strip().splitlines()[-1:]}")
    return root
