"""Hostile partners on the SEV exchange: a system writing as another body, replayed messages.

The gateway's SEV channel polls a real hub stand-in over HTTP and hands what it takes to the inbox,
as the workers do. A message whose 1207 header names another sender than the organization the hub
delivered it from is refused: not stored, not end-processed (the hub keeps it, the offer tracker
sets it aside). A replayed message (the same 1207 document under a new hub MessageId) is recognised
by its msg_id and not stored a second time.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from test_exchange_support import GatewaySpec, make_pki
from test_trembita_service import PARTNER, STRANGER, US, message

from gateway.config import load_config
from gateway.exchange import inbox
from gateway.soap.sev_channel import SevChannel
from gateway.soap.sev_client import MessageInfo, RetryPolicy, SevClient
from gateway.soap.sev_hub import HubServer
from gateway.store.blobs import BlobStore
from gateway.store.db import open_database
from gateway.store.models import Incoming, IncomingFile

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, budget_seconds=5)
PASSED = {"indication": "TOTAL_PASSED", "subindication": None, "signatures": []}


@pytest.fixture
def exchange(tmp_path):
    """(hub, our SEV channel, a handler storing through the inbox, the database, a partner's client)."""
    root, seals = make_pki(tmp_path / "pki", ["A"])
    with HubServer(tmp_path / "hub", open_registration=True) as hub:
        spec = GatewaySpec("A", US, "sys-a", tmp_path / "a", hub.url, root, seals["A"])
        cfg = load_config(spec.write_config())
        db = open_database(cfg)
        blobs = BlobStore(cfg.resolve(cfg.storage.dir))
        channel = SevChannel(cfg, downloaders=1)
        received: list[inbox.Received] = []

        def handle(raw: bytes) -> None:
            received.append(inbox.receive(db, blobs, raw, channel="sev", validator=lambda *_: PASSED,
                                          own_edrpou=US))

        channel.poll(handle)  # first contact: the hub now knows sys-a
        partner = SevClient(hub.url, "sys-p", "secret-p", retry=FAST)
        try:
            yield channel, handle, received, db, partner
        finally:
            channel.close()
            db.dispose()


def _send(partner: SevClient, raw: bytes, hub_id: str) -> None:
    partner.send(raw, MessageInfo(hub_id, from_org_id=PARTNER, to_org_id=US, to_sys_id="sys-a"))


def _stored(db) -> tuple[int, int]:
    with db.session() as s:
        return (s.scalar(select(func.count()).select_from(Incoming)),
                s.scalar(select(func.count()).select_from(IncomingFile)))


def test_a_system_writing_as_another_body_is_refused_and_nothing_is_stored(exchange):
    channel, handle, received, db, partner = exchange
    _send(partner, message(str(uuid.uuid4())), "honest")  # control: the partner as itself
    _send(partner, message(str(uuid.uuid4()), sender=STRANGER), "forged")  # the partner as another body
    channel.poll(handle)
    assert [r.kind for r in received] == ["document"]
    with db.session() as s:
        assert [row.from_edrpou for row in s.scalars(select(Incoming))] == [PARTNER]
    assert _stored(db) == (1, 1)
    ours = SevClient(channel._client().url, "sys-a", channel._client()._password, retry=FAST)
    assert [m.message_id for m in ours.list_incoming()] == ["forged"]  # refused: not end-processed


def test_a_replayed_message_is_not_stored_again(exchange):
    channel, handle, received, db, partner = exchange
    raw = message(str(uuid.uuid4()))
    _send(partner, raw, "first")
    channel.poll(handle)
    assert _stored(db) == (1, 1)
    _send(partner, raw, "replayed")  # the same document, a new hub MessageId
    _send(partner, raw.replace(b'msg_id="', b'msg_id="{', 1).replace(b'" msg_acknow', b'}" msg_acknow', 1),
          "replayed-braced")  # and its msg_id written as {GUID}
    channel.poll(handle)
    assert [r.duplicate for r in received] == [False, True, True]
    assert _stored(db) == (1, 1)
