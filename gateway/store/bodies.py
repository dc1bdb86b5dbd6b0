"""Where document bodies live ([storage] backend): a folder every instance shares (`BlobStore`),
or the database itself (`DatabaseBlobStore`, for small deployments without a shared folder).

In the database each body is one row (`stored_bodies`), written once under its SHA-256. The
[storage] dir is then a local cache in the same content-addressed layout: files are read from
the cache, which is filled from the database on first use, so that code needing a path (file
answers, detached-signature validation) works the same on every instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.config import Config
from gateway.store.blobs import BlobStore
from gateway.store.db import Database
from gateway.store.models import StoredBody


class DatabaseBlobStore(BlobStore):
    """Bodies in the database; the [storage] dir holds a cache of them."""

    def __init__(self, db: Database, cache_root: Path) -> None:
        super().__init__(cache_root)
        self.db = db
        self.cache = BlobStore(cache_root)

    def put_stream(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        sha, size = self.cache.put_stream(chunks)  # hashed and cached (fsynced) first
        if not self._in_database(sha):
            data = self.cache.get(sha)
            try:
                with self.db.session() as s:
                    s.add(StoredBody(sha256=sha, size=size, data=data))
            except IntegrityError:
                pass  # another instance stored the same body meanwhile
        return sha, size

    def _in_database(self, sha256: str) -> bool:
        with self.db.session() as s:
            return s.scalar(select(StoredBody.size).where(StoredBody.sha256 == sha256)) is not None

    def exists(self, sha256: str) -> bool:
        return self._in_database(sha256)

    def path(self, sha256: str) -> Path:
        """The cached file of the body, fetched from the database when this instance lacks it."""
        cached = self.cache.path(sha256)
        if not cached.is_file():
            with self.db.session() as s:
                data = s.scalar(select(StoredBody.data).where(StoredBody.sha256 == sha256))
            if data is None:
                raise FileNotFoundError(f"no stored body {sha256}")
            self.cache.put_stream([data])
        return cached

    def size(self, sha256: str) -> int:
        with self.db.session() as s:
            size = s.scalar(select(StoredBody.size).where(StoredBody.sha256 == sha256))
        if size is None:
            raise FileNotFoundError(f"no stored body {sha256}")
        return size

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def iter(self, sha256: str) -> Iterator[bytes]:
        self.path(sha256)
        yield from self.cache.iter(sha256)


def open_blob_store(cfg: Config, db: Database) -> BlobStore:
    """The body store [storage] backend names."""
    root = cfg.resolve(cfg.storage.dir)
    if cfg.storage.backend == "database":
        return DatabaseBlobStore(db, root)
    return BlobStore(root)
