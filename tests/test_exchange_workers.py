"""Workers without threads, step by step: retry budget → failed → operator re-queue → sent; leases
keep two workers off one letter; leases of dead processes are released."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from test_exchange_support import GatewaySpec, make_pki
from test_store_support import BACKENDS, database_url

from gateway.api.seal import Seal
from gateway.config import load_config
from gateway.exchange.outbox import NewFile, queue_letter, requeue
from gateway.exchange.workers import Workers, WorkerSettings, release_dead_leases
from gateway.soap.sev_channel import SevChannel
from gateway.soap.sev_hub import HubServer
from gateway.store.blobs import BlobStore
from gateway.store.db import open_database
from gateway.store.models import Outgoing, StatusHistory, utcnow

FAST = WorkerSettings(retry_budget=2, backoff_base=0.0, backoff_max=0.0, lease_seconds=60)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/csp/dirbus/bus.esb.IntegrationService.cls"


@pytest.fixture(params=BACKENDS)
def setup(request, tmp_path):
    root, seals = make_pki(tmp_path / "pki", ["A"])
    with database_url(request.param, tmp_path) as url:
        spec = GatewaySpec("A", "04056612", "sys-a", tmp_path / "a", closed_port_url(), root, seals["A"], url)
        cfg = load_config(spec.write_config())
        db = open_database(cfg)
        blobs = BlobStore(cfg.resolve(cfg.storage.dir))
        yield cfg, db, blobs, spec
        db.dispose()


def workers_for(cfg, db, blobs, settings=FAST) -> Workers:
    return Workers(
        cfg=cfg,
        db=db,
        blobs=blobs,
        channels={"sev": SevChannel(cfg)},
        seal=Seal.from_config(cfg),
        validator=lambda sig, files: {},
        settings=settings,
    )


def queue(db, blobs) -> str:
    sha, size = blobs.put_stream([b"letter body"])
    meta = {"to_edrpou": "37472062", "to_name": "B", "reg_number": "1", "reg_date": "2026-11-25"}
    with db.session() as s:
        row, _ = queue_letter(
            s,
            meta=meta,
            files=[NewFile("a.txt", None, sha, size)],
            channel="sev",
            to_name="B",
            api_key_id=None,
            idempotency_key=None,
        )
        return row.id


def history(db, letter_id) -> list[str]:
    with db.session() as s:
        rows = (
            s.query(StatusHistory)
            .filter_by(entity="outgoing", entity_id=letter_id)
            .order_by(StatusHistory.id)
        )
        return [r.status for r in rows]


def test_retry_budget_then_failed_then_requeue_sends_once(setup, tmp_path):
    cfg, db, blobs, spec = setup
    letter = queue(db, blobs)
    w = workers_for(cfg, db, blobs)
    for _ in range(FAST.retry_budget):
        assert w.run_letters_once() == 1
    with db.session() as s:
        row = s.get(Outgoing, letter)
        assert row.status == "failed" and "SEV hub" in row.last_error and row.lease_owner is None
        msg_id, message_sha = row.msg_id, row.message_sha256
    assert history(db, letter) == ["queued", "signed", "sending", "failed"]
    assert w.run_letters_once() == 0  # a failed letter waits for an operator

    with HubServer(tmp_path / "hub", open_registration=True) as hub:
        spec.hub_url = hub.url
        cfg2 = load_config(spec.write_config())
        with db.session() as s:
            assert requeue(s, letter) is not None
            assert requeue(s, letter) is None  # only failed letters
        w2 = workers_for(cfg2, db, blobs)
        assert w2.run_letters_once() == 1
        with db.session() as s:
            row = s.get(Outgoing, letter)
            assert row.status == "sent" and row.msg_id == msg_id and row.message_sha256 == message_sha
        assert history(db, letter)[-3:] == ["signed", "sending", "sent"]
        assert hub.hub.store.message_exists(msg_id)


def test_a_lease_keeps_other_workers_away(setup):
    cfg, db, blobs, _ = setup
    letter = queue(db, blobs)
    w1, w2 = workers_for(cfg, db, blobs), workers_for(cfg, db, blobs)
    assert w1._claim(Outgoing, ("queued",)) == [letter]
    assert w2._claim(Outgoing, ("queued",)) == []
    with db.session() as s:
        assert s.get(Outgoing, letter).lease_owner == w1.owner


def test_leases_of_dead_processes_are_released(setup):
    cfg, db, blobs, _ = setup
    letter = queue(db, blobs)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    owner = f"{socket.gethostname()}:{int(dead.stdout)}:abcd"
    with db.session() as s:
        row = s.get(Outgoing, letter)
        row.lease_owner = owner
        row.lease_until = utcnow() + timedelta(hours=1)
    assert release_dead_leases(db) == 1
    with db.session() as s:
        assert s.get(Outgoing, letter).lease_owner is None
