"""Messages delivered to us over Трембіта: checked, then taken through the same inbox as SEV ones.

Unlike the SEV hub, a Трембіта caller waits for the answer, so whatever is wrong with a message is
refused in that answer (`Refused`, a fault for the caller) and nothing of it is stored: a message
that is not a valid 1207 message (schema, two DocTransfers with one idnumber, a SignInfo naming a
file that is not there), a caller that is not in the partners directory, a sender (`from_org_id`)
that is not the partner the X-Road client belongs to, a recipient that is not us, or an
acknowledgement of a letter we sent to another body.

A message is taken once: a repeated call (the caller's X-Road client and `id` seen before) and a
message whose msg_id (compared as `msg_id_key`: case, braces and spaces around do not count) was
taken before are answered "duplicate".
A document's answer carries the acknowledgement the inbox queued first with it (same msg_id and
bytes, which the workers also send later, so a caller that lost the answer still gets it, and one
that did not sees the second copy as a duplicate): "delivered" (ack_type 1) for a document that
was kept, or the refusal (ack_type 4, the reason in its errortext) for one the inbox refused under
the 1207 rules (a file without a signature, a signature that failed). Either way the message was
taken: the status is "accepted" (or "duplicate"), and the acknowledgement says what became of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from gateway.config import Config
from gateway.exchange import inbox
from gateway.exchange.message import MessageFormatError, MsgType, msg_id_key, parse_message
from gateway.exchange.outbox import apply_acknowledgement
from gateway.store.blobs import BlobStore
from gateway.store.db import Database
from gateway.store.models import Acknowledgement, Incoming, Outgoing, Partner, TrembitaRequest

CHANNEL = "trembita"


class Refused(Exception):
    """The call is refused; `code` is X-Road style (`Client.…`), `reason` one line for the caller."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass
class Delivery:
    status: str  # "accepted" | "duplicate"
    kind: str  # "document" | "acknowledgement"
    msg_id: str
    #: the 1207 acknowledgement answering a document: "delivered" (1) or its refusal (4)
    acknowledgement: bytes | None
    #: whether something new was stored (the workers have acknowledgements to send)
    stored: bool


def partner_for(db: Database, client: str) -> Partner:
    """The partner whose `--xroad-client` is `client` (INSTANCE/CLASS/CODE/SUBSYSTEM)."""
    with db.session() as s:
        partner = s.scalar(select(Partner).where(Partner.xroad_client == client))
    if partner is None:
        raise Refused("Client.UnknownClient", f"the X-Road client {client} is not a known partner")
    return partner


def deliver(
    cfg: Config,
    db: Database,
    blobs: BlobStore,
    raw: bytes,
    *,
    client: str,
    xroad_id: str,
    validator: inbox.Validator,
) -> Delivery:
    """Take one 1207 message delivered by the X-Road client `client` in the call `xroad_id`."""
    partner = partner_for(db, client)
    try:
        msg = parse_message(raw)
    except MessageFormatError as exc:
        raise Refused("Client.InvalidMessage", exc.reason) from None
    header = msg.header
    if header.from_org_id != partner.edrpou:
        raise Refused(
            "Client.SenderMismatch",
            f"from_org_id {header.from_org_id} is not the EDRPOU of {client} ({partner.edrpou})",
        )
    if header.to_org_id != cfg.organization.edrpou:
        raise Refused("Client.WrongRecipient", f"to_org_id {header.to_org_id} is not this organization")
    is_ack = header.msg_type == MsgType.NOTIFICATION
    kind = "acknowledgement" if is_ack else "document"
    with db.session() as s:
        if msg.acknowledgement is not None:
            _check_acknowledged_letter(s, msg.acknowledgement.msg_id, partner)
        seen = s.scalar(
            select(TrembitaRequest.msg_id).where(
                TrembitaRequest.client == client, TrembitaRequest.xroad_id == xroad_id
            )
        )
        # a document under a msg_id taken before goes to the inbox, which tells the same document
        # again (a duplicate) from a different one (kept apart as a conflict, never acknowledged)
        if seen is not None or (is_ack and _taken(s, header.msg_id, is_ack)):
            return Delivery(
                "duplicate",
                kind,
                header.msg_id,
                _answer_ack(cfg, s, blobs, seen or header.msg_id),
                stored=False,
            )
    got = inbox.receive(db, blobs, raw, channel=CHANNEL, validator=validator)
    with db.session() as s:
        try:
            with s.begin_nested():
                s.add(TrembitaRequest(client=client, xroad_id=xroad_id, msg_id=header.msg_id))
        except IntegrityError:
            pass  # the same call, answered concurrently: it is recorded
        ack = None if is_ack else _answer_ack(cfg, s, blobs, header.msg_id)
    if got.status == "conflict":  # nothing may confirm or change the original's state
        return Delivery("duplicate", kind, header.msg_id, None, stored=True)
    return Delivery(
        "duplicate" if got.duplicate else "accepted", kind, header.msg_id, ack, stored=not got.duplicate
    )


def _check_acknowledged_letter(s: Session, letter_msg_id: str, partner: Partner) -> None:
    """A partner acknowledges only letters sent to it (not another body's)."""
    to = s.scalar(select(Outgoing.to_edrpou).where(Outgoing.msg_id == msg_id_key(letter_msg_id)))
    if to is not None and to != partner.edrpou:
        raise Refused(
            "Client.SenderMismatch",
            f"acknowledges letter {letter_msg_id}, which was not sent to {partner.edrpou}",
        )


def _taken(s: Session, msg_id: str, is_ack: bool) -> bool:
    model = Acknowledgement if is_ack else Incoming
    q = select(model.id).where(model.msg_id == msg_id_key(msg_id))
    if is_ack:
        q = q.where(Acknowledgement.direction == "in")
    return s.scalar(q.limit(1)) is not None


def _answer_ack(cfg: Config, s: Session, blobs: BlobStore, msg_id: str) -> bytes | None:
    """The first "delivered" or refusal acknowledgement queued for the document `msg_id`, built
    (and stored, so that the workers send the same bytes) if it was not yet."""
    incoming = s.scalar(
        select(Incoming)
        .where(Incoming.msg_id == msg_id_key(msg_id))
        .options(lazyload(Incoming.files))
    )
    if incoming is None:
        return None
    row = s.scalar(
        select(Acknowledgement)
        .where(
            Acknowledgement.incoming_id == incoming.id,
            Acknowledgement.direction == "out",
            Acknowledgement.ack_type.in_((1, inbox.ACK_REJECTED)),
        )
        .order_by(Acknowledgement.id)
        .limit(1)
    )
    if row is None:
        return None
    if row.message_sha256 is None:
        org = cfg.organization
        header = inbox.ack_header(
            row,
            incoming,
            sys_id=org.system_id,
            system=org.system_name,
            org_edrpou=org.edrpou,
            org_name=org.name,
        )
        row.message_sha256 = blobs.put(inbox.build_ack_message(row, header))
    return blobs.get(row.message_sha256)


def delivery_status(db: Database, *, client: str, msg_id: str) -> str:
    """received | accepted | registered | rejected of a document the caller delivered; else unknown."""
    partner = partner_for(db, client)
    with db.session() as s:
        status = s.scalar(
            select(Incoming.status).where(
                Incoming.msg_id == msg_id_key(msg_id), Incoming.from_edrpou == partner.edrpou
            )
        )
    return status or "unknown"


def take_answer_ack(db: Database, raw: bytes, *, letter_msg_id: str) -> bool:
    """Apply the acknowledgement a partner's service answered our delivery of `letter_msg_id` with
    (the letter becomes "delivered"); False when it is not an acknowledgement of that letter."""
    try:
        msg = parse_message(raw)
    except MessageFormatError:
        return False
    ack = msg.acknowledgement
    if ack is None or msg_id_key(ack.msg_id) != msg_id_key(letter_msg_id):
        return False
    with db.session() as s:
        apply_acknowledgement(
            s,
            ack_msg_id=msg.header.msg_id,
            ref_msg_id=letter_msg_id,
            ack_type=int(ack.ack_type),
            reg_number=ack.reg_number,
            reg_date=ack.reg_date.isoformat() if ack.reg_date else None,
            reason=ack.errortext or None,
        )
    return True


def partner_service(db: Database, edrpou: str) -> str:
    """The X-Road service (`--xroad-service`) of the partner with `edrpou`, where we deliver to it."""
    with db.session() as s:
        service = s.scalar(select(Partner.xroad_service).where(Partner.edrpou == edrpou))
    if not service:
        raise LookupError(f"partner {edrpou} has no X-Road service in the directory (--xroad-service)")
    return service
