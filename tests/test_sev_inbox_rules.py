"""What arrives, by the 1207 rules: ids without regard to case, refusals (ack_type 4, reason in
Ukrainian) of documents not for us / unsigned / failing / malformed, conflicting copies kept
apart, replies linked, notifications kept. Driven through `inbox.receive`, a real database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from test_exchange_support import GatewaySpec, make_pki

from gateway.config import load_config
from gateway.exchange import inbox
from gateway.exchange.message import (
    Acknowledgement as AckContent,
)
from gateway.exchange.message import (
    AckType,
    DocTransfer,
    Document,
    Header,
    Message,
    MsgType,
    Organization,
    Reference,
    SignInfo,
    build_acknowledgement,
    build_document,
    new_msg_id,
    parse_message,
)
from gateway.exchange.outbox import NewFile, queue_letter
from gateway.store.blobs import BlobStore
from gateway.store.db import open_database
from gateway.store.models import Acknowledgement, Incoming, Outgoing

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


# --------------------------------------------------------------------------- refusals (п.21)

PASSED = {"indication": "TOTAL_PASSED", "subindication": None, "signatures": []}
FAILED = {"indication": "TOTAL_FAILED", "subindication": "HASH_FAILURE", "signatures": []}
INDETERMINATE = {"indication": "INDETERMINATE", "subindication": "TRY_LATER", "signatures": []}


def document(
    *, to_org: str = US, signed: bool = True, msg_id: str | None = None, body: bytes = b"text",
    msg_type: int = MsgType.DOCUMENT, referred=(),
) -> tuple[Header, bytes]:
    h = their_header(msg_type, msg_id, to_org=to_org)
    doc = Document(
        idnumber="7", reg_number="вих-5", reg_date=date(2026, 11, 20), title="Лист",
        files=[DocTransfer("1", "лист.pdf", "pdf", body)], referred=list(referred),
        addressees=[Organization(edrpou=to_org, fullname="Міська рада")],
    )
    return h, build_document(h, doc, [SignInfo("1", b"\x30\x00")] if signed else [])


def take(env, raw: bytes, report=PASSED, calls=None):
    cfg, db, blobs = env

    def validator(sig, files):
        if calls is not None:
            calls.append(files)
        return report

    return inbox.receive(db, blobs, raw, channel="sev", validator=validator, own_edrpou=US)


def acks_of(db, incoming_id: str) -> list[Acknowledgement]:
    with db.session() as s:
        rows = s.scalars(
            select(Acknowledgement)
            .where(Acknowledgement.incoming_id == incoming_id)
            .order_by(Acknowledgement.id)
        ).all()
        s.expunge_all()
        return list(rows)


def incoming(db, ident: str) -> Incoming:
    with db.session() as s:
        row = s.get_one(Incoming, ident)
        s.expunge(row)
        return row


def sent_ack(env, ack: Acknowledgement) -> Message:
    """The acknowledgement message as the worker builds it, parsed back."""
    cfg, db, blobs = env
    with db.session() as s:
        row = s.get_one(Acknowledgement, ack.id)
        inc = s.get_one(Incoming, row.incoming_id)
        org = cfg.organization
        header = inbox.ack_header(
            row, inc, sys_id="sys-a", system=org.system_name, org_edrpou=org.edrpou, org_name=org.name
        )
        return parse_message(inbox.build_ack_message(row, header))


def test_a_document_for_another_body_is_refused_and_the_refusal_comes_from_us(env):
    cfg, db, blobs = env
    calls: list = []
    h, raw = document(to_org="21560045")
    got = take(env, raw, calls=calls)
    row = incoming(db, got.incoming_id)
    assert row.status == "rejected"
    assert "21560045" in row.reject_reason and "іншому органу" in row.reject_reason
    assert calls == []  # not ours: not even validated
    assert blobs.get(row.message_sha256) == raw  # the raw bytes are kept
    (ack,) = acks_of(db, got.incoming_id)
    assert ack.ack_type == 4
    msg = sent_ack(env, ack)
    assert msg.header.from_org_id == US and msg.header.from_organization == cfg.organization.name
    assert msg.header.to_org_id == THEM
    assert msg.acknowledgement.msg_id == h.msg_id  # as they wrote it (upper case)
    assert msg.acknowledgement.errorcode == 0 and "іншому органу" in msg.acknowledgement.errortext


@pytest.mark.parametrize(
    ("signed", "report", "needle"),
    [(False, PASSED, "не має кваліфікованого"), (True, FAILED, "не пройшов перевірку (HASH_FAILURE)")],
)
def test_unsigned_or_failing_documents_are_refused_in_ukrainian(env, signed, report, needle):
    cfg, db, blobs = env
    got = take(env, document(signed=signed)[1], report)
    row = incoming(db, got.incoming_id)
    assert row.status == "rejected" and needle in row.reject_reason
    (ack,) = acks_of(db, got.incoming_id)
    assert ack.ack_type == 4 and needle in sent_ack(env, ack).acknowledgement.errortext
    # offered again (the hub missed our confirmation): recognised; the refusal, already on its
    # way, is not sent a second time (tests/test_faults_redelivery.py)
    again = take(env, document(signed=signed, msg_id=row.msg_id.upper())[1], report)
    assert again.duplicate and [a.ack_type for a in acks_of(db, got.incoming_id)] == [4]


def test_a_malformed_document_is_refused_and_kept(env):
    cfg, db, blobs = env
    h, raw = document()
    broken = raw.replace(b"<RegNumber", b"<RegNumbeX").replace(b"</RegNumber>", b"</RegNumbeX>")
    got = take(env, broken)
    row = incoming(db, got.incoming_id)
    assert got.kind == "malformed" and row.status == "rejected" and "формату 1207" in row.reject_reason
    assert blobs.get(row.message_sha256) == broken
    (ack,) = acks_of(db, got.incoming_id)
    msg = sent_ack(env, ack)
    assert msg.acknowledgement.ack_type == 4 and msg.acknowledgement.errorcode == 0
    # nothing readable at all: kept for operators, nobody to answer
    junk = take(env, b"\x00\x01 not xml")
    assert junk.kind == "malformed" and incoming(db, junk.incoming_id).status == "malformed"
    assert acks_of(db, junk.incoming_id) == []


def test_indeterminate_is_not_a_refusal(env):
    cfg, db, blobs = env
    got = take(env, document()[1], INDETERMINATE)
    row = incoming(db, got.incoming_id)
    assert row.status == "received" and row.indication == "INDETERMINATE"
    assert [a.ack_type for a in acks_of(db, got.incoming_id)] == [1]


def test_a_different_document_under_a_known_msg_id_is_kept_apart_and_not_answered(env):
    cfg, db, blobs = env
    h, raw = document(body=b"the original")
    first = take(env, raw)
    assert incoming(db, first.incoming_id).status == "accepted"
    _, other = document(msg_id=h.msg_id.lower(), body=b"a forgery")
    got = take(env, other)
    conflict = incoming(db, got.incoming_id)
    assert got.incoming_id != first.incoming_id and conflict.status == "conflict"
    assert conflict.meta["conflict_of"] == first.incoming_id
    assert acks_of(db, got.incoming_id) == []  # nothing that would move the sender's letter
    assert [a.ack_type for a in acks_of(db, first.incoming_id)] == [1, 2]  # the original untouched
    assert incoming(db, first.incoming_id).status == "accepted"
    assert take(env, other).duplicate  # the same forgery again: still one conflict row


def test_a_reply_is_linked_to_the_letter_it_answers(env):
    cfg, db, blobs = env
    letter = queue(db, blobs)
    _, raw = document(
        msg_type=MsgType.REPLY, referred=[Reference(reg_number="1", reg_date=date(2026, 11, 25))]
    )
    got = take(env, raw)
    assert incoming(db, got.incoming_id).meta["reply_to"] == letter.id


def test_a_notification_that_is_not_an_acknowledgement_is_kept(env):
    cfg, db, blobs = env
    _, raw = document()
    raw = raw.replace(b'msg_type="1"', b'msg_type="0"').replace(b'msg_acknow="2"', b'msg_acknow="0"')
    got = take(env, raw)
    row = incoming(db, got.incoming_id)
    assert got.kind == "notification" and row.status == "notification"
    assert acks_of(db, got.incoming_id) == []  # notifications are not acknowledged
    assert take(env, raw).duplicate


def test_indeterminate_documents_are_validated_again(env):
    cfg, db, blobs = env
    later = take(env, document(body=b"one")[1], INDETERMINATE)
    failing = take(env, document(body=b"two")[1], INDETERMINATE)
    verdicts = {b"one": PASSED, b"two": FAILED}

    def validator(sig, files):
        (path,) = files.values()
        return verdicts[path.read_bytes()]

    assert inbox.revalidate_pending(db, blobs, lambda *_: INDETERMINATE) == 2  # still unknown
    assert incoming(db, later.incoming_id).status == "received"
    assert inbox.revalidate_pending(db, blobs, validator) == 2
    assert incoming(db, later.incoming_id).status == "accepted"
    assert [a.ack_type for a in acks_of(db, later.incoming_id)] == [1, 2]
    refused = incoming(db, failing.incoming_id)
    assert refused.status == "rejected" and "не пройшов перевірку" in refused.reject_reason
    assert [a.ack_type for a in acks_of(db, failing.incoming_id)] == [1, 4]
    assert inbox.revalidate_pending(db, blobs, validator) == 0
