"""Every message that leaves validates against both reference schemas of the 1207 format:
Header.xsd (v1.5) and the stricter Order1207_v2.2.xsd (Writer and urgent required). Letters get a
Writer from the configured default when the EDMS names none, and the samples' hub system
(to_sys_id 99999999, to_system CЭВ) when the partner's system is unknown; acknowledgements carry
errorcode 0, as every known sample."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from lxml import etree
from test_exchange_support import GatewaySpec, make_pki

from gateway.api.seal import Seal
from gateway.config import load_config
from gateway.exchange import inbox
from gateway.exchange.message import (
    HUB_SYS_ID,
    DocTransfer,
    Document,
    Header,
    MsgType,
    Organization,
    SignInfo,
    build_document,
    new_msg_id,
    parse_message,
)
from gateway.exchange.outbox import NewFile, queue_letter
from gateway.exchange.workers import Workers, WorkerSettings
from gateway.store.blobs import BlobStore
from gateway.store.db import open_database
from gateway.store.models import Acknowledgement, Incoming, Outgoing
from gateway.store.partners import upsert_partner

XSD = Path(__file__).resolve().parents[1].parent / "shared" / "sev-reference" / "xsd"
US, THEM = "04056612", "37472062"


@pytest.fixture(scope="module")
def reference_schemas() -> dict[str, etree.XMLSchema]:
    names = ("Header.xsd", "Order1207_v2.2.xsd")
    return {name: etree.XMLSchema(etree.parse(str(XSD / name))) for name in names}


def assert_valid(schemas: dict[str, etree.XMLSchema], raw: bytes) -> None:
    root = etree.fromstring(raw)
    for name, schema in schemas.items():
        assert schema.validate(root), (name, schema.error_log.last_error)


@pytest.fixture
def gateway(tmp_path):
    root, seals = make_pki(tmp_path / "pki", ["A"])
    spec = GatewaySpec("Міська рада", US, "sys-a", tmp_path / "a", "http://127.0.0.1:9/x", root, seals["A"])
    conf = spec.write_config()
    conf.write_text(
        conf.read_text(encoding="utf-8").replace(
            "[organization]\n",
            '[organization]\nwriter = "Коваленко Ірина Петрівна"\nwriter_post = "секретар"\n',
        ),
        encoding="utf-8",
    )
    cfg = load_config(conf)
    db = open_database(cfg)
    blobs = BlobStore(cfg.resolve(cfg.storage.dir))
    workers = Workers(
        cfg=cfg,
        db=db,
        blobs=blobs,
        channels={},  # nothing leaves: the built message stays in the store
        seal=Seal.from_config(cfg),
        validator=lambda sig, files: {"indication": "TOTAL_PASSED", "signatures": []},
        settings=WorkerSettings(retry_budget=1, backoff_base=0.0, backoff_max=0.0),
    )
    yield cfg, db, blobs, workers
    db.dispose()


def sealed_letter(db, blobs, workers, meta: dict) -> bytes:
    sha, size = blobs.put_stream([b"%PDF-1.4 letter"])
    with db.session() as s:
        row, _ = queue_letter(
            s, meta=meta, files=[NewFile("лист.pdf", None, sha, size)], channel="sev", to_name="B",
            api_key_id=None, idempotency_key=None,
        )
        ident = row.id
    workers.run_letters_once()
    with db.session() as s:
        return blobs.get(s.get_one(Outgoing, ident).message_sha256)


def test_letters_validate_against_both_reference_schemas(gateway, reference_schemas):
    cfg, db, blobs, workers = gateway
    meta = {"to_edrpou": THEM, "to_name": "B", "reg_number": "01-05/7", "reg_date": "2026-11-25"}
    raw = sealed_letter(db, blobs, workers, meta)
    assert_valid(reference_schemas, raw)
    msg = parse_message(raw)
    writer = msg.document.writer
    assert writer.edrpou == US and writer.officials[0].secname == "Коваленко"  # the configured default
    assert writer.officials[0].post == "секретар"
    assert (msg.header.to_sys_id, msg.header.to_system) == (HUB_SYS_ID, "C\u042d\u0412")  # as the samples
    # a partner with a known system, a writer from the EDMS, every optional field
    with db.session() as s:
        upsert_partner(s, edrpou=THEM, name="B", sev_system_id="sys-b")
    meta = {
        **meta, "reg_number": "01-05/8", "writer": {"name": "Бойко Олег", "post": "юрист"}, "urgent": True,
        "confidential": True, "purpose_type": 3, "kind": "Лист", "title": "Про все", "annotation": "коротко",
        "author": {"name": "Сєнкевич Олександр Федорович", "post": "міський голова"},
    }
    raw = sealed_letter(db, blobs, workers, meta)
    assert_valid(reference_schemas, raw)
    msg = parse_message(raw)
    assert msg.header.to_sys_id == "sys-b" and msg.document.writer.officials[0].secname == "Бойко"


def test_replies_and_every_acknowledgement_validate_against_both(gateway, reference_schemas):
    cfg, db, blobs, workers = gateway
    h = Header(MsgType.DOCUMENT, new_msg_id().upper(), THEM, "B", "sys-b", "СЕД", US, "A", "sys-a", "gw")
    h.msg_acknow = 2
    doc = Document(
        idnumber="3", reg_number="вх-9", reg_date=date(2026, 11, 20), writer=Organization(edrpou=THEM),
        addressees=[Organization(edrpou=US)], files=[DocTransfer("1", "a.pdf", "pdf", b"x")],
    )
    got = inbox.receive(
        db, blobs, build_document(h, doc, [SignInfo("1", b"\x30\x00")]), channel="sev",
        validator=lambda sig, files: {"indication": "TOTAL_PASSED", "signatures": []}, own_edrpou=US,
    )
    with db.session() as s:
        row = s.get_one(Incoming, got.incoming_id)
        inbox.register(s, row, "вх-1/26", date(2026, 11, 26))
    elsewhere = Header(
        MsgType.DOCUMENT, new_msg_id(), THEM, "B", "sys-b", "СЕД", "21560045", "C", "x", "y", msg_acknow=2
    )
    forged = build_document(elsewhere, doc, [SignInfo("1", b"\x30\x00")])
    refused = inbox.receive(db, blobs, forged, channel="sev", validator=lambda *_: {}, own_edrpou=US)
    org = cfg.organization
    with db.session() as s:
        acks = s.query(Acknowledgement).filter(Acknowledgement.direction == "out").all()
        assert sorted(a.ack_type for a in acks) == [1, 2, 3, 4]
        for ack in acks:
            header = inbox.ack_header(
                ack, s.get_one(Incoming, ack.incoming_id), sys_id="sys-a", system=org.system_name,
                org_edrpou=org.edrpou, org_name=org.name,
            )
            raw = inbox.build_ack_message(ack, header)
            assert_valid(reference_schemas, raw)
            msg = parse_message(raw)
            assert msg.header.from_org_id == US and msg.acknowledgement.errorcode == 0
    assert refused.status == "rejected"
    # a reply to the document: msg_type 3, referring to the sender's registration
    sha, size = blobs.put_stream([b"%PDF-1.4 reply"])
    with db.session() as s:
        letter, _ = queue_letter(
            s, meta={"to_edrpou": THEM, "to_name": "B", "reg_number": "02/1", "reg_date": "2026-11-27",
                     "reply_to": got.incoming_id},
            files=[NewFile("reply.pdf", None, sha, size)], channel="sev", to_name="B",
            api_key_id=None, idempotency_key=None,
        )
        ident = letter.id
    workers.run_letters_once()
    with db.session() as s:
        raw = blobs.get(s.get_one(Outgoing, ident).message_sha256)
    assert_valid(reference_schemas, raw)
    msg = parse_message(raw)
    assert msg.header.msg_type == MsgType.REPLY
    assert [(r.reg_number, r.reg_date) for r in msg.document.referred] == [("вх-9", date(2026, 11, 20))]
