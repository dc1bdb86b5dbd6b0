"""Databases for the store/API/exchange tests: SQLite always, PostgreSQL when reachable.

PostgreSQL: 127.0.0.1:5432, trust auth, database `test` (override with $GATEWAY_TEST_PG). Each
use gets a fresh schema, dropped afterwards. Not a test module of its own (no tests inside).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PG_URL = os.environ.get("GATEWAY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_pg_state: dict[str, str | None] = {}


def pg_unreachable_reason() -> str | None:
    """None when PostgreSQL answers, else why not (checked once per process)."""
    if "reason" not in _pg_state:
        try:
            import psycopg
            from sqlalchemy.engine import make_url

            u = make_url(PG_URL)
            with psycopg.connect(host=u.host, port=u.port or 5432, dbname=u.database, user=u.username,
                                 connect_timeout=3):
                _pg_state["reason"] = None
        except Exception as exc:  # noqa: BLE001 - any failure means: skip with this reason
            _pg_state["reason"] = f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}: {exc}"
    return _pg_state["reason"]


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """A SQLAlchemy URL whose connections use a fresh schema; the schema is dropped after."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(PG_URL)
    schema = "gw_test_" + uuid.uuid4().hex[:12]
    kw = {"host": u.host, "port": u.port or 5432, "dbname": u.database, "user": u.username,
          "autocommit": True}
    with psycopg.connect(**kw) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = u.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**kw) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    reason = pg_unreachable_reason()
    if reason:
        pytest.skip(reason)
    with pg_schema_url() as url:
        yield url


@contextmanager
def serve_app(app) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free 127.0.0.1 port in a thread; yields its base URL."""
    import threading
    import time

    import uvicorn

    from gateway.netutil import listen_tcp

    sock = listen_tcp("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
