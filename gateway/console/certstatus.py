"""Certificate status for the officer: a registry key's path to the trust anchors with each
certificate's revocation status (the validation engine's chain check, online or offline as
[trust] revocation says), and for each trust anchor the newest CRL it signed in the revocation
cache (only CRLs whose signature verifies with the anchor's key count)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509 as crypto_x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from gateway.config import Config
from gateway.console.alerts import certificates_from_pem
from gateway.pki.trust import Anchor
from gateway.signing.validation.chain import ChainAssessment, assess_signer
from gateway.signing.validation.revocation import load_cache


def key_status(policy: Any, cert_pem: str) -> ChainAssessment:
    """The chain of a key's certificate (with the chain stored next to it) at the current time."""
    certs = certificates_from_pem(cert_pem)
    return assess_signer(certs[0], certs[1:], policy)


@dataclass(frozen=True)
class CrlInfo:
    this_update: datetime
    next_update: datetime | None
    revoked: int


def anchor_crls(cfg: Config, anchors: list[Anchor]) -> dict[str, CrlInfo]:
    """Fingerprint of an anchor -> the newest verified CRL it issued that the cache holds."""
    if not cfg.trust.cache_dir:
        return {}
    crls = []
    for der in load_cache(cfg.resolve(cfg.trust.cache_dir)).crls:
        try:
            crls.append(crypto_x509.load_der_x509_crl(der))
        except ValueError:
            continue
    out: dict[str, CrlInfo] = {}
    for anchor in anchors:
        issuer = crypto_x509.load_der_x509_certificate(anchor.certificate.dump())
        for crl in crls:
            if crl.issuer != issuer.subject:
                continue
            try:
                if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                    continue
            except (InvalidSignature, UnsupportedAlgorithm, TypeError):
                continue
            info = CrlInfo(crl.last_update_utc, crl.next_update_utc, len(crl))
            known = out.get(anchor.fingerprint)
            if known is None or info.this_update > known.this_update:
                out[anchor.fingerprint] = info
    return out
