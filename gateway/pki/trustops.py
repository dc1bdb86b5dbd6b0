"""Trust-anchor changes with the officer's safeguards (console, /api/v1/admin and the CLI):
a preview before adding, end-entity, expired, revoked or withdrawn certificates refused as anchors
unless forced (revocation from what the gateway holds offline: gateway.pki.anchorrevocation),
and the last anchor never removed (every validation would become INDETERMINATE)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import x509

from gateway.config import Config
from gateway.errors import GatewayError
from gateway.pki.anchorrevocation import embedded_crls, revocation_problems
from gateway.pki.trust import Anchor, add_anchors, bundle_anchors, list_anchors, remove_anchors
from gateway.signing.certificates import fingerprint, name_text, parse_certificates


@dataclass(frozen=True)
class Candidate:
    fingerprint: str
    subject: str
    issuer: str
    not_after: datetime
    is_ca: bool
    self_signed: bool
    known: bool
    problems: tuple[str, ...]


def _is_ca(cert: x509.Certificate) -> bool:
    bc = cert.basic_constraints_value
    return bool(bc and bc["ca"].native)


def preview(cfg: Config, data: bytes, source: str = "upload") -> list[Candidate]:
    """What adding `data` (PEM, DER or PKCS#7) would trust, with the reasons to refuse each."""
    certs = bundle_anchors(parse_certificates(data, source))  # of a bundle, only its CAs
    if not certs:
        raise GatewayError("no certificate found")
    anchors = list_anchors(cfg)
    known = {a.fingerprint for a in anchors}
    revoked = revocation_problems(cfg, certs, [a.certificate for a in anchors], embedded_crls(data))
    now = datetime.now(UTC)
    out = []
    for cert in certs:
        problems = []
        if not _is_ca(cert):
            problems.append("end-entity certificate (not a CA)")
        if cert.not_valid_after < now:
            problems.append("expired")
        fp = fingerprint(cert)
        problems.extend(revoked.get(fp, ()))
        out.append(Candidate(fp, name_text(cert.subject), name_text(cert.issuer), cert.not_valid_after,
                             _is_ca(cert), cert.self_signed != "no", fp in known, tuple(problems)))
    return out


def add(cfg: Config, data: bytes, *, force: bool = False, source: str = "upload") -> list[Anchor]:
    """Trust the certificates of `data`; refuses (whole) when one has a problem and not `force`."""
    refused = [c for c in preview(cfg, data, source) if c.problems and not c.known]
    if refused and not force:
        reasons = "; ".join(f"{c.subject}: {', '.join(c.problems)}" for c in refused)
        raise GatewayError(f"refused as a trust anchor ({reasons}); confirm with force to add anyway")
    with tempfile.TemporaryDirectory(prefix="gateway-trust-") as tmp:
        path = Path(tmp) / "upload.crt"
        path.write_bytes(data)
        return add_anchors(cfg, path)


def remove(cfg: Config, selector: str) -> list[Anchor]:
    """Remove the one anchor whose fingerprint starts with `selector`, unless it is the last one."""
    wanted = selector.replace(":", "").upper()
    if len(wanted) < 8 or not any(a.fingerprint.startswith(wanted) for a in list_anchors(cfg)):
        raise GatewayError(f"no trust anchor with fingerprint {selector!r}")
    return remove_anchors(cfg, wanted)
