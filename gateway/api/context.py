"""Everything a running gateway holds once: configuration, database, blob store, metrics, the
seal (loaded once at start-up), trust anchors and the background workers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.api.metrics import Metrics
from gateway.config import Config
from gateway.console import alerts
from gateway.pki.trust import TrustAnchors
from gateway.store.blobs import BlobStore
from gateway.store.bodies import open_blob_store
from gateway.store.db import Database, open_database
from gateway.store.models import Incoming, Outgoing

log = logging.getLogger(__name__)


@dataclass
class GatewayContext:
    cfg: Config
    db: Database
    blobs: BlobStore
    metrics: Metrics
    anchors: TrustAnchors
    seal: Any = None
    workers: Any = None

    @classmethod
    def open(cls, cfg: Config) -> GatewayContext:
        anchors = TrustAnchors(cfg)
        anchors.roots()  # a broken anchor file stops the start-up, not the first validation
        db = open_database(cfg)
        ctx = cls(cfg=cfg, db=db, blobs=open_blob_store(cfg, db), metrics=Metrics(),
                  anchors=anchors)
        ctx.metrics.add_status_gauge(ctx.status_counts)
        ctx.metrics.add_alert_gauge(
            lambda: alerts.counts(alerts.collect(cfg, db, ctx.seal, workers=ctx.workers)))
        return ctx

    def close(self) -> None:
        if self.workers is not None:
            self.workers.stop()
            self.workers = None
        self.db.dispose()

    def policy(self, detached: dict[str, Path] | None = None) -> Any:
        from gateway.signing.validation.fetchpolicy import from_settings
        from gateway.signing.validation.policy import ValidationPolicy

        cfg = self.cfg
        return ValidationPolicy(
            trust_roots=self.anchors.roots(), offline=cfg.trust.revocation == "offline",
            cache_dir=cfg.resolve(cfg.trust.cache_dir) if cfg.trust.cache_dir else None,
            fetch=from_settings(cfg.trust), ocsp_fresh_seconds=cfg.trust.ocsp_fresh_seconds,
            fetch_backoff_seconds=cfg.trust.fetch_backoff_seconds,
            detached=dict(detached or {}), max_input_bytes=cfg.server.max_request_bytes,
            qualifier=self.anchors.qualifier(),
            signature_policy_dir=(cfg.resolve(cfg.trust.signature_policies)
                                  if cfg.trust.signature_policies else None))

    def validate_signature(self, signature: bytes, detached: dict[str, Path]) -> dict[str, Any]:
        """The INTERFACE.md report of a detached signature over the given files."""
        from gateway.signing.validation.engine import validate

        return validate(signature, self.policy(detached)).to_dict()

    def status_counts(self) -> list[tuple[str, str, int]]:
        out: list[tuple[str, str, int]] = []
        try:
            with self.db.session() as s:
                for model, direction in ((Outgoing, "outgoing"), (Incoming, "incoming")):
                    rows = s.execute(select(model.status, func.count()).group_by(model.status))
                    out.extend((direction, status, n) for status, n in rows)
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail because the DB is busy
            log.warning("metrics: cannot count documents: %s", exc)
        return out

    def wake_workers(self) -> None:
        if self.workers is not None:
            self.workers.wake()
