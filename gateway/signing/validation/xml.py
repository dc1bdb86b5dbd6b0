"""XAdES / XMLDSig validation (enveloped, enveloping, detached; baseline B to LTA).

Core validation is `gateway.signing.xml.xmldsig`; the certificates, timestamps and verdict are the
engine's common pieces (chain, timestamps, verdict), as for CAdES and PAdES. DSS mapping: a missing
signed object gives INDETERMINATE / SIGNED_DATA_NOT_FOUND, a digest mismatch TOTAL_FAILED /
HASH_FAILURE, a bad signature value TOTAL_FAILED / SIG_CRYPTO_FAILURE, malformed structure
TOTAL_FAILED / FORMAT_FAILURE.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from asn1crypto import ocsp, x509
from lxml import etree

from gateway.signing.algorithms import UnsupportedAlgorithm
from gateway.signing.report import (
    Indication,
    SignatureReport,
    SubIndication,
    TimestampInfo,
    ValidationReport,
    crypto_order,
    format_failure,
)
from gateway.signing.validation.chain import validation_time
from gateway.signing.validation.engine import read_bounded, register
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.revocation import RevocationData
from gateway.signing.validation.signerinfo import PARSE_ERRORS, SignerCheck
from gateway.signing.validation.sigpolicy import check_policy, report_into
from gateway.signing.validation.timestamps import TimestampCheck, validate_timestamp_token
from gateway.signing.validation.verdict import Evidence, conclude
from gateway.signing.xml import algorithms as xalg
from gateway.signing.xml.c14n import C14N_10, UnsupportedCanonicalization, canonicalize
from gateway.signing.xml.xades import (
    archive_input,
    etsi_child,
    etsi_children,
    etsi_path,
    is_etsi,
    is_signed_properties_type,
)
from gateway.signing.xml.xmldsig import (
    DEFAULT_BUDGET,
    DetachedResolver,
    ReferenceProcessor,
    ReferenceResult,
    SignedInfo,
    StructureError,
    apply_transforms,
    b64decode,
    child,
    inclusive_prefixes,
    q,
    safe_relative_uri,
    signature_value,
    signed_info,
    text_of,
)
from gateway.xmlsafe import XmlParseError, parse_xml

MAX_SIGNATURES = 100


def validate_xml(data: bytes, policy: ValidationPolicy) -> ValidationReport:
    try:
        tree = parse_xml(data, max_bytes=policy.max_input_bytes)
    except XmlParseError as exc:
        return format_failure("XML", str(exc))
    report = ValidationReport(container="XML", validation_time=validation_time(policy))
    detached = sum(_size(p) for p in policy.detached.values())
    budget = DEFAULT_BUDGET + 8 * len(data) + 2 * detached
    report.signatures = validate_signatures(tree, policy_resolver(policy), policy, budget=budget)
    if not report.signatures:
        report.errors.append("the XML document contains no ds:Signature")
    return report


def policy_resolver(policy: ValidationPolicy) -> DetachedResolver:
    """Detached contents from `verify --detached`: by the reference's file name, or the only one given
    for a reference without URI."""
    files = policy.detached

    def resolve(uri: str | None) -> tuple[str, bytes] | None:
        if uri is None:
            if len(files) != 1:
                return None
            name, path = next(iter(files.items()))
        else:
            relative = safe_relative_uri(uri)
            if relative is None:
                return None
            name = relative.rsplit("/", 1)[-1]
            path = files.get(name)
            if path is None:
                return None
        return name, read_bounded(Path(path), policy.max_input_bytes)

    return resolve


def find_signatures(tree: etree._ElementTree) -> list[etree._Element]:
    return list(tree.getroot().iter(q("Signature")))


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def validate_signatures(
    tree: etree._ElementTree,
    resolver: DetachedResolver,
    policy: ValidationPolicy,
    *,
    budget: int = DEFAULT_BUDGET,
    prefix: str = "",
) -> list[SignatureReport]:
    """Reports for the ds:Signature elements of `tree` (at most MAX_SIGNATURES; `budget` bounds the
    octets their references may produce together), ids prefixed with `prefix` (ASiC: "file:").

    A counter-signature (a ds:Signature in xades:CounterSignature, or one whose reference covers
    another signature's ds:SignatureValue, also in another file of a container) is its own entry
    with `counter_signature_of`; the signature it counter-signs keeps its own verdict."""
    processor = ReferenceProcessor(tree, resolver, budget)
    found = find_signatures(tree)
    ids = {el: prefix + (el.get("Id") or f"S{i}") for i, el in enumerate(found, 1)}
    reports = []
    for el in found[:MAX_SIGNATURES]:
        report, countersigned = _validate_one(el, processor, policy, ids[el])
        report.counter_signature_of = _counter_signed_id(el, countersigned, ids)
        reports.append(report)
    if len(found) > MAX_SIGNATURES:
        for report in reports:
            report.warnings.append(
                f"the document has {len(found)} signatures; only {MAX_SIGNATURES} are validated"
            )
    return reports


def _counter_signed_id(
    el: etree._Element, countersigned: tuple[str, etree._Element] | None, ids: dict[etree._Element, str]
) -> str | None:
    """The report id of the signature `el` counter-signs, if it is a counter-signature."""
    if countersigned is not None:
        name, target = countersigned
        if target in ids:
            return ids[target]
        others = find_signatures(target.getroottree())
        index = next((i for i, other in enumerate(others, 1) if other is target), 0)
        return f"{name}:{target.get('Id') or f'S{index}'}"
    holder = el.getparent()
    if holder is not None and is_etsi(holder, "CounterSignature"):
        parent = next((a for a in holder.iterancestors(q("Signature"))), None)
        return ids.get(parent) if parent is not None else None
    return None


def _certs_from(elements: Sequence[etree._Element]) -> list[x509.Certificate]:
    out = []
    for el in elements:
        try:
            cert = x509.Certificate.load(b64decode(el.text or ""))
            cert.subject  # noqa: B018 - parse now, drop damaged ones
            out.append(cert)
        except (StructureError, *PARSE_ERRORS):
            continue
    return out


def _time(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class _Signature:
    """One ds:Signature and its XAdES properties."""

    def __init__(self, el: etree._Element) -> None:
        self.el = el
        found = [qp for obj in el.findall(q("Object")) for qp in etsi_children(obj, "QualifyingProperties")]
        if len(found) > 1:
            raise StructureError("the signature has more than one QualifyingProperties")
        self.qp = found[0] if found else None
        self.signed_props = etsi_child(self.qp, "SignedProperties")
        self.ssp = etsi_child(self.signed_props, "SignedSignatureProperties")
        self.sdop = etsi_child(self.signed_props, "SignedDataObjectProperties")
        self.usp = etsi_path(self.qp, "UnsignedProperties", "UnsignedSignatureProperties")
        self.key_info = child(el, "KeyInfo")

    def key_info_certs(self) -> list[x509.Certificate]:
        if self.key_info is None:
            return []
        return _certs_from(self.key_info.findall(f"{q('X509Data')}/{q('X509Certificate')}"))

    def value_certs(self) -> list[x509.Certificate]:
        out = []
        for cv in etsi_children(self.usp, "CertificateValues"):
            out.extend(_certs_from(list(etsi_children(cv, "EncapsulatedX509Certificate"))))
        return out

    def cert_refs(self) -> list[tuple[str, bytes]]:
        refs = []
        for name in ("SigningCertificateV2", "SigningCertificate"):
            for sc in etsi_children(self.ssp, name):
                for cert in etsi_children(sc, "Cert"):
                    digest = etsi_child(cert, "CertDigest")
                    dm, dv = (
                        (child(digest, "DigestMethod"), child(digest, "DigestValue"))
                        if digest is not None
                        else (None, None)
                    )
                    if dm is not None and dv is not None:
                        try:
                            value = b64decode(dv.text or "")
                        except StructureError:
                            value = b""  # a damaged digest names no certificate
                        refs.append((dm.get("Algorithm") or "", value))
        return refs

    def signing_time(self) -> datetime | None:
        st = etsi_child(self.ssp, "SigningTime")
        return _time(text_of(st)) if st is not None else None

    def revocation(self) -> RevocationData:
        data = RevocationData()
        for rv in [
            *etsi_children(self.usp, "RevocationValues"),
            *(
                c
                for tv in etsi_children(self.usp, "TimeStampValidationData")
                for c in etsi_children(tv, "RevocationValues")
            ),
        ]:
            for crl_el in etsi_children(etsi_child(rv, "CRLValues"), "EncapsulatedCRLValue"):
                try:
                    data.crls.append(b64decode(crl_el.text or ""))
                except StructureError:
                    continue
            for o_el in etsi_children(etsi_child(rv, "OCSPValues"), "EncapsulatedOCSPValue"):
                try:
                    raw = b64decode(o_el.text or "")
                    ocsp.OCSPResponse.load(raw)["response_status"].native  # noqa: B018
                    data.ocsps.append(raw)
                except (StructureError, *PARSE_ERRORS):
                    continue
        return data


def _timestamp_tokens(prop: etree._Element) -> tuple[str, list[bytes]]:
    cm = child(prop, "CanonicalizationMethod")
    method = (cm.get("Algorithm") or C14N_10) if cm is not None else C14N_10
    tokens = []
    for enc in etsi_children(prop, "EncapsulatedTimeStamp"):
        try:
            tokens.append(b64decode(enc.text or ""))
        except StructureError:
            continue
    return method, tokens


def validate_signature(
    sig_el: etree._Element, processor: ReferenceProcessor, policy: ValidationPolicy, default_id: str
) -> SignatureReport:
    return _validate_one(sig_el, processor, policy, sig_el.get("Id") or default_id)[0]


def _validate_one(
    sig_el: etree._Element, processor: ReferenceProcessor, policy: ValidationPolicy, sig_id: str
) -> tuple[SignatureReport, tuple[str, etree._Element] | None]:
    """The report of one signature, and (file name or "", ds:Signature) of the signature whose
    ds:SignatureValue it covers, if any."""
    report = SignatureReport(id=sig_id, format="XMLDSig", indication=Indication.TOTAL_PASSED)
    check = SignerCheck()
    countersigned = None
    try:
        countersigned = _validate(sig_el, processor, policy, report, check)
    except (StructureError, UnsupportedCanonicalization) as exc:
        report.intact = False
        report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, str(exc))
    except PARSE_ERRORS as exc:
        report.intact = False
        report.fail(
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
            f"malformed signature ({type(exc).__name__})",
        )
    return report, countersigned


Crypto = list[tuple[Indication, SubIndication, str]]


def _validate(
    sig_el: etree._Element,
    processor: ReferenceProcessor,
    policy: ValidationPolicy,
    report: SignatureReport,
    check: SignerCheck,
) -> tuple[str, etree._Element] | None:
    sig = _Signature(sig_el)
    info = signed_info(sig_el)
    value = signature_value(sig_el)
    try:
        check.signature_name, check.digest_name = xalg.signature_family(info.signature_method)
    except UnsupportedAlgorithm as exc:
        check.signature_name = info.signature_method
        check.problem(Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, str(exc))

    results = [processor.process(ref, sig_el) for ref in info.references]
    crypto: Crypto = []
    data_refs = _check_references(sig, results, check, crypto)
    report.signed_objects = [r.label for r in data_refs]
    signed_props_ok = any(r.target is sig.signed_props and r.found and r.digest_ok for r in results)
    report.format = "XAdES-BASELINE-B" if sig.signed_props is not None and signed_props_ok else "XMLDSig"

    key_certs = sig.key_info_certs()
    all_certs = [*key_certs, *(c for c in sig.value_certs() if c not in key_certs)]
    check.claimed_signing_time = sig.signing_time()
    candidates = _signer_candidates(sig, all_certs, key_certs, policy, check)
    _verify_value(info, value, candidates, check, crypto)
    secondary = _apply_in_dss_order(crypto, check)

    evidence = Evidence(
        certificates=all_certs,
        revocation=sig.revocation(),
        extra_digests=sorted({n for r in results if (n := xalg.DIGESTS.get(r.digest_uri))}),
    )
    _timestamps(sig, results, evidence, policy)
    report.format = _level(report.format, sig, evidence)
    conclude(report, check, evidence, policy)
    report.errors.extend(r for r in secondary if r not in report.errors)
    _check_signature_policy(sig, report, policy)
    return _countersigned(sig_el, results)


def _check_signature_policy(sig: _Signature, report: SignatureReport, policy: ValidationPolicy) -> None:
    """SignaturePolicyIdentifier/SignaturePolicyId: the policy document's hash, when configured."""
    spid = etsi_path(sig.ssp, "SignaturePolicyIdentifier", "SignaturePolicyId")
    if spid is None:
        return
    identifier = text_of(etsi_path(spid, "SigPolicyId", "Identifier"))
    policy_hash = etsi_child(spid, "SigPolicyHash")
    dm = child(policy_hash, "DigestMethod") if policy_hash is not None else None
    dv = child(policy_hash, "DigestValue") if policy_hash is not None else None
    if not identifier or dm is None or dv is None:
        report.warnings.append("the SignaturePolicyIdentifier cannot be read")
        return
    method = dm.get("Algorithm") or ""
    if method not in xalg.DIGESTS:
        report.warnings.append(f"signature policy hash not checked: unsupported digest {method}")
        return
    try:
        expected = b64decode(dv.text or "")
    except StructureError:
        report.warnings.append("the SignaturePolicyIdentifier's hash is not valid base64")
        return
    transforms = child(spid, "Transforms")
    transform = partial(apply_transforms, transforms) if transforms is not None else None
    result = check_policy(identifier, expected, partial(xalg.digest, method), policy.signature_policy_dir,
                          transform)
    report_into(report, result)


def _countersigned(
    sig_el: etree._Element, results: list[ReferenceResult]
) -> tuple[str, etree._Element] | None:
    """(file name, ds:Signature) whose ds:SignatureValue a reference of `sig_el` covers."""
    for res in results:
        value = res.selected
        if value is None or value.tag != q("SignatureValue") or not res.found:
            continue
        target = value.getparent()
        if target is not None and target.tag == q("Signature") and target is not sig_el:
            return res.name, target
    return None


def _check_references(
    sig: _Signature, results: list[ReferenceResult], check: SignerCheck, crypto: Crypto
) -> list[ReferenceResult]:
    """Sort the references into signed data objects and the signature's own parts; record what is
    missing or altered. Returns the data object references."""
    data_refs: list[ReferenceResult] = []
    for res in results:
        if is_signed_properties_type(res.type) or (
            res.target is not None and sig.signed_props is not None and res.target is sig.signed_props
        ):
            if res.target is None or res.target is not sig.signed_props:
                # a SignedProperties signed elsewhere than in this signature's QualifyingProperties:
                # the properties the signature shows are not the signed ones (as DSS: not found)
                crypto.append((
                    Indication.INDETERMINATE,
                    SubIndication.SIGNED_DATA_NOT_FOUND,
                    "the SignedProperties reference does not point to this signature's properties",
                ))
            continue
        if res.target is not None and (
            res.target is sig.key_info or _inside_signature_props(res.target, sig.el)
        ):
            continue
        data_refs.append(res)
    for res in results:
        if res.not_found or not res.found:
            crypto.append((Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND, res.error))
        elif not res.digest_ok:
            crypto.append((Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, res.error))
    if not data_refs:
        crypto.append(
            (
                Indication.INDETERMINATE,
                SubIndication.SIGNED_DATA_NOT_FOUND,
                "the signature references no signed data object",
            )
        )
    if sig.signed_props is not None and not any(r.target is sig.signed_props for r in results):
        crypto.append((
            Indication.INDETERMINATE,
            SubIndication.SIGNED_DATA_NOT_FOUND,
            "the SignedProperties are not covered by the signature",
        ))
    check.digest_ok = not crypto
    return data_refs


def _verify_value(
    info: SignedInfo, value: bytes, candidates: list[x509.Certificate], check: SignerCheck, crypto: Crypto
) -> None:
    """Verify SignatureValue over the canonical SignedInfo with the candidate signing certificates."""
    if not candidates or info.signature_method not in xalg.SIGNATURES:
        return
    tbs = info.octets()
    for cert in candidates:
        try:
            if xalg.verify(info.signature_method, cert.public_key, value, tbs):
                check.signer_cert, check.signature_ok = cert, True
                return
        except (UnsupportedAlgorithm, *PARSE_ERRORS):
            continue
    check.signature_ok = False
    if any(p.subindication == SubIndication.NO_SIGNING_CERTIFICATE_FOUND for p in check.problems):
        return  # the certificates tried are not the signer's: identification decides, not the value
    check.signer_cert = candidates[0]
    crypto.append(
        (
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CRYPTO_FAILURE,
            "the signature value does not verify with the signer's public key",
        )
    )


def _apply_in_dss_order(crypto: Crypto, check: SignerCheck) -> list[str]:
    """The cryptographic findings that decide become problems; the others' reasons are returned."""
    deciding, others = crypto_order(crypto)
    for indication, sub, reason in deciding:
        check.problem(indication, sub, reason)
    return others


def _inside_signature_props(target: etree._Element, sig_el: etree._Element) -> bool:
    node: etree._Element | None = target
    while node is not None and node is not sig_el:
        if node.tag == q("SignatureProperties"):
            return True
        node = node.getparent()
    return False


def _signer_candidates(
    sig: _Signature,
    all_certs: list[x509.Certificate],
    key_certs: list[x509.Certificate],
    policy: ValidationPolicy,
    check: SignerCheck,
) -> list[x509.Certificate]:
    """ETSI EN 319 102-1 5.2.3: the certificate the SigningCertificate property names."""
    refs = sig.cert_refs()
    known = [*all_certs, *policy.extra_certificates]
    pool = [*known, *(c for c in policy.trust_roots if c not in known)]
    if refs:
        matching = []
        for algo_uri, value in refs:
            try:
                matching.extend(
                    c for c in pool if xalg.digest(algo_uri, c.dump()) == value and c not in matching
                )
            except UnsupportedAlgorithm as exc:
                check.warnings.append(f"signing-certificate reference not checked: {exc}")
        if matching:
            return matching
        if not any(xalg.DIGESTS.get(a) for a, _ in refs):
            return key_certs or all_certs
        check.problem(
            Indication.INDETERMINATE,
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            "no certificate in the signature matches the SigningCertificate property",
        )
        # ETSI EN 319 102-1 5.2.3 decides the verdict; the signature value is still checked with
        # the KeyInfo certificate, so the report says whether the signature is intact (as DSS)
        return key_certs
    if not all_certs:
        check.problem(
            Indication.INDETERMINATE,
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            "the signature carries no signing certificate",
        )
    return key_certs or all_certs


def _covered_by_content_ts(results: list[ReferenceResult], method: str) -> bytes:
    """What an AllDataObjectsTimeStamp covers: every reference's result but the SignedProperties',
    node sets canonicalized with the timestamp's method (ETSI EN 319 132-1 5.2.8.1)."""
    parts = []
    for r in results:
        if is_signed_properties_type(r.type):
            continue
        if r.result is None:
            raise StructureError("a referenced object is missing")
        parts.append(r.result if isinstance(r.result, bytes) else canonicalize(r.result, method))
    return b"".join(parts)


def _timestamps(
    sig: _Signature, results: list[ReferenceResult], evidence: Evidence, policy: ValidationPolicy
) -> None:
    rev = evidence.revocation
    sv = child(sig.el, "SignatureValue")
    for prop in etsi_children(sig.usp, "SignatureTimeStamp"):
        method, tokens = _timestamp_tokens(prop)
        prefixes = _ts_prefixes(prop)
        for token in tokens:
            evidence.signature_timestamps.append(
                _ts(token, lambda m=method, p=prefixes: canonicalize(sv, m, p), policy, "signature", rev)
            )
    for prop in etsi_children(sig.sdop, "AllDataObjectsTimeStamp"):
        method, tokens = _timestamp_tokens(prop)
        for token in tokens:
            evidence.content_timestamps.append(
                _ts(token, lambda m=method: _covered_by_content_ts(results, m), policy, "content", rev)
            )
    if sig.usp is None:
        return
    for prop in sig.usp:
        if is_etsi(prop, "ArchiveTimeStamp"):
            method, tokens = _timestamp_tokens(prop)
            for token in tokens:
                evidence.archive_timestamps.append(
                    _ts(
                        token,
                        lambda p=prop, m=method: archive_input(sig.el, p, results, m),
                        policy,
                        "archive",
                        rev,
                    )
                )


def _ts_prefixes(prop: etree._Element) -> list[str]:
    cm = child(prop, "CanonicalizationMethod")
    return inclusive_prefixes(cm) if cm is not None else []


def _ts(token: bytes, covered, policy: ValidationPolicy, kind: str, rev: RevocationData) -> TimestampCheck:
    try:
        data = covered()
    except (StructureError, UnsupportedCanonicalization, XmlParseError) as exc:
        check = TimestampCheck(TimestampInfo(type=kind, time=None))
        check.errors.append(f"{kind} timestamp: cannot compute what it covers ({exc})")
        return check
    return validate_timestamp_token(token, data, policy, kind=kind, extra_revocation=rev)


def _level(base: str, sig: _Signature, evidence: Evidence) -> str:
    if base != "XAdES-BASELINE-B":
        return base
    level = "B"
    if evidence.signature_timestamps:
        level = "T"
        has_values = (
            etsi_child(sig.usp, "CertificateValues") is not None
            and etsi_child(sig.usp, "RevocationValues") is not None
        )
        if has_values:
            level = "LT"
            if evidence.archive_timestamps:
                level = "LTA"
    return f"XAdES-BASELINE-{level}"


register("XML", validate_xml)
