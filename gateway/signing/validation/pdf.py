"""PAdES / PDF signature validation.

pyhanko reads the PDF (tolerant mode: damaged xrefs are repaired or reported) and locates each
signature's CMS and /ByteRange; the integrity check itself is the shared SignerInfo check over the
byte ranges. A signature is intact only if its byte range is the standard two-part range that
leaves out exactly its own /Contents. Document timestamps (/DocTimeStamp) are reported as archive
timestamps of the signatures they cover.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, x509
from pyhanko.pdf_utils import misc
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, SignatureCoverageLevel

from gateway.signing import algorithms
from gateway.signing.report import (
    Indication,
    PdfModification,
    SignatureReport,
    SubIndication,
    ValidationReport,
    format_failure,
)
from gateway.signing.validation import pdf_changes, pdf_fallback
from gateway.signing.validation.chain import validation_time
from gateway.signing.validation.engine import register
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.revocation import RevocationData, from_attributes, from_signed_data
from gateway.signing.validation.signerinfo import (
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

log = logging.getLogger(__name__)

OID_SIGNATURE_TS = "1.2.840.113549.1.9.16.2.14"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_SIGNATURE_POLICY_ID = "1.2.840.113549.1.9.16.2.15"
OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
READ_ERRORS = (misc.PdfError, *PARSE_ERRORS, AssertionError, EOFError, UnicodeError)


@dataclass
class _Located:
    sig: EmbeddedPdfSignature | None
    name: str
    error: str = ""


def validate_pdf(data: bytes, policy: ValidationPolicy) -> ValidationReport:
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        fields = list(_signature_fields(reader))
    except READ_ERRORS as exc:
        problem = f"cannot read the PDF: {type(exc).__name__}: {_short(exc)}"
        return _validate_unreadable(data, policy, problem)
    report = ValidationReport(container="PDF", validation_time=validation_time(policy))
    dss = _document_security_store(reader)
    doc_timestamps: list[tuple[int, TimestampCheck]] = []
    signatures: list[tuple[int, SignatureReport, _Located]] = []
    for located in fields:
        sig = located.sig
        if sig is not None and _is_document_timestamp(sig):
            doc_timestamps.append((_end(sig), _document_timestamp(sig, data, policy, dss)))
            continue
        entry = SignatureReport(id=located.name or f"S{len(signatures) + 1}", format="PAdES",
                                indication=Indication.TOTAL_PASSED)
        signatures.append((_end(sig) if sig else 0, entry, located))
    for end, report_sig, located in signatures:
        # a document timestamp covers every signature whose byte range it includes
        archive = [ts for ts_end, ts in doc_timestamps if ts_end > end]
        try:
            _validate_signature(report_sig, located, data, policy, dss, archive)
        except READ_ERRORS as exc:
            report_sig.intact = False
            report_sig.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                            f"malformed signature: {type(exc).__name__}: {_short(exc)}")
        report.signatures.append(report_sig)
    if not report.signatures and doc_timestamps:
        report.errors.append("the PDF has document timestamps but no signature")
    return report


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else ""


def _validate_unreadable(data: bytes, policy: ValidationPolicy, problem: str) -> ValidationReport:
    """A PDF pyhanko cannot read: its signatures, found by their byte ranges, each checked alone."""
    found = pdf_fallback.locate(data, policy.source_name or "PDF document")
    if not found:
        return format_failure("PDF", problem)
    report = ValidationReport(container="PDF", validation_time=validation_time(policy), errors=[problem])
    for raw in found:
        entry = SignatureReport(id=raw.name, format="PAdES", indication=Indication.TOTAL_PASSED,
                                pdf_modifications=[PdfModification("not-analysed", False)])
        if raw.signed_data is None:
            entry.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, raw.problem)
        else:
            try:
                _check_cms(entry, raw.signed_data, raw.content, "", policy, RevocationData(), [], [])
            except READ_ERRORS as exc:
                entry.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                           f"malformed signature: {type(exc).__name__}: {_short(exc)}")
            entry.fail(Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                       f"{problem}: changes after this signature cannot be analysed")
        report.signatures.append(entry)
    return report


def _signature_fields(reader: PdfFileReader):
    for name, _value, field_ref in enumerate_sig_fields(reader, filled_status=True):
        try:
            yield _Located(EmbeddedPdfSignature(reader, field_ref, name), name)
        except READ_ERRORS as exc:
            yield _Located(None, name, f"unreadable signature: {type(exc).__name__}: {_short(exc)}")


def _is_document_timestamp(sig: EmbeddedPdfSignature) -> bool:
    try:
        return (sig.sig_object_type == "/DocTimeStamp" or _sub_filter(sig) == "/ETSI.RFC3161"
                or sig.signed_data["encap_content_info"]["content_type"].dotted == OID_TST_INFO)
    except READ_ERRORS:
        return False


def _sub_filter(sig: EmbeddedPdfSignature) -> str:
    try:
        return str(sig.sig_object.get("/SubFilter", ""))
    except READ_ERRORS:
        return ""


def _end(sig: EmbeddedPdfSignature) -> int:
    try:
        br = [int(x) for x in sig.byte_range]
        return br[-2] + br[-1]
    except (ValueError, TypeError, IndexError):
        return 0


def _byte_range_content(
    sig: EmbeddedPdfSignature, data: bytes, name: str = "PDF document"
) -> tuple[SignedContent | None, str]:
    """The signed bytes, or why the byte range is not acceptable."""
    try:
        br = [int(x) for x in sig.byte_range]
    except (ValueError, TypeError):
        return None, "the /ByteRange is not a list of integers"
    if len(br) != 4 or br[0] != 0 or min(br) < 0:
        return None, "the /ByteRange is not the standard two-part range from the start of the file"
    start1, len1, start2, len2 = br
    if start2 + len2 > len(data) or len1 > start2:
        return None, "the /ByteRange points outside the file"
    gap = data[len1:start2]
    if not (gap.startswith(b"<") and gap.endswith(b">")) or b">" in gap[:-1]:
        return None, "the bytes left out of the /ByteRange are not exactly the signature value"
    view = memoryview(data)
    return SignedContent([view[start1:len1], view[start2:start2 + len2]], name), ""


def _validate_signature(
    report: SignatureReport,
    located: _Located,
    data: bytes,
    policy: ValidationPolicy,
    dss: RevocationData,
    archive: list[TimestampCheck],
) -> None:
    sig = located.sig
    if sig is None:
        report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, located.error)
        return
    content, problem = _byte_range_content(sig, data, policy.source_name or "PDF document")
    if content is None:
        report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, problem)
    claimed = sig.self_reported_timestamp
    _check_cms(report, sig.signed_data, content, _sub_filter(sig), policy, dss, dss_certs(sig), archive,
               claimed, has_reason=_has_reason(sig))
    if sig.sig_object_type == "/Sig" and content is not None:
        _note_coverage(report, sig, located.name, data)


def _check_cms(
    report: SignatureReport,
    signed_data: cms.SignedData,
    content: SignedContent | None,
    sub_filter: str,
    policy: ValidationPolicy,
    dss: RevocationData,
    more_certs: list[x509.Certificate],
    archive: list[TimestampCheck],
    claimed_time: datetime | None = None,
    *,
    has_reason: bool = False,
) -> None:
    """The CMS check of one PDF signature over its byte range `content` (None: unusable);
    `has_reason`: the signature dictionary has a /Reason (which rules out PAdES-EPES)."""
    si = signed_data["signer_infos"][0]
    certs = embedded_certificates(signed_data)
    econtent_type = signed_data["encap_content_info"]["content_type"].dotted
    enveloping = False
    if content is not None:
        report.signed_objects.append(content.name)
        if sub_filter == "/adbe.pkcs7.sha1":
            content = _adbe_sha1_content(signed_data, content, report)
        elif present(signed_data["encap_content_info"]["content"]):
            enveloping = True
            # an enveloping CMS signs what it encapsulates, not the document around it
            report.fail(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE,
                        "the CMS signs the content it encapsulates, not the PDF's byte range")
            content = SignedContent([signed_data["encap_content_info"]["content"].native or b""],
                                    "encapsulated content")
    check = check_signer_info(si, [*certs, *policy.extra_certificates, *policy.trust_roots], content,
                              econtent_type)
    if content is None:
        check.problems = [p for p in check.problems if p.subindication != SubIndication.SIGNED_DATA_NOT_FOUND]
    revinfo = from_signed_data(signed_data)
    revinfo.extend(from_attributes(si["signed_attrs"], si["unsigned_attrs"]))
    revinfo.extend(dss)
    evidence = Evidence(certificates=certs + more_certs, revocation=revinfo, archive_timestamps=archive)
    evidence.signature_timestamps = [
        validate_timestamp_token(t, si["signature"].contents, policy, extra_revocation=revinfo)
        for t in attribute_values(si["unsigned_attrs"], OID_SIGNATURE_TS)
    ]
    report.format = _level(sub_filter, evidence, dss)
    if sub_filter == "/ETSI.CAdES.detached" and attribute_values(si["signed_attrs"], OID_SIGNING_TIME):
        # EN 319 142-1 6.3: cardinality 0 in PAdES (the time is /M); DSS then names the level by
        # the older PAdES profiles (BES, EPES, LTV) instead of a baseline level
        report.format = _extended_level(si["signed_attrs"], evidence, dss, has_reason)
        report.warnings.append("the CMS carries a signing-time attribute, which PAdES baseline forbids "
                               "(EN 319 142-1 6.3): not a PAdES baseline signature")
    if claimed_time is not None and check.claimed_signing_time is None:
        check.claimed_signing_time = claimed_time
    conclude(report, check, evidence, policy)
    if enveloping:
        report.intact = False  # whatever it encapsulates, the document is not what it signs
    check_cms_policy(report, si["signed_attrs"], policy)


def _adbe_sha1_content(
    signed_data: cms.SignedData, content: SignedContent, report: SignatureReport
) -> SignedContent | None:
    """adbe.pkcs7.sha1: the CMS encapsulates the SHA-1 of the byte range and signs that."""
    eci = signed_data["encap_content_info"]
    if not present(eci["content"]):
        return content
    embedded = eci["content"].native or b""
    expected = content.digest(algorithms.digest_by_name("sha1"))
    if embedded != expected:
        report.fail(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE,
                    "the document does not match the SHA-1 digest in the signature (adbe.pkcs7.sha1)")
    return SignedContent([embedded], content.name)


def _note_coverage(report: SignatureReport, sig: EmbeddedPdfSignature, name: str, data: bytes) -> None:
    """What the signature covers and what changed after it (see pdf_changes).

    The signed bytes must be a whole revision: pyhanko's coverage, or (when a later revision
    redefined the signature's objects, which pyhanko then places in that revision) signed bytes that
    end exactly at a revision's end. Anything else is not intact.
    """
    try:
        coverage = sig.coverage = sig.evaluate_signature_coverage()
    except READ_ERRORS as exc:
        report.warnings.append(f"signature coverage not evaluated: {type(exc).__name__}")
        return
    end = _end(sig)
    whole = coverage >= SignatureCoverageLevel.ENTIRE_REVISION or (
        coverage == SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START
        and pdf_changes.ends_a_revision(data, end)
    )
    if not whole:
        report.intact = False
        report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                    "the signature does not cover its whole revision of the document")
        return
    changes = pdf_changes.analyse(sig, name, data, end)
    report.pdf_modifications = changes.modifications
    report.warnings.extend(changes.warnings)
    for failure in changes.failures:
        report.fail(failure.indication, failure.subindication, failure.reason)


def _document_security_store(reader: PdfFileReader) -> RevocationData:
    data = RevocationData()
    try:
        dss = reader.root.get("/DSS")
        if dss is None:
            return data
        dss = dss.get_object()
        for key, target in (("/CRLs", data.crls), ("/OCSPs", data.ocsps)):
            for ref in dss.get(key, []):
                target.append(ref.get_object().data)
    except READ_ERRORS as exc:
        log.debug("unreadable /DSS: %s", exc)
    return data


def dss_certs(sig: EmbeddedPdfSignature) -> list[x509.Certificate]:
    out = []
    try:
        dss = sig.reader.root.get("/DSS")
        if dss is not None:
            for ref in dss.get_object().get("/Certs", []):
                out.append(x509.Certificate.load(ref.get_object().data))
    except READ_ERRORS:
        pass
    return reusable_certificates(out)


def _document_timestamp(
    sig: EmbeddedPdfSignature, data: bytes, policy: ValidationPolicy, dss: RevocationData
) -> TimestampCheck:
    content, problem = _byte_range_content(sig, data)
    token = cms.ContentInfo({"content_type": "signed_data", "content": sig.signed_data})
    if content is None:
        check = TimestampCheck(validate_timestamp_token(token, b"", policy, kind="archive").info)
        check.info.intact = False
        check.errors.append(f"document timestamp: {problem}")
        return check
    return validate_timestamp_token(token, content, policy, kind="archive", extra_revocation=dss)


def _extended_level(signed_attrs: cms.CMSAttributes, evidence: Evidence, dss: RevocationData,
                    has_reason: bool) -> str:
    """The PAdES profile (ETSI TS 102 778-4/-3 levels, as DSS names them) of a signature that misses
    a baseline requirement: LTV with validation data and a document time stamp, else EPES with a
    signature policy and no /Reason, else BES."""
    if evidence.archive_timestamps and (dss.crls or dss.ocsps):
        return "PAdES-LTV"
    if attribute_values(signed_attrs, OID_SIGNATURE_POLICY_ID) and not has_reason:
        return "PAdES-EPES"
    return "PAdES-BES"


def _has_reason(sig: EmbeddedPdfSignature) -> bool:
    try:
        return bool(sig.sig_object.get("/Reason"))
    except READ_ERRORS:
        return False


def _level(sub_filter: str, evidence: Evidence, dss: RevocationData) -> str:
    if sub_filter != "/ETSI.CAdES.detached":
        return "PDF"
    level = "B"
    if evidence.signature_timestamps or evidence.archive_timestamps:
        level = "T"
        if dss.crls or dss.ocsps:
            level = "LT"
            if evidence.archive_timestamps:
                level = "LTA"
    return f"PAdES-BASELINE-{level}"


register("PDF", validate_pdf)
