"""Hostile partners on the SEV exchange: a system writing as another body, replayed messages,
forged hashes and oversized chunks.

The gateway's SEV channel polls a real hub stand-in over HTTP and hands what it takes to the inbox,
as the workers do. A message whose 1207 header names another sender than the organization the hub
delivered it from is refused: not stored, not end-processed (the hub keeps it, the offer tracker
sets it aside). A replayed message (the same 1207 document under a new hub MessageId) is recognised
by its msg_id and not stored a second time. At the hub stand-in, forged upload hashes, chunks over
MaxPartSize or past the declared size, a system sending as another body and a replayed MessageId
are refused with the hub's error code and queue nothing for the recipient. Only the body a letter
was sent to can acknowledge it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select
from test_exchange_support import GatewaySpec, make_pki
from test_sev_inbox_rules import queue, status, their_header
from test_trembita_service import PARTNER, STRANGER, US, message

from gateway.config import load_config
from gateway.exchange import inbox
from gateway.exchange.message import Acknowledgement as AckContent
from gateway.exchange.message import AckType, MsgType, build_acknowledgement
from gateway.soap.sev_channel import SevChannel
from gateway.soap.sev_client import MessageInfo, RetryPolicy, SevClient, _session
from gateway.soap.sev_hub import ErrorCode, HubServer
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
    comment = b"<!--" + b"x" * 100_000 + b"-->"
    padded = message(str(uuid.uuid4()), sender=STRANGER).replace(b"<Header", comment + b"<Header", 1)
    _send(partner, padded, "forged-late")  # its header far from the start
    channel.poll(handle)
    assert [r.kind for r in received] == ["document"]
    with db.session() as s:
        assert [row.from_edrpou for row in s.scalars(select(Incoming))] == [PARTNER]
    assert _stored(db) == (1, 1)
    ours = SevClient(channel._client().url, "sys-a", channel._client()._password, retry=FAST)
    assert sorted(m.message_id for m in ours.list_incoming()) == ["forged", "forged-late"]  # refused


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


# --------------------------------------------------------------------------- at the hub stand-in

COUNCIL, MINISTRY = "04056612", "37472062"
BODY = b"<Header>the letter</Header>"


def _open(client: SevClient, *, message_id: str = "m-1", from_org: str = COUNCIL, digest: str | None = None,
          size: int = len(BODY)):
    info = MessageInfo(message_id, from_org_id=from_org, to_org_id=MINISTRY, to_sys_id="ministry")
    info.size, info.from_sys_id = size, client.system_id
    digest = digest or hashlib.sha256(BODY).hexdigest().upper()
    return _session(client._call("OpenUploadingSession", [
        ("messageInfo", client._info_value(info)), ("hash", digest), ("signature", b"")]))


def _chunk(client: SevClient, sid: int, data: bytes):
    return _session(client._call("UploadMessageChunk", [("sessionId", sid), ("messageChunk", data)]))


def _forged_hash(council: SevClient):
    sid = _open(council, digest=hashlib.sha256(b"another letter").hexdigest().upper()).session_id
    return _chunk(council, sid, BODY)


def _oversized_chunk(council: SevClient):
    big = BODY * 100  # 2,700 bytes, over the hub's MaxPartSize of 1,000
    sid = _open(council, digest=hashlib.sha256(big).hexdigest().upper(), size=len(big)).session_id
    return _chunk(council, sid, big)


def _past_the_declared_size(council: SevClient):
    sid = _open(council).session_id
    return _chunk(council, sid, BODY + b"<!-- and more -->")


def _as_another_body(council: SevClient):
    return _open(council, from_org=MINISTRY)


def _replayed(council: SevClient):
    council.send(BODY, MessageInfo("m-1", from_org_id=COUNCIL, to_org_id=MINISTRY, to_sys_id="ministry"))
    return _open(council)  # the same MessageId again


HUB_ATTACKS = {
    "forged hash": (_forged_hash, ErrorCode.HASH_MISMATCH, 0),
    "oversized chunk": (_oversized_chunk, ErrorCode.CHUNK_TOO_LARGE, 0),
    "chunk past the declared size": (_past_the_declared_size, ErrorCode.CHUNK_TOO_LARGE, 0),
    "sending as another body": (_as_another_body, ErrorCode.WRONG_SENDER, 0),
    "replayed MessageId": (_replayed, ErrorCode.DUPLICATE_MESSAGE, 1),
}


@pytest.mark.parametrize("attack", list(HUB_ATTACKS))
def test_the_hub_refuses_the_attack_and_queues_nothing(tmp_path, attack):
    forge, code, queued = HUB_ATTACKS[attack]
    server = HubServer(tmp_path / "hub", max_part_size=1000).start()
    try:
        server.hub.store.register_system("council", "p1", COUNCIL)
        server.hub.store.register_system("ministry", "p2", MINISTRY)
        council = SevClient(server.url, "council", "p1", retry=FAST)
        ministry = SevClient(server.url, "ministry", "p2", retry=FAST)
        answer = forge(council)
        assert answer.error_code == int(code), answer
        assert len(ministry.list_incoming()) == queued  # the replay: only the first copy
        control = MessageInfo("control", from_org_id=COUNCIL, to_org_id=MINISTRY, to_sys_id="ministry")
        council.send(BODY, control)
        assert len(ministry.list_incoming()) == queued + 1  # control: an honest letter travels
    finally:
        server.stop()


# --------------------------------------------------------------------------- acknowledgements


@pytest.mark.parametrize("ack_type", [AckType.REGISTERED, AckType.REJECTED])
def test_only_the_recipient_of_a_letter_can_acknowledge_it(tmp_path, ack_type):
    """Another body (authenticated as itself) acknowledging our letter to the partner: kept for the
    operators as a notification, the letter does not move; the partner's own acknowledgement does."""
    root, seals = make_pki(tmp_path / "pki", ["A"])
    cfg = load_config(GatewaySpec("A", US, "sys-a", tmp_path / "a", "http://127.0.0.1:9/x", root,
                                  seals["A"]).write_config())
    db = open_database(cfg)
    blobs = BlobStore(cfg.resolve(cfg.storage.dir))
    try:
        letter = queue(db, blobs)  # to the partner, THEM
        impostor = their_header(MsgType.NOTIFICATION)
        impostor.from_org_id, impostor.from_organization = STRANGER, "Impostor"
        reg = {"reg_number": "77", "reg_date": date(2026, 11, 26)} if ack_type == AckType.REGISTERED else {}
        forged = build_acknowledgement(impostor, AckContent(msg_id=letter.msg_id, ack_type=ack_type, **reg))
        got = inbox.receive(db, blobs, forged, channel="sev", validator=lambda *_: PASSED, own_edrpou=US)
        assert got.kind == "notification" and got.outgoing_id is None
        assert status(db, letter.id) == "sent"
        honest = build_acknowledgement(their_header(MsgType.NOTIFICATION),
                                       AckContent(msg_id=letter.msg_id, ack_type=ack_type, **reg))
        got = inbox.receive(db, blobs, honest, channel="sev", validator=lambda *_: PASSED, own_edrpou=US)
        assert got.outgoing_id == letter.id
        assert status(db, letter.id) == ("registered" if ack_type == AckType.REGISTERED else "rejected")
    finally:
        db.dispose()
