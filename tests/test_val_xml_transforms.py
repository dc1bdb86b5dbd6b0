"""C14N 1.1 (xml:id not inherited, xml:base fixed up), the XPath and XPath Filter 2.0 transforms.

xmlsec1 (libxml2) signs each document from a template: the second implementation; the validator
must find the signature intact, and a change to the signed part must break it.
Real files: esig/dss test resources with XPath / Filter 2.0 transforms (tests/data/dss/README.md).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.xml.c14n import C14N_10, C14N_11, EXC_C14N, canonicalize

pytestmark = pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 not installed")
DSS = Path(__file__).parent / "data" / "dss" / "files"

DOC = (
    '<a xmlns="urn:t" xml:base="http://example.org/x/" xml:id="top" xml:lang="uk">'
    '<b xml:base="y/" xml:space="preserve"><c xml:base="z.xml" Id="c1">Council decision No. 42</c></b>'
    "<note>not signed</note>{signature}</a>"
)
SIGNATURE = (
    '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
    '<CanonicalizationMethod Algorithm="{c14n}"/>'
    '<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<Reference URI="{uri}"><Transforms>{transforms}</Transforms>'
    '<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference>'
    "</SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature>"
)


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("xmlkey")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "transform test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    key_path, cert_path = folder / "key.pem", folder / "cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def xmlsec1_sign(key_pair, tmp_path: Path, *, uri: str, transforms: str, c14n: str = C14N_11) -> bytes:
    key, cert = key_pair
    template = tmp_path / "template.xml"
    template.write_text(DOC.format(signature=SIGNATURE.format(c14n=c14n, uri=uri, transforms=transforms)))
    out = tmp_path / "signed.xml"
    done = subprocess.run(["xmlsec1", "--sign", "--privkey-pem", f"{key},{cert}", "--id-attr:Id", "c",
                           "--output", str(out), str(template)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def transform(algorithm: str, body: str = "") -> str:
    return f'<Transform Algorithm="{algorithm}">{body}</Transform>'


def intact(data: bytes) -> bool:
    [sig] = validate(data, ValidationPolicy(offline=True)).signatures
    return sig.intact


def test_c14n_11_differs_from_10_only_where_the_specs_differ():
    doc = etree.fromstring(DOC.format(signature="").encode())
    c = doc[0][0]
    v10, v11 = canonicalize(c, C14N_10), canonicalize(c, C14N_11)
    assert b'xml:id="top"' in v10 and b"xml:id" not in v11
    assert b'xml:base="z.xml"' in v10 and b'xml:base="http://example.org/x/y/z.xml"' in v11
    assert b'xml:lang="uk"' in v11 and b'xml:space="preserve"' in v11
    assert b"xml:" not in canonicalize(c, EXC_C14N).replace(b'xml:base="z.xml"', b"")


@pytest.mark.parametrize("method", [C14N_11, C14N_10, EXC_C14N])
def test_subset_canonicalization_agrees_with_xmlsec1(key_pair, tmp_path, method):
    data = xmlsec1_sign(key_pair, tmp_path, uri="#c1", transforms=transform(method), c14n=method)
    assert intact(data)
    assert not intact(data.replace(b"No. 42", b"No. 43"))


def test_xpath_transform_agrees_with_xmlsec1(key_pair, tmp_path):
    xpath = ('<XPath xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:t="urn:t">'
             "not(ancestor-or-self::ds:Signature) and not(ancestor-or-self::t:note)</XPath>")
    data = xmlsec1_sign(key_pair, tmp_path, uri="", transforms=transform(
        "http://www.w3.org/TR/1999/REC-xpath-19991116", xpath) + transform(C14N_10))
    assert intact(data)
    assert intact(data.replace(b"not signed", b"changed, not signed"))
    assert not intact(data.replace(b"No. 42", b"No. 43"))


def test_xpath_filter2_agrees_with_xmlsec1(key_pair, tmp_path):
    filters = ('<XPath xmlns="http://www.w3.org/2002/06/xmldsig-filter2" '
               'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:t="urn:t" Filter="subtract">'
               "/descendant::ds:Signature | /descendant::t:note</XPath>")
    data = xmlsec1_sign(key_pair, tmp_path, uri="", transforms=transform(
        "http://www.w3.org/2002/06/xmldsig-filter2", filters) + transform(C14N_10))
    assert intact(data)
    assert intact(data.replace(b"not signed", b"changed, not signed"))
    assert not intact(data.replace(b"No. 42", b"No. 43"))


def test_xpath_filter2_intersect_agrees_with_xmlsec1(key_pair, tmp_path):
    filters = ('<XPath xmlns="http://www.w3.org/2002/06/xmldsig-filter2" xmlns:t="urn:t" '
               'Filter="intersect">//t:b</XPath>')
    data = xmlsec1_sign(key_pair, tmp_path, uri="", transforms=transform(
        "http://www.w3.org/2002/06/xmldsig-filter2", filters) + transform(C14N_11))
    assert intact(data)
    assert intact(data.replace(b"not signed", b"changed"))
    assert not intact(data.replace(b"No. 42", b"No. 43"))


@pytest.mark.parametrize("name", [
    "dss-xades__Signature-X-BE_ECON-3.xml",  # XPath Filter 2.0
    "dss-xades__xades-bes-issuer-no-linebreaks.xml",
    "dss-xades__data2sign-signed-xades-enveloped-baseline-lta.xml",  # XPath
    "dss-xades__xades-with-equivalent-certs.xml",
])
def test_dss_files_with_xpath_transforms_are_intact(name):
    report = validate(DSS / name, ValidationPolicy(offline=True))
    assert report.signatures and all(s.intact for s in report.signatures), report.to_dict()
