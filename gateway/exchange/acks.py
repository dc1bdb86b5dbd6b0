"""Acknowledgements this body sends (delivered, accepted, registered, rejected): built once from
the received document's header, named as coming from this body, stored, then delivered like a
letter (`delivery.deliver`), within the retry budget."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import lazyload

from gateway.config import Config
from gateway.exchange import inbox
from gateway.exchange.channels import Channel
from gateway.exchange.delivery import deliver
from gateway.exchange.leases import Leases
from gateway.store.blobs import BlobStore
from gateway.store.models import Acknowledgement, Incoming

log = logging.getLogger(__name__)

#: the statuses in which acknowledgements (to send) are worked on
ACK_WORK = ("queued", "sending")


class AckSender:
    def __init__(
        self,
        *,
        cfg: Config,
        blobs: BlobStore,
        channels: dict[str, Channel],
        leases: Leases,
        count_error: Callable[[str], None],
    ) -> None:
        self.cfg, self.blobs, self.channels, self.leases = cfg, blobs, channels, leases
        self.db = leases.db
        self._count_error = count_error

    def send(self, ident: int) -> None:
        """Send one acknowledgement. Its message is built once and stored before the first upload
        (a retry re-sends the same bytes); the store's fsync happens between two transactions, not
        while holding the database (on SQLite every other worker of the process would wait)."""
        with self.db.session() as s:
            row = self.leases.held(s, Acknowledgement, ident)
            if row is None or row.status not in ACK_WORK:
                return
            incoming = s.get_one(Incoming, row.incoming_id, options=[lazyload(Incoming.files)])
            org = self.cfg.organization
            sys_id = (self.cfg.sev.system_id if incoming.channel == "sev" else "") or org.system_id
            header = inbox.ack_header(
                row, incoming, sys_id=sys_id, system=org.system_name, org_edrpou=org.edrpou, org_name=org.name
            )
            channel_name, stored = incoming.channel, row.message_sha256
            if stored:
                session = _start(row)
            else:
                raw = inbox.build_ack_message(row, header)
        if stored:
            raw = self.blobs.get(stored)
        else:
            stored = self.blobs.put(raw)
            with self.db.session() as s:
                row = self.leases.held(s, Acknowledgement, ident)
                if row is None or row.status not in ACK_WORK:
                    return
                row.message_sha256 = stored
                session = _start(row)
        try:
            deliver(
                self.channels,
                self.leases,
                Acknowledgement,
                ident,
                channel_name,
                raw,
                header,
                session,
            )
        except Exception as exc:  # noqa: BLE001 - any failure: retry within the budget
            log.warning("sending acknowledgement %s failed: %s", ident, exc)
            self._count_error("acks")
            self.leases.retry_later(Acknowledgement, ident, str(exc), fail=_fail_ack)
            return
        with self.db.session() as s:
            s.execute(
                update(Acknowledgement)
                .where(self.leases.mine(Acknowledgement, ident))
                .values(status="sent", lease_owner=None, lease_until=None, last_error=None)
            )


def _start(row: Acknowledgement) -> str | None:
    """Record an upload attempt; the upload session recorded by an earlier one."""
    row.status = "sending"
    row.attempts += 1
    return row.transport_session


def _fail_ack(_s: Any, row: Acknowledgement, error: str) -> None:
    row.status = "failed"
