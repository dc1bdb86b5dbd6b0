"""Several instances on one database: migrations of instances starting together, the channel poll
lease (one poller, taken over when the holder dies, on this host or another), bodies kept in the
database and seen by every instance."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import select, text
from test_store_support import BACKENDS, database_url, pg_schema_url, pg_unreachable_reason

from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.exchange.leases import ChannelPolling, release_dead_leases
from gateway.store.bodies import DatabaseBlobStore, open_blob_store
from gateway.store.db import make_engine, open_database
from gateway.store.models import PollLease, StoredBody, utcnow


def _config(tmp_path: Path, url: str, extra: str = "") -> Path:
    conf = tmp_path / "gateway.toml"
    conf.write_text(f'[database]\nurl = "{url}"\n{extra}', encoding="utf-8")
    return conf


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        database = open_database(load_config(_config(tmp_path, url)))
        try:
            yield database
        finally:
            database.dispose()


def test_instances_starting_together_migrate_once(tmp_path):
    """Six processes open a fresh PostgreSQL schema at the same moment: the advisory lock lets one
    migrate while the others wait, then find the schema at head; none fails."""
    if reason := pg_unreachable_reason():
        pytest.fail(reason)  # PostgreSQL is part of the test set-up (README, CI)
    script = textwrap.dedent(
        """
        import sys, time
        from gateway.config import load_config
        from gateway.store.db import open_database
        start = float(sys.argv[2])
        while time.time() < start:
            time.sleep(0.001)
        open_database(load_config(sys.argv[1])).dispose()
        """
    )
    with pg_schema_url() as url:
        conf = _config(tmp_path, url)
        start = time.time() + 3
        procs = [
            subprocess.Popen([sys.executable, "-c", script, str(conf), str(start)], stderr=subprocess.PIPE)
            for _ in range(6)
        ]
        errors = [p.communicate(timeout=90)[1].decode() for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, "\n".join(errors)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
                    "0006_scale"
                ]
                assert conn.execute(text("SELECT COUNT(*) FROM poll_leases")).scalar() == 0
        finally:
            engine.dispose()


def test_one_instance_polls_and_another_takes_over_when_its_lease_expires(db):
    a = ChannelPolling(db, "host-a:101:aaaa", seconds=1.0)
    b = ChannelPolling(db, "host-b:202:bbbb", seconds=1.0)
    assert a.hold("sev") is True
    assert b.hold("sev") is False  # a polls
    assert a.hold("sev") is True  # renewed
    assert b.holder("sev") == a.owner
    time.sleep(1.2)  # a died on its host (no renewal): its lease expires
    assert b.holder("sev") is None
    assert b.hold("sev") is True
    assert a.hold("sev") is False  # a came back: b keeps polling
    b.release("sev")  # b stops cleanly: a takes over at once
    assert a.hold("sev") is True
    assert b.hold("trembita") is True  # leases are per channel


def test_concurrent_takers_of_an_expired_lease_get_it_once(db):
    pollers = [ChannelPolling(db, f"host-{n}:{n}:x", seconds=30.0) for n in range(8)]
    with db.session() as s:
        s.add(PollLease(channel="sev", owner="gone:1:x", lease_until=utcnow()))
    import threading

    results: list[bool] = []
    barrier = threading.Barrier(len(pollers))

    def take(p: ChannelPolling) -> None:
        barrier.wait()
        results.append(p.hold("sev"))

    threads = [threading.Thread(target=take, args=(p,)) for p in pollers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [False] * 7 + [True]


def test_start_up_frees_the_poll_lease_of_a_dead_process_here_but_not_of_another_host(db):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    here = f"{socket.gethostname()}:{dead.pid}:dead"
    with db.session() as s:
        s.add(PollLease(channel="sev", owner=here, lease_until=utcnow().replace(year=2100)))
        s.add(PollLease(channel="other", owner="elsewhere:1:x", lease_until=utcnow().replace(year=2100)))
    assert release_dead_leases(db) == 1
    me = ChannelPolling(db, f"{socket.gethostname()}:{os.getpid()}:me", seconds=30)
    assert me.hold("sev") is True  # taken over at once after the restart
    assert me.hold("other") is False  # another host's instance: only its expiry frees it


def test_bodies_in_the_database_are_seen_by_every_instance(db, tmp_path):
    one = DatabaseBlobStore(db, tmp_path / "cache-one")
    two = DatabaseBlobStore(db, tmp_path / "cache-two")  # another machine: its own cache
    body = os.urandom(300_000)
    sha, size = one.put_stream([body[:1000], body[1000:]])
    assert size == len(body)
    assert one.put(body) == sha  # stored once
    with db.session() as s:
        assert s.scalars(select(StoredBody.sha256)).all() == [sha]
    assert two.exists(sha) and two.size(sha) == len(body)
    assert not (tmp_path / "cache-two" / "blobs" / sha[:2]).exists()
    assert two.get(sha) == body
    assert two.path(sha).read_bytes() == body  # a real file for code that needs a path
    assert b"".join(two.iter(sha)) == body
    missing = "0" * 64
    assert not two.exists(missing)
    with pytest.raises(FileNotFoundError):
        two.get(missing)


def test_storage_backend_setting(tmp_path):
    with ExitStack():
        url = f"sqlite:///{tmp_path / 'g.db'}"
        cfg = load_config(_config(tmp_path, url, '[storage]\nbackend = "database"\n'))
        database = open_database(cfg)
        try:
            assert isinstance(open_blob_store(cfg, database), DatabaseBlobStore)
            cfg.storage.backend = "folder"
            assert not isinstance(open_blob_store(cfg, database), DatabaseBlobStore)
        finally:
            database.dispose()
        with pytest.raises(ConfigError, match="backend"):
            load_config(_config(tmp_path, url, '[storage]\nbackend = "s3"\n'))
        env = {"GATEWAY_STORAGE__BACKEND": "database", "GATEWAY_SEV__POLL_LEASE_SECONDS": "12"}
        cfg = load_config(_config(tmp_path, url), env=env)
        assert (cfg.storage.backend, cfg.sev.poll_lease_seconds) == ("database", 12.0)
