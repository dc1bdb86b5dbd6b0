"""X.509 validation of a signer's certificate (ETSI EN 319 102-1 5.2.6) with pyhanko-certvalidator.

The path is validated at the best signature time (a proof of existence from a valid signature
timestamp, else the validation time). Revocation data: what the signature embeds, the cache, and —
unless offline — what the certificates point to (OCSP, CRL distribution points, AIA).

Mapping to ETSI indications (documented choices):
- no trust anchor configured or no path to one: INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND;
- revoked before the best signature time: INDETERMINATE / REVOKED_NO_POE (REVOKED_CA_NO_POE for a
  CA), or TOTAL_FAILED / REVOKED when a content timestamp proves the signature was made after the
  revocation;
- expired at the best signature time: INDETERMINATE / OUT_OF_BOUNDS_NO_POE, or TOTAL_FAILED / EXPIRED
  when a content timestamp proves the signature was made after expiry;
- not yet valid: TOTAL_FAILED / NOT_YET_VALID;
- revocation status unobtainable: INDETERMINATE / TRY_LATER;
- weak algorithm in the chain: INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE;
- any other path failure: INDETERMINATE / CERTIFICATE_CHAIN_GENERAL_FAILURE.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from asn1crypto import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors
from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy

from gateway.asyncutil import run_sync
from gateway.signing import algorithms
from gateway.signing.certificates import name_text
from gateway.signing.report import ChainEntry, Indication, RevocationSource, SubIndication
from gateway.signing.validation import fetchers, revcache, revocation
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.signerinfo import PARSE_ERRORS

log = logging.getLogger(__name__)

MAX_CHAIN = 10


@dataclass
class ChainAssessment:
    #: TOTAL_PASSED when a valid path to a trust anchor exists at the time asked
    indication: Indication
    subindication: SubIndication | None
    chain: list[ChainEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    revocation_sources: list[RevocationSource] = field(default_factory=list)
    #: the validated path, root first (also when a certificate on it was revoked); empty otherwise
    path: list[x509.Certificate] = field(default_factory=list, repr=False)

    @property
    def passed(self) -> bool:
        return self.indication == Indication.TOTAL_PASSED


def validation_time(policy: ValidationPolicy) -> datetime:
    at = policy.at or datetime.now(UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _entry(cert: x509.Certificate, status: str = "not-checked") -> ChainEntry:
    try:
        not_after = cert.not_valid_after
    except PARSE_ERRORS:
        not_after = None
    return ChainEntry(subject=name_text(cert.subject), issuer=name_text(cert.issuer),
                      not_after=not_after, revocation=status)


def simple_chain(cert: x509.Certificate, pool: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """Leaf-to-root chain by issuer names only, for display when no validated path exists."""
    by_subject: dict[bytes, x509.Certificate] = {}
    for c in pool:
        try:
            by_subject.setdefault(c.subject.dump(), c)
        except PARSE_ERRORS:
            continue
    chain = [cert]
    while len(chain) < MAX_CHAIN:
        current = chain[-1]
        try:
            if current.self_signed != "no":
                break
            issuer = by_subject.get(current.issuer.dump())
        except PARSE_ERRORS:
            break
        if issuer is None or issuer in chain:
            break
        chain.append(issuer)
    return chain


def key_usage_problem(cert: x509.Certificate, purpose: str) -> str:
    """Why the certificate may not be used for `purpose`, or "" (RFC 5280 4.2.1.3, RFC 3161 2.3)."""
    try:
        usage = cert.key_usage_value
        extended = cert.extended_key_usage_value
    except PARSE_ERRORS:
        return "the certificate's key usage extensions cannot be read"
    if purpose == "timestamp":
        if extended is None or "time_stamping" not in extended.native:
            return "the timestamp's certificate is not a time-stamping certificate (extended key usage)"
        return ""
    if usage is not None and not ({"digital_signature", "non_repudiation"} & set(usage.native)):
        return "the signer's certificate key usage does not allow signatures"
    return ""


def _has_revinfo(cert: x509.Certificate, crls: Sequence, ocsps: Sequence) -> bool:
    issuer = cert.issuer
    issuer_der = issuer.dump()
    for c in crls:
        try:
            if c.issuer.dump() == issuer_der or c.issuer == issuer:
                return True
        except PARSE_ERRORS:
            continue
    for o in ocsps:
        try:
            for single in o.basic_ocsp_response["tbs_response_data"]["responses"]:
                if single["cert_id"]["serial_number"].native == cert.serial_number:
                    return True
        except PARSE_ERRORS:
            continue
    return False


def assess_signer(
    cert: x509.Certificate,
    other_certs: Sequence[x509.Certificate],
    policy: ValidationPolicy,
    *,
    best_time: datetime | None = None,
    embedded_crls: Sequence[bytes] = (),
    embedded_ocsps: Sequence[bytes] = (),
    content_time: datetime | None = None,
    purpose: str = "signature",
) -> ChainAssessment:
    """Validate `cert`'s path to the policy's trust anchors at `best_time` (a proof of existence)
    or, without one, at the validation time. `content_time` is a content timestamp's time, the
    proof that the signature was made after it. `purpose` ("signature" or "timestamp") is what
    the certificate's key usage must allow."""
    pool = list(other_certs) + list(policy.trust_roots)
    usage_problem = key_usage_problem(cert, purpose)
    if usage_problem:
        return ChainAssessment(Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                               [_entry(c) for c in simple_chain(cert, pool)], [usage_problem])
    if not policy.trust_roots:
        return ChainAssessment(
            Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
            [_entry(c) for c in simple_chain(cert, pool)],
            ["no trust anchor is configured: the signer's certificate chain cannot be validated"],
        )
    moment = best_time or validation_time(policy)
    cached = revocation.load_cache(policy.cache_dir)
    crls = revocation.parse_crls([*embedded_crls, *cached.crls])
    ocsps = revocation.parse_ocsps([*embedded_ocsps, *cached.ocsps])
    session = None
    if not policy.offline:
        session = fetchers.FetchSession(
            cache=revcache.cache_for(policy.cache_dir, policy.ocsp_fresh_seconds), policy=policy.fetch,
            backoff=fetchers.backoff_for(policy.fetch_backoff_seconds))
    context = ValidationContext(
        trust_roots=list(policy.trust_roots),
        other_certs=list(other_certs),
        crls=crls,
        ocsps=ocsps,
        allow_fetching=session is not None,
        # every fetch goes through the fetch policy (fetchpolicy.py) and the shared cache
        fetcher_backend=session.backend() if session is not None else None,
        moment=moment,
        revocation_mode="hard-fail",
        retroactive_revinfo=True,
        algorithm_usage_policy=DisallowWeakAlgorithmsPolicy(rsa_key_size_threshold=1024),
        signature_validator=algorithms.chain_signature_validator(),
    )
    validator = CertificateValidator(cert, intermediate_certs=list(other_certs), validation_context=context)
    result = _validate(validator, context, cert, pool, content_time)
    if session is not None:
        result.warnings.extend(w for w in session.warnings if w not in result.warnings)
    if result.path:
        inside = {*embedded_crls, *embedded_ocsps}
        local = [revcache.Candidate(kind, der, "embedded" if der in inside else "cached")
                 for kind, items in (("crl", [*embedded_crls, *cached.crls]),
                                     ("ocsp", [*embedded_ocsps, *cached.ocsps]))
                 for der in items]
        if session is not None:
            result.revocation_sources = session.sources(result.path, local)
        else:  # offline: described, nothing written
            cache = revcache.cache_for(policy.cache_dir, policy.ocsp_fresh_seconds)
            result.revocation_sources = revcache.describe(cache, result.path, local, store=False)
    return result


def _validate(
    validator: CertificateValidator,
    context: ValidationContext,
    cert: x509.Certificate,
    pool: Sequence[x509.Certificate],
    content_time: datetime | None,
) -> ChainAssessment:
    try:
        path = run_sync(validator.async_validate_path())
    except cv_errors.PathBuildingError as exc:
        return _failed(cert, pool, Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
                       f"no certificate path to a trust anchor: {exc}")
    except cv_errors.RevokedError as exc:
        if content_time is not None and content_time > exc.revocation_dt:
            failed = _failed(cert, pool, Indication.TOTAL_FAILED, SubIndication.REVOKED, str(exc),
                             revoked=exc)
        else:
            sub = SubIndication.REVOKED_NO_POE if exc.is_ee_cert else SubIndication.REVOKED_CA_NO_POE
            failed = _failed(cert, pool, Indication.INDETERMINATE, sub, str(exc), revoked=exc)
        failed.path = list(exc.current_path.iter_certs(include_root=True))
        return failed
    except cv_errors.ExpiredError as exc:
        if content_time is not None and content_time > exc.expired_dt:
            return _failed(cert, pool, Indication.TOTAL_FAILED, SubIndication.EXPIRED, str(exc))
        return _failed(cert, pool, Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE, str(exc))
    except cv_errors.NotYetValidError as exc:
        return _failed(cert, pool, Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID, str(exc))
    except cv_errors.InsufficientRevinfoError as exc:
        return _failed(cert, pool, Indication.INDETERMINATE, SubIndication.TRY_LATER,
                       f"revocation status not available: {exc}")
    except cv_errors.DisallowedAlgorithmError as exc:
        return _failed(cert, pool, Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
                       str(exc))
    except cv_errors.InvalidCertificateError as exc:
        return _failed(cert, pool, Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                       str(exc))
    except (cv_errors.PathValidationError, cv_errors.ValidationError) as exc:
        return _failed(cert, pool, Indication.INDETERMINATE, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                       str(exc))
    except PARSE_ERRORS as exc:
        return _failed(cert, pool, Indication.INDETERMINATE, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                       f"malformed certificate in the chain ({type(exc).__name__})")
    all_crls, all_ocsps = context.revinfo_manager.crls, context.revinfo_manager.ocsps
    root_first = list(path.iter_certs(include_root=True))
    certs = root_first[::-1]
    entries = []
    for c in certs:
        if c is certs[-1] and c.self_signed != "no":
            entries.append(_entry(c, "not-checked"))
        else:
            entries.append(_entry(c, "good" if _has_revinfo(c, all_crls, all_ocsps) else "unknown"))
    return ChainAssessment(Indication.TOTAL_PASSED, None, entries, path=root_first)


def _failed(
    cert: x509.Certificate,
    pool: Sequence[x509.Certificate],
    indication: Indication,
    sub: SubIndication,
    reason: str,
    revoked: cv_errors.RevokedError | None = None,
) -> ChainAssessment:
    entries = []
    revoked_cert = revoked.current_path.leaf if revoked is not None else None
    for c in simple_chain(cert, pool):
        status = "revoked" if revoked_cert is not None and c == revoked_cert else "not-checked"
        entries.append(_entry(c, status))
    return ChainAssessment(indication, sub, entries, [reason])
