"""PAdES: PDFs signed by pyhanko under the test PKI; poppler's pdfsig is the second opinion."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
import test_validation
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore
from test_validation import Pki, project_key

from gateway.signing.report import Indication, SubIndication
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

pki = test_validation.pki  # the test PKI fixture, shared


def minimal_pdf(text: str = "Council decision No. 42") -> bytes:
    """A one-page PDF with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def sign_pdf(pki: Pki, pdf: bytes, field: str = "Signature1") -> bytes:
    store = SimpleCertificateStore.from_certs([pki.ca.cert, pki.root.cert])
    signer = signers.SimpleSigner(pki.signer.cert, pki.signer.key_info, store)
    meta = signers.PdfSignatureMetadata(field_name=field, subfilter=fields.SigSeedSubFilter.PADES)
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer)
    return out.getvalue()


@pytest.fixture(scope="module")
def signed_pdf(pki) -> bytes:
    return sign_pdf(pki, minimal_pdf())


def test_signed_pdf_passes(pki, signed_pdf):
    report = validate(signed_pdf, pki.policy(offline=True, cache_dir=pki.crl_dir))
    assert report.container == "PDF"
    s = report.signatures[0]
    assert report.indication == Indication.TOTAL_PASSED, s.errors
    assert s.intact and s.format == "PAdES-BASELINE-B" and s.id == "Signature1"


def test_pdfsig_agrees(pki, signed_pdf, tmp_path):
    if not shutil.which("pdfsig"):
        pytest.skip("pdfsig not installed")
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed_pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
    assert "Signature is Valid" in out.stdout, out.stdout


def test_untrusted_pdf_is_indeterminate_and_intact(signed_pdf):
    report = validate(signed_pdf, ValidationPolicy(offline=True))
    assert report.subindication == SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert report.signatures[0].intact


def test_tampered_pdf_is_hash_failure(pki, signed_pdf):
    tampered = signed_pdf.replace(b"No. 42", b"No. 43")
    assert tampered != signed_pdf
    report = validate(tampered, pki.policy(offline=True, cache_dir=pki.crl_dir))
    assert (report.indication, report.subindication) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    assert report.signatures[0].intact is False


def test_two_signatures_and_later_update(pki, signed_pdf):
    twice = sign_pdf(pki, signed_pdf, field="Signature2")
    report = validate(twice, pki.policy(offline=True, cache_dir=pki.crl_dir))
    assert [s.id for s in report.signatures] == ["Signature1", "Signature2"]
    assert report.indication == Indication.TOTAL_PASSED
    assert any("changed" in w for w in report.signatures[0].warnings)


def test_content_appended_outside_the_byte_range_is_not_intact(pki, signed_pdf):
    """Bytes inserted inside the signed revision shift the byte range: the signature breaks."""
    start = signed_pdf.index(b"/Contents <") + len(b"/Contents <")
    damaged = signed_pdf[:start] + b"00" + signed_pdf[start:]
    report = validate(damaged, pki.policy(offline=True, cache_dir=pki.crl_dir))
    assert report.indication == Indication.TOTAL_FAILED
    assert report.signatures[0].intact is False


def test_unsigned_pdf_has_no_signature():
    report = validate(minimal_pdf(), ValidationPolicy(offline=True))
    assert report.indication == Indication.NO_SIGNATURE_FOUND
    assert report.exit_code == 3


def test_content_changed_in_a_later_revision_is_not_accepted(pki, signed_pdf):
    """An incremental update that rewrites the page after signing: the signature still verifies over
    its revision, but the document shown is not the one signed."""
    from pyhanko.pdf_utils import generic

    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    stream = generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td (Council decision No. 43) Tj ET")
    page = page_ref.get_object()
    page["/Contents"] = writer.add_object(stream)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    report = validate(out.getvalue(), pki.policy(offline=True, cache_dir=pki.crl_dir))
    s = report.signatures[0]
    assert s.intact is True
    assert (s.indication, s.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
    )
    assert "modified after this signature" in s.errors[0]


def test_project_signer_pades_b_lta_validates_offline(pki, tmp_path):
    """gateway.signing.pades at B-LTA: DSS and document timestamp; offline, no cache, passes."""
    import asyncio

    from gateway.signing.pades import async_sign_pdf_bytes

    signed = asyncio.run(
        async_sign_pdf_bytes(
            project_key(pki, tmp_path),
            minimal_pdf(),
            level="B-LTA",
            tsa_url=f"{pki.base_url}/tsa",
            trust_roots=[pki.root.cert],
        )
    )
    report = validate(signed, pki.policy(offline=True))
    s = report.signatures[0]
    assert report.indication == Indication.TOTAL_PASSED, s.errors
    assert s.format == "PAdES-BASELINE-LTA"
    assert {t.type for t in s.timestamps} == {"signature", "archive"} and all(t.intact for t in s.timestamps)
