"""PAdES with DSTU 4145 keys: no CMS signing-time (EN 319 142-1 6.3, the time is /M), and the
validator's answer, as DSS's, to a PAdES whose CMS carries one. poppler's pdfsig lists the signatures."""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from test_cades_sign_support import minimal_pdf, needs_pdfsig

from gateway.crypto.ua.signing import DSTUSigner, make_dev_bundle, parse_bundle
from gateway.signing.cades import cades_bb_der, new_hash
from gateway.signing.certificates import load_certificates
from gateway.signing.keys import SigningKey
from gateway.signing.pades import NATIONAL_RESERVE, sign_pdf_file
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

SIGNING_TIME = "1.2.840.113549.1.9.5"


@pytest.fixture(scope="module")
def seal():
    data, root = make_dev_bundle("Mykolaiv City Council (DSTU test seal)", edrpou="04056612")
    bundle = parse_bundle(data)
    key = SigningKey(certificate=bundle.certificate, chain=bundle.chain, signer=DSTUSigner(bundle),
                     raw_signer=bundle.sign_raw, source="test")
    return key, root


def _signatures(path) -> list:
    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    return list(reader.embedded_regular_signatures)


def _signed_attr_types(sig) -> set[str]:
    return {a["type"].dotted for a in sig.signer_info["signed_attrs"]}


def _pdfsig(path) -> str:
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=30).stdout


@needs_pdfsig
@pytest.mark.parametrize("level", ["B-B", "B-T"])
def test_dstu_pades_has_no_signing_time_and_validates(level, seal, dev_pki, tmp_path):
    key, dstu_root = seal
    src = tmp_path / "order.pdf"
    src.write_bytes(minimal_pdf("Order 17"))
    out = sign_pdf_file(key, src, tmp_path / "signed.pdf", level=level,
                        tsa_url=dev_pki.tsa_url if level != "B-B" else None)
    [sig] = _signatures(out)
    attrs = _signed_attr_types(sig)
    assert SIGNING_TIME not in attrs
    assert {"1.2.840.113549.1.9.3", "1.2.840.113549.1.9.4", "1.2.840.113549.1.9.16.2.47"} <= attrs
    assert sig.self_reported_timestamp is not None  # the time is the dictionary's /M
    roots = [dstu_root, *load_certificates(dev_pki.root_cert)]
    report = validate(out, ValidationPolicy(trust_roots=roots))
    [rep] = report.signatures
    assert (report.indication.value, rep.format) == ("TOTAL_PASSED", f"PAdES-BASELINE-{level[2:]}"), report
    assert rep.claimed_signing_time is not None
    assert not [w for w in rep.warnings if "signing-time" in w]
    listing = _pdfsig(out)
    assert "Signature #1" in listing and "ETSI.CAdES.detached" in listing, listing


def _pades_with_signing_time(key: SigningKey, pdf: bytes) -> bytes:
    """A DSTU PAdES made the old way: its CMS carries a signing-time signed attribute."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    meta = signers.PdfSignatureMetadata(field_name="Signature1", md_algorithm="sha256",
                                        subfilter=SigSeedSubFilter.PADES)
    pdf_signer = signers.PdfSigner(meta, signer=key.signer)
    prepared, _tbs, output = asyncio.run(
        pdf_signer.async_digest_doc_for_signing(writer, bytes_reserved=NATIONAL_RESERVE))
    h = new_hash("gost34311")
    with output.getbuffer() as view:
        h.update(view[:prepared.reserved_region_start])
        h.update(view[prepared.reserved_region_end:])
    ci = cms.ContentInfo.load(cades_bb_der(key, h.digest(), "gost34311", with_signing_time=True))
    prepared.fill_with_cms(output, ci)
    return output.getvalue()


@needs_pdfsig
def test_pades_whose_cms_has_signing_time_is_not_baseline(seal, dev_pki, tmp_path):
    key, dstu_root = seal
    out = tmp_path / "legacy.pdf"
    out.write_bytes(_pades_with_signing_time(key, minimal_pdf("Order 18")))
    [sig] = _signatures(out)
    assert SIGNING_TIME in _signed_attr_types(sig)
    roots = [dstu_root, *load_certificates(dev_pki.root_cert)]
    report = validate(out, ValidationPolicy(trust_roots=roots))
    [rep] = report.signatures
    # as DSS: the signature stays valid, but its level is the older PAdES-BES, not a baseline one
    assert report.indication.value == "TOTAL_PASSED", report
    assert rep.format == "PAdES-BES"
    assert any("signing-time" in w and "EN 319 142-1" in w for w in rep.warnings), rep.warnings
    assert "Signature #1" in _pdfsig(out)


DSS_FILES = Path(__file__).parent / "data" / "dss" / "files"


@pytest.mark.parametrize(("name", "level"), [
    # the level DSS's own unit tests assert for these files (tests/data/dss/README.md for the origin)
    ("dss-pades__pades-bes.pdf", "PAdES-BES"),
    ("dss-pades__pades-epes.pdf", "PAdES-EPES"),
    ("dss-pades__pades-not-epes.pdf", "PAdES-BES"),  # a /Reason rules EPES out
    ("dss-pades__pades-ltv.pdf", "PAdES-LTV"),
])
def test_real_pades_with_cms_signing_time_named_as_dss_does(name, level):
    report = validate(DSS_FILES / name, ValidationPolicy(offline=True))
    [rep] = report.signatures
    assert rep.format == level
    assert any("signing-time" in w for w in rep.warnings), rep.warnings
