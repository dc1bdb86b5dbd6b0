"""Engine and session factory for the [database] url; schema migration at start-up.

SQLite runs in WAL mode with a busy timeout and every transaction starts with BEGIN IMMEDIATE:
the writer lock is taken up front, so concurrent read-then-write transactions (API threads and
workers) wait for each other instead of failing with "database is locked". Within one process the
sessions also queue on a Python lock: SQLite's own busy handler sleeps in steps of up to 100 ms,
which under load costs far more than the short transactions themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from gateway.config import Config
from gateway.errors import ConfigError
from gateway.fileutil import private_dir, private_file

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: seconds to wait for a PostgreSQL connection (server gone: fail fast, answer 503, retry later)
PG_CONNECT_TIMEOUT = 5


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        if self.is_sqlite:
            with self._lock, self.sessions.begin() as s:
                yield s
        else:
            with self.sessions.begin() as s:
                yield s

    def dispose(self) -> None:
        self.engine.dispose()


def database_url(cfg: Config) -> str:
    """[database] url with a relative SQLite path resolved against the config file's folder."""
    raw = cfg.database.url
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"[database] url is not a database URL: {raw!r}") from None
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = cfg.resolve(url.database)
        private_file(private_dir(path.parent) / path.name)  # SQLite's -wal/-shm files take its mode
        url = url.set(database=str(path))
    return url.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if u.get_backend_name() == "postgresql":
        connect_args = {} if "connect_timeout" in u.query else {"connect_timeout": PG_CONNECT_TIMEOUT}
        return create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=10, pool_timeout=10,
            connect_args=connect_args, **kwargs,
        )
    raise ConfigError(f"[database] url: unsupported database {u.get_backend_name()!r} (sqlite or postgresql)")


def open_database(cfg: Config, *, migrate: bool = True) -> Database:
    """Open the configured database and (by default) bring its schema to the newest revision."""
    engine = make_engine(database_url(cfg))
    if migrate:
        upgrade(engine)
    return Database(engine, sessionmaker(engine, expire_on_commit=False))


def upgrade(engine: Engine) -> None:
    """`alembic upgrade head`, programmatically, on this engine."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    acfg = AlembicConfig()
    acfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # two gateways starting at once migrate one by one
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(120701)")
        acfg.attributes["connection"] = conn
        command.upgrade(acfg, "head")
