"""A document the hub offers again (our confirmation was lost: a crash between storing it and
EndProcessingDownloadedMessage, a 503 on that call) is stored once and answered once: a second
"delivered" acknowledgement would be a second message at the hub and at the sender. Only when the
first acknowledgement failed for good is it queued again."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from test_sev_inbox_rules import THEM, US, env  # noqa: F401 - the fixture

from gateway.exchange import inbox
from gateway.exchange.message import DocTransfer, Document, Header, SignInfo, build_document, new_msg_id
from gateway.store.models import Acknowledgement


def _document() -> bytes:
    header = Header(
        msg_type=1, msg_id=new_msg_id(), from_org_id=THEM, from_organization="Відправник",
        from_sys_id="S-B", from_system="sed", to_org_id=US, to_organization="Рада", to_sys_id="sys-a",
        to_system="gw", msg_acknow=2,
    )
    doc = Document(idnumber="1", reg_number="7/1", reg_date=date(2026, 11, 20), title="Лист",
                   files=[DocTransfer("1", "a.txt", "txt", b"body")])
    return build_document(header, doc, [SignInfo("1", b"\x30\x00")])


def _acks(db) -> list[tuple[int, str]]:
    with db.session() as s:
        rows = s.execute(select(Acknowledgement.ack_type, Acknowledgement.status).where(
            Acknowledgement.direction == "out")).all()
    return sorted((t, st) for t, st in rows)


def test_a_document_offered_again_is_answered_once(env):  # noqa: F811
    _cfg, db, blobs = env
    raw = _document()

    def indeterminate(sig, files):
        return {"indication": "INDETERMINATE", "subindication": "TRY_LATER", "signatures": []}

    first = inbox.receive(db, blobs, raw, channel="sev", validator=indeterminate)
    assert not first.duplicate
    assert _acks(db) == [(1, "queued")]
    for _ in range(3):  # offered again while the acknowledgement waits, and after it was sent
        assert inbox.receive(db, blobs, raw, channel="sev", validator=indeterminate).duplicate
        with db.session() as s:
            s.execute(Acknowledgement.__table__.update().values(status="sent"))
    assert _acks(db) == [(1, "sent")]
    with db.session() as s:  # the acknowledgement failed for good: offered again, answered again
        s.execute(Acknowledgement.__table__.update().values(status="failed"))
    inbox.receive(db, blobs, raw, channel="sev", validator=indeterminate)
    assert _acks(db) == [(1, "failed"), (1, "queued")]
