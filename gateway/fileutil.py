"""Writing output files so a reader never sees half of one."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(output: Path, data: bytes) -> Path:
    """Write `data` to `output` through a `.part` file renamed into place once complete."""
    tmp = output.with_name(output.name + ".part")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(output)
    return output
