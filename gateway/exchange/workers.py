"""Background workers of `gateway serve`: sign and send letters, send acknowledgements, poll the hub.

Crash safety. A worker claims rows by setting a lease (`lease_owner`, `lease_until`) in one short
transaction (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL; on SQLite every transaction holds the
writer lock from its start). Each step ends by moving the status on under the same lease. A
process killed at any point leaves a lease behind: it expires, or at start-up the leases of dead
processes on this host are released, and the step is redone:

- signing is redone from the stored files (nothing left the gateway yet);
- sending re-uploads the exact bytes stored before the first attempt, under the msg_id fixed at
  queueing time. The channel's upload session is recorded before its first byte leaves
  (`transport_session`); a later attempt hands it back and the channel asks the hub about it
  (finished: done; unfinished: resumed) rather than uploading a second copy, which a hub might
  well store. The recipient stores a msg_id once. Nothing is delivered twice.
- polling stores a downloaded message (or sees it is a duplicate) before it tells the hub it is
  processed; a crash in between makes the hub offer it again, and it is recognised by its msg_id.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from typing import Any, Protocol

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import lazyload

from gateway.config import Config
from gateway.exchange import inbox
from gateway.exchange.channels import (
    CHANNELS,
    Channel,
    OfferTracking,
    ResumableChannel,
    configured_channels,
    enabled_channels,
    register_channel,
)
from gateway.exchange.message import (
    HUB_SYS_ID,
    HUB_SYSTEM,
    DocTransfer,
    Header,
    MessageFormatError,
    MsgType,
    SignInfo,
    build_document,
)
from gateway.exchange.offers import OfferLedger
from gateway.exchange.outbox import RANK, letter_document, referred_documents, set_status
from gateway.store.blobs import BlobStore
from gateway.store.db import Database
from gateway.store.models import Acknowledgement, Incoming, Outgoing, Partner, StatusHistory, utcnow

log = logging.getLogger(__name__)


#: what an upload needs: channel name, message blob, header (as stored), recorded upload session
_Upload = tuple[str, str, dict[str, Any], str | None]

#: the statuses in which letters and acknowledgements (to send) are worked on
LETTER_WORK = ("queued", "signed", "sending")
ACK_WORK = ("queued", "sending")


class Seal(Protocol):
    """The organization's seal, loaded once at start-up."""

    certificate_der: bytes

    def sign_detached(self, data: bytes) -> bytes:
        """A detached CAdES signature (DER) of `data`, at the configured level."""


@dataclass
class WorkerSettings:
    lease_seconds: float = 120.0
    retry_budget: int = 8
    backoff_base: float = 2.0
    backoff_max: float = 300.0
    batch: int = 4
    sender_threads: int = 3
    idle_seconds: float = 1.0
    poll_seconds: float = 5.0
    #: how often documents left INDETERMINATE are validated again
    revalidate_seconds: float = 600.0


def lease_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_dead_leases(db: Database) -> int:
    """Free the leases of processes on this host that no longer run (after kill -9)."""
    host = socket.gethostname()
    freed = 0
    with db.session() as s:
        for model in (Outgoing, Acknowledgement):
            owners = s.scalars(select(model.lease_owner).where(model.lease_owner.is_not(None)).distinct())
            for owner in list(owners):
                h, _, rest = owner.partition(":")
                pid = rest.partition(":")[0]
                if h == host and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                    freed += s.execute(
                        update(model)
                        .where(model.lease_owner == owner)
                        .values(lease_owner=None, lease_until=None)
                    ).rowcount
    return freed


class Workers:
    def __init__(
        self,
        *,
        cfg: Config,
        db: Database,
        blobs: BlobStore,
        channels: dict[str, Channel],
        seal: Seal | None,
        validator: inbox.Validator,
        metrics: Any = None,
        settings: WorkerSettings | None = None,
    ) -> None:
        self.cfg, self.db, self.blobs, self.channels = cfg, db, blobs, channels
        self.seal, self.validator, self.metrics = seal, validator, metrics
        self.settings = settings or WorkerSettings(poll_seconds=cfg.sev.poll_seconds)
        self.owner = lease_owner_id()
        #: messages the channels could not take, set aside after [sev] max_offer_attempts tries
        self.offers = OfferLedger(db, cfg.sev.max_offer_attempts)
        #: per channel: "ok" or "failing: <why>" after its last poll (for /healthz)
        self.channel_state: dict[str, str] = {name: "starting" for name in channels}
        self._stop = threading.Event()
        #: one idle sender is woken per wake() (not all of them: the others would only claim nothing)
        self._wake = threading.Condition()
        self._wakes = 0
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        freed = release_dead_leases(self.db)
        if freed:
            log.info("released %d lease(s) of processes that died", freed)
        for i in range(self.settings.sender_threads):
            self._spawn(f"sender-{i}", self._sender_loop)
        for name, channel in self.channels.items():
            if isinstance(channel, OfferTracking):
                channel.set_offer_tracker(self.offers)
            self._spawn(f"poller-{name}", lambda c=channel: self._poller_loop(c))
        self._spawn("revalidator", self._revalidate_loop)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=f"gateway-{name}", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()
        for channel in self.channels.values():
            channel.close()

    def wake(self) -> None:
        """Something was queued: look now instead of at the next idle tick."""
        with self._wake:
            self._wakes += 1
            self._wake.notify()

    def _idle(self) -> None:
        """Wait for a wake() (one not yet taken by another sender counts) or the idle tick."""
        with self._wake:
            if not self._wakes and not self._stop.is_set():
                self._wake.wait(self.settings.idle_seconds)
            self._wakes = max(0, self._wakes - 1)

    # ------------------------------------------------------------------ loops

    def _sender_loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # noqa: BLE001 - a worker never dies; the step is retried
                log.exception("sender step failed")
                self._count_error("sender")
                busy = 0
            if not busy:
                self._idle()

    def _poller_loop(self, channel: Channel) -> None:
        while not self._stop.is_set():
            try:
                got = channel.poll(lambda raw: self.handle_incoming(raw, channel.name))
                self.channel_state[channel.name] = "ok"
            except Exception as exc:  # noqa: BLE001 - transport trouble: try again next round
                log.warning("polling %s failed: %s", channel.name, exc)
                self.channel_state[channel.name] = f"failing: {exc}"[:300]
                self._count_error(f"poller-{channel.name}")
                got = 0
            if not got:
                self._stop.wait(self.settings.poll_seconds)

    def _revalidate_loop(self) -> None:
        while not self._stop.wait(self.settings.revalidate_seconds):
            try:
                if inbox.revalidate_pending(self.db, self.blobs, self.validator):
                    self.wake()  # acknowledgements may have been queued
            except Exception:  # noqa: BLE001 - a worker never dies; tried again next round
                log.exception("validating documents again failed")
                self._count_error("revalidator")

    def _count_error(self, worker: str) -> None:
        if self.metrics is not None:
            self.metrics.worker_errors.labels(worker).inc()

    # ------------------------------------------------------------------ claiming

    def _claim(
        self, model: type[Outgoing] | type[Acknowledgement], statuses: tuple[str, ...], extra: Any = None
    ) -> list[Any]:
        with self.db.session() as s:
            return self._claim_in(s, model, statuses, extra)

    def _claim_in(
        self, s: Any, model: type[Outgoing] | type[Acknowledgement], statuses: tuple[str, ...], extra: Any
    ) -> list[Any]:
        """Lease up to `batch` due rows of `model` within the session's transaction."""
        now = utcnow()
        q = (
            select(model.id)
            .where(
                model.status.in_(statuses),
                model.next_attempt_at <= now,
                or_(model.lease_until.is_(None), model.lease_until < now),
            )
            .order_by(model.next_attempt_at)
            .limit(self.settings.batch)
        )
        if extra is not None:
            q = q.where(extra)
        if not self.db.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        ids = list(s.scalars(q))
        if ids:
            s.execute(
                update(model)
                .where(model.id.in_(ids))
                .values(
                    lease_owner=self.owner,
                    lease_until=now + timedelta(seconds=self.settings.lease_seconds),
                )
            )
        return ids

    def _held(self, s: Any, model: type, ident: Any) -> Any:
        """The row, locked, if this worker still holds its lease; else None. A letter's files
        are loaded only when the step reads them."""
        options = [lazyload(model.files)] if model is Outgoing else []
        row = s.get(model, ident, with_for_update=not self.db.is_sqlite, options=options)
        return row if row is not None and row.lease_owner == self.owner else None

    def _retry_later(
        self, model: type, ident: Any, error: str, *, fail: Callable[[Any, Any, str], None]
    ) -> None:
        with self.db.session() as s:
            row = self._held(s, model, ident)
            if row is None:
                return
            row.last_error = error[:2000]
            row.lease_owner = row.lease_until = None
            if row.attempts >= self.settings.retry_budget:
                fail(s, row, error)
                return
            delay = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** max(0, row.attempts - 1))
            row.next_attempt_at = utcnow() + timedelta(seconds=delay * random.uniform(0.5, 1.0))

    # ------------------------------------------------------------------ letters

    def run_once(self) -> int:
        """Letters and acknowledgements due, claimed in one transaction; the acknowledgements (small,
        quick) are sent first, then the letters are signed and sent one by one."""
        with self.db.session() as s:
            letters = self._claim_in(s, Outgoing, LETTER_WORK, None)
            acks = self._claim_in(s, Acknowledgement, ACK_WORK, Acknowledgement.direction == "out")
        for ack in acks:
            self._send_ack(ack)
        for ident in letters:
            self._process_letter(ident)
        return len(letters) + len(acks)

    def run_letters_once(self) -> int:
        ids = self._claim(Outgoing, LETTER_WORK)
        for ident in ids:
            self._process_letter(ident)
        return len(ids)

    def _process_letter(self, ident: str) -> None:
        """One letter as far as it goes now: sign (if queued), then upload. Three transactions
        on the way: read what the step needs, record signed + sending, record sent."""
        with self.db.session() as s:
            row = self._held(s, Outgoing, ident)
            if row is None:
                return
            if row.status == "queued":
                job, upload = self._signing_job(s, row), None
            elif row.status in ("signed", "sending"):
                job, upload = None, self._start_sending(s, row)
            else:
                return
        if job is not None:
            try:
                upload = self._sign_letter(ident, job)
            except Exception as exc:  # noqa: BLE001 - e.g. the TSA is down: retry later
                log.warning("signing letter %s failed: %s", ident, exc)
                self._count_error("signer")
                self._retry_later(Outgoing, ident, f"signing failed: {exc}", fail=_fail_letter)
                return
        if upload is not None:
            self._upload_letter(ident, *upload)

    def _signing_job(self, s: Any, row: Outgoing) -> dict[str, Any]:
        row.attempts += 1
        partner = s.scalar(select(Partner).where(Partner.edrpou == row.to_edrpou))
        meta = dict(row.meta)
        return {
            "meta": meta,
            "files": [(f.n, f.name, f.sha256) for f in row.files],
            "msg_id": row.msg_id,
            "channel": row.channel,
            "to_edrpou": row.to_edrpou,
            "to_name": row.to_name,
            "to_sys": partner.sev_system_id if partner and partner.sev_system_id else "",
            "referred": referred_documents(s, meta.get("reply_to")),
        }

    def _sign_letter(self, ident: str, job: dict[str, Any]) -> _Upload | None:
        """Seal every file, build the 1207 message, store it; then record signed and sending."""
        if self.seal is None:
            raise RuntimeError("no seal key configured ([signing] key)")
        transfers, signatures, sig_shas = [], [], {}
        now = datetime.now(UTC)
        for n, name, sha in job["files"]:
            data = self.blobs.get(sha)
            signature = self.seal.sign_detached(data)
            sig_shas[n] = self.blobs.put(signature)
            kind = PurePath(name).suffix.lstrip(".").lower() or "bin"
            transfers.append(DocTransfer(idnumber=str(n), description=name, type=kind, data=data))
            signatures.append(
                SignInfo(
                    doc_transfer_idnumber=str(n),
                    sign_data=signature,
                    signing_time=now,
                    certificate=self.seal.certificate_der,
                )
            )
        referred = job["referred"]
        header = self._header(
            job["msg_id"],
            MsgType.REPLY if referred else MsgType.DOCUMENT,
            job["to_edrpou"],
            job["to_name"],
            job["to_sys"],
            job["channel"],
        )
        document = letter_document(ident, job["meta"], self.cfg.organization, transfers, referred)
        raw = build_document(header, document, signatures)
        message_sha = self.blobs.put(raw)
        with self.db.session() as s:
            row = self._held(s, Outgoing, ident)
            if row is None or row.status != "queued":
                return None
            for f in row.files:
                f.signature_sha256 = sig_shas[f.n]
            row.message_sha256 = message_sha
            row.meta = {**row.meta, "header": inbox.header_to_dict(header)}
            row.attempts = 0
            set_status(s, row, "signed", f"{len(transfers)} file(s) sealed; message {len(raw)} bytes")
            self._observe("signed")
            return self._start_sending(s, row)

    def _header(
        self, msg_id: str, msg_type: int, to_edrpou: str, to_name: str, to_sys: str, channel: str
    ) -> Header:
        org = self.cfg.organization
        sys_id = (self.cfg.sev.system_id if channel == "sev" else "") or org.system_id
        to_system = ""
        if channel == "sev":  # as the samples: the hub's id when the partner's system is unknown
            to_sys, to_system = to_sys or HUB_SYS_ID, HUB_SYSTEM
        return Header(
            msg_type=msg_type,
            msg_id=msg_id,
            from_org_id=org.edrpou,
            from_organization=org.name,
            from_sys_id=sys_id,
            from_system=org.system_name,
            to_org_id=to_edrpou,
            to_organization=to_name,
            to_sys_id=to_sys,
            to_system=to_system,
            msg_acknow=2,
        )

    def _start_sending(self, s: Any, row: Outgoing) -> _Upload:
        """Record an upload attempt (under a lease long enough for it); what the upload needs."""
        row.attempts += 1
        if row.status == "signed":
            set_status(s, row, "sending", f"to {row.channel}")
            self._observe("sending")
        row.lease_until = self._upload_lease(row.message_sha256)
        return row.channel, row.message_sha256, row.meta.get("header"), row.transport_session

    def _deliver(
        self, model: type, ident: Any, channel_name: str, raw: bytes, header: Header, session: str | None
    ) -> None:
        """Hand one message to its channel; a resumable channel's upload session is recorded
        (under this worker's lease) before the first byte leaves."""
        channel = self.channels.get(channel_name)
        if channel is None:
            raise RuntimeError(f"channel {channel_name!r} is not enabled")
        if not isinstance(channel, ResumableChannel):
            channel.send(raw, header)
            return

        def record(new_session: str) -> None:
            with self.db.session() as s:
                mine = (model.id == ident) & (model.lease_owner == self.owner)
                if not s.execute(update(model).where(mine).values(transport_session=new_session)).rowcount:
                    raise RuntimeError("the lease was lost before the upload started")

        channel.send_resumable(raw, header, session, record)

    def _upload_letter(
        self, ident: str, channel_name: str, message_sha: str, header: dict[str, Any], session: str | None
    ) -> None:
        try:
            self._deliver(
                Outgoing,
                ident,
                channel_name,
                self.blobs.get(message_sha),
                inbox.header_from_dict(header),
                session,
            )
        except Exception as exc:  # noqa: BLE001 - any failure: retry within the budget
            log.warning("sending letter %s failed: %s", ident, exc)
            self._count_error("sender")
            self._retry_later(Outgoing, ident, str(exc), fail=_fail_letter)
            return
        with self.db.session() as s:
            # plain UPDATEs (this runs once per letter; the ORM's load and flush cost more)
            now = utcnow()
            mine = (Outgoing.id == ident) & (Outgoing.lease_owner == self.owner)
            released = s.execute(
                update(Outgoing).where(mine).values(lease_owner=None, lease_until=None, last_error=None)
            ).rowcount
            # an acknowledgement may already have moved the letter further
            moved = (
                released
                and s.execute(
                    update(Outgoing)
                    .where(Outgoing.id == ident, Outgoing.status == "sending")
                    .values(status="sent", updated_at=now)
                ).rowcount
            )
            if moved:
                s.execute(
                    insert(StatusHistory).values(
                        entity="outgoing",
                        entity_id=ident,
                        status="sent",
                        detail=f"handed to {channel_name}",
                        at=now,
                    )
                )
                self._observe("sent")

    def _upload_lease(self, message_sha: str | None) -> Any:
        """A lease long enough for the upload (at a pessimistic 256 KiB/s), so that another
        process does not take over a large message still on its way."""
        size = self.blobs.path(message_sha).stat().st_size if message_sha else 0
        return utcnow() + timedelta(seconds=self.settings.lease_seconds + size / (256 * 1024))

    def _observe(self, status: str) -> None:
        if self.metrics is not None:
            self.metrics.transitions.labels(status).inc()

    # ------------------------------------------------------------------ acknowledgements we send

    def _send_ack(self, ident: int) -> None:
        with self.db.session() as s:
            row = self._held(s, Acknowledgement, ident)
            if row is None or row.status not in ("queued", "sending"):
                return
            incoming = s.get_one(Incoming, row.incoming_id, options=[lazyload(Incoming.files)])
            sys_id = (
                self.cfg.sev.system_id if incoming.channel == "sev" else ""
            ) or self.cfg.organization.system_id
            org = self.cfg.organization
            header = inbox.ack_header(
                row, incoming, sys_id=sys_id, system=org.system_name, org_edrpou=org.edrpou, org_name=org.name
            )
            if row.message_sha256 is None:
                raw = inbox.build_ack_message(row, header)
                row.message_sha256 = self.blobs.put(raw)
            row.status = "sending"
            row.attempts += 1
            channel_name, message_sha, session = incoming.channel, row.message_sha256, row.transport_session
        try:
            self._deliver(Acknowledgement, ident, channel_name, self.blobs.get(message_sha), header, session)
        except Exception as exc:  # noqa: BLE001 - any failure: retry within the budget
            log.warning("sending acknowledgement %s failed: %s", ident, exc)
            self._count_error("acks")
            self._retry_later(Acknowledgement, ident, str(exc), fail=_fail_ack)
            return
        with self.db.session() as s:
            s.execute(
                update(Acknowledgement)
                .where(Acknowledgement.id == ident, Acknowledgement.lease_owner == self.owner)
                .values(status="sent", lease_owner=None, lease_until=None, last_error=None)
            )

    # ------------------------------------------------------------------ receiving

    def handle_incoming(self, raw: bytes, channel: str) -> None:
        """Store (or recognise) one message taken from a channel; malformed ones are dropped."""
        try:
            got = inbox.receive(
                self.db,
                self.blobs,
                raw,
                channel=channel,
                validator=self.validator,
                own_edrpou=self.cfg.organization.edrpou,
            )
        except MessageFormatError as exc:  # not expected: malformed messages are kept
            log.warning("dropped a malformed message from %s: %s", channel, exc.reason)
            if self.metrics is not None:
                self.metrics.incoming.labels("malformed", "dropped").inc()
            return
        if self.metrics is not None:
            self.metrics.incoming.labels(got.kind, "duplicate" if got.duplicate else "stored").inc()
            if got.kind == "acknowledgement" and got.outgoing_id and not got.duplicate:
                self._observe_ack(got)
        if got.kind in ("document", "malformed"):  # acknowledgements were queued to send
            self.wake()

    def _observe_ack(self, got: inbox.Received) -> None:
        before = RANK.get(got.previous_status or "", 0)
        if got.status and got.status != got.previous_status:
            self._observe(got.status)
        if got.submitted_at and got.status in RANK and RANK[got.status] >= RANK["delivered"] > before:
            self.metrics.delivery_seconds.observe((utcnow() - got.submitted_at).total_seconds())


def _fail_letter(s: Any, row: Outgoing, error: str) -> None:
    set_status(s, row, "failed", f"gave up after {row.attempts} attempt(s): {error}"[:2000])


def _fail_ack(_s: Any, row: Acknowledgement, error: str) -> None:
    row.status = "failed"


__all__ = [
    "CHANNELS",
    "Channel",
    "OfferTracking",
    "Workers",
    "WorkerSettings",
    "configured_channels",
    "enabled_channels",
    "register_channel",
    "release_dead_leases",
    "sev_state",
]


def sev_state(cfg: Config, workers: Workers | None) -> str:
    """The SEV channel for /healthz: disabled, not running, starting, ok, or failing: <why>."""
    if not cfg.sev.enabled:
        return "disabled"
    if workers is None or "sev" not in workers.channel_state:
        return "not running"
    return workers.channel_state["sev"]
