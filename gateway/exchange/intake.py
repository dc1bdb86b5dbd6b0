"""Intake: what a channel hands over is stored (or recognised) by the inbox, counted in the
metrics, and the senders are woken when acknowledgements were queued."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gateway.config import Config
from gateway.exchange import inbox
from gateway.exchange.message import MessageFormatError
from gateway.exchange.outbox import RANK
from gateway.store.blobs import BlobStore
from gateway.store.db import Database
from gateway.store.models import utcnow

log = logging.getLogger(__name__)


class Intake:
    def __init__(
        self,
        *,
        cfg: Config,
        db: Database,
        blobs: BlobStore,
        validator: inbox.Validator,
        metrics: Any,
        wake: Callable[[], None],
        observe: Callable[[str], None],
    ) -> None:
        self.cfg, self.db, self.blobs, self.validator, self.metrics = cfg, db, blobs, validator, metrics
        self._wake, self._observe = wake, observe

    def handle(self, raw: bytes, channel: str) -> None:
        """Store (or recognise) one message taken from a channel."""
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
            self._wake()

    def _observe_ack(self, got: inbox.Received) -> None:
        before = RANK.get(got.previous_status or "", 0)
        if got.status and got.status != got.previous_status:
            self._observe(got.status)
        if got.submitted_at and got.status in RANK and RANK[got.status] >= RANK["delivered"] > before:
            self.metrics.delivery_seconds.observe((utcnow() - got.submitted_at).total_seconds())
