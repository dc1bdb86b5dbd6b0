"""Outgoing letters: idempotent queueing, the status machine with its history, acknowledgements.

Status flow (INTERFACE.md): queued → signed → sending → sent → delivered → accepted → registered,
or rejected (by the recipient), or failed (after the retry budget; `requeue` puts it back).
A status only moves forward: an acknowledgement that overtakes our own "sent" bookkeeping (the
recipient can be faster than our commit) is not undone by it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from gateway.config import OrganizationConfig
from gateway.exchange.message import (
    DocTransfer,
    Document,
    OfficialPerson,
    Organization,
    Reference,
    msg_id_key,
    new_msg_id,
)
from gateway.store.models import (
    Acknowledgement,
    IdempotencyKey,
    Incoming,
    Outgoing,
    OutgoingFile,
    StatusHistory,
    utcnow,
)

FLOW = ("queued", "signed", "sending", "sent", "delivered", "accepted", "registered")
RANK = {s: i for i, s in enumerate(FLOW)}
FINAL = ("registered", "rejected")
ACK_STATUS = {1: "delivered", 2: "accepted", 3: "registered", 4: "rejected"}
ACK_NAMES = {1: "delivered", 2: "accepted", 3: "registered", 4: "rejected"}


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before for a different request."""


@dataclass
class NewFile:
    name: str
    content_type: str | None
    sha256: str
    size: int


def record(
    session: Session,
    entity: str,
    entity_id: str,
    status: str,
    detail: str | None = None,
    at: datetime | None = None,
) -> None:
    session.add(
        StatusHistory(entity=entity, entity_id=entity_id, status=status, detail=detail, at=at or utcnow())
    )


def history_view(session: Session, entity: str, entity_id: str) -> list[dict[str, Any]]:
    """The recorded transitions of a letter or document, oldest first, as the API shows them."""
    rows = session.scalars(
        select(StatusHistory)
        .where(StatusHistory.entity == entity, StatusHistory.entity_id == entity_id)
        .order_by(StatusHistory.id)
    )
    return [{"status": h.status, "at": h.at.isoformat(), "detail": h.detail} for h in rows]


def set_status(session: Session, row: Outgoing, status: str, detail: str | None = None) -> bool:
    """Move a letter to `status` and record the transition; False when it already was there."""
    if row.status == status:
        return False
    row.status = status
    row.updated_at = utcnow()
    record(session, "outgoing", row.id, status, detail)
    return True


def may_advance(current: str, target: str) -> bool:
    """Whether an acknowledgement's status may replace the current one."""
    if current in FINAL:
        return False
    if target == "rejected" or current == "failed":
        return True
    return RANK[target] > RANK[current]


def request_fingerprint(meta: dict[str, Any], files: list[NewFile]) -> str:
    body = json.dumps(
        {"meta": meta, "files": [(f.name, f.sha256) for f in files]},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def queue_letter(
    session: Session,
    *,
    meta: dict[str, Any],
    files: list[NewFile],
    channel: str,
    to_name: str,
    api_key_id: int | None,
    idempotency_key: str | None,
) -> tuple[Outgoing, bool]:
    """Queue a letter whose file bodies are already in the blob store.

    Returns (letter, created). With an Idempotency-Key seen before for the same request, the
    earlier letter is returned (created False); for a different request IdempotencyConflict.
    """
    fingerprint = request_fingerprint(meta, files)
    if idempotency_key:
        seen = session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.api_key_id == api_key_id, IdempotencyKey.key == idempotency_key
            )
        )
        if seen is not None:
            if seen.request_sha256 != fingerprint:
                raise IdempotencyConflict(idempotency_key)
            return session.get_one(Outgoing, seen.outgoing_id), False
    row = Outgoing(
        id=str(uuid.uuid4()),
        msg_id=new_msg_id(),
        status="queued",
        channel=channel,
        to_edrpou=meta["to_edrpou"],
        to_name=to_name,
        meta=meta,
        api_key_id=api_key_id,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    row.files = [
        OutgoingFile(n=i, name=f.name, content_type=f.content_type, sha256=f.sha256, size=f.size)
        for i, f in enumerate(files, start=1)
    ]
    session.add(row)
    record(session, "outgoing", row.id, "queued", f"{len(files)} file(s) to {row.to_edrpou} via {channel}")
    session.flush()  # the letter row first: the idempotency row refers to it
    if idempotency_key:
        session.add(
            IdempotencyKey(
                api_key_id=api_key_id, key=idempotency_key, request_sha256=fingerprint, outgoing_id=row.id
            )
        )
    session.flush()
    return row, True


def requeue(session: Session, letter_id: str, detail: str = "re-queued by an operator") -> Outgoing | None:
    """Give a failed letter a fresh retry budget. Its msg_id stays, so a copy that did reach the
    hub or the recipient before the failure is recognised there as the same message."""
    row = session.get(Outgoing, letter_id)
    if row is None or row.status != "failed":
        return None
    row.attempts = 0
    row.last_error = None
    row.next_attempt_at = utcnow()
    row.lease_owner = row.lease_until = None
    set_status(session, row, "signed" if row.message_sha256 else "queued", detail)
    return row


def apply_acknowledgement(
    session: Session,
    *,
    ack_msg_id: str,
    ref_msg_id: str,
    ack_type: int,
    reg_number: str | None = None,
    reg_date: str | None = None,
    reason: str | None = None,
) -> tuple[str, Outgoing | None, str | None]:
    """Record a received acknowledgement and move its letter on.

    Returns (result, letter, previous status); result is "applied", "duplicate" (this ack was
    seen before) or "unknown" (no letter of ours has that msg_id; the ack is kept anyway).
    Ids are compared without regard to case (`msg_id_key`).
    """
    ack_msg_id, ref_msg_id = msg_id_key(ack_msg_id), msg_id_key(ref_msg_id)
    if session.scalar(select(Acknowledgement.id).where(Acknowledgement.msg_id == ack_msg_id)) is not None:
        return "duplicate", None, None
    # locked: two acknowledgements of one letter may be applied at the same time (PostgreSQL)
    row = session.scalar(
        select(Outgoing)
        .where(Outgoing.msg_id == ref_msg_id)
        .options(lazyload(Outgoing.files))  # not needed to move the status on
        .with_for_update()
    )
    session.add(
        Acknowledgement(
            direction="in",
            msg_id=ack_msg_id,
            ref_msg_id=ref_msg_id,
            ack_type=ack_type,
            reg_number=reg_number,
            reg_date=reg_date,
            reason=reason,
            outgoing_id=row.id if row else None,
            status="received",
        )
    )
    if row is None:
        return "unknown", None, None
    previous = row.status
    target = ACK_STATUS.get(ack_type)
    if target and may_advance(row.status, target):
        detail = {
            "registered": f"registered as {reg_number} of {reg_date}",
            "rejected": f"rejected: {reason or 'no reason given'}",
        }.get(target, f"{target} (ack {ack_msg_id})")
        if target in ("accepted", "registered") and RANK.get(row.status, 99) < RANK["delivered"]:
            # acknowledgements may arrive out of order; acceptance or registration implies delivery
            set_status(session, row, "delivered", f"implied by the {target} acknowledgement")
        set_status(session, row, target, detail)
    return "applied", row, previous


def _person(value: Any) -> OfficialPerson | None:
    """{"name": "Surname Name Patronymic", "post": ...} as a 1207 OfficialPerson."""
    if not isinstance(value, dict) or not value.get("name"):
        return None
    parts = str(value["name"]).split()
    return OfficialPerson(
        secname=parts[0],
        firstname=" ".join(parts[1:2]),
        fathersname=" ".join(parts[2:]),
        post=value.get("post") or None,
    )


def referred_documents(s: Session, reply_to: str | None) -> list[Reference]:
    """The incoming document a reply answers, as a 1207 reference (its sender's registration)."""
    if not reply_to:
        return []
    incoming = s.get(Incoming, reply_to)
    doc = (incoming.meta or {}).get("document") if incoming else None
    if not doc:
        return []
    return [
        Reference(
            reg_number=doc["reg_number"],
            reg_date=date.fromisoformat(doc["reg_date"]),
            idnumber=doc.get("idnumber"),
        )
    ]


def letter_document(
    ident: str,
    meta: dict[str, Any],
    org: OrganizationConfig,
    files: list[DocTransfer],
    referred: list[Reference],
) -> Document:
    """The 1207 Document of a queued letter (its EDMS metadata), from our organization."""
    author = _person(meta.get("author"))
    writer = _person(meta.get("writer")) or _person({"name": org.writer, "post": org.writer_post})
    return Document(
        idnumber=ident,
        reg_number=meta["reg_number"],
        reg_date=date.fromisoformat(meta["reg_date"]),
        purpose_type=int(meta.get("purpose_type") or 0),
        kind=meta.get("kind"),
        title=meta.get("title"),
        annotation=meta.get("annotation"),
        urgent=bool(meta.get("urgent")),
        confidential=bool(meta.get("confidential")),
        author=Organization(edrpou=org.edrpou, fullname=org.name, officials=[author] if author else []),
        addressees=[Organization(edrpou=meta["to_edrpou"], fullname=meta.get("to_name") or "")],
        # always a Writer (Order1207 v2.2 requires one): the EDMS's, the configured default, or the body
        writer=Organization(edrpou=org.edrpou, fullname=org.name, officials=[writer] if writer else []),
        files=files,
        referred=referred,
    )


def letter_view(session: Session, row: Outgoing) -> dict[str, Any]:
    """What GET /api/v1/outgoing/{id} answers: status, history, acknowledgements received."""
    acks = session.scalars(
        select(Acknowledgement)
        .where(Acknowledgement.outgoing_id == row.id, Acknowledgement.direction == "in")
        .order_by(Acknowledgement.id)
    )
    return {
        "id": row.id,
        "msg_id": row.msg_id,
        "status": row.status,
        "channel": row.channel,
        "to_edrpou": row.to_edrpou,
        "to_name": row.to_name,
        "reg_number": row.meta.get("reg_number"),
        "reg_date": row.meta.get("reg_date"),
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "attempts": row.attempts,
        "last_error": row.last_error,
        "files": [
            {
                "n": f.n,
                "name": f.name,
                "size": f.size,
                "sha256": f.sha256,
                "signed": f.signature_sha256 is not None,
            }
            for f in row.files
        ],
        "history": history_view(session, "outgoing", row.id),
        "acknowledgements": [
            {
                "type": ACK_NAMES.get(a.ack_type, str(a.ack_type)),
                "ack_type": a.ack_type,
                "msg_id": a.msg_id,
                "received_at": a.created_at.isoformat(),
                "reg_number": a.reg_number,
                "reg_date": a.reg_date,
                "reason": a.reason,
            }
            for a in acks
        ],
    }
