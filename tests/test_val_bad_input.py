"""Bad input of the kinds this validator learnt (transforms, counter-signatures, nested CMS, archive
timestamps, policies, PDF byte ranges) gets a report, never an exception or a traceback."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import test_validation
from asn1crypto import cms, core
from test_validation import DOC, sign_cms
from test_validation_pdf import minimal_pdf, sign_pdf

from gateway.cli import main
from gateway.signing.report import Indication, SignatureReport
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.sigpolicy import check_cms_policy

pki = test_validation.pki
DSS = Path(__file__).parent / "data" / "dss" / "files"
OFFLINE = ValidationPolicy(offline=True)
XPATH_FILE = DSS / "dss-xades__data2sign-signed-xades-enveloped-baseline-lta.xml"
FILTER2_FILE = DSS / "dss-xades__Signature-X-BE_ECON-3.xml"


@pytest.mark.parametrize("old,new", [
    (b"not(ancestor-or-self::ds:Signature)", b"not((("),
    (b"not(ancestor-or-self::ds:Signature)", b"undefined:fn()"),
    (b"not(ancestor-or-self::ds:Signature)", b"count(//*)"),
    (b"not(ancestor-or-self::ds:Signature)", b""),
    (b"not(ancestor-or-self::ds:Signature)", b"x" * 5000),
])
def test_broken_xpath_expressions(old, new):
    data = XPATH_FILE.read_bytes().replace(old, new)
    report = validate(data, OFFLINE)
    assert report.signatures and report.signatures[0].intact is False
    assert report.indication != Indication.TOTAL_PASSED


@pytest.mark.parametrize("old,new", [
    (b'Filter="subtract"', b'Filter="bogus"'),
    (b"/descendant::*[name()='ds:Signature']", b"/descendant::*[["),
    (b"/descendant::*[name()='ds:Signature']", b"'a string'"),
    (b"/descendant::*[name()='ds:Signature']", b"//@*"),
])
def test_broken_filter2_transforms(old, new):
    data = FILTER2_FILE.read_bytes().replace(old, new)
    assert data != FILTER2_FILE.read_bytes()
    report = validate(data, OFFLINE)
    assert report.signatures and report.signatures[0].intact is False


def test_detached_counter_signature_pointing_nowhere():
    src = zipfile.ZipFile(DSS / "dss-asic-xades__detached-counter-signature.asice")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "META-INF/signatures1.xml":
                data = data.replace(b'URI="META-INF/signatures0.xml"', b'URI="META-INF/missing.xml"')
            z.writestr(info, data)
    report = validate(out.getvalue(), OFFLINE)
    first, second = report.signatures
    assert first.intact and second.intact is False and second.counter_signature_of is None


def test_signed_data_nested_very_deep(pki):
    data = DOC
    for _ in range(8):
        data = sign_cms(pki, pki.signer, data, detached=False)
    report = validate(data, OFFLINE)
    assert 1 < len(report.signatures) <= 4
    assert all(s.intact for s in report.signatures)


def with_unsigned_attribute(data: bytes, oid: str, value: bytes) -> bytes:
    info = cms.ContentInfo.load(data)
    si = info["content"]["signer_infos"][0]
    si["unsigned_attrs"] = cms.CMSAttributes([
        cms.CMSAttribute({"type": oid, "values": [core.Any.load(value)]}),
    ])
    return info.dump(force=False)


@pytest.mark.parametrize("value", [
    core.OctetString(b"garbage").dump(),
    core.Sequence.load(b"\x30\x03\x02\x01\x05").dump(),
    cms.ContentInfo({"content_type": "data", "content": b"not a token"}).dump(),
])
def test_garbage_archive_timestamp_v2(pki, value):
    data = with_unsigned_attribute(sign_cms(pki, pki.signer, DOC, detached=False),
                                   "1.2.840.113549.1.9.16.2.48", value)
    report = validate(data, OFFLINE)
    s = report.signatures[0]
    assert s.intact
    assert [t.intact for t in s.timestamps if t.type == "archive"] == [False]


def test_garbage_signature_policy_attribute_is_a_warning(pki):
    """A signed sigPolicyId attribute that cannot be parsed is a warning, not a crash."""
    body = core.ObjectIdentifier("1.2.840.113549.1.9.16.2.15").dump() + b"\x31\x03\x04\x01x"
    attribute = b"\x30" + bytes([len(body)]) + body
    attrs = cms.CMSAttributes.load(b"\x31" + bytes([len(attribute)]) + attribute)
    report = SignatureReport(indication=Indication.TOTAL_PASSED)
    check_cms_policy(report, attrs, OFFLINE)
    assert report.indication == Indication.TOTAL_PASSED
    assert report.warnings == ["the signature-policy-identifier attribute cannot be read"]


@pytest.mark.parametrize("damage", [
    lambda d: d.replace(b"/ByteRange [", b"/ByteRange [ 999999999999"),
    lambda d: d.replace(b"/Contents <", b"/Contents <zz"),
    lambda d: d[: d.index(b"/Contents <") + 40] + b">" + d[d.index(b"/Contents <") + 41:],
])
def test_damaged_pdf_signatures_are_reports(pki, damage, tmp_path, capsys):
    path = tmp_path / "damaged.pdf"
    path.write_bytes(damage(sign_pdf(pki, minimal_pdf())))
    assert main(["verify", "--json", "--offline", str(path)]) in (1, 3)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and '"indication"' in captured.out
