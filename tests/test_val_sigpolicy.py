"""The signature-policy identifier: the policy document's hash is checked when it is configured.

The policy document is a real one (ICP-Brasil, from the esig/dss test resources, see
tests/data/dss/README.md); the CAdES signatures naming it are made by pyhanko under the test PKI.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path

import pytest
import test_validation
from asn1crypto import parser
from pyhanko.sign import signers
from pyhanko.sign.ades import cades_asn1
from pyhanko.sign.ades.api import CAdESSignedAttrSpec
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko_certvalidator.registry import SimpleCertificateStore
from test_validation import DOC

from gateway.cli import main
from gateway.signing.report import Indication, SubIndication
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.sigpolicy import document_for

pki = test_validation.pki
DATA = Path(__file__).parent / "data" / "dss"
POLICY_OID = "2.16.76.1.7.1.11.1"
POLICY = DATA / "policy" / f"{POLICY_OID}.der"


def sign_info_hash() -> bytes:
    """sha256 over the signPolicyInfo of the ASN.1 SignaturePolicy (ETSI TR 102 272)."""
    contents = parser.parse(POLICY.read_bytes())[4]
    first = parser.parse(contents)
    rest = contents[len(first[3]) + len(first[4]) + len(first[5]):]
    second = parser.parse(rest)
    return hashlib.sha256(rest[: len(second[3]) + len(second[4]) + len(second[5])]).digest()


def signed_with_policy(pki, policy_hash: bytes) -> bytes:
    spi = cades_asn1.SignaturePolicyIdentifier({"signature_policy_id": {
        "sig_policy_id": POLICY_OID,
        "sig_policy_hash": {"digest_algorithm": {"algorithm": "sha256"}, "digest": policy_hash},
    }})
    store = SimpleCertificateStore.from_certs([pki.ca.cert, pki.root.cert])
    signer = signers.SimpleSigner(pki.signer.cert, pki.signer.key_info, store)
    settings = PdfCMSSignedAttributes(cades_signed_attrs=CAdESSignedAttrSpec(signature_policy_identifier=spi))
    info = asyncio.run(signer.async_sign_general_data(DOC, "sha256", detached=False, use_cades=True,
                                                      signed_attr_settings=settings))
    return info.dump()


@pytest.fixture
def policies(tmp_path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    shutil.copy(POLICY, folder / POLICY.name)
    return folder


def check(pki, data: bytes, folder: Path | None):
    return validate(data, pki.policy(offline=True, cache_dir=pki.crl_dir, signature_policy_dir=folder))


def test_matching_policy_hash_passes(pki, policies):
    s = check(pki, signed_with_policy(pki, sign_info_hash()), policies).signatures[0]
    assert s.indication == Indication.TOTAL_PASSED, s.errors
    assert not [w for w in s.warnings if "policy" in w]


def test_hash_of_the_whole_document_is_accepted_too(pki, policies):
    whole = hashlib.sha256(POLICY.read_bytes()).digest()
    assert check(pki, signed_with_policy(pki, whole), policies).indication == Indication.TOTAL_PASSED


def test_wrong_policy_hash_is_policy_processing_error(pki, policies):
    s = check(pki, signed_with_policy(pki, b"\x01" * 32), policies).signatures[0]
    assert s.intact is True
    assert s.indication == Indication.INDETERMINATE
    assert s.subindication == SubIndication.POLICY_PROCESSING_ERROR
    assert any(POLICY_OID in e for e in s.errors)


def test_policy_not_configured_is_a_warning_only(pki, tmp_path):
    for folder in (None, tmp_path):
        s = check(pki, signed_with_policy(pki, b"\x01" * 32), folder).signatures[0]
        assert s.indication == Indication.TOTAL_PASSED
        assert any("document not configured" in w for w in s.warnings)


def test_zero_hash_is_not_checked(pki, policies):
    s = check(pki, signed_with_policy(pki, b"\x00" * 32), policies).signatures[0]
    assert s.indication == Indication.TOTAL_PASSED
    assert any("zero hash" in w for w in s.warnings)


def test_configured_through_the_cli(pki, policies, tmp_path, capsys, monkeypatch):
    signature = tmp_path / "s.p7m"
    signature.write_bytes(signed_with_policy(pki, b"\x01" * 32))
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root.pem)
    monkeypatch.setenv("GATEWAY_TRUST__SIGNATURE_POLICIES", str(policies))
    monkeypatch.setenv("GATEWAY_TRUST__CACHE_DIR", str(pki.crl_dir))
    code = main(["verify", "--json", "--offline", "--trust", str(root), str(signature)])
    out = capsys.readouterr().out
    assert code == 3 and "POLICY_PROCESSING_ERROR" in out


def test_dss_pades_zero_policy_hash():
    pdf = DATA / "policy" / "TEST2_signed_with_zero_policy_hash.pdf"
    report = validate(pdf, ValidationPolicy(offline=True))
    assert any("zero hash" in w for s in report.signatures for w in s.warnings)
    assert all(s.subindication != SubIndication.POLICY_PROCESSING_ERROR for s in report.signatures)


def test_dss_xades_policy_checked_against_a_configured_document(tmp_path):
    corpus = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "files"
    signed = corpus / "dss-xades__Signature-X-UK_ASC-2.xml"
    if not signed.is_file():
        pytest.skip("no ../shared/conformance corpus")
    s = validate(signed, ValidationPolicy(offline=True)).signatures[0]
    assert any("1.2.3.4.5: document not configured" in w for w in s.warnings)
    (tmp_path / "1.2.3.4.5.pdf").write_bytes(b"not the policy the signer signed")
    s = validate(signed, ValidationPolicy(offline=True, signature_policy_dir=tmp_path)).signatures[0]
    assert s.intact and s.subindication == SubIndication.POLICY_PROCESSING_ERROR


def test_policy_documents_are_found_by_identifier_not_by_prefix(tmp_path):
    for name in ("1.2.3.4", "1.2.3.4.der", "1.2.3.4.5.pdf"):
        (tmp_path / name).write_bytes(b"x")
    assert document_for("1.2.3", tmp_path) is None
    assert document_for("urn:oid:1.2.3.4", tmp_path) == tmp_path / "1.2.3.4"
    assert document_for("1.2.3.4.5", tmp_path) == tmp_path / "1.2.3.4.5.pdf"
    assert document_for("https://example.org/policies/1.2.3.4.der", tmp_path) == tmp_path / "1.2.3.4.der"
    assert document_for("../../etc/passwd", tmp_path) is None
