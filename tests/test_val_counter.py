"""Counter-signatures: CAdES (unsigned attribute 1.2.840.113549.1.9.6) and XAdES (CounterSignature,
also detached in an ASiC-E container): each is its own entry with `counter_signature_of`, and the
signature it counter-signs keeps its own verdict.

Real files: esig/dss test resources (tests/data/dss/README.md); built ones: the test PKI.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import test_val_xml_transforms
import test_validation
from asn1crypto import cms
from test_validation import DOC, sign_cms

from gateway.signing.report import Indication, SubIndication
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

pki = test_validation.pki
key_pair = test_val_xml_transforms.key_pair  # the xmlsec1 key fixture, shared
DSS = Path(__file__).parent / "data" / "dss" / "files"
ASICE_COUNTER = "dss-asic-xades__detached-counter-signature.asice"


def counter_signed(pki, *, break_counter: bool = False) -> bytes:
    """An attached CAdES signature whose SignerInfo carries a counter-signature by the same signer."""
    parent = cms.ContentInfo.load(sign_cms(pki, pki.signer, DOC, detached=False))
    si = parent["content"]["signer_infos"][0]
    counter = cms.ContentInfo.load(sign_cms(pki, pki.signer, si["signature"].native, detached=True))
    csi = counter["content"]["signer_infos"][0]
    if break_counter:
        value = bytearray(csi["signature"].native)
        value[10] ^= 0xFF
        csi["signature"] = bytes(value)
    attr = cms.CMSAttribute({"type": "counter_signature", "values": [csi]})
    si["unsigned_attrs"] = cms.CMSAttributes([attr])
    return parent.dump(force=False)


def by_id(report) -> dict:
    return {s.id: s for s in report.signatures}


def test_cades_counter_signature_is_its_own_entry(pki):
    report = validate(counter_signed(pki), pki.policy(offline=True, cache_dir=pki.crl_dir))
    sigs = by_id(report)
    assert set(sigs) == {"S1", "S1-counter1"}
    assert sigs["S1"].counter_signature_of is None
    assert sigs["S1-counter1"].counter_signature_of == "S1"
    assert all(s.intact and s.indication == Indication.TOTAL_PASSED for s in sigs.values()), report.to_dict()
    d = report.to_dict()["signatures"]
    assert "counter_signature_of" not in d[0] and d[1]["counter_signature_of"] == "S1"


def test_broken_counter_signature_leaves_the_signature_its_verdict(pki, tmp_path):
    data = counter_signed(pki, break_counter=True)
    report = validate(data, pki.policy(offline=True, cache_dir=pki.crl_dir))
    sigs = by_id(report)
    assert sigs["S1"].indication == Indication.TOTAL_PASSED and sigs["S1"].intact
    counter = sigs["S1-counter1"]
    assert (counter.indication, counter.subindication) == (Indication.TOTAL_FAILED,
                                                          SubIndication.SIG_CRYPTO_FAILURE)
    assert counter.intact is False
    assert report.indication == Indication.TOTAL_FAILED  # the worst of the signatures (INTERFACE.md)
    if shutil.which("openssl"):  # a second implementation: the counter-signed signature is fine
        path = tmp_path / "s.p7m"
        path.write_bytes(data)
        out = subprocess.run(["openssl", "cms", "-verify", "-noverify", "-inform", "DER", "-in", str(path),
                              "-out", str(tmp_path / "content")], capture_output=True, text=True)
        assert "Verification successful" in out.stderr, out.stderr


def test_dss_cades_counter_signed_lta():
    report = validate(DSS / "dss-cades__counterSignedLTA.p7s", ValidationPolicy(offline=True))
    sigs = by_id(report)
    assert sigs["S1-counter1"].counter_signature_of == "S1"
    assert all(s.intact for s in sigs.values())


def test_dss_xades_embedded_counter_signatures():
    report = validate(DSS / "dss-xades__xades-counter-sig-copied-sigtst.xml", ValidationPolicy(offline=True))
    main, *counters = report.signatures
    assert main.counter_signature_of is None
    assert len(counters) == 2
    assert {c.counter_signature_of for c in counters} == {main.id}
    assert all(s.intact for s in report.signatures)


def test_dss_asic_e_detached_xades_counter_signature():
    report = validate(DSS / ASICE_COUNTER, ValidationPolicy(offline=True))
    first, second = report.signatures
    assert first.id == "META-INF/signatures0.xml:1602143131533"
    assert second.counter_signature_of == first.id
    assert first.counter_signature_of is None
    assert first.intact and second.intact
    assert "META-INF/signatures0.xml" in second.signed_objects


@pytest.mark.parametrize("flip", ["counter", "parent"])
def test_dss_asic_e_detached_counter_signature_tampered(tmp_path, flip):
    """The counter-signed ds:SignatureValue changed: the counter-signature's digest breaks; the
    counter-signature itself changed: only its own verdict falls."""
    src = zipfile.ZipFile(DSS / ASICE_COUNTER)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if flip == "parent" and info.filename == "META-INF/signatures0.xml":
                value_start = b'Id="1602143131533-SignatureValue">'
                data = data.replace(value_start, value_start + b"A")
            if flip == "counter" and info.filename == "META-INF/signatures1.xml":
                data = data.replace(b"jr5PZtrwdZE5", b"jr5PZtrwdZE6")
            z.writestr(info, data)
    first, second = validate(out.getvalue(), ValidationPolicy(offline=True)).signatures
    assert second.intact is False
    assert second.indication == Indication.TOTAL_FAILED
    if flip == "counter":
        assert first.intact is True


XADES_COUNTER_TEMPLATE = (
    '<letter xmlns="urn:t"><body>Council decision No. 42</body><Signature xmlns="http://www.w3.org/20'
    '00/09/xmldsig#" Id="parent"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/200'
    '1/10/xml-exc-c14n#"/><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha2'
    '56"/><Reference URI=""><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#envel'
    'oped-signature"/><Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></Transforms><D'
    'igestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference></Sig'
    'nedInfo><SignatureValue Id="parent-sv"/><KeyInfo><X509Data/></KeyInfo><Object><xades:QualifyingP'
    'roperties xmlns:xades="http://uri.etsi.org/01903/v1.3.2#" Target="#parent"><xades:UnsignedProper'
    'ties><xades:UnsignedSignatureProperties><xades:CounterSignature><Signature Id="counter"><SignedI'
    'nfo><CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><SignatureMetho'
    'd Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><Reference URI="#parent-sv" Typ'
    'e="http://uri.etsi.org/01903#CountersignedSignature"><Transforms><Transform Algorithm="http://ww'
    'w.w3.org/2001/10/xml-exc-c14n#"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04'
    '/xmlenc#sha256"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data/></K'
    'eyInfo></Signature></xades:CounterSignature></xades:UnsignedSignatureProperties></xades:Unsigned'
    'Properties></xades:QualifyingProperties></Object></Signature></letter>'
)


def xmlsec1(command: str, *args: str, cwd: Path) -> None:
    ids = ["--id-attr:Id", "Signature", "--id-attr:Id", "SignatureValue"]
    out = subprocess.run(["xmlsec1", command, *ids, *args], capture_output=True, text=True, cwd=cwd,
                         timeout=60)
    assert out.returncode == 0, out.stderr


@pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 not installed")
def test_xades_counter_signature_built_by_xmlsec1(key_pair, tmp_path):
    """xmlsec1 signs a signature, then a CounterSignature over its ds:SignatureValue in its
    UnsignedSignatureProperties; both verify with xmlsec1 and here, and each keeps its own verdict."""
    key, cert = key_pair
    (tmp_path / "tpl.xml").write_text(XADES_COUNTER_TEMPLATE)
    xmlsec1("--sign", "--privkey-pem", f"{key},{cert}", "--node-id", "parent", "--output", "step.xml",
            "tpl.xml", cwd=tmp_path)
    xmlsec1("--sign", "--privkey-pem", f"{key},{cert}", "--node-id", "counter", "--output", "signed.xml",
            "step.xml", cwd=tmp_path)
    xmlsec1("--verify", "--trusted-pem", str(cert), "--node-id", "counter", "signed.xml", cwd=tmp_path)
    data = (tmp_path / "signed.xml").read_bytes()
    parent, counter = validate(data, ValidationPolicy(offline=True)).signatures
    assert (parent.id, counter.id, counter.counter_signature_of) == ("parent", "counter", "parent")
    assert parent.intact and counter.intact
    # the counter-signature's own value broken: only its verdict falls
    value = data.index(b"<SignatureValue>", data.index(b'Id="counter"')) + len(b"<SignatureValue>")
    broken = data[:value] + (b"B" if data[value:value + 1] == b"A" else b"A") + data[value + 1:]
    parent, counter = validate(broken, ValidationPolicy(offline=True)).signatures
    assert parent.intact and counter.intact is False
    assert counter.indication == Indication.TOTAL_FAILED
