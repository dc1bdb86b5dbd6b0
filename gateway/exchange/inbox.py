"""Incoming messages: store documents once (by msg_id), validate their signatures, queue the
acknowledgements; apply acknowledgements of our own letters; register or reject documents.

Incoming status: received → accepted (every file carries a signature that passed) → registered or
rejected by the EDMS. The "delivered" acknowledgement is queued with the stored document in one
transaction, so it is sent exactly when the document was kept. A re-delivered document (same msg_id)
is not stored again but acknowledged again: its sender evidently missed our acknowledgement.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from gateway.exchange.message import (
    Acknowledgement as AckContent,
)
from gateway.exchange.message import (
    Header,
    Message,
    MessageFormatError,
    MsgType,
    build_acknowledgement,
    msg_id_key,
    new_msg_id,
    parse_message,
)
from gateway.exchange.outbox import apply_acknowledgement, history_view, record
from gateway.signing.report import rank
from gateway.store.blobs import BlobStore
from gateway.store.db import Database
from gateway.store.models import Acknowledgement, Incoming, IncomingFile, utcnow

#: signature bytes + {file name: path of the signed file} -> INTERFACE.md validation report
Validator = Callable[[bytes, dict[str, Path]], dict[str, Any]]

ACK_REJECTED = 4


@dataclass
class Received:
    kind: str  # "document" | "acknowledgement" | "malformed"
    msg_id: str
    duplicate: bool
    incoming_id: str | None = None
    outgoing_id: str | None = None
    previous_status: str | None = None
    status: str | None = None
    #: when the acknowledged letter was queued (for the submit-to-delivered latency)
    submitted_at: datetime | None = None


def header_to_dict(h: Header) -> dict[str, Any]:
    d = dataclasses.asdict(h)
    d["time"] = h.time.isoformat() if h.time else None
    return d


def header_from_dict(d: dict[str, Any]) -> Header:
    values = dict(d)
    values["time"] = datetime.fromisoformat(values["time"]) if values.get("time") else None
    return Header(**values)


def receive(db: Database, blobs: BlobStore, raw: bytes, *, channel: str, validator: Validator) -> Received:
    """Take one message from a channel.

    A malformed document whose header can still be read is kept as a rejected incoming document
    and answered with a "rejected" acknowledgement naming the fault; anything else malformed raises
    MessageFormatError (the caller drops it).
    """
    try:
        msg = parse_message(raw)
    except MessageFormatError as exc:
        h = exc.header
        if h is None or not h.msg_id or h.msg_type == MsgType.NOTIFICATION:
            raise
        return _receive_malformed(db, blobs, raw, exc, channel)
    if msg.header.msg_type == MsgType.NOTIFICATION:
        return _receive_ack(db, msg)
    with db.session() as s:
        dup = _duplicate(s, msg.header.msg_id)
        if dup is not None:
            return dup
    stored = _store_bodies(blobs, msg, validator)
    message_sha = blobs.put(msg.raw)  # before the transaction: no fsync while holding the database
    with db.session() as s:
        dup = _duplicate(s, msg.header.msg_id)  # a concurrent receiver may have won the race
        if dup is not None:
            return dup
        row = _insert(s, msg, stored, channel, message_sha)
        return Received("document", row.msg_id, False, incoming_id=row.id, status=row.status)


def _receive_ack(db: Database, msg: Message) -> Received:
    ack = msg.acknowledgement
    if ack is None:
        raise MessageFormatError("a notification without an Acknowledgement", msg.header)
    with db.session() as s:
        result, letter, previous = apply_acknowledgement(
            s,
            ack_msg_id=msg.header.msg_id,
            ref_msg_id=ack.msg_id,
            ack_type=int(ack.ack_type),
            reg_number=ack.reg_number,
            reg_date=ack.reg_date.isoformat() if ack.reg_date else None,
            reason=ack.errortext or None,
        )
        return Received(
            "acknowledgement",
            msg.header.msg_id,
            result == "duplicate",
            outgoing_id=letter.id if letter else None,
            previous_status=previous,
            status=letter.status if letter else None,
            submitted_at=letter.created_at if letter else None,
        )


def _receive_malformed(
    db: Database, blobs: BlobStore, raw: bytes, exc: MessageFormatError, channel: str
) -> Received:
    h = exc.header
    assert h is not None
    message_sha = blobs.put(raw)
    with db.session() as s:
        dup = _duplicate(s, h.msg_id)
        if dup is not None:
            return dup
        reason = f"malformed message: {exc.reason}"[:2000]
        row = Incoming(
            id=str(uuid.uuid4()),
            msg_id=msg_id_key(h.msg_id),
            status="rejected",
            channel=channel,
            msg_type=int(h.msg_type),
            from_edrpou=h.from_org_id,
            from_name=h.from_organization,
            from_sys_id=h.from_sys_id,
            meta={"header": header_to_dict(h), "malformed": True},
            message_sha256=message_sha,
            reject_reason=reason,
        )
        s.add(row)
        s.flush()
        record(s, "incoming", row.id, "rejected", reason)
        _queue_ack(s, row, ACK_REJECTED, reason=reason)
        return Received("malformed", row.msg_id, False, incoming_id=row.id, status=row.status)


def _duplicate(s: Session, msg_id: str) -> Received | None:
    key = msg_id_key(msg_id)
    row = s.scalar(select(Incoming).where(Incoming.msg_id == key).options(lazyload(Incoming.files)))
    if row is None:
        return None
    if row.meta.get("malformed"):
        _queue_ack(s, row, ACK_REJECTED, reason=row.reject_reason)
    else:
        _queue_ack(s, row, 1)
    return Received("document", msg_id, True, incoming_id=row.id, status=row.status)


@dataclass
class _StoredFile:
    idnumber: str
    name: str
    size: int
    sha256: str
    signature_sha256: str | None
    report: dict[str, Any] | None


def _store_bodies(blobs: BlobStore, msg: Message, validator: Validator) -> list[_StoredFile]:
    out = []
    doc = msg.document
    for f in doc.files if doc else []:
        sha = blobs.put(f.data)
        sigs = msg.signatures_for(f.idnumber)
        reports = [validator(si.sign_data, {f.description: blobs.path(sha)}) for si in sigs]
        sig_sha = blobs.put(sigs[0].sign_data) if sigs else None
        out.append(_StoredFile(f.idnumber, f.description, len(f.data), sha, sig_sha, _merge(reports)))
    return out


def _merge(reports: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One report per file: the worst verdict over its signatures, every signature listed."""
    if not reports:
        return None
    worst = min(reports, key=lambda r: rank(r.get("indication", "")))
    merged = dict(worst)
    merged["signatures"] = [sig for r in reports for sig in r.get("signatures", [])]
    return merged


def _insert(s: Session, msg: Message, files: list[_StoredFile], channel: str, message_sha: str) -> Incoming:
    h, doc = msg.header, msg.document
    meta: dict[str, Any] = {"header": header_to_dict(h)}
    if doc is not None:
        meta["document"] = {
            "idnumber": doc.idnumber,
            "reg_number": doc.reg_number,
            "reg_date": doc.reg_date.isoformat(),
            "kind": doc.kind,
            "title": doc.title,
            "annotation": doc.annotation,
            "purpose_type": doc.purpose_type,
            "urgent": doc.urgent,
            "confidential": doc.confidential,
            "referred": [
                {"reg_number": r.reg_number, "reg_date": r.reg_date.isoformat()} for r in doc.referred
            ],
        }
    verdicts = [f.report["indication"] if f.report else "NO_SIGNATURE_FOUND" for f in files]
    indication = min(verdicts, key=rank) if verdicts else "NO_SIGNATURE_FOUND"
    row = Incoming(
        id=str(uuid.uuid4()),
        msg_id=msg_id_key(h.msg_id),
        status="received",
        channel=channel,
        msg_type=int(h.msg_type),
        from_edrpou=h.from_org_id,
        from_name=h.from_organization,
        from_sys_id=h.from_sys_id,
        meta=meta,
        message_sha256=message_sha,
        indication=indication,
    )
    row.files = [
        IncomingFile(
            n=i,
            name=f.name,
            size=f.size,
            sha256=f.sha256,
            signature_sha256=f.signature_sha256,
            report=f.report,
        )
        for i, f in enumerate(files, start=1)
    ]
    s.add(row)
    s.flush()
    record(s, "incoming", row.id, "received", f"from {h.from_org_id} via {channel}; signatures: {indication}")
    _queue_ack(s, row, 1)
    if indication == "TOTAL_PASSED":
        _set_incoming(s, row, "accepted", "every signature passed validation")
        _queue_ack(s, row, 2)
    return row


def _set_incoming(s: Session, row: Incoming, status: str, detail: str | None) -> None:
    row.status = status
    row.updated_at = utcnow()
    record(s, "incoming", row.id, status, detail)


def _queue_ack(
    s: Session,
    row: Incoming,
    ack_type: int,
    *,
    reg_number: str | None = None,
    reg_date: str | None = None,
    reason: str | None = None,
) -> None:
    s.add(
        Acknowledgement(
            direction="out",
            msg_id=new_msg_id(),
            # the id exactly as the sender wrote it (its system may compare case-sensitively)
            ref_msg_id=(row.meta.get("header") or {}).get("msg_id") or row.msg_id,
            ack_type=ack_type,
            reg_number=reg_number,
            reg_date=reg_date,
            reason=reason,
            incoming_id=row.id,
            status="queued",
            attempts=0,
            next_attempt_at=utcnow(),
        )
    )


class IncomingStateError(Exception):
    """Registration or rejection is not possible in the document's current status."""


def register(s: Session, row: Incoming, reg_number: str, reg_date: date) -> None:
    if row.status in ("registered", "rejected"):
        raise IncomingStateError(f"the document is already {row.status}")
    row.reg_number, row.reg_date = reg_number, reg_date.isoformat()
    _set_incoming(s, row, "registered", f"registered as {reg_number} of {reg_date.isoformat()}")
    _queue_ack(s, row, 3, reg_number=reg_number, reg_date=reg_date.isoformat())


def reject(s: Session, row: Incoming, reason: str) -> None:
    if row.status in ("registered", "rejected"):
        raise IncomingStateError(f"the document is already {row.status}")
    row.reject_reason = reason
    _set_incoming(s, row, "rejected", reason)
    _queue_ack(s, row, ACK_REJECTED, reason=reason)


def ack_header(row: Acknowledgement, incoming: Incoming, *, sys_id: str, system: str) -> Header:
    """The header of the notification answering `incoming` (its msg_id fixed when it was queued)."""
    header = header_from_dict(incoming.meta["header"]).reply(MsgType.NOTIFICATION, msg_id=row.msg_id)
    if sys_id:
        header.from_sys_id = sys_id
    if system:
        header.from_system = system
    return header


def build_ack_message(row: Acknowledgement, header: Header, *, malformed: bool = False) -> bytes:
    """The 1207 notification for an acknowledgement row (errorcode 1 answers a malformed message)."""
    texts = {1: "Повідомлення доставлено без помилок", 2: "Повідомлення було прийнято без помилок"}
    return build_acknowledgement(
        header,
        AckContent(
            msg_id=row.ref_msg_id,
            ack_type=row.ack_type,
            errorcode=1 if malformed else 0,
            errortext=row.reason or texts.get(row.ack_type, ""),
            reg_number=row.reg_number,
            reg_date=date.fromisoformat(row.reg_date) if row.reg_date else None,
        ),
    )


def incoming_view(s: Session, row: Incoming, *, files_url: str) -> dict[str, Any]:
    """What GET /api/v1/incoming/{id} answers."""
    acks = s.scalars(
        select(Acknowledgement)
        .where(Acknowledgement.incoming_id == row.id, Acknowledgement.direction == "out")
        .order_by(Acknowledgement.id)
    )
    return {
        "id": row.id,
        "msg_id": row.msg_id,
        "status": row.status,
        "channel": row.channel,
        "msg_type": row.msg_type,
        "from_edrpou": row.from_edrpou,
        "from_name": row.from_name,
        "received_at": row.received_at.isoformat(),
        "indication": row.indication,
        "document": row.meta.get("document"),
        "reg_number": row.reg_number,
        "reg_date": row.reg_date,
        "reject_reason": row.reject_reason,
        "files": [
            {
                "n": f.n,
                "name": f.name,
                "size": f.size,
                "sha256": f.sha256,
                "url": f"{files_url}/{f.n}",
                "validation": f.report,
            }
            for f in row.files
        ],
        "history": history_view(s, "incoming", row.id),
        "acknowledgements_sent": [
            {"ack_type": a.ack_type, "status": a.status, "msg_id": a.msg_id} for a in acks
        ],
    }
