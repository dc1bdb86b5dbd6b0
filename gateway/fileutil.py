"""Writing files: atomically (a reader never sees half of one) and privately (0600 files in
0700 folders, whatever the umask: document bodies and databases are nobody else's business)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def write_atomically(output: Path, data: bytes) -> Path:
    """Write `data` to `output` through a `.part` file renamed into place once complete."""
    with atomic_output(output) as f:
        f.write(data)
    return output


@contextmanager
def atomic_output(output: Path) -> Iterator[BinaryIO]:
    """A `.part` file next to `output` to write in pieces (a large file need not be in memory
    whole; opened for reading too), renamed into place once the block ends without an error,
    removed if it raises."""
    tmp = output.with_name(output.name + ".part")
    try:
        with tmp.open("w+b") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def private_dir(path: Path) -> Path:
    """Make `path` and its missing parents as folders only the owner can enter (0700), whatever
    the umask; folders that already exist are left as they are (an operator may share them)."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made by a concurrent process meanwhile
        os.chmod(folder, 0o700)  # mkdir's mode passes through the umask
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 when it does not exist (a file that exists is left as it
    is), so a program that opens it afterwards (SQLite) keeps data away from other users."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return path
