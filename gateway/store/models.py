"""The gateway's durable state (SQLAlchemy 2 declarative models).

Document bodies are not stored here: rows carry the SHA-256 of a body kept once in [storage]
(`gateway.store.blobs`). Every status change of a letter is a row in `status_history`.

Work rows (outgoing letters, acknowledgements to send) carry a lease (`lease_owner`,
`lease_until`): a worker claims a row by setting its lease, does one step, and moves the status on
while still holding it. A worker that dies leaves an expired lease behind and the step is redone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    """An EDMS client key. Only the SHA-256 of the (high-entropy, random) key is stored."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: edms | officer | operator | auditor (gateway.api.auth)
    role: Mapped[str] = mapped_column(String(16), default="edms", server_default="edms")
    #: an edms key sees every key's letters, not only its own
    all_letters: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Partner(Base):
    """A body the council exchanges letters with (the partners directory)."""

    __tablename__ = "partners"
    id: Mapped[int] = mapped_column(primary_key=True)
    edrpou: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(16), default="sev")
    sev_system_id: Mapped[str | None] = mapped_column(String(100))
    xroad_client: Mapped[str | None] = mapped_column(String(300))
    xroad_service: Mapped[str | None] = mapped_column(String(300))
    cert_pem: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Outgoing(Base):
    """A letter the EDMS asked us to send. `msg_id` is fixed at queueing time: it is the
    idempotency anchor towards the hub and the recipient (a re-sent upload carries the same id)."""

    __tablename__ = "outgoing"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    to_edrpou: Mapped[str] = mapped_column(String(16))
    to_name: Mapped[str] = mapped_column(String(500))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the signed 1207 message as sent (blob hash), set when status reaches `signed`
    message_sha256: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the channel's upload session, recorded before the first byte goes out: after a crash the
    #: channel asks about it instead of uploading a second copy
    transport_session: Mapped[str | None] = mapped_column(String(100))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    files: Mapped[list[OutgoingFile]] = relationship(
        order_by="OutgoingFile.n", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (Index("ix_outgoing_work", "status", "next_attempt_at"),)


class OutgoingFile(Base):
    __tablename__ = "outgoing_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    outgoing_id: Mapped[str] = mapped_column(ForeignKey("outgoing.id", ondelete="CASCADE"), index=True)
    n: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    #: the detached CAdES signature of this file (blob hash), set when the letter is signed
    signature_sha256: Mapped[str | None] = mapped_column(String(64))


class Incoming(Base):
    """A document received from a partner. `msg_id` is unique: a re-delivered message is
    recognised as a duplicate, acknowledged again and not stored twice."""

    __tablename__ = "incoming"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    msg_type: Mapped[int] = mapped_column(Integer)
    from_edrpou: Mapped[str] = mapped_column(String(16))
    from_name: Mapped[str] = mapped_column(String(500))
    from_sys_id: Mapped[str | None] = mapped_column(String(100))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    message_sha256: Mapped[str] = mapped_column(String(64))
    indication: Mapped[str | None] = mapped_column(String(32))
    reg_number: Mapped[str | None] = mapped_column(String(100))
    reg_date: Mapped[str | None] = mapped_column(String(32))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    files: Mapped[list[IncomingFile]] = relationship(
        order_by="IncomingFile.n", cascade="all, delete-orphan", lazy="selectin"
    )


class IncomingFile(Base):
    __tablename__ = "incoming_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    incoming_id: Mapped[str] = mapped_column(ForeignKey("incoming.id", ondelete="CASCADE"), index=True)
    n: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    signature_sha256: Mapped[str | None] = mapped_column(String(64))
    #: the validation report (INTERFACE.md JSON) of this file's signature
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class StatusHistory(Base):
    """One row per status transition of an outgoing letter or an incoming document."""

    __tablename__ = "status_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))  # "outgoing" | "incoming"
    entity_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_status_history_entity", "entity", "entity_id"),)


class Acknowledgement(Base):
    """A 1207 acknowledgement (msg_type 0): received for one of our letters (`direction="in"`)
    or to be sent for an incoming document (`direction="out"`, a work row with a lease)."""

    __tablename__ = "acknowledgements"
    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(4))
    #: the acknowledgement message's own id (unique: a re-delivered ack is not stored twice)
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: the acknowledged message
    ref_msg_id: Mapped[str] = mapped_column(String(64), index=True)
    ack_type: Mapped[int] = mapped_column(Integer)
    reg_number: Mapped[str | None] = mapped_column(String(100))
    reg_date: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    outgoing_id: Mapped[str | None] = mapped_column(ForeignKey("outgoing.id", ondelete="CASCADE"))
    incoming_id: Mapped[str | None] = mapped_column(ForeignKey("incoming.id", ondelete="CASCADE"))
    #: for direction "out": queued | sending | sent | failed; for "in": received
    status: Mapped[str] = mapped_column(String(16), index=True)
    message_sha256: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: as Outgoing.transport_session
    transport_session: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChannelOffer(Base):
    """A message a channel keeps offering that could not be taken (downloaded, stored): counted,
    and set aside after a bounded number of tries so that operators see it ("zombies")."""

    __tablename__ = "channel_offers"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: pending (tried again) | set_aside (no longer tried; an operator looks at it)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    last_error: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("channel", "message_id", name="uq_channel_offer"),)


class IdempotencyKey(Base):
    """`Idempotency-Key` of POST /outgoing, per API key, with the hash of the request it named."""

    __tablename__ = "idempotency_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))
    outgoing_id: Mapped[str] = mapped_column(ForeignKey("outgoing.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("api_key_id", "key", name="uq_idempotency_key"),)


class User(Base):
    """A console user (security officer, operator or auditor); the password is an argon2 hash."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsoleSession(Base):
    """A server-side console session; the cookie carries a random token, only its SHA-256 is kept."""

    __tablename__ = "console_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One entry of the append-only audit log. `hash` covers the entry and `prev_hash` (the hash
    of the entry before it), so an edited, removed or reordered entry breaks the chain."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object: Mapped[str] = mapped_column(String(500))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class SealKey(Base):
    """A key of the keys registry: a container file kept in [keys] dir (with its password sealed
    under the registry's master key), a PKCS#11 URI, or a generated key awaiting its certificate."""

    __tablename__ = "seal_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(200), unique=True)
    #: pkcs12 | container (Ukrainian key containers) | pkcs11 | pending (generated, no certificate yet)
    kind: Mapped[str] = mapped_column(String(16))
    #: file name inside [keys] dir, or the PKCS#11 URI
    source: Mapped[str] = mapped_column(String(1000))
    #: the container password, encrypted with the registry's master key (Fernet), if any
    sealed_password: Mapped[str | None] = mapped_column(Text)
    cert_pem: Mapped[str | None] = mapped_column(Text)
    csr_pem: Mapped[str | None] = mapped_column(Text)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
class TrembitaRequest(Base):
    """A deliverMessage call taken from Трембіта, by the caller's X-Road client and request `id`:
    a repeated call (same client and id) is answered "duplicate" without storing anything."""

    __tablename__ = "trembita_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(String(300))
    xroad_id: Mapped[str] = mapped_column(String(200))
    #: the 1207 msg_id the call carried
    msg_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("client", "xroad_id", name="uq_trembita_request"),)


class PollLease(Base):
    """Who polls a channel: one instance at a time. The owner renews `lease_until` while it polls;
    when it dies the lease expires (on any host) and another instance takes over."""

    __tablename__ = "poll_leases"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StoredBody(Base):
    """A document body kept in the database ([storage] backend = "database"), by its SHA-256."""

    __tablename__ = "stored_bodies"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
