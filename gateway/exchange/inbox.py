"""Incoming messages: store documents once (by msg_id), validate their signatures, queue the
acknowledgements; apply acknowledgements of our own letters; register or reject documents.

Incoming status: received → accepted (every file carries a signature that passed) → registered or
rejected by the EDMS. The "delivered" acknowledgement is queued with the stored document in one
transaction, so it is sent exactly when the document was kept. A re-delivered document (same msg_id)
is not stored again but acknowledged again: its sender evidently missed our acknowledgement.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from gateway.exchange.message import (
    ACK_TEXTS,
    Header,
    Message,
    MessageFormatError,
    MsgType,
    Reference,
    build_acknowledgement,
    msg_id_key,
    new_msg_id,
    parse_message,
)
from gateway.exchange.message import (
    Acknowledgement as AckContent,
)
from gateway.exchange.outbox import apply_acknowledgement, history_view, record
from gateway.signing.report import rank
from gateway.store.blobs import BlobStore
from gateway.store.db import Database
from gateway.store.models import Acknowledgement, Incoming, IncomingFile, Outgoing, utcnow

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


def receive(
    db: Database,
    blobs: BlobStore,
    raw: bytes,
    *,
    channel: str,
    validator: Validator,
    own_edrpou: str | None = None,
) -> Received:
    """Take one message from a channel; its raw bytes are always kept.

    The 1207 rules (КМУ №55 п.21): a document that is not addressed to `own_edrpou` (not checked
    when None), carries a file without a signature, a signature that fails (TOTAL_FAILED), or is
    malformed is kept as `rejected` and refused with an acknowledgement ack_type 4 whose reason is
    in Ukrainian. INDETERMINATE is not a refusal: the document stays `received` (shown to operators,
    validated again later). A different document under a msg_id already received is kept apart as
    `conflict` and never acknowledged. A message whose header cannot be read is kept as `malformed`
    (nobody to answer). Notifications other than acknowledgements are kept as `notification`, and
    so is an acknowledgement of our letter from a body the letter was not sent to (it does not move
    the letter).
    """
    try:
        msg = parse_message(raw)
    except MessageFormatError as exc:
        h = exc.header
        if h is None or not h.msg_id or h.msg_type == MsgType.NOTIFICATION:
            return _keep_unanswerable(db, blobs, raw, exc, channel)
        return _receive_malformed(db, blobs, raw, exc, channel)
    if msg.header.msg_type == MsgType.NOTIFICATION:
        if msg.acknowledgement is not None:
            applied = _receive_ack(db, msg)
            if applied is not None:
                return applied
        return _keep_notification(db, blobs, msg, channel)  # an ack of another's letter: the letter stays
    fingerprint = _fingerprint(msg)
    with db.session() as s:
        seen = _seen(s, msg.header.msg_id, fingerprint)
        if seen is not None:
            return seen
    wrong_addressee = own_edrpou is not None and msg.header.to_org_id.strip() != own_edrpou
    stored = _store_bodies(blobs, msg, None if wrong_addressee else validator)
    message_sha = blobs.put(msg.raw)  # before the transaction: no fsync while holding the database
    with db.session() as s:
        seen = _seen(s, msg.header.msg_id, fingerprint)  # a concurrent receiver may have won the race
        if seen is not None:
            return seen
        if wrong_addressee:
            to = msg.header.to_org_id
            refusal: str | None = f"Документ адресовано іншому органу (ЄДРПОУ {to}), а не нам ({own_edrpou})"
        else:
            refusal = _signature_refusal(stored)
        row = _insert(s, msg, stored, channel, message_sha, fingerprint, refusal)
        return Received("document", row.msg_id, False, incoming_id=row.id, status=row.status)


def _acknowledges_anothers_letter(s: Session, msg: Message) -> bool:
    """An acknowledgement of one of our letters from a body that letter was not sent to."""
    assert msg.acknowledgement is not None
    key = msg_id_key(msg.acknowledgement.msg_id)
    to = s.scalar(select(Outgoing.to_edrpou).where(Outgoing.msg_id == key))
    return to is not None and to.strip() != msg.header.from_org_id.strip()


def _receive_ack(db: Database, msg: Message) -> Received | None:
    """Apply an acknowledgement (one transaction); None when it acknowledges one of our letters
    from a body the letter was not sent to (the caller keeps it as a notification)."""
    ack = msg.acknowledgement
    assert ack is not None
    with db.session() as s:
        if _acknowledges_anothers_letter(s, msg):
            return None
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


def _keep_unanswerable(
    db: Database, blobs: BlobStore, raw: bytes, exc: MessageFormatError, channel: str
) -> Received:
    """A message without a readable header (or a malformed notification): kept for operators as
    `malformed`, never answered (there is nobody to answer, or it would answer an answer)."""
    message_sha = blobs.put(raw)
    key = f"raw-{message_sha[:40]}"
    h = exc.header
    with db.session() as s:
        row = s.scalar(select(Incoming).where(Incoming.msg_id == key).options(lazyload(Incoming.files)))
        if row is not None:
            return Received("malformed", key, True, incoming_id=row.id, status=row.status)
        reason = f"malformed message: {exc.reason}"[:2000]
        row = Incoming(
            id=str(uuid.uuid4()),
            msg_id=key,
            status="malformed",
            channel=channel,
            msg_type=int(h.msg_type) if h else -1,
            from_edrpou=h.from_org_id if h else "",
            from_name=h.from_organization if h else "",
            from_sys_id=h.from_sys_id if h else None,
            meta={"header": header_to_dict(h) if h else None, "malformed": True, "unanswerable": True},
            message_sha256=message_sha,
            reject_reason=reason,
        )
        s.add(row)
        s.flush()
        record(s, "incoming", row.id, "malformed", reason)
        return Received("malformed", key, False, incoming_id=row.id, status=row.status)


def _keep_notification(db: Database, blobs: BlobStore, msg: Message, channel: str) -> Received:
    """A notification that is not an acknowledgement (a task list, an approval, a DocNumber, a
    Referred, ...): kept and shown as `notification`; notifications are not acknowledged."""
    h = msg.header
    key = msg_id_key(h.msg_id)
    message_sha = blobs.put(msg.raw)
    with db.session() as s:
        row = s.scalar(select(Incoming).where(Incoming.msg_id == key).options(lazyload(Incoming.files)))
        if row is not None:
            return Received("notification", key, True, incoming_id=row.id, status=row.status)
        row = Incoming(
            id=str(uuid.uuid4()),
            msg_id=key,
            status="notification",
            channel=channel,
            msg_type=int(h.msg_type),
            from_edrpou=h.from_org_id,
            from_name=h.from_organization,
            from_sys_id=h.from_sys_id,
            meta={"header": header_to_dict(h), "notification": True},
            message_sha256=message_sha,
        )
        s.add(row)
        s.flush()
        record(s, "incoming", row.id, "notification", f"from {h.from_org_id} via {channel}")
        return Received("notification", key, False, incoming_id=row.id, status=row.status)


def _receive_malformed(
    db: Database, blobs: BlobStore, raw: bytes, exc: MessageFormatError, channel: str
) -> Received:
    h = exc.header
    assert h is not None
    message_sha = blobs.put(raw)
    fingerprint = hashlib.sha256(raw).hexdigest()
    with db.session() as s:
        seen = _seen(s, h.msg_id, fingerprint)
        if seen is not None:
            return seen
        reason = f"Повідомлення не відповідає формату 1207: {exc.reason}"[:2000]
        row = Incoming(
            id=str(uuid.uuid4()),
            msg_id=msg_id_key(h.msg_id),
            status="rejected",
            channel=channel,
            msg_type=int(h.msg_type),
            from_edrpou=h.from_org_id,
            from_name=h.from_organization,
            from_sys_id=h.from_sys_id,
            meta={"header": header_to_dict(h), "malformed": True, "fingerprint": fingerprint},
            message_sha256=message_sha,
            reject_reason=reason,
        )
        s.add(row)
        s.flush()
        record(s, "incoming", row.id, "rejected", reason)
        _queue_ack(s, row, ACK_REJECTED, reason=reason)
        return Received("malformed", row.msg_id, False, incoming_id=row.id, status=row.status)


def _fingerprint(msg: Message) -> str:
    """What makes two copies the same document: sender, registration and every file's content
    (not the header's time or the serialization, which a re-sending system may change)."""
    doc = msg.document
    parts = [msg.header.from_org_id, str(msg.header.msg_type)]
    if doc is not None:
        parts += [doc.reg_number, doc.reg_date.isoformat()]
        parts += [hashlib.sha256(f.data).hexdigest() for f in doc.files]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _seen(s: Session, msg_id: str, fingerprint: str) -> Received | None:
    """A document whose msg_id was received before: the same one again (offered again because the
    channel missed our confirmation, e.g. after a crash: answered again only if our acknowledgement
    is not already queued or sent, so that the sender gets each acknowledgement once), or a
    different one, kept apart and not answered."""
    key = msg_id_key(msg_id)
    row = s.scalar(select(Incoming).where(Incoming.msg_id == key).options(lazyload(Incoming.files)))
    if row is None:
        return None
    if row.meta.get("fingerprint", fingerprint) != fingerprint:
        return _conflict(s, row, fingerprint)
    if row.status == "rejected" and not _answered(s, row, ACK_REJECTED):
        _queue_ack(s, row, ACK_REJECTED, reason=_refusal_text(row))
    elif row.status not in ("conflict", "notification", "malformed", "rejected") and not _answered(s, row, 1):
        _queue_ack(s, row, 1)
    return Received("document", row.msg_id, True, incoming_id=row.id, status=row.status)


def _answered(s: Session, row: Incoming, ack_type: int) -> bool:
    """True when an acknowledgement of this type for `row` is queued, on its way or sent."""
    q = select(Acknowledgement.id).where(
        Acknowledgement.incoming_id == row.id,
        Acknowledgement.direction == "out",
        Acknowledgement.ack_type == ack_type,
        Acknowledgement.status != "failed",
    )
    return s.scalar(q.limit(1)) is not None


def _conflict(s: Session, original: Incoming, fingerprint: str) -> Received:
    key = f"{original.msg_id}~{fingerprint[:16]}"
    row = s.scalar(select(Incoming).where(Incoming.msg_id == key).options(lazyload(Incoming.files)))
    if row is not None:
        return Received("document", key, True, incoming_id=row.id, status=row.status)
    detail = f"a different document under msg_id {original.msg_id}, already received as {original.id}"
    row = Incoming(
        id=str(uuid.uuid4()),
        msg_id=key,
        status="conflict",
        channel=original.channel,
        msg_type=original.msg_type,
        from_edrpou=original.from_edrpou,
        from_name=original.from_name,
        from_sys_id=original.from_sys_id,
        meta={"conflict_of": original.id, "fingerprint": fingerprint, "header": original.meta.get("header")},
        message_sha256="",
        reject_reason=detail,
    )
    s.add(row)
    s.flush()
    record(s, "incoming", row.id, "conflict", detail)
    return Received("document", key, False, incoming_id=row.id, status="conflict")


@dataclass
class _StoredFile:
    idnumber: str
    name: str
    size: int
    sha256: str
    signature_sha256: str | None
    report: dict[str, Any] | None


def _store_bodies(blobs: BlobStore, msg: Message, validator: Validator | None) -> list[_StoredFile]:
    """Every file and its first signature kept; validated unless `validator` is None."""
    out = []
    doc = msg.document
    for f in doc.files if doc else []:
        sha = blobs.put(f.data)
        sigs = msg.signatures_for(f.idnumber)
        reports = (
            [validator(si.sign_data, {f.description: blobs.path(sha)}) for si in sigs] if validator else []
        )
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


def _signature_refusal(files: list[_StoredFile]) -> str | None:
    """The reason to refuse a document for its signatures (КМУ №55 п.21), or None."""
    if not files:
        return "Документ не містить жодного файлу з кваліфікованим електронним підписом чи печаткою"
    for f in files:
        if f.signature_sha256 is None:
            return f"Файл «{f.name}» не має кваліфікованого електронного підпису чи печатки"
        indication = (f.report or {}).get("indication")
        if indication in ("TOTAL_FAILED", "NO_SIGNATURE_FOUND"):
            sub = (f.report or {}).get("subindication")
            why = f" ({sub})" if sub else ""
            return f"Підпис файлу «{f.name}» не пройшов перевірку{why}"
    return None


def _refusal_text(row: Incoming) -> str:
    return row.reject_reason or ACK_TEXTS[ACK_REJECTED]


def _insert(
    s: Session,
    msg: Message,
    files: list[_StoredFile],
    channel: str,
    message_sha: str,
    fingerprint: str,
    refusal: str | None,
) -> Incoming:
    h, doc = msg.header, msg.document
    meta: dict[str, Any] = {"header": header_to_dict(h), "fingerprint": fingerprint}
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
        if h.msg_type in (MsgType.REPLY, MsgType.REPLY_ADDITION):
            meta["reply_to"] = _answered_letter(s, h.from_org_id, doc.referred)
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
    if refusal is not None:
        row.reject_reason = refusal
        _set_incoming(s, row, "rejected", refusal)
        _queue_ack(s, row, ACK_REJECTED, reason=refusal)
        return row
    _queue_ack(s, row, 1)
    if indication == "TOTAL_PASSED":
        _set_incoming(s, row, "accepted", "every signature passed validation")
        _queue_ack(s, row, 2)
    return row


def _answered_letter(s: Session, from_edrpou: str, referred: list[Reference]) -> str | None:
    """Our letter a reply refers to (by our registration number and date), if any."""
    if not referred:
        return None
    letters = s.execute(
        select(Outgoing.id, Outgoing.meta)
        .where(Outgoing.to_edrpou == from_edrpou)
        .order_by(Outgoing.created_at)
    )
    wanted = {(r.reg_number, r.reg_date.isoformat()) for r in referred}
    for ident, meta in letters:
        if (meta.get("reg_number"), meta.get("reg_date")) in wanted:
            return ident
    return None


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


def revalidate_pending(
    db: Database, blobs: BlobStore, validator: Validator, *, max_rounds: int = 24, limit: int = 20
) -> int:
    """Validate again documents left INDETERMINATE (e.g. revocation data was not yet available):
    TOTAL_PASSED accepts them, TOTAL_FAILED refuses them; after `max_rounds` they stay `received`
    for an operator. Returns how many were looked at."""
    with db.session() as s:
        rows = s.execute(
            select(Incoming.id, Incoming.message_sha256, Incoming.meta)
            .where(Incoming.status == "received", Incoming.indication == "INDETERMINATE")
            .order_by(Incoming.updated_at)
            .limit(limit * 4)
        ).all()
    due = [(i, sha) for i, sha, meta in rows if (meta or {}).get("revalidations", 0) < max_rounds][:limit]
    for ident, message_sha in due:
        stored = _store_bodies(blobs, parse_message(blobs.get(message_sha)), validator)
        verdicts = [f.report["indication"] if f.report else "NO_SIGNATURE_FOUND" for f in stored]
        indication = min(verdicts, key=rank) if verdicts else "NO_SIGNATURE_FOUND"
        with db.session() as s:
            row = s.get(Incoming, ident, options=[lazyload(Incoming.files)])
            if row is None or row.status != "received":
                continue
            row.meta = {**row.meta, "revalidations": row.meta.get("revalidations", 0) + 1}
            row.updated_at = utcnow()
            if indication == row.indication:
                continue
            row.indication = indication
            for f, new in zip(row.files, stored, strict=False):
                f.report = new.report
            refusal = _signature_refusal(stored)
            if refusal is not None:
                row.reject_reason = refusal
                _set_incoming(s, row, "rejected", refusal)
                _queue_ack(s, row, ACK_REJECTED, reason=refusal)
            elif indication == "TOTAL_PASSED":
                _set_incoming(s, row, "accepted", "every signature passed validation (validated again)")
                _queue_ack(s, row, 2)
    return len(due)


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


def ack_header(
    row: Acknowledgement,
    incoming: Incoming,
    *,
    sys_id: str,
    system: str,
    org_edrpou: str | None = None,
    org_name: str | None = None,
) -> Header:
    """The header of the notification answering `incoming` (its msg_id fixed when it was queued).
    The sender is this body (`org_edrpou`, `org_name`), whoever the document was addressed to."""
    header = header_from_dict(incoming.meta["header"]).reply(MsgType.NOTIFICATION, msg_id=row.msg_id)
    if org_edrpou:
        header.from_org_id = org_edrpou
        header.from_organization = org_name or header.from_organization
        header.from_department = None
    if sys_id:
        header.from_sys_id = sys_id
    if system:
        header.from_system = system
    return header


def build_ack_message(row: Acknowledgement, header: Header) -> bytes:
    """The 1207 notification for an acknowledgement row (errorcode 0, as in every known sample;
    a refusal's reason is its errortext)."""
    return build_acknowledgement(
        header,
        AckContent(
            msg_id=row.ref_msg_id,
            ack_type=row.ack_type,
            errorcode=0,
            errortext=row.reason or ACK_TEXTS.get(row.ack_type, ""),
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
        "reply_to": row.meta.get("reply_to"),
        "conflict_of": row.meta.get("conflict_of"),
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
