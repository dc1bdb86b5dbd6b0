"""XML: fake or misplaced SignedProperties and objects, signing-certificate references that match
nothing: reported as DSS reports them, never TOTAL_PASSED for what was not signed.
Real files from the esig/dss test resources (tests/data/dss/README.md)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from lxml import etree

from gateway.signing.report import Indication, SubIndication
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

DSS = Path(__file__).parent / "data" / "dss" / "files"
OFFLINE = ValidationPolicy(offline=True)
DS = "http://www.w3.org/2000/09/xmldsig#"


def test_fake_signed_properties_are_signed_data_not_found():
    """The signed SignedProperties sit in a separate ds:Object; the ones in QualifyingProperties (with
    a SigningTime of 2218) are not signed."""
    s = validate(DSS / "dss-xades__XSW-enveloped-fake-signedProperties.xml", OFFLINE).signatures[0]
    assert s.indication == Indication.INDETERMINATE
    assert s.subindication == SubIndication.SIGNED_DATA_NOT_FOUND
    assert any("SignedProperties" in e for e in s.errors)


def test_signing_certificate_digest_mismatch_is_identification_failure_but_intact():
    names = ("dss-xades__xades-wrong-sign-cert-digest.xml", "dss-xades__xades-sign-cert-v2-wrong-digest.xml")
    for name in names:
        s = validate(DSS / name, OFFLINE).signatures[0]
        assert s.intact is True, name
        assert s.indication == Indication.INDETERMINATE
        assert s.subindication == SubIndication.NO_SIGNING_CERTIFICATE_FOUND


def test_data_in_an_object_of_an_enveloping_signature_is_signed_data():
    """ASiC-E signature files hold only signatures: an element directly in a ds:Object is data."""
    report = validate(DSS / "dss-asic-xades__detached-counter-signature.asice", OFFLINE)
    assert "#x_1602143131533-bank-id" in report.signatures[0].signed_objects
    assert all(s.intact for s in report.signatures)


def test_object_data_of_a_signature_inside_other_content_is_not_accepted():
    """The same reference when the signature sits in a document with other content: that content
    could be taken for what was signed (signature wrapping)."""
    xml = zipfile.ZipFile(DSS / "dss-asic-xades__detached-counter-signature.asice").read(
        "META-INF/signatures0.xml")
    tree = etree.fromstring(xml)
    wrapper = etree.Element("{urn:t}letter")
    etree.SubElement(wrapper, "{urn:t}amount").text = "9999"
    wrapper.append(tree[0])
    report = validate(etree.tostring(wrapper), OFFLINE)
    s = report.signatures[0]
    assert s.indication != Indication.TOTAL_PASSED
    assert any("wrapped inside a signature" in e for e in s.errors)
