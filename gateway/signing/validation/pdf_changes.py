"""What changed in a PDF after a signature's revision, and what that does to the signature's verdict.

As DSS's default policy (EN 319 142-1 and its PdfPageDifference / PdfSignatureDictionary checks,
both FAIL): pages added or removed after signing, or the signature's own dictionary changed in a
later revision (spoofing its /Reason, /M, /Name), make the signature TOTAL_FAILED / FORMAT_FAILURE
even though its bytes still verify. Other changes are found by pyHanko's difference analysis and
judged against the signature's DocMDP (and its FieldMDP locks): validation data and document
timestamps are always allowed, form filling and annotations as DocMDP permits. Unlike DSS, whose
policy only warns about them, changes outside those permissions (page content rewritten, objects
replaced: the shadow attacks) leave the signature INDETERMINATE / SIG_CONSTRAINTS_FAILURE: the
document shown is not the one signed, and the gateway never passes content nobody signed.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import MDPPerm, enumerate_sig_fields
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from gateway.signing.report import Indication, PdfModification, SubIndication
from gateway.signing.validation.signerinfo import PARSE_ERRORS

# pyHanko logs each refused difference with a traceback; the verdict and its reason are reported
logging.getLogger("pyhanko.sign.diff_analysis").setLevel(logging.ERROR)

_EOF_AT_END = re.compile(rb"%%EOF(?:\r\n|\r|\n)?\Z")
_MAX_DEPTH = 8

#: what pyHanko's modification level means, as a report kind
_KINDS = {
    ModificationLevel.LTA_UPDATES: "validation-data-added",
    ModificationLevel.FORM_FILLING: "form-fields-filled",
    ModificationLevel.ANNOTATIONS: "annotations-changed",
    ModificationLevel.OTHER: "content-changed",
}
#: the highest modification level each DocMDP permission allows (no certification: annotations)
_ALLOWED = {
    MDPPerm.NO_CHANGES: ModificationLevel.LTA_UPDATES,
    MDPPerm.FILL_FORMS: ModificationLevel.FORM_FILLING,
    MDPPerm.ANNOTATE: ModificationLevel.ANNOTATIONS,
}


@dataclass
class Failure:
    indication: Indication
    subindication: SubIndication
    reason: str


@dataclass
class Changes:
    modifications: list[PdfModification] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def ends_a_revision(data: bytes, end: int) -> bool:
    """Whether the signed bytes end exactly where a revision ends (its %%EOF and end of line)."""
    return end <= len(data) and _EOF_AT_END.search(data[max(0, end - 16):end]) is not None


def analyse(sig: EmbeddedPdfSignature, name: str, data: bytes, end: int) -> Changes:
    """The changes made after the revision signed by `sig` (whose signed bytes end at `end`)."""
    changes = Changes()
    if not data[end:].strip():
        return changes  # the signature covers the whole file
    try:
        signed = PdfFileReader(io.BytesIO(data[:end]), strict=False)
        _compare_pages(signed, sig.reader, changes)
        _compare_signature_dictionary(signed, sig, name, changes)
    except (*PARSE_ERRORS, generic.PdfError, AssertionError, EOFError, UnicodeError) as exc:
        changes.modifications.append(PdfModification("not-analysed", False))
        changes.failures.append(Failure(Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                                        f"the signed revision cannot be compared with the document: "
                                        f"{type(exc).__name__}"))
        return changes
    _difference_analysis(sig, changes)
    return changes


def _page_count(reader: PdfFileReader) -> int:
    return int(reader.root["/Pages"]["/Count"])


def _compare_pages(signed: PdfFileReader, current: PdfFileReader, changes: Changes) -> None:
    before, after = _page_count(signed), _page_count(current)
    if before != after:
        kind = "pages-added" if after > before else "pages-removed"
        changes.modifications.append(PdfModification(kind, False))
        changes.failures.append(Failure(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                                        f"pages were {kind.split('-')[1]} after this signature "
                                        f"({before} signed, {after} now)"))


def _signature_dictionary(reader: PdfFileReader, name: str) -> Any:
    for field_name, value, _ref in enumerate_sig_fields(reader, filled_status=True):
        if field_name == name:
            return value
    return None


def _compare_signature_dictionary(
    signed: PdfFileReader, sig: EmbeddedPdfSignature, name: str, changes: Changes
) -> None:
    before = _signature_dictionary(signed, name)
    if before is None or _plain(before.get_object()) != _plain(sig.sig_object):
        changes.modifications.append(PdfModification("signature-dictionary-changed", False))
        changes.failures.append(Failure(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                                        "the signature dictionary was changed after signing"))


def _plain(value: Any, depth: int = 0) -> Any:
    """A comparable form of a PDF object (indirect references compared by number, not followed;
    /Reference /Data only points at the objects a signature covers, as DSS ignores it)."""
    if depth > _MAX_DEPTH:
        return "..."
    if isinstance(value, generic.IndirectObject):
        return ("ref", value.idnum, value.generation)
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items() if str(k) != "/Data" or depth == 0}
    if isinstance(value, list):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, generic.ByteStringObject | generic.TextStringObject):
        return bytes(value.original_bytes)
    return value


def _difference_analysis(sig: EmbeddedPdfSignature, changes: Changes) -> None:
    try:
        result = sig.evaluate_modifications(DEFAULT_DIFF_POLICY)
        docmdp = sig.docmdp_level
    except (*PARSE_ERRORS, generic.PdfError, AssertionError, EOFError, UnicodeError,
            SuspiciousModification) as exc:
        result, docmdp = exc, None
    if isinstance(result, Exception):
        changes.modifications.append(PdfModification("content-changed", False))
        reason = str(result).splitlines()[0][:200] if str(result) else type(result).__name__
        changes.failures.append(Failure(Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                                        f"the document was modified after this signature in a way not "
                                        f"allowed: {reason}"))
        return
    level = result.modification_level
    if level == ModificationLevel.NONE:
        return
    allowed = level <= _ALLOWED.get(docmdp, ModificationLevel.ANNOTATIONS)
    changes.modifications.append(PdfModification(_KINDS.get(level, "content-changed"), allowed))
    if allowed:
        changes.warnings.append(f"the document was changed after this signature: {level.name.lower()}")
    else:
        changes.failures.append(Failure(Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE,
                                        f"the document was modified after this signature beyond what is "
                                        f"allowed ({level.name})"))
