"""What arrives, by the 1207 rules: ids without regard to case, refusals (ack_type 4, reason in
Ukrainian) of documents not for us / unsigned / failing / malformed, conflicting copies kept
apart, replies linked, notifications kept. Driven through `inbox.receive`, a real database."""

from __future__ import annotations

from datetime import date

import pytest
from test_exchange_support import GatewaySpec, make_pki

from gateway.config import load_config
from gateway.exchange import inbox
from gateway.exchange.message import (
    Acknowledgement as AckContent,
)
from gateway.exchange.message import (
    AckType,
    Header,
    MsgType,
    build_acknowledgement,
    new_msg_id,
)
from gateway.exchange.outbox import NewFile, queue_letter
from gateway.store.blobs import BlobStore
from gateway.store.db import open_database
from gateway.store.models import Outgoing

US = "04056612"
THEM = "37472062"


@pytest.fixture
def env(tmp_path):
    root, seals = make_pki(tmp_path / "pki", ["A"])
    spec = GatewaySpec("A", US, "sys-a", tmp_path / "a", "http://127.0.0.1:9/x", root, seals["A"])
    cfg = load_config(spec.write_config())
    db = open_database(cfg)
    yield cfg, db, BlobStore(cfg.resolve(cfg.storage.dir))
    db.dispose()


def queue(db, blobs) -> Outgoing:
    sha, size = blobs.put_stream([b"letter body"])
    meta = {"to_edrpou": THEM, "to_name": "B", "reg_number": "1", "reg_date": "2026-11-25"}
    with db.session() as s:
        row, _ = queue_letter(
            s, meta=meta, files=[NewFile("a.txt", None, sha, size)], channel="sev", to_name="B",
            api_key_id=None, idempotency_key=None,
        )
        row.status = "sent"
        s.flush()
        s.expunge(row)
        return row


def their_header(msg_type: int, msg_id: str | None = None, to_org: str = US) -> Header:
    return Header(
        msg_type=msg_type, msg_id=msg_id or new_msg_id().upper(), from_org_id=THEM,
        from_organization="Обласна адміністрація", from_sys_id="sys-b", from_system="СЕД Б",
        to_org_id=to_org, to_organization="Міська рада", to_sys_id="sys-a", to_system="gateway",
        msg_acknow=0 if msg_type == 0 else 2,
    )


def status(db, letter_id: str) -> str:
    with db.session() as s:
        return s.get_one(Outgoing, letter_id).status


def test_an_upper_case_acknowledgement_of_our_letter_moves_it(env):
    cfg, db, blobs = env
    letter = queue(db, blobs)
    assert letter.msg_id == letter.msg_id.lower()
    raw = build_acknowledgement(
        their_header(MsgType.NOTIFICATION),
        AckContent(msg_id=letter.msg_id.upper(), ack_type=AckType.DELIVERED),
    )
    got = inbox.receive(db, blobs, raw, channel="sev", validator=lambda *_: {})
    assert got.outgoing_id == letter.id
    assert status(db, letter.id) == "delivered"
    # the same acknowledgement again (its own id in another case) is a duplicate, not a second one
    raw2 = raw.replace(got.msg_id.encode(), got.msg_id.lower().encode())
    assert inbox.receive(db, blobs, raw2, channel="sev", validator=lambda *_: {}).duplicate
    raw3 = build_acknowledgement(
        their_header(MsgType.NOTIFICATION),
        AckContent(msg_id="{" + letter.msg_id.upper() + "}", ack_type=AckType.REGISTERED,
                   reg_number="77", reg_date=date(2026, 11, 26)),
    )
    inbox.receive(db, blobs, raw3, channel="sev", validator=lambda *_: {})
    assert status(db, letter.id) == "registered"
