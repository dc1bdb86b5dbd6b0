"""Durable state: migrations, blobs, API keys, partners, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
from sqlalchemy import inspect, select
from test_store_support import BACKENDS, database_url

from gateway.config import load_config
from gateway.store.apikeys import authenticate, create_key, list_keys, revoke_key
from gateway.store.blobs import BlobStore
from gateway.store.db import open_database
from gateway.store.models import ApiKey
from gateway.store.partners import get_partner, list_partners, remove_partner, upsert_partner


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        cfg = load_config(env={"GATEWAY_DATABASE__URL": url})
        database = open_database(cfg)
        yield database
        database.dispose()


def test_migrations_create_schema_and_are_idempotent(db):
    from gateway.store.db import upgrade

    upgrade(db.engine)  # a second start-up is a no-op
    tables = set(inspect(db.engine).get_table_names())
    assert {"outgoing", "outgoing_files", "incoming", "incoming_files", "status_history",
            "acknowledgements", "api_keys", "partners", "idempotency_keys", "alembic_version"} <= tables


def test_api_key_is_stored_hashed_and_revocable(db):
    with db.session() as s:
        row, key = create_key(s, "edms")
    with db.session() as s:
        stored = s.scalar(select(ApiKey))
        assert key not in (stored.key_hash, stored.prefix)
        assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert authenticate(s, key).name == "edms"
        assert authenticate(s, key + "x") is None
    with db.session() as s:
        assert revoke_key(s, "edms") is not None
    with db.session() as s:
        assert authenticate(s, key) is None
        assert list_keys(s)[0].revoked_at is not None


def test_partners_directory(db):
    with db.session() as s:
        upsert_partner(s, edrpou="12345678", name="A", sev_system_id="sys-a")
        upsert_partner(s, edrpou="87654321", name="B", channel="trembita",
                       xroad_client="SEVDEIR-TEST/GOV/87654321/SUB",
                       xroad_service="SEVDEIR-TEST/GOV/87654321/SUB/deliverMessage/v1")
    with db.session() as s:
        upsert_partner(s, edrpou="12345678", name="A2", sev_system_id="sys-a")
        assert [p.name for p in list_partners(s)] == ["A2", "B"]
        with pytest.raises(ValueError):
            upsert_partner(s, edrpou="1234", name="bad")
        with pytest.raises(ValueError):
            upsert_partner(s, edrpou="11111111", name="bad", channel="fax")
    with db.session() as s:
        assert remove_partner(s, "87654321")
        assert get_partner(s, "87654321") is None


def test_blobs_are_content_addressed_and_atomic(tmp_path):
    store = BlobStore(tmp_path)
    data = os.urandom(3 * 1024 * 1024 + 7)
    sha, size = store.put_stream([data[:1000], data[1000:]])
    assert sha == hashlib.sha256(data).hexdigest() and size == len(data)
    assert store.get(sha) == data
    assert store.put(data) == sha  # stored once
    assert [p for p in store.root.rglob("*") if p.is_file()] == [store.path(sha)]
    assert b"".join(store.iter(sha)) == data
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def test_cli_apikey_and_partners(tmp_path):
    conf = tmp_path / "gateway.toml"
    conf.write_text('[database]\nurl = "sqlite:///state/gw.db"\n')
    out = run_cli("apikey", "create", "--name", "edms", "--config", str(conf), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("gwk_") and len(key) > 40
    assert key.encode() not in (tmp_path / "state" / "gw.db").read_bytes()
    listing = run_cli("apikey", "list", "--config", str(conf), cwd=tmp_path)
    assert "edms" in listing.stdout and key not in listing.stdout
    out = run_cli("partners", "add", "--edrpou", "12345678", "--name", "Rada", "--sev-system-id", "S1",
                  "--config", str(conf), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "12345678" in run_cli("partners", "list", "--config", str(conf), cwd=tmp_path).stdout
    bad = run_cli("partners", "add", "--edrpou", "12", "--name", "X", "--config", str(conf), cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "8 digits" in bad.stderr
    for given in ([], ["--xroad-client", "SEVDEIR-TEST/GOV/87654321/SUB"],
                  ["--xroad-service", "SEVDEIR-TEST/GOV/87654321/SUB/deliverMessage/v1"]):
        half = run_cli("partners", "add", "--edrpou", "87654321", "--name", "Odesa", "--channel", "trembita",
                       *given, "--config", str(conf), cwd=tmp_path)
        assert half.returncode == 2 and "Traceback" not in half.stderr, half.stderr
        assert len(half.stderr.strip().splitlines()) == 1
        assert "needs --xroad-client and --xroad-service" in half.stderr
    assert "87654321" not in run_cli("partners", "list", "--config", str(conf), cwd=tmp_path).stdout
    out = run_cli("partners", "add", "--edrpou", "87654321", "--name", "Odesa", "--channel", "trembita",
                  "--xroad-client", "SEVDEIR-TEST/GOV/87654321/SUB",
                  "--xroad-service", "SEVDEIR-TEST/GOV/87654321/SUB/deliverMessage/v1", "--config", str(conf),
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "trembita\tSEVDEIR-TEST/GOV/87654321/SUB/deliverMessage/v1" in run_cli(
        "partners", "list", "--config", str(conf), cwd=tmp_path).stdout
    gone = run_cli("partners", "remove", "--edrpou", "99999999", "--config", str(conf), cwd=tmp_path)
    assert gone.returncode == 2 and "no partner" in gone.stderr
