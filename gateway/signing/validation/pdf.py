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

from asn1crypto import cms
from pyhanko.pdf_utils import misc
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from gateway.signing.report import (
    Indication,
    SignatureReport,
    SubIndication,
    ValidationReport,
    format_failure,
)
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
from gateway.signing.validation.timestamps import TimestampCheck, validate_timestamp_token
from gateway.signing.validation.verdict import Evidence, conclude

log = logging.getLogger(__name__)

OID_SIGNATURE_TS = "1.2.840.113549.1.9.16.2.14"
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
        return format_failure("PDF", f"cannot read the PDF: {type(exc).__name__}: {_short(exc)}")
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


def _signature_fields(reader: PdfFileReader):
    from pyhanko.sign.fields import enumerate_sig_fields

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
    signed_data = sig.signed_data
    si = sig.signer_info
    certs = embedded_certificates(signed_data)
    econtent_type = signed_data["encap_content_info"]["content_type"].dotted
    if content is None:
        report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, problem)
    else:
        report.signed_objects.append(content.name)
        if _sub_filter(sig) == "/adbe.pkcs7.sha1":
            content = _adbe_sha1_content(signed_data, content, report)
    check = check_signer_info(si, [*certs, *policy.trust_roots], content, econtent_type)
    if content is None:
        check.problems = [p for p in check.problems if p.subindication != SubIndication.SIGNED_DATA_NOT_FOUND]
    revinfo = from_signed_data(signed_data)
    revinfo.extend(from_attributes(si["signed_attrs"], si["unsigned_attrs"]))
    revinfo.extend(dss)
    evidence = Evidence(certificates=certs + dss_certs(sig), revocation=revinfo, archive_timestamps=archive)
    evidence.signature_timestamps = [
        validate_timestamp_token(t, si["signature"].contents, policy, extra_revocation=revinfo)
        for t in attribute_values(si["unsigned_attrs"], OID_SIGNATURE_TS)
    ]
    report.format = _level(sig, evidence, dss)
    if sig.self_reported_timestamp is not None and check.claimed_signing_time is None:
        check.claimed_signing_time = sig.self_reported_timestamp
    conclude(report, check, evidence, policy)
    if sig.sig_object_type == "/Sig" and content is not None:
        _note_coverage(report, sig)


def _adbe_sha1_content(
    signed_data: cms.SignedData, content: SignedContent, report: SignatureReport
) -> SignedContent | None:
    """adbe.pkcs7.sha1: the CMS encapsulates the SHA-1 of the byte range and signs that."""
    eci = signed_data["encap_content_info"]
    if not present(eci["content"]):
        return content
    from gateway.signing.validation import algorithms

    embedded = eci["content"].native
    expected = content.digest(algorithms.digest_by_name("sha1"))
    if embedded != expected:
        report.fail(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE,
                    "the document does not match the SHA-1 digest in the signature (adbe.pkcs7.sha1)")
    return SignedContent([embedded], content.name)


def _note_coverage(report: SignatureReport, sig: EmbeddedPdfSignature) -> None:
    """What the signature covers and what changed after it (pyhanko's difference analysis).

    A signature that does not cover its whole revision is not intact. Later revisions that only add
    validation data, fill forms or annotate (within the certification's DocMDP permissions) are
    allowed with a warning; anything else leaves the signature INDETERMINATE /
    SIG_CONSTRAINTS_FAILURE, since the document shown is not the one signed.
    """
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel, SuspiciousModification
    from pyhanko.sign.fields import MDPPerm
    from pyhanko.sign.validation.pdf_embedded import SignatureCoverageLevel

    try:
        coverage = sig.coverage = sig.evaluate_signature_coverage()
    except READ_ERRORS as exc:
        report.warnings.append(f"signature coverage not evaluated: {type(exc).__name__}")
        return
    if coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        report.intact = False
        report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                    "the signature does not cover its whole revision of the document")
        return
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return
    try:
        result = sig.evaluate_modifications(DEFAULT_DIFF_POLICY)
        docmdp = sig.docmdp_level
    except (*READ_ERRORS, SuspiciousModification) as exc:
        result, docmdp = exc, None
    if isinstance(result, Exception):
        report.fail(Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                    f"the document was modified after this signature in a way not allowed: {result}")
        return
    level = result.modification_level
    allowed = {
        MDPPerm.NO_CHANGES: ModificationLevel.LTA_UPDATES,
        MDPPerm.FILL_FORMS: ModificationLevel.FORM_FILLING,
        MDPPerm.ANNOTATE: ModificationLevel.ANNOTATIONS,
    }.get(docmdp, ModificationLevel.ANNOTATIONS) if docmdp is not None else ModificationLevel.ANNOTATIONS
    if level > allowed:
        report.fail(Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                    f"the document was modified after this signature beyond what is allowed ({level.name})")
    elif level > ModificationLevel.NONE:
        report.warnings.append(f"the document was changed after this signature: {level.name.lower()}")


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


def dss_certs(sig: EmbeddedPdfSignature) -> list:
    from asn1crypto import x509

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


def _level(sig: EmbeddedPdfSignature, evidence: Evidence, dss: RevocationData) -> str:
    if _sub_filter(sig) != "/ETSI.CAdES.detached":
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
