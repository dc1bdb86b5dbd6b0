"""What needs a security officer's or operator's attention: certificates and CRLs nearing expiry
([console] alert_days, 60 by default), the seal's own expiry, no trust anchor, failed deliveries,
refused documents, a channel that is down (the SEV poller failing, or the latest delivery attempt
of a channel's letters failing). Shown on the console's front page, exported in /metrics, and
reported by /healthz (status "degraded")."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.config import Config
from gateway.exchange.workers import Workers
from gateway.pki.trust import list_anchors
from gateway.signing.certificates import name_text
from gateway.signing.validation.revocation import load_cache
from gateway.store.db import Database
from gateway.store.models import Incoming, Outgoing, Partner, SealKey

log = logging.getLogger(__name__)

#: a letter still queued/signed/sending after this long is stuck (a "zombie")
STUCK_AFTER = timedelta(hours=1)
#: a channel whose letters were last tried this long ago is not judged by them any more
CHANNEL_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Alert:
    #: seal_expiry | key_expiry | anchor_expiry | partner_cert_expiry | crl_expiry | no_anchor |
    #: failed_deliveries | refused_documents | stuck_letters | channel_down
    kind: str
    #: critical (expired, nothing trusted) | warning
    severity: str
    subject: str
    due: datetime | None = None
    count: int = 0
    #: why (a channel's last error); not part of the alert's identity for the mailer
    detail: str = ""


def _expiry(kind: str, subject: str, not_after: datetime, now: datetime, horizon: timedelta) -> Alert | None:
    if not_after - now > horizon:
        return None
    return Alert(kind, "critical" if not_after <= now else "warning", subject, not_after)


def certificates_from_pem(pem_text: str) -> list[asn1_x509.Certificate]:
    """Every certificate of a PEM bundle, in order."""
    blocks = pem.unarmor(pem_text.encode("ascii"), multiple=True)
    return [asn1_x509.Certificate.load(der) for _, _, der in blocks]


def certificate_from_pem(pem_text: str) -> asn1_x509.Certificate:
    """The first certificate of a PEM bundle."""
    return certificates_from_pem(pem_text)[0]


def _polling_down(workers: Workers | None) -> list[Alert]:
    """A channel whose poller's last round failed (its state reads "failing: <why>")."""
    if workers is None:
        return []
    return [Alert("channel_down", "critical", name, detail=state.removeprefix("failing: ")[:300])
            for name, state in sorted(workers.channel_state.items()) if state.startswith("failing")]


def _sending_down(s: Session, now: datetime, polled_down: set[str]) -> list[Alert]:
    """A channel whose most recently tried letter (within CHANNEL_WINDOW) failed its last attempt:
    a delivery clears `last_error`, a failed attempt sets it. `count` is how many letters of the
    channel are failing now."""
    recent = (Outgoing.attempts > 0) & (Outgoing.updated_at >= now - CHANNEL_WINDOW)
    out = []
    for channel in s.scalars(select(Outgoing.channel).where(recent).distinct()):
        if channel in polled_down:
            continue
        latest = s.scalars(select(Outgoing).where(recent, Outgoing.channel == channel)
                           .order_by(Outgoing.updated_at.desc()).limit(1)).first()
        if latest is None or latest.last_error is None:
            continue
        failing = s.scalar(select(func.count()).select_from(Outgoing).where(
            recent, Outgoing.channel == channel, Outgoing.last_error.is_not(None)))
        out.append(Alert("channel_down", "critical", channel, count=int(failing or 0),
                         detail=latest.last_error[:300]))
    return out


def collect(cfg: Config, db: Database, seal: Any, *, now: datetime | None = None,
            workers: Workers | None = None) -> list[Alert]:
    """Every current alert, most urgent first. Never raises: a part that cannot be read is logged.
    `workers` (when they run in this process) tell whether a channel's polling is failing."""
    now = now or datetime.now(UTC)
    horizon = timedelta(days=cfg.console.alert_days)
    out: list[Alert | None] = []
    polling = _polling_down(workers)
    out.extend(polling)
    try:
        anchors = list_anchors(cfg)
        if not anchors:
            out.append(Alert("no_anchor", "critical", "trust"))
        for a in anchors:
            cert = a.certificate
            out.append(_expiry("anchor_expiry", name_text(cert.subject), cert.not_valid_after, now, horizon))
    except Exception as exc:  # noqa: BLE001 - alerts must not break the page or the probe
        log.warning("alerts: cannot read trust anchors: %s", exc)
    if seal is not None:
        try:
            cert = asn1_x509.Certificate.load(seal.certificate_der)
            out.append(_expiry("seal_expiry", name_text(cert.subject), cert.not_valid_after, now, horizon))
        except Exception as exc:  # noqa: BLE001
            log.warning("alerts: cannot read the seal: %s", exc)
    if cfg.trust.cache_dir:
        try:
            for der in load_cache(cfg.resolve(cfg.trust.cache_dir)).crls:
                tbs = asn1_crl.CertificateList.load(der)["tbs_cert_list"]
                nxt = tbs["next_update"].native
                if nxt is not None and nxt <= now:
                    out.append(Alert("crl_expiry", "warning", name_text(tbs["issuer"]), nxt))
        except Exception as exc:  # noqa: BLE001
            log.warning("alerts: cannot read the revocation cache: %s", exc)
    try:
        with db.session() as s:
            for row in s.scalars(select(SealKey).where(SealKey.not_after.is_not(None))):
                out.append(_expiry("key_expiry", row.label, row.not_after, now, horizon))
            for p in s.scalars(select(Partner).where(Partner.cert_pem.is_not(None))):
                cert = certificate_from_pem(p.cert_pem)
                out.append(_expiry("partner_cert_expiry", f"{p.edrpou} {p.name}", cert.not_valid_after, now,
                                   horizon))
            working = Outgoing.status.in_(("queued", "signed", "sending"))
            stuck = s.scalar(select(func.count()).select_from(Outgoing).where(
                working, Outgoing.updated_at < now - STUCK_AFTER))
            if stuck:
                out.append(Alert("stuck_letters", "warning", "outgoing", count=int(stuck)))
            failed = s.scalar(select(func.count()).select_from(Outgoing).where(Outgoing.status == "failed"))
            if failed:
                out.append(Alert("failed_deliveries", "warning", "outgoing", count=int(failed)))
            refused = s.scalar(select(func.count()).select_from(Incoming).where(
                Incoming.indication == "TOTAL_FAILED", Incoming.status != "rejected"))
            if refused:
                out.append(Alert("refused_documents", "warning", "incoming", count=int(refused)))
            out.extend(_sending_down(s, now, {a.subject for a in polling}))
    except Exception as exc:  # noqa: BLE001
        log.warning("alerts: cannot read the database: %s", exc)
    alerts = [a for a in out if a is not None]
    far = datetime.max.replace(tzinfo=UTC)
    alerts.sort(key=lambda a: (a.severity != "critical", a.due or far))
    return alerts


def counts(alerts: list[Alert]) -> dict[tuple[str, str], int]:
    """Alerts by (kind, severity), for /metrics."""
    return dict(Counter((a.kind, a.severity) for a in alerts))
