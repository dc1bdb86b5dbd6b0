"""Independent implementations used as test oracles: npm `gost89` (GOST 34.311) and PyPI `dstu-core`.

The npm package is installed on demand into tests/oracles/node_modules (gitignored); tests skip with
the reason when node/npm are missing or the install fails.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import pytest

ORACLES = Path(__file__).resolve().parent / "oracles"


def gost89_available() -> str | None:
    """None when the gost89 oracle is ready, else the reason it is not."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not installed"
    if (ORACLES / "node_modules" / "gost89").is_dir():
        return None
    with open(ORACLES / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (ORACLES / "node_modules" / "gost89").is_dir():
            proc = subprocess.run(  # noqa: S603 - fixed command
                ["npm", "install", "--no-audit", "--no-fund", "--silent"],  # noqa: S607
                cwd=ORACLES, capture_output=True, text=True, timeout=300, check=False,
            )
            if proc.returncode != 0:
                return f"npm install gost89 failed: {proc.stderr.strip()[-200:]}"
    return None


def gost89_hashes(messages: list[bytes]) -> list[bytes]:
    reason = gost89_available()
    if reason:
        pytest.skip(reason)
    stdin = "".join((m.hex() or "-") + "\n" for m in messages)
    proc = subprocess.run(  # noqa: S603
        ["node", str(ORACLES / "gost89_hash.js")],  # noqa: S607
        input=stdin, capture_output=True, text=True, timeout=120, check=True, cwd=ORACLES,
    )
    return [bytes.fromhex(line) for line in proc.stdout.split()]


def dstu_core():
    return pytest.importorskip("dstu_core", reason="PyPI dstu-core (oracle) is not installed")
