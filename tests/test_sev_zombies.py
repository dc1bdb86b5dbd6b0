"""A message the hub keeps offering that cannot be taken (here: every download arrives damaged) is
tried a bounded number of times, then set aside, no longer downloaded, and listed for operators;
an operator's retry gives it a new chance. /healthz tells whether SEV is disabled or failing."""

from __future__ import annotations

import os

import httpx
import pytest
from test_crash_exchange import free_port
from test_exchange_support import GatewaySpec, make_pki, wait_for
from test_store_support import serve_app

from gateway.api.app import create_app
from gateway.api.seal import Seal
from gateway.config import load_config
from gateway.exchange.offers import offers_view
from gateway.exchange.workers import Workers, WorkerSettings
from gateway.soap.sev_channel import SevChannel
from gateway.soap.sev_client import MessageInfo, SevClient
from gateway.soap.sev_hub import Faults, HubServer
from gateway.store.apikeys import create_key
from gateway.store.blobs import BlobStore
from gateway.store.db import open_database

US, THEM = "04056612", "37472062"


def download_sessions(server: HubServer) -> int:
    with server.hub.store.transaction() as db:
        return db.execute("SELECT COUNT(*) FROM sessions WHERE type = 'Download'").fetchone()[0]


def delivered(server: HubServer, message_id: str) -> bool:
    with server.hub.store.transaction() as db:
        row = db.execute("SELECT delivered FROM messages WHERE message_id = ?", (message_id,)).fetchone()
    return row["delivered"] is not None


@pytest.fixture
def setup(tmp_path):
    root, seals = make_pki(tmp_path / "pki", ["A"])
    with HubServer(tmp_path / "hub", faults=Faults(corrupt_messages=frozenset({"zombie-1"}))) as server:
        spec = GatewaySpec("A", US, "sys-a", tmp_path / "a", server.url, root, seals["A"])
        conf = spec.write_config()
        conf.write_text(conf.read_text() + "max_offer_attempts = 3\n")
        server.hub.store.register_system("sys-a", os.environ[spec.password_env], US)
        server.hub.store.register_system("sys-b", "pb", THEM)
        cfg = load_config(conf)
        db = open_database(cfg)
        yield server, cfg, db, BlobStore(cfg.resolve(cfg.storage.dir))
        db.dispose()


def test_a_message_that_cannot_be_taken_is_set_aside_and_shown(setup):
    server, cfg, db, blobs = setup
    SevClient(server.url, "sys-b", "pb").send(b"<Header>zombie</Header>", MessageInfo("zombie-1", THEM, US))
    workers = Workers(
        cfg=cfg, db=db, blobs=blobs, channels={}, seal=Seal.from_config(cfg),
        validator=lambda *_: {}, settings=WorkerSettings(),
    )
    channel = SevChannel(cfg, batch=1)  # one message per poll: the zombie is at the head of the queue
    channel.set_offer_tracker(workers.offers)
    try:
        for _ in range(6):
            channel.poll(lambda raw: workers.handle_incoming(raw, "sev"))
        assert download_sessions(server) == 3  # three tries, then no more
        (offer,) = offers_view(db)
        assert offer["message_id"] == "zombie-1" and offer["status"] == "set_aside" and offer["attempts"] == 3
        assert "hashes to" in offer["last_error"]
        # a later message is not hidden behind the one set aside
        SevClient(server.url, "sys-b", "pb").send(b"<Header>next</Header>", MessageInfo("next-1", THEM, US))
        channel.poll(lambda raw: workers.handle_incoming(raw, "sev"))
        assert delivered(server, "next-1") and not delivered(server, "zombie-1")
        assert download_sessions(server) == 4
        assert workers.offers.retry("sev", "zombie-1")
        server.hub.faults.corrupt_messages = frozenset()  # the hub healed meanwhile
        channel.poll(lambda raw: workers.handle_incoming(raw, "sev"))
        assert offers_view(db) == []  # taken: forgotten
        assert SevClient(server.url, "sys-b", "pb").list_incoming() == []
    finally:
        channel.close()


def test_healthz_says_whether_sev_is_disabled_or_failing_and_operators_see_offers(setup, tmp_path):
    server, cfg, db, blobs = setup
    with db.session() as s:
        _, key = create_key(s, "ops", "operator")  # offers are an operator's view
    cfg.sev.url = f"http://127.0.0.1:{free_port()}/nothing-listens"
    cfg.sev.poll_seconds = 0.1
    with serve_app(create_app(cfg)) as base, httpx.Client(base_url=base, timeout=10) as http:
        wait_for(
            lambda: http.get("/healthz").json()["checks"]["sev"].startswith("failing"), what="sev failing"
        )
        listed = http.get("/api/v1/exchange/offers", headers={"Authorization": f"Bearer {key}"})
        assert listed.status_code == 200 and listed.json() == {"items": []}
    cfg.sev.enabled = False
    with serve_app(create_app(cfg)) as base:
        assert httpx.get(base + "/healthz").json()["checks"]["sev"] == "disabled"
