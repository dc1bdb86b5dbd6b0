"""PAdES B-B .. B-LTA with the development PKI; poppler's pdfsig is the second opinion."""

from __future__ import annotations

import io
import subprocess

import pytest
from test_cades_sign_support import asn1_cert, minimal_pdf, needs_pdfsig

from gateway.errors import SigningError
from gateway.signing.keys import load_signing_key
from gateway.signing.pades import sign_pdf_file


@pytest.fixture(scope="module")
def seal(dev_pki):
    key = load_signing_key(str(dev_pki.seal_p12), dev_pki.password())
    yield key
    key.close()


@pytest.fixture
def pdf(tmp_path):
    p = tmp_path / "order.pdf"
    p.write_bytes(minimal_pdf("Order 17"))
    return p


def _pdfsig(path) -> str:
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout


def _level_kwargs(dev_pki, level):
    return {"level": level, "tsa_url": dev_pki.tsa_url if level != "B-B" else None,
            "trust_roots": [asn1_cert(dev_pki.root_cert)]}


@needs_pdfsig
def test_bb_signature_valid_for_pdfsig_and_countersignable(seal, pdf, tmp_path):
    once = sign_pdf_file(seal, pdf, tmp_path / "order-signed.pdf")
    report = _pdfsig(once)
    assert "Signature is Valid" in report and "ETSI.CAdES.detached" in report
    twice = sign_pdf_file(seal, once, tmp_path / "order-signed2.pdf")
    report = _pdfsig(twice)
    assert report.count("Signature is Valid") == 2  # the first signature survives the second


def _reader(path):
    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(path.read_bytes()))


@needs_pdfsig
def test_bt_has_signature_timestamp(seal, pdf, tmp_path, dev_pki):
    out = sign_pdf_file(seal, pdf, tmp_path / "t.pdf", **_level_kwargs(dev_pki, "B-T"))
    assert "Signature is Valid" in _pdfsig(out)
    sig = _reader(out).embedded_signatures[0]
    attrs = sig.signer_info["unsigned_attrs"]
    assert any(a["type"].native == "signature_time_stamp_token" for a in attrs)


@needs_pdfsig
def test_blt_has_dss_with_revocation_data(seal, pdf, tmp_path, dev_pki):
    out = sign_pdf_file(seal, pdf, tmp_path / "lt.pdf", **_level_kwargs(dev_pki, "B-LT"))
    assert "Signature is Valid" in _pdfsig(out)
    dss = _reader(out).root["/DSS"]
    assert "/Certs" in dss
    assert len(dss.get("/CRLs", [])) + len(dss.get("/OCSPs", [])) > 0


@needs_pdfsig
def test_blta_has_document_timestamp(seal, pdf, tmp_path, dev_pki):
    out = sign_pdf_file(seal, pdf, tmp_path / "lta.pdf", **_level_kwargs(dev_pki, "B-LTA"))
    report = _pdfsig(out)
    assert "Signature is Valid" in report
    assert "Signature #2" in report  # pdfsig lists the document time stamp but cannot check it
    from pyhanko.sign.validation import validate_pdf_timestamp
    from pyhanko_certvalidator import ValidationContext

    reader = _reader(out)
    assert "/DSS" in reader.root
    (doc_ts,) = reader.embedded_timestamp_signatures
    vc = ValidationContext(trust_roots=[asn1_cert(dev_pki.root_cert)], allow_fetching=False)
    status = validate_pdf_timestamp(doc_ts, validation_context=vc)
    assert status.intact and status.valid
    assert status.coverage.name in ("ENTIRE_FILE", "ENTIRE_REVISION")  # + DSS update for the TSA


def test_not_a_pdf_refused(seal, tmp_path):
    bogus = tmp_path / "x.pdf"
    bogus.write_bytes(b"plain text")
    with pytest.raises(SigningError, match="not a PDF"):
        sign_pdf_file(seal, bogus, tmp_path / "x-signed.pdf")
    assert not (tmp_path / "x-signed.pdf").exists()


def test_damaged_pdf_is_one_line(seal, tmp_path):
    broken = tmp_path / "b.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 9 0 R >>\n%%EOF\n")
    with pytest.raises(SigningError) as err:
        sign_pdf_file(seal, broken, tmp_path / "b-signed.pdf")
    assert "\n" not in str(err.value)


@needs_pdfsig
def test_ecdsa_seal(dev_pki, pdf, tmp_path):
    key = load_signing_key(str(dev_pki.seal_ec_p12), dev_pki.password())
    out = sign_pdf_file(key, pdf, tmp_path / "ec.pdf")
    assert "Signature is Valid" in _pdfsig(out)
