"""The common end of every signature's validation: from the cryptographic check, its timestamps and
its certificates to the filled SignatureReport (ETSI EN 319 102-1 basic validation with time
stamps). CAdES, PAdES and XAdES validators all finish here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import x509

from gateway.signing.algorithms import UnsupportedAlgorithm, assess_algorithms, digest_by_name
from gateway.signing.certificates import name_text, registry_codes
from gateway.signing.qualification import Qualifier
from gateway.signing.report import Indication, SignatureReport, SubIndication
from gateway.signing.validation.chain import assess_signer, simple_chain, validation_time
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.revocation import RevocationData
from gateway.signing.validation.signerinfo import PARSE_ERRORS, SignerCheck
from gateway.signing.validation.timestamps import TimestampCheck


@dataclass
class Evidence:
    """What a validator collected about one signature besides the SignerCheck."""

    certificates: Sequence[x509.Certificate] = ()
    signature_timestamps: list[TimestampCheck] = field(default_factory=list)
    content_timestamps: list[TimestampCheck] = field(default_factory=list)
    archive_timestamps: list[TimestampCheck] = field(default_factory=list)
    revocation: RevocationData = field(default_factory=RevocationData)
    #: hash algorithms besides the signer's digest that the signature relies on (e.g. XML references)
    extra_digests: list[str] = field(default_factory=list)


def fill_signer(report: SignatureReport, cert: x509.Certificate) -> None:
    try:
        report.signer.subject = name_text(cert.subject)
        report.signer.issuer = name_text(cert.issuer)
        report.signer.serial = format(cert.serial_number, "X")
        report.signer.edrpou, report.signer.drfo = registry_codes(cert)
    except PARSE_ERRORS:
        report.warnings.append("the signer's certificate could not be fully read")


def conclude(
    report: SignatureReport, check: SignerCheck, evidence: Evidence, policy: ValidationPolicy
) -> None:
    """Fill `report` and set its verdict; the report's indication must start as TOTAL_PASSED."""
    report.intact = check.intact
    report.algorithm.digest = check.digest_name
    report.algorithm.signature = check.signature_name
    report.claimed_signing_time = check.claimed_signing_time
    report.warnings.extend(check.warnings)
    for problem in check.problems:
        report.fail(problem.indication, problem.subindication, problem.reason)

    timestamps = [*evidence.content_timestamps, *evidence.signature_timestamps, *evidence.archive_timestamps]
    for ts in timestamps:
        report.timestamps.append(ts.info)
        report.warnings.extend(ts.errors)
    poe_times = [t.time for t in (*evidence.signature_timestamps, *evidence.archive_timestamps)
                 if t.valid and t.time is not None]
    best_time: datetime | None = min(poe_times) if poe_times else None
    content_times = [t.time for t in evidence.content_timestamps if t.valid and t.time is not None]
    content_time = max(content_times) if content_times else None
    report.best_signature_time = best_time or validation_time(policy)
    if content_time is not None and best_time is not None and content_time > best_time:
        report.fail(Indication.INDETERMINATE, SubIndication.TIMESTAMP_ORDER_FAILURE,
                    "the content timestamp is later than the signature timestamp")

    cert = check.signer_cert
    if cert is None:
        return
    fill_signer(report, cert)

    digests = [d for d in (check.digest_name, check.signature_hash, *evidence.extra_digests) if d]
    verdict = assess_algorithms([d for d in digests if _known_digest(d)], cert.public_key, best_time)
    report.warnings.extend(verdict.warnings or [])
    if verdict.status == "forbidden":
        report.fail(Indication.TOTAL_FAILED, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, verdict.reason)
    elif verdict.status == "weak-after-sunset":
        report.fail(Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, verdict.reason)

    others = [c for c in (*evidence.certificates, *policy.extra_certificates) if c != cert]
    chain = assess_signer(cert, others, policy, best_time=best_time,
                          embedded_crls=evidence.revocation.crls, embedded_ocsps=evidence.revocation.ocsps,
                          content_time=content_time)
    report.chain = chain.chain
    report.revocation_sources = chain.revocation_sources
    report.warnings.extend(chain.warnings)
    if not chain.passed:
        report.fail(chain.indication, chain.subindication, chain.errors[0] if chain.errors else "")
        report.errors.extend(e for e in chain.errors[1:] if e not in report.errors)
    if policy.qualifier is not None:
        _qualify(report, cert, [*others, *policy.trust_roots], policy.qualifier,
                 report.best_signature_time or validation_time(policy))


def _qualify(report: SignatureReport, cert: x509.Certificate, pool: list[x509.Certificate],
             qualifier: Qualifier, moment: datetime) -> None:
    """The signature's qualification at its best signature time (trusted lists)."""
    result = qualifier(cert, simple_chain(cert, pool), moment)
    report.qualification = result.value
    report.qualification_provider = result.provider
    report.warnings.extend(w for w in result.warnings if w not in report.warnings)


def _known_digest(name: str) -> bool:
    try:
        digest_by_name(name)
        return True
    except UnsupportedAlgorithm:
        return False
