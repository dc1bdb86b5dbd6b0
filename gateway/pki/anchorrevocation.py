"""Whether a would-be trust anchor is known to be revoked or withdrawn, from what the gateway
already holds (offline, no fetch): CRLs in the revocation cache or carried by the uploaded PKCS#7
bundle, issued by an anchor that is trusted now (the CRL's signature must verify with its key), and
the imported trusted lists (a CA service whose current status is not granted, e.g. withdrawn)."""

from __future__ import annotations

from collections.abc import Iterable

from asn1crypto import cms, pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from gateway.config import Config
from gateway.pki.tl.loaded import anchor_certificates, read_lists
from gateway.signing.certificates import fingerprint
from gateway.signing.validation.revocation import from_signed_data, load_cache

#: at most this many CRLs are looked at for one preview (the cache and the upload together)
MAX_CRLS = 200


def embedded_crls(data: bytes) -> list[bytes]:
    """CRLs carried in a PKCS#7 bundle (DER or PEM); none for anything else."""
    blobs = [der for _, _, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]
    out: list[bytes] = []
    for der in blobs:
        try:
            info = cms.ContentInfo.load(der, strict=True)
            if info["content_type"].native == "signed_data":
                out.extend(from_signed_data(info["content"]).crls)
        except (ValueError, TypeError, KeyError):
            continue
    return out


def _crls(cfg: Config, extra: Iterable[bytes]) -> list[x509.CertificateRevocationList]:
    cached = load_cache(cfg.resolve(cfg.trust.cache_dir)).crls if cfg.trust.cache_dir else []
    out = []
    for der in [*extra, *cached][:MAX_CRLS]:
        try:
            out.append(x509.load_der_x509_crl(der))
        except ValueError:
            continue
    return out


def _signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    try:
        return crl.issuer == issuer.subject and crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (InvalidSignature, UnsupportedAlgorithm, TypeError):
        return False


def revocation_problems(cfg: Config, candidates: list[asn1_x509.Certificate],
                        trusted: list[asn1_x509.Certificate], extra_crls: Iterable[bytes] = ()
                        ) -> dict[str, list[str]]:
    """Fingerprint of a candidate -> why it must not become an anchor (revoked, withdrawn). The
    issuers looked for are `trusted` and the CA services of the imported trusted lists."""
    out: dict[str, list[str]] = {}
    crls = _crls(cfg, extra_crls)
    lists = read_lists(cfg)
    issuers = [x509.load_der_x509_certificate(c.dump()) for c in [*trusted, *anchor_certificates(lists)]]
    for cand in candidates:
        cert = x509.load_der_x509_certificate(cand.dump())
        for issuer in issuers:
            if issuer.subject != cert.issuer or issuer.fingerprint == cert.fingerprint:
                continue
            for crl in crls:
                if not _signed_by(crl, issuer):
                    continue
                entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                if entry is not None:
                    by = issuer.subject.rfc4514_string()
                    out.setdefault(fingerprint(cand), []).append(
                        f"revoked on {entry.revocation_date_utc:%Y-%m-%d} (CRL of {by})")
                    break
    wanted = {fingerprint(c) for c in candidates}
    for tl in lists:
        for _provider, service in tl.services():
            state = service.current
            if state.granted:
                continue
            for cert in service.certificates:
                fp = fingerprint(cert)
                if fp in wanted:
                    out.setdefault(fp, []).append(
                        f"{state.status} since {state.since:%Y-%m-%d} in the trusted list of {tl.territory}")
    return {fp: sorted(set(reasons)) for fp, reasons in out.items()}
