"""CMS forms: a SignedData enveloping a SignedData, content types other than id-data, several signers
with different digest algorithms, signing certificates found only in the trust store or in a
certificate bag given besides the file. Built by pyhanko under the test PKI; openssl cms is the
second implementation where it can verify the form; the DSS file is from tests/data/dss."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
import test_validation
from asn1crypto import cms, core
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore
from test_validation import DOC, sign_cms

from gateway.cli import main
from gateway.signing.report import Indication, SubIndication
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

pki = test_validation.pki
DSS = Path(__file__).parent / "data" / "dss" / "files"


def check(pki, data: bytes, **kw):
    return validate(data, pki.policy(offline=True, cache_dir=pki.crl_dir, **kw))


def openssl_verifies(data: bytes, tmp_path: Path) -> bool:
    path = tmp_path / "s.p7m"
    path.write_bytes(data)
    out = subprocess.run(["openssl", "cms", "-verify", "-noverify", "-inform", "DER", "-in", str(path),
                          "-out", str(tmp_path / "content")], capture_output=True, text=True)
    return "Verification successful" in out.stderr


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def test_signed_data_enveloping_signed_data(pki):
    inner = sign_cms(pki, pki.signer, DOC, detached=False)
    outer = sign_cms(pki, pki.signer, inner, detached=False)
    report = check(pki, outer)
    assert [s.id for s in report.signatures] == ["S1", "inner-S1"]
    assert report.indication == Indication.TOTAL_PASSED, report.to_dict()
    assert all(s.intact for s in report.signatures)


def test_enveloped_signature_broken_inside_is_reported_inside(pki):
    inner = bytearray(sign_cms(pki, pki.signer, DOC, detached=False))
    at = bytes(inner).index(DOC[:20])
    inner[at] ^= 0x01  # the inner signature no longer matches its content; the outer signs it as is
    outer = sign_cms(pki, pki.signer, bytes(inner), detached=False)
    first, second = check(pki, outer).signatures
    assert first.intact and first.indication == Indication.TOTAL_PASSED
    assert second.id == "inner-S1" and second.intact is False
    assert (second.indication, second.subindication) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


def test_dss_signed_data_content_type_holding_plain_octets():
    report = validate(DSS / "dss-cades__cades-bes-signeddata-enveloping.p7m", ValidationPolicy(offline=True))
    assert [s.intact for s in report.signatures] == [True]


@needs_openssl
def test_content_type_other_than_data(pki, tmp_path):
    store = SimpleCertificateStore.from_certs([pki.ca.cert, pki.root.cert])
    signer = signers.SimpleSigner(pki.signer.cert, pki.signer.key_info, store)
    eci = cms.EncapsulatedContentInfo({"content_type": "1.3.6.1.4.1.99999.7.1",  # not id-data
                                       "content": core.ParsableOctetString(b"<letter>No. 42</letter>")})
    data = asyncio.run(signer.async_sign_general_data(eci, "sha256", detached=False, use_cades=True)).dump()
    report = check(pki, data)
    assert report.indication == Indication.TOTAL_PASSED, report.to_dict()
    assert openssl_verifies(data, tmp_path)


@needs_openssl
def test_two_signers_with_different_digest_algorithms(pki, tmp_path):
    first = cms.ContentInfo.load(sign_cms(pki, pki.signer, DOC, detached=False, digest="sha256"))
    second = cms.ContentInfo.load(sign_cms(pki, pki.signer, DOC, detached=False, digest="sha512"))
    sd = first["content"]
    sd["digest_algorithms"] = [{"algorithm": "sha256"}, {"algorithm": "sha512"}]
    sd["signer_infos"] = [sd["signer_infos"][0], second["content"]["signer_infos"][0]]
    data = first.dump(force=False)
    report = check(pki, data)
    assert [s.algorithm.digest for s in report.signatures] == ["sha256", "sha512"]
    assert report.indication == Indication.TOTAL_PASSED, report.to_dict()
    assert openssl_verifies(data, tmp_path)
    # the second signer alone broken: the first keeps its verdict
    sd["signer_infos"] = [sd["signer_infos"][0], _broken(second["content"]["signer_infos"][0])]
    first_sig, second_sig = check(pki, first.dump(force=False)).signatures
    assert first_sig.indication == Indication.TOTAL_PASSED
    assert second_sig.indication == Indication.TOTAL_FAILED


def _broken(si: cms.SignerInfo) -> cms.SignerInfo:
    copy = cms.SignerInfo.load(si.dump())
    value = bytearray(copy["signature"].native)
    value[5] ^= 0xFF
    copy["signature"] = bytes(value)
    return copy


def without_certificates(data: bytes) -> bytes:
    info = cms.ContentInfo.load(data)
    info["content"]["certificates"] = None
    return info.dump(force=False)


def test_signing_certificate_only_in_the_trust_store(pki):
    bare = without_certificates(sign_cms(pki, pki.signer, DOC, detached=False))
    report = validate(bare, ValidationPolicy(offline=True))
    assert report.subindication == SubIndication.NO_SIGNING_CERTIFICATE_FOUND
    # the signer's certificate trusted directly
    report = validate(bare, ValidationPolicy(trust_roots=[pki.signer.cert], offline=True,
                                             cache_dir=pki.crl_dir))
    s = report.signatures[0]
    assert s.intact and s.signer.subject and s.subindication != SubIndication.NO_SIGNING_CERTIFICATE_FOUND


def test_signing_certificate_in_a_certificate_bag(pki, tmp_path, capsys, monkeypatch):
    bare = without_certificates(sign_cms(pki, pki.signer, DOC, detached=False))
    report = check(pki, bare, extra_certificates=[pki.signer.cert, pki.ca.cert])
    assert report.indication == Indication.TOTAL_PASSED, report.to_dict()
    # through the CLI: --certs takes a PEM bundle; the bag is never a trust anchor
    signature, bag, root = tmp_path / "s.p7m", tmp_path / "bag.pem", tmp_path / "root.pem"
    signature.write_bytes(bare)
    bag.write_bytes(pki.signer.pem + pki.ca.pem)
    root.write_bytes(pki.root.pem)
    assert main(["verify", "--offline", "--certs", str(bag), str(signature)]) == 3
    assert "NO_CERTIFICATE_CHAIN_FOUND" in capsys.readouterr().out
    monkeypatch.setenv("GATEWAY_TRUST__CACHE_DIR", str(pki.crl_dir))
    assert main(["verify", "--offline", "--certs", str(bag), "--trust", str(root), str(signature)]) == 0
