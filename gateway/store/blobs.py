"""Content-addressed storage of document bodies in the [storage] dir.

A body is stored once, under its SHA-256 (`<dir>/blobs/ab/cd/<sha256>`): written to a temporary
file in the same folder, fsynced, then renamed into place, so a crash never leaves a partial body
under a real name. Writing the same body twice is a no-op. Bodies are 0600 (mkstemp), the folders
0700, whatever the umask.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from gateway.fileutil import private_dir

CHUNK = 1024 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = private_dir(Path(root) / "blobs")

    def path(self, sha256: str) -> Path:
        if not _HEX64.fullmatch(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> str:
        return self.put_stream([data])[0]

    def put_file(self, fh: BinaryIO) -> tuple[str, int]:
        """Store a file object's remaining content, read in chunks; returns (sha256, size)."""
        return self.put_stream(iter(lambda: fh.read(CHUNK), b""))

    def put_stream(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Store a body given as chunks; returns (sha256, size)."""
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(prefix=".incoming-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path(sha)
            if final.exists():
                os.unlink(tmp)
                return sha, size
            private_dir(final.parent)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
            return sha, size
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def size(self, sha256: str) -> int:
        return self.path(sha256).stat().st_size

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def iter(self, sha256: str) -> Iterator[bytes]:
        with self.path(sha256).open("rb") as fh:
            yield from iter(lambda: fh.read(CHUNK), b"")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
