"""Tests that kill the mutants a forger would love (issue 13's mutation spot-check).

Each test pairs a forged input with its untouched control, so it fails both when the defence is
removed (the forgery passes) and when the test itself is broken (the control does not pass):
- a failed ECDSA verification must never count as success (CAdES and XAdES);
- the CMS content-type signed attribute must match the signed content;
- a time-stamp token whose own signature does not verify is refused at signing time;
- EDRPOU check digits of real codes between 30,000,000 and 60,000,000 (the other weights).
"""

from __future__ import annotations

import base64
import hashlib
import os

import httpx
import pytest
from asn1crypto import algos, cms, core, tsp
from conftest import dev_pki_fetch
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree
from test_cades_sign_support import asn1_cert

from gateway.errors import SigningError
from gateway.exchange.edrpou import is_valid
from gateway.signing.cades import CadesOptions, sign_cades_bytes
from gateway.signing.keys import load_signing_key
from gateway.signing.tsa import check_timestamp_token
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.xades import sign_enveloping
from gateway.signing.xml.builder import DataObject, XadesOptions

DSIG = "http://www.w3.org/2000/09/xmldsig#"
BODY = b"the council's letter, signed\n"


@pytest.fixture(scope="module")
def ec_seal(dev_pki):
    key = load_signing_key(str(dev_pki.seal_ec_p12), dev_pki.password())
    yield key
    key.close()


@pytest.fixture(scope="module")
def rsa_seal(dev_pki):
    key = load_signing_key(str(dev_pki.seal_p12), dev_pki.password())
    yield key
    key.close()


def _policy(dev_pki, tmp_path, **detached) -> ValidationPolicy:
    return ValidationPolicy(
        trust_roots=[asn1_cert(dev_pki.root_cert)], cache_dir=tmp_path / "cache",
        fetch=dev_pki_fetch(dev_pki), detached=dict(detached),
    )


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def _detached_body(tmp_path):
    path = tmp_path / "letter.txt"
    path.write_bytes(BODY)
    return path


def test_forged_ecdsa_cades_is_a_crypto_failure(ec_seal, dev_pki, tmp_path):
    body = _detached_body(tmp_path)
    signed = sign_cades_bytes(ec_seal, BODY, CadesOptions(level="B-B"))
    control = validate(signed, _policy(dev_pki, tmp_path, **{"letter.txt": body}))
    assert control.indication.name == "TOTAL_PASSED", control.to_dict()

    ci = cms.ContentInfo.load(signed)
    si = ci["content"]["signer_infos"][0]
    sig = si["signature"].native  # DER ECDSA-Sig-Value: flip a byte inside r, past the headers
    si["signature"] = core.OctetString(_flip(sig, 10))
    forged = validate(ci.dump(force=True), _policy(dev_pki, tmp_path, **{"letter.txt": body}))
    assert (forged.indication.name, forged.subindication.name) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")
    assert forged.signatures[0].intact is False


def _xml_signature_value(root: etree._Element) -> etree._Element:
    (value,) = root.iter(f"{{{DSIG}}}SignatureValue")
    return value


def test_forged_ecdsa_xades_is_a_crypto_failure(ec_seal, dev_pki, tmp_path):
    signed = sign_enveloping(ec_seal, DataObject("letter.txt", BODY), XadesOptions())
    control = validate(signed, _policy(dev_pki, tmp_path))
    assert control.indication.name == "TOTAL_PASSED", control.to_dict()

    root = etree.fromstring(signed)
    value = _xml_signature_value(root)
    raw = base64.b64decode(value.text)  # XMLDSig ECDSA: r || s, fixed width
    value.text = base64.b64encode(_flip(raw, len(raw) // 4)).decode()
    forged = validate(etree.tostring(root), _policy(dev_pki, tmp_path))
    assert (forged.indication.name, forged.subindication.name) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")
    assert forged.signatures[0].intact is False


def _resign_with_content_type(signed: bytes, dev_pki, content_type: str) -> bytes:
    """The same CAdES with its content-type attribute set to `content_type`, re-signed by the seal."""
    private_key, _, _ = pkcs12.load_key_and_certificates(dev_pki.seal_p12.read_bytes(), dev_pki.password())
    ci = cms.ContentInfo.load(signed)
    si = ci["content"]["signer_infos"][0]
    attrs = [
        cms.CMSAttribute({"type": "content_type", "values": [cms.ContentType(content_type)]})
        if attr["type"].native == "content_type" else attr
        for attr in si["signed_attrs"]
    ]
    si["signed_attrs"] = cms.CMSAttributes(attrs)
    to_sign = si["signed_attrs"].dump(force=True)
    to_sign = b"\x31" + to_sign[1:]  # signed over as SET OF, not [0] IMPLICIT
    si["signature"] = core.OctetString(private_key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256()))
    return ci.dump(force=True)


def test_content_type_attribute_must_match_the_content(rsa_seal, dev_pki, tmp_path):
    body = _detached_body(tmp_path)
    signed = sign_cades_bytes(rsa_seal, BODY, CadesOptions(level="B-B"))
    resigned = _resign_with_content_type(signed, dev_pki, "data")
    control = validate(resigned, _policy(dev_pki, tmp_path, **{"letter.txt": body}))
    assert control.indication.name == "TOTAL_PASSED", control.to_dict()

    mismatched = _resign_with_content_type(signed, dev_pki, "signed_data")
    report = validate(mismatched, _policy(dev_pki, tmp_path, **{"letter.txt": body}))
    assert report.indication.name != "TOTAL_PASSED", report.to_dict()
    assert any("content-type" in e for e in report.signatures[0].errors), report.to_dict()


def _fresh_token(dev_pki, digest: bytes) -> cms.ContentInfo:
    request = tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                            "hashed_message": digest},
        "nonce": int.from_bytes(os.urandom(8), "big"),
        "cert_req": True,
    })
    answer = httpx.post(dev_pki.tsa_url, content=request.dump(),
                        headers={"Content-Type": "application/timestamp-query"}, timeout=10)
    answer.raise_for_status()
    return tsp.TimeStampResp.load(answer.content)["time_stamp_token"]


def test_timestamp_token_with_a_broken_signature_is_refused(dev_pki):
    digest = hashlib.sha256(BODY).digest()
    token = _fresh_token(dev_pki, digest)
    tst_info = check_timestamp_token(token, digest, "sha256")
    assert tst_info["message_imprint"]["hashed_message"].native == digest

    si = token["content"]["signer_infos"][0]
    si["signature"] = core.OctetString(_flip(si["signature"].native, 5))
    forged = cms.ContentInfo.load(token.dump(force=True))
    with pytest.raises(SigningError, match="signature does not verify"):
        check_timestamp_token(forged, digest, "sha256")


def _resigned_token(token: cms.ContentInfo, dev_pki, *,
                    imprint_algorithm: str | None = None) -> cms.ContentInfo:
    """The token re-signed by the seal (a certificate without the time-stamping usage), optionally
    claiming another hash algorithm for the imprint: a well-formed token from the wrong signer."""
    private_key, cert, _ = pkcs12.load_key_and_certificates(dev_pki.seal_p12.read_bytes(), dev_pki.password())
    sd = token["content"]
    tst = sd["encap_content_info"]["content"].parsed
    if imprint_algorithm:
        tst["message_imprint"]["hash_algorithm"] = algos.DigestAlgorithm({"algorithm": imprint_algorithm})
    content = tst.dump(force=True)
    sd["encap_content_info"]["content"] = core.ParsableOctetString(content)
    seal = asn1_cert(dev_pki.seal_cert)
    si = sd["signer_infos"][0]
    si["sid"] = cms.SignerIdentifier({"issuer_and_serial_number": {
        "issuer": seal.issuer, "serial_number": seal.serial_number}})
    attrs = [a for a in si["signed_attrs"] if a["type"].native != "message_digest"]
    attrs.append(cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}))
    si["signed_attrs"] = cms.CMSAttributes(attrs)
    si["digest_algorithm"] = algos.DigestAlgorithm({"algorithm": "sha256"})
    si["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"})
    to_sign = b"\x31" + si["signed_attrs"].dump(force=True)[1:]
    si["signature"] = core.OctetString(private_key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256()))
    sd["certificates"] = cms.CertificateSet([cms.CertificateChoices({"certificate": seal})])
    return cms.ContentInfo.load(token.dump(force=True))


def test_timestamp_token_refusals(dev_pki):
    """What a TSA may answer and the gateway must refuse: not a SignedData, two signers, a signer
    without the time-stamping usage, an imprint under another hash algorithm."""
    digest = hashlib.sha256(BODY).digest()
    token = _fresh_token(dev_pki, digest)
    not_signed = cms.ContentInfo({"content_type": "data", "content": b"no token"})
    with pytest.raises(SigningError, match="something other than a SignedData"):
        check_timestamp_token(not_signed, digest, "sha256")
    two = cms.ContentInfo.load(token.dump())
    two["content"]["signer_infos"] = cms.SignerInfos([two["content"]["signer_infos"][0]] * 2)
    with pytest.raises(SigningError, match="exactly one signer"):
        check_timestamp_token(cms.ContentInfo.load(two.dump(force=True)), digest, "sha256")
    with pytest.raises(SigningError, match="not meant for time stamping"):
        check_timestamp_token(_resigned_token(cms.ContentInfo.load(token.dump()), dev_pki), digest, "sha256")
    other_hash = _resigned_token(cms.ContentInfo.load(token.dump()), dev_pki, imprint_algorithm="sha512")
    with pytest.raises(SigningError, match="different digest"):
        check_timestamp_token(other_hash, digest, "sha256")


# Real registry codes in the 30,000,000-60,000,000 band, where the weights are 7,1,2,3,4,5,6:
# ТОВ «Нова Пошта» and ТОВ «Розетка.УА» (public registry entries), and one code from either side.
@pytest.mark.parametrize("code", ["31316718", "37193071", "14360570", "04056612"])
def test_real_edrpou_codes_have_valid_check_digits(code):
    assert is_valid(code)
    wrong = code[:7] + str((int(code[7]) + 1) % 10)
    assert not is_valid(wrong)
