"""PDF changes after signing (pdf_modifications), judged as DSS does; damaged signatures; shadow attacks.

Real files: esig/dss test resources (tests/data/dss/README.md). Built files: signed by pyhanko under
the test PKI, then changed with incremental updates.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import test_validation
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from test_validation_pdf import minimal_pdf, sign_pdf

from gateway.signing.report import Indication, SubIndication
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

pki = test_validation.pki
DSS = Path(__file__).parent / "data" / "dss"


def kinds(sig) -> dict[str, bool]:
    return {m.kind: m.allowed for m in sig.pdf_modifications or []}


def check(pki, pdf: bytes):
    return validate(pdf, pki.policy(offline=True, cache_dir=pki.crl_dir))


@pytest.fixture(scope="module")
def signed(pki) -> bytes:
    return sign_pdf(pki, minimal_pdf())


def box(*numbers: int) -> generic.ArrayObject:
    return generic.ArrayObject([generic.NumberObject(n) for n in numbers])


def with_page_added(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): box(0, 0, 612, 792),
    })
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_annotation(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    annot = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/Text"),
        generic.NameObject("/Rect"): box(10, 10, 30, 30),
        generic.NameObject("/Contents"): generic.TextStringObject("approved"),
    }))
    writer.register_annotation(page_ref, annot)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def certify(pki, pdf: bytes, permission: fields.MDPPerm) -> bytes:
    store = SimpleCertificateStore.from_certs([pki.ca.cert, pki.root.cert])
    signer = signers.SimpleSigner(pki.signer.cert, pki.signer.key_info, store)
    meta = signers.PdfSignatureMetadata(field_name="Certification", subfilter=fields.SigSeedSubFilter.PADES,
                                        certify=True, docmdp_permissions=permission)
    return signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer).getvalue()


def test_unchanged_signature_reports_no_modification(pki, signed):
    s = check(pki, signed).signatures[0]
    assert s.indication == Indication.TOTAL_PASSED
    assert s.pdf_modifications == []
    assert s.to_dict()["pdf_modifications"] == []


def test_page_added_after_signing_fails_the_signature_but_it_stays_intact(pki, signed):
    report = check(pki, with_page_added(signed))
    s = report.signatures[0]
    assert s.intact is True
    assert (s.indication, s.subindication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert kinds(s)["pages-added"] is False
    assert any("pages were added" in e for e in s.errors)


def test_second_signature_is_form_filling_allowed(pki, signed):
    report = check(pki, sign_pdf(pki, signed, field="Signature2"))
    first = report.signatures[0]
    assert report.indication == Indication.TOTAL_PASSED
    assert kinds(first) == {"form-fields-filled": True}


def test_annotation_after_a_fill_forms_certification_is_not_allowed(pki):
    certified = certify(pki, minimal_pdf(), fields.MDPPerm.FILL_FORMS)
    assert check(pki, certified).indication == Indication.TOTAL_PASSED
    s = check(pki, with_annotation(certified)).signatures[0]
    assert s.intact is True
    assert s.indication == Indication.INDETERMINATE
    assert s.subindication == SubIndication.SIG_CONSTRAINTS_FAILURE
    assert False in kinds(s).values()


def test_corrupted_byte_range_is_a_signature_found_not_intact(pki, signed):
    """A /ByteRange that no longer leaves out exactly /Contents: the signature is reported, broken."""
    m = re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)", signed)
    assert m
    digits = m.group(1)
    bad = str(int(digits) - 1).rjust(len(digits)).encode()
    damaged = signed[: m.start(1)] + bad + signed[m.end(1):]
    report = check(pki, damaged)
    assert report.container == "PDF"
    assert len(report.signatures) == 1
    s = report.signatures[0]
    assert s.intact is False
    assert (s.indication, s.subindication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)


def test_unreadable_pdf_still_has_its_signature_checked(pki, signed):
    """An xref table destroyed after signing: the signature is still found by its byte range and its
    bytes verify; what changed cannot be analysed, so it is not passed."""
    damaged = signed + b"\nxref\n0 1\ngarbage\ntrailer\n<< /Root 99 0 R /Encrypt 5 >>\nstartxref\n1\n%%EOF\n"
    report = check(pki, damaged)
    assert len(report.signatures) == 1
    s = report.signatures[0]
    if report.errors:  # pyhanko could not read it: the byte-range fallback ran
        assert s.intact is True
        assert kinds(s) == {"not-analysed": False}
    assert report.indication != Indication.TOTAL_PASSED


# ---- real files from the DSS test resources

def dss(name: str):
    return validate(DSS / name, ValidationPolicy(offline=True))


def test_dss_added_page_is_format_failure():
    s = dss("files/dss-pades__pdf-signed-added-page.pdf").signatures[0]
    assert s.intact is True
    assert (s.indication, s.subindication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert kinds(s)["pages-added"] is False


def test_dss_spoofed_reason_is_a_changed_signature_dictionary():
    s = dss("files/dss-pades__pades-spoofing-replaced-reason.pdf").signatures[0]
    assert s.intact is True
    assert (s.indication, s.subindication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert kinds(s)["signature-dictionary-changed"] is False


def test_dss_shadow_attack_hide_is_detected():
    s = dss("pdf-changes/hide.pdf").signatures[0]
    assert s.intact is True
    assert kinds(s).get("content-changed") is False
    assert SubIndication.SIG_CONSTRAINTS_FAILURE in {s.subindication} | {
        SubIndication.SIG_CONSTRAINTS_FAILURE for e in s.errors if "modified after this signature" in e}


def test_dss_shadow_attack_replace_is_reported():
    """Replace: a form field filled after an approval signature, over the signed text; the PDF rules
    allow form filling there (DSS too only warns), so it is reported, with a warning."""
    s = dss("pdf-changes/replace.pdf").signatures[0]
    assert s.intact is True
    assert kinds(s) == {"form-fields-filled": True}
    assert any("changed after this signature" in w for w in s.warnings)


def test_dss_annotation_and_visible_change_every_signature_judged():
    report = dss("pdf-changes/annotation-and-visible-change.pdf")
    assert len(report.signatures) == 3
    first, certifying, locking = report.signatures
    assert all(s.intact for s in report.signatures)
    assert kinds(first).get("content-changed") is False
    assert kinds(certifying).get("content-changed") is False
    assert locking.pdf_modifications == []


def test_dss_corrupted_pdf_has_a_signature_not_intact():
    report = dss("files/dss-pades__pdf-signed-corrupted.pdf")
    assert [s.intact for s in report.signatures] == [False]
    assert report.indication == Indication.TOTAL_FAILED


def test_dss_unreadable_spoofing_pdf_signature_found_intact_not_passed():
    report = dss("files/dss-pades__pdf-spoofing-attack.pdf")
    assert [s.intact for s in report.signatures] == [True]
    assert report.signatures[0].indication == Indication.INDETERMINATE


def test_dss_enveloping_cms_in_a_pdf_is_not_intact():
    s = dss("files/dss-pades__pades-enveloping-empty-bytes-cms.pdf").signatures[0]
    assert s.intact is False
    assert s.indication == Indication.TOTAL_FAILED


def test_signature_after_a_fill_forms_certification_is_allowed(pki):
    """DocMDP P=2 allows filling forms and signing (pyhanko refuses to sign under P=1 itself)."""
    certified = certify(pki, minimal_pdf(), fields.MDPPerm.FILL_FORMS)
    report = check(pki, sign_pdf(pki, certified, field="Signature2"))
    first, second = report.signatures
    assert first.indication == Indication.TOTAL_PASSED, first.errors
    assert kinds(first) == {"form-fields-filled": True}
    assert second.indication == Indication.TOTAL_PASSED


def test_document_timestamp_added_after_signing_is_allowed_validation_data(pki, signed):
    tsa_chain = SimpleCertificateStore.from_certs([pki.ca.cert])
    stamper = DummyTimeStamper(pki.tsa.cert, pki.tsa.key_info, tsa_chain)
    out = signers.PdfTimeStamper(stamper).timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(signed)), "sha256",
        validation_context=ValidationContext(trust_roots=[pki.root.cert], allow_fetching=False),
        validation_paths=[])
    report = check(pki, out.getvalue())
    s = report.signatures[0]
    assert s.indication == Indication.TOTAL_PASSED, s.errors
    assert kinds(s) == {"validation-data-added": True}
    assert [t.type for t in s.timestamps] == ["archive"]


def with_text_fields(pdf: bytes, names: list[str]) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    refs = []
    for i, name in enumerate(names):
        ref = writer.add_object(generic.DictionaryObject({
            generic.NameObject("/FT"): generic.NameObject("/Tx"),
            generic.NameObject("/T"): generic.TextStringObject(name),
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/Widget"),
            generic.NameObject("/Rect"): box(50, 600 - 40 * i, 250, 620 - 40 * i),
            generic.NameObject("/P"): page_ref,
        }))
        refs.append(ref)
        writer.register_annotation(page_ref, ref)
    writer.root["/AcroForm"] = generic.DictionaryObject(
        {generic.NameObject("/Fields"): generic.ArrayObject(refs)})
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def filled(pdf: bytes, name: str, value: str) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    form_fields = writer.root["/AcroForm"]["/Fields"]
    for i in range(len(form_fields)):
        field = form_fields.raw_get(i).get_object()
        if field["/T"] == name:
            field["/V"] = generic.TextStringObject(value)
            writer.update_container(field)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def sign_locking(pki, pdf: bytes, locked: list[str]) -> bytes:
    store = SimpleCertificateStore.from_certs([pki.ca.cert, pki.root.cert])
    signer = signers.SimpleSigner(pki.signer.cert, pki.signer.key_info, store)
    meta = signers.PdfSignatureMetadata(field_name="Approval", subfilter=fields.SigSeedSubFilter.PADES)
    lock = fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, locked)
    spec = fields.SigFieldSpec("Approval", field_mdp_spec=lock)
    return signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer,
                            new_field_spec=spec).getvalue()


def test_field_mdp_lock_judges_form_filling(pki):
    """A signature that locks the field "Decision" (FieldMDP): filling "Note" afterwards is allowed
    form filling, filling "Decision" is not."""
    signed = sign_locking(pki, with_text_fields(minimal_pdf(), ["Decision", "Note"]), ["Decision"])
    s = check(pki, filled(signed, "Note", "seen by the clerk")).signatures[0]
    assert s.indication == Indication.TOTAL_PASSED, s.errors
    assert kinds(s) == {"form-fields-filled": True}
    s = check(pki, filled(signed, "Decision", "rejected")).signatures[0]
    assert s.intact is True
    assert s.indication == Indication.INDETERMINATE
    assert False in kinds(s).values()
