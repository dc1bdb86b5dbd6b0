"""The letter pipeline: seal every file, build the 1207 message, store it, upload it.

Three transactions per letter on the way: read what the step needs, record signed + sending,
record sent. Signing is redone from the stored files after a crash (nothing left the gateway yet);
sending re-uploads the exact bytes stored before the first attempt, under the msg_id fixed at
queueing time, through `delivery.deliver` (which never makes a second copy).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from typing import Any, Protocol

from sqlalchemy import insert, select, update

from gateway.config import Config
from gateway.exchange import inbox
from gateway.exchange.channels import Channel
from gateway.exchange.delivery import deliver
from gateway.exchange.leases import Leases
from gateway.exchange.message import (
    HUB_SYS_ID,
    HUB_SYSTEM,
    DocTransfer,
    Header,
    MsgType,
    SignInfo,
    build_document,
)
from gateway.exchange.outbox import letter_document, referred_documents, set_status
from gateway.store.audit import append as audit
from gateway.store.blobs import BlobStore
from gateway.store.models import Outgoing, Partner, StatusHistory, utcnow

log = logging.getLogger(__name__)

#: the statuses in which letters are worked on
LETTER_WORK = ("queued", "signed", "sending")

#: what an upload needs: channel name, message blob, header (as stored), recorded upload session
_Upload = tuple[str, str, dict[str, Any], str | None]


class Seal(Protocol):
    """The organization's seal, loaded once at start-up."""

    certificate_der: bytes

    def sign_detached(self, data: bytes) -> bytes:
        """A detached CAdES signature (DER) of `data`, at the configured level."""


class LetterPipeline:
    def __init__(
        self,
        *,
        cfg: Config,
        blobs: BlobStore,
        channels: dict[str, Channel],
        seal: Seal | None,
        leases: Leases,
        observe: Callable[[str], None],
        count_error: Callable[[str], None],
    ) -> None:
        self.cfg, self.blobs, self.channels, self.seal, self.leases = cfg, blobs, channels, seal, leases
        self.db = leases.db
        self._observe, self._count_error = observe, count_error

    def process(self, ident: str) -> None:
        """One letter as far as it goes now: sign (if queued), then upload."""
        with self.db.session() as s:
            row = self.leases.held(s, Outgoing, ident)
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
                upload = self._sign(ident, job)
            except Exception as exc:  # noqa: BLE001 - e.g. the TSA is down: retry later
                log.warning("signing letter %s failed: %s", ident, exc)
                self._count_error("signer")
                self.leases.retry_later(Outgoing, ident, f"signing failed: {exc}", fail=_fail_letter)
                return
        if upload is not None:
            self._upload(ident, *upload)

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

    def _sign(self, ident: str, job: dict[str, Any]) -> _Upload | None:
        """Seal every file, build the 1207 message, store it; then record signed and sending."""
        if self.seal is None:
            raise RuntimeError("no seal key configured ([signing] key)")
        transfers, signatures, sig_shas, documents = [], [], {}, []
        now = datetime.now(UTC)
        certificate = hashlib.sha256(self.seal.certificate_der).hexdigest()  # not inside a transaction
        for n, name, sha in job["files"]:
            data = self.blobs.get(sha)
            signature = self.seal.sign_detached(data)
            sig_shas[n] = self.blobs.put(signature)
            documents.append({"name": name, "sha256": sha})
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
        header = self.header(
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
            row = self.leases.held(s, Outgoing, ident)
            if row is None or row.status != "queued":
                return None
            for f in row.files:
                f.signature_sha256 = sig_shas[f.n]
            row.message_sha256 = message_sha
            row.meta = {**row.meta, "header": inbox.header_to_dict(header)}
            row.attempts = 0
            set_status(s, row, "signed", f"{len(transfers)} file(s) sealed; message {len(raw)} bytes")
            actor = f"apikey:{row.api_key_id}" if row.api_key_id else "worker"
            audit(s, actor, "seal.use", f"outgoing:{ident}",
                  {"format": "cades-detached", "documents": documents, "certificate_sha256": certificate})
            self._observe("signed")
            return self._start_sending(s, row)

    def header(
        self, msg_id: str, msg_type: int, to_edrpou: str, to_name: str, to_sys: str, channel: str
    ) -> Header:
        """The 1207 header of a letter from this body."""
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

    def _upload(
        self, ident: str, channel_name: str, message_sha: str, header: dict[str, Any], session: str | None
    ) -> None:
        try:
            deliver(
                self.channels,
                self.leases,
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
            self.leases.retry_later(Outgoing, ident, str(exc), fail=_fail_letter)
            return
        with self.db.session() as s:
            # plain UPDATEs (this runs once per letter; the ORM's load and flush cost more)
            now = utcnow()
            released = s.execute(
                update(Outgoing)
                .where(self.leases.mine(Outgoing, ident))
                .values(lease_owner=None, lease_until=None, last_error=None)
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
        size = self.blobs.size(message_sha) if message_sha else 0
        return utcnow() + timedelta(seconds=self.leases.settings.lease_seconds + size / (256 * 1024))


def _fail_letter(s: Any, row: Outgoing, error: str) -> None:
    set_status(s, row, "failed", f"gave up after {row.attempts} attempt(s): {error}"[:2000])
