"""CAdES / plain CMS SignedData validation (.p7s detached, .p7m attached; DER, BER, PEM or base64)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from asn1crypto import cms, core, pem, x509

from gateway.signing.report import (
    Indication,
    SignatureReport,
    SubIndication,
    ValidationReport,
    format_failure,
)
from gateway.signing.validation.archive import (
    OID_ARCHIVE_TS_V2,
    OID_ARCHIVE_TS_V3,
    validate_archive_v2,
    validate_archive_v3,
)
from gateway.signing.validation.chain import validation_time
from gateway.signing.validation.cms_layout import LayoutError, attached_layout
from gateway.signing.validation.detached import pick_detached
from gateway.signing.validation.engine import read_bounded, register
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.revocation import (
    OID_REVOCATION_VALUES,
    RevocationData,
    from_attributes,
    from_signed_data,
)
from gateway.signing.validation.signerinfo import (
    OID_SIGNING_CERTIFICATE,
    OID_SIGNING_CERTIFICATE_V2,
    PARSE_ERRORS,
    SignedContent,
    attribute_values,
    check_signer_info,
    embedded_certificates,
    present,
    reusable_certificates,
)
from gateway.signing.validation.sigpolicy import check_cms_policy
from gateway.signing.validation.timestamps import TimestampCheck, validate_timestamp_token
from gateway.signing.validation.verdict import Evidence, conclude

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNATURE_TS = "1.2.840.113549.1.9.16.2.14"
OID_CONTENT_TS = "1.2.840.113549.1.9.16.2.20"
OID_COUNTER_SIGNATURE = "1.2.840.113549.1.9.6"
OID_CERTIFICATE_VALUES = "1.2.840.113549.1.9.16.2.23"
MAX_COUNTER_DEPTH = 4
MAX_NESTING = 3
_BASE64 = re.compile(rb"[A-Za-z0-9+/=\s]+")
#: an attached content at least this large is hashed from the file, never held in memory
STREAM_CONTENT_BYTES = 1024 * 1024
#: the report's name of the encapsulated content
ENCAPSULATED = "encapsulated content"


def decode_input(data: bytes) -> bytes:
    """DER/BER bytes from DER/BER, PEM or bare base64 input."""
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN") and pem.detect(stripped):
        _, _, der = pem.unarmor(stripped)
        return der
    if stripped[:1] != b"\x30" and _BASE64.fullmatch(stripped):
        try:
            return base64.b64decode(b"".join(stripped.split()), validate=True)
        except (binascii.Error, ValueError):
            return data
    return data


def validate_cms(
    data: bytes, policy: ValidationPolicy, detached_content: SignedContent | None = None
) -> ValidationReport:
    """`detached_content`: the content of a detached signature when the caller has it in memory
    (ASiC); otherwise it is picked from the policy's detached files.

    A SignedData whose content is itself a SignedData (enveloping: a .p7m signed again) reports the
    inner signatures too, after the outer ones, as `inner-S1`, ... (nested up to MAX_NESTING)."""
    return _validate_cms(data, policy, detached_content, nesting=0)


def validate_cms_file(path: Path, policy: ValidationPolicy) -> ValidationReport:
    """A CMS file; a binary attached one with a large content is validated without loading the
    content: its SignedData is parsed without it and the content hashed from the file. Anything
    else (PEM, base64, detached, small, a content that is itself a signed file) as bytes."""
    with path.open("rb") as f:
        try:
            layout = attached_layout(f) if f.read(1) == b"\x30" else None
        except LayoutError:
            layout = None  # the parser proper gives the report on a damaged file
        if layout is not None and layout.content_length >= STREAM_CONTENT_BYTES:
            f.seek(layout.ranges[0][0])
            if f.read(1) != b"\x30":  # not a nested signed file, which is parsed in memory
                content = SignedContent([], ENCAPSULATED, path, layout.ranges)
                return _validate_cms(layout.detached_der, policy, content, nesting=0,
                                     original=lambda: read_bounded(path, policy.max_input_bytes))
    return validate_cms(read_bounded(path, policy.max_input_bytes), policy)


def _validate_cms(
    data: bytes,
    policy: ValidationPolicy,
    detached_content: SignedContent | None,
    nesting: int,
    original: Callable[[], bytes] | None = None,
) -> ValidationReport:
    """`original`: the file's bytes when `data` is its detached form (read only for archive
    timestamps, which hash the encoding as it was)."""
    try:
        der = decode_input(data)
    except ValueError:
        return format_failure("CMS", "not a CMS signature: damaged PEM")
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].dotted != OID_SIGNED_DATA:
            return format_failure("CMS", f"not a CMS SignedData (content type {info['content_type'].dotted})")
        signed_data = info["content"]
        eci = signed_data["encap_content_info"]
        econtent_type = eci["content_type"].dotted
        signer_infos = list(signed_data["signer_infos"])
        certs = embedded_certificates(signed_data)
        content = _encapsulated(eci)
    except PARSE_ERRORS as exc:
        return format_failure("CMS", f"not a valid CMS SignedData ({type(exc).__name__}: {_short(exc)})")
    report = ValidationReport(container="CMS", validation_time=validation_time(policy))
    if content is None and detached_content is not None:
        content = detached_content
    elif content is None:
        content, note = pick_detached(policy)
        if note:
            report.errors.append(note)
    base_revinfo = from_signed_data(signed_data)
    for i, si in enumerate(signer_infos, 1):
        _validate_signer(report, si, f"S{i}", certs, content, econtent_type, base_revinfo, policy, depth=0,
                         source=(original or (lambda: der), i - 1))
    inner = _nested_signed_data(content, econtent_type) if nesting < MAX_NESTING else None
    if inner is not None:
        nested = _validate_cms(inner, policy, None, nesting + 1)
        for sig in nested.signatures:
            sig.id = f"inner-{sig.id}"
            if sig.counter_signature_of:
                sig.counter_signature_of = f"inner-{sig.counter_signature_of}"
            report.signatures.append(sig)
    return report


def _nested_signed_data(content: SignedContent | None, content_type: str) -> bytes | None:
    """The encapsulated content when it is itself a CMS SignedData (eContentType signed-data, or
    id-data holding a signed file), else None."""
    if content is None or content.path is not None or content_type not in (OID_SIGNED_DATA, OID_DATA):
        return None
    data = content.data()
    if data[:1] != b"\x30":
        return None
    try:
        info = cms.ContentInfo.load(data)
        if info["content_type"].dotted != OID_SIGNED_DATA or not len(info["content"]["signer_infos"]):
            return None
    except PARSE_ERRORS:
        return None
    return data


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else ""


class _RawEncapsulatedContentInfo(core.Sequence):
    """EncapsulatedContentInfo with eContent as the plain OCTET STRING it is (RFC 5652 5.2), whatever
    eContentType says: the message digest covers these octets, and asn1crypto would try to parse
    them as the type named (a SignedData, a TSTInfo) and fail on content that is not."""

    _fields = [
        ("content_type", core.ObjectIdentifier),
        ("content", core.OctetString, {"explicit": 0, "optional": True}),
    ]


def _encapsulated(eci: cms.EncapsulatedContentInfo) -> SignedContent | None:
    field = _RawEncapsulatedContentInfo.load(eci.dump())["content"]
    if not present(field):
        return None
    return SignedContent([field.native or b""], ENCAPSULATED)


def _validate_signer(
    report: ValidationReport,
    si: cms.SignerInfo,
    sig_id: str,
    certs: Sequence[x509.Certificate],
    content: SignedContent | None,
    content_type: str,
    base_revinfo: RevocationData,
    policy: ValidationPolicy,
    depth: int,
    source: tuple[Callable[[], bytes], int] | None = None,
    counter_of: str | None = None,
) -> None:
    """Validate one SignerInfo (and its counter-signatures, each its own entry with
    `counter_signature_of`; the counter-signed signature keeps its own verdict). `source` is the
    original encoding and the signer's index, needed to recompute archive timestamps (top-level
    signers only)."""
    sig = SignatureReport(id=sig_id, indication=Indication.TOTAL_PASSED, counter_signature_of=counter_of)
    report.signatures.append(sig)
    if content is not None and content.name:
        sig.signed_objects.append(content.name)
    try:
        signed_attrs = si["signed_attrs"]
        unsigned_attrs = si["unsigned_attrs"]
        all_certs = list(certs) + _certificate_values(unsigned_attrs)
        check = check_signer_info(si, [*all_certs, *policy.extra_certificates, *policy.trust_roots],
                                  content, content_type)
        revinfo = RevocationData()
        revinfo.extend(base_revinfo)
        revinfo.extend(from_attributes(signed_attrs, unsigned_attrs))
        evidence = Evidence(certificates=all_certs, revocation=revinfo)
        signature_value = si["signature"].contents
        evidence.signature_timestamps = [
            validate_timestamp_token(t, signature_value, policy, extra_revocation=revinfo)
            for t in _attr(unsigned_attrs, OID_SIGNATURE_TS)
        ]
        if content is not None:
            evidence.content_timestamps = [
                validate_timestamp_token(t, content, policy, kind="content", extra_revocation=revinfo)
                for t in _attr(signed_attrs, OID_CONTENT_TS)
            ]
        evidence.archive_timestamps = _archive_timestamps(unsigned_attrs, source, content, policy, revinfo)
        sig.format = _level(signed_attrs, unsigned_attrs, evidence)
        sig.profile = _profile(signed_attrs, unsigned_attrs, evidence) if sig.format != "CMS" else None
        conclude(sig, check, evidence, policy)
        check_cms_policy(sig, signed_attrs, policy)
        counters = _attr(unsigned_attrs, OID_COUNTER_SIGNATURE)
    except PARSE_ERRORS as exc:
        sig.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                 f"malformed SignerInfo ({type(exc).__name__})")
        return
    if depth >= MAX_COUNTER_DEPTH:
        return
    for j, counter in enumerate(counters, 1):
        _validate_signer(report, counter, f"{sig_id}-counter{j}", certs,
                         SignedContent([si["signature"].contents], f"signature {sig_id}"),
                         OID_DATA, base_revinfo, policy, depth + 1, counter_of=sig_id)


def _attr(attrs: object, oid: str) -> list:
    try:
        return attribute_values(attrs, oid)
    except PARSE_ERRORS:
        return []


def _certificate_values(unsigned_attrs: object) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    for value in _attr(unsigned_attrs, OID_CERTIFICATE_VALUES):
        try:
            out.extend(reusable_certificates(_as_sequence(value)))
        except PARSE_ERRORS:
            continue
    return out


class _Certificates(core.SequenceOf):
    _child_spec = x509.Certificate


def _as_sequence(value: object) -> list:
    return list(_Certificates.load(value.dump()))  # type: ignore[attr-defined]


def _archive_timestamps(
    unsigned_attrs: object,
    source: tuple[Callable[[], bytes], int] | None,
    content: SignedContent | None,
    policy: ValidationPolicy,
    revinfo: RevocationData,
) -> list[TimestampCheck]:
    """archive-time-stamp-v3 and -v2 tokens, each verified over what it covers (top-level signers)."""
    out = []
    if source is None:
        return out
    v3, v2 = _attr(unsigned_attrs, OID_ARCHIVE_TS_V3), _attr(unsigned_attrs, OID_ARCHIVE_TS_V2)
    if not (v3 or v2):
        return out
    original = source[0]()
    for token in v3:
        out.append(validate_archive_v3(token, original, source[1], content, policy, revinfo))
    for token in v2:
        out.append(validate_archive_v2(token, original, source[1], content, policy, revinfo))
    return out


def _level(signed_attrs: object, unsigned_attrs: object, evidence: Evidence) -> str:
    if not (_attr(signed_attrs, OID_SIGNING_CERTIFICATE_V2) or _attr(signed_attrs, OID_SIGNING_CERTIFICATE)):
        return "CMS"
    level = "B"
    if evidence.signature_timestamps:
        level = "T"
        if evidence.revocation.crls or evidence.revocation.ocsps:
            level = "LT"
            if evidence.archive_timestamps:
                level = "LTA"
    return f"CAdES-BASELINE-{level}"


#: ETSI TS 101 733 attributes that make CAdES-EPES, -C and -X-Long
OID_SIGNATURE_POLICY = "1.2.840.113549.1.9.16.2.15"
OID_CERTIFICATE_REFS = "1.2.840.113549.1.9.16.2.21"
OID_REVOCATION_REFS = "1.2.840.113549.1.9.16.2.22"


def _profile(signed_attrs: object, unsigned_attrs: object, evidence: Evidence) -> str:
    """The TS 101 733 name: CAdES-BES/EPES, -T, -C (complete references), -X-Long (+ values), -A."""
    if evidence.archive_timestamps:
        return "CAdES-A"
    refs = _attr(unsigned_attrs, OID_CERTIFICATE_REFS) and _attr(unsigned_attrs, OID_REVOCATION_REFS)
    if evidence.signature_timestamps and refs:
        values = _attr(unsigned_attrs, OID_CERTIFICATE_VALUES)
        return "CAdES-X-Long" if values and _attr(unsigned_attrs, OID_REVOCATION_VALUES) else "CAdES-C"
    if evidence.signature_timestamps:
        return "CAdES-T"
    return "CAdES-EPES" if _attr(signed_attrs, OID_SIGNATURE_POLICY) else "CAdES-BES"


register("CMS", validate_cms, validate_cms_file)
