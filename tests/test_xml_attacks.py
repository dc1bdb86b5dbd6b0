"""Hostile XML: entity tricks, DTDs, signature wrapping (XSW), signature exclusion, references that
point outside. Each gives a clear TOTAL_FAILED / INDETERMINATE (or NO_SIGNATURE_FOUND) with a reason,
reads nothing from disk or network, and finishes quickly."""

from __future__ import annotations

import base64
import copy

import pytest
from lxml import etree
from test_xades_support import load_key, make_identity, trust_roots, validate_bytes

from gateway.signing.certificates import load_certificates
from gateway.signing.xades import self_check, sign_detached, sign_enveloped, to_bytes
from gateway.signing.xml.builder import DataObject, XadesBuilder, XadesOptions
from gateway.signing.xml.xades import XADES
from gateway.signing.xml.xmldsig import DS, ReferenceProcessor
from gateway.xmlsafe import parse_xml

NS = {"ds": DS}


@pytest.fixture(scope="module")
def ident(tmp_path_factory):
    files = make_identity(tmp_path_factory.mktemp("attacks"), "attacks")
    return {"files": files, "key": load_key(files), "roots": trust_roots(files)}




def _failed(data: bytes, indication: str = "TOTAL_FAILED", sub: str | None = "FORMAT_FAILURE", roots=()):
    report = validate_bytes(data, list(roots))
    d = report.to_dict()
    assert d["indication"] == indication, d
    if sub is not None:
        assert sub in {d["subindication"], *(s["subindication"] for s in d["signatures"])}, d
    reasons = d.get("errors", []) + [e for s in d["signatures"] for e in s["errors"]]
    assert reasons, d
    assert not any(s["intact"] for s in d["signatures"])
    return d


# --- parser-level attacks ----------------------------------------------------------------------


def test_xxe_file_is_refused_and_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    doc = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]><r>&x;</r>'.encode()
    d = _failed(doc)
    assert "DOCTYPE" in d["errors"][0]
    assert "TOP-SECRET-MARKER" not in str(d)


def test_billion_laughs_is_refused_quickly():
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    d = _failed(f'<?xml version="1.0"?><!DOCTYPE r [{lol}]><r>&l9;</r>'.encode())
    assert "DOCTYPE" in d["errors"][0]


def test_external_dtd_and_parameter_entities_not_fetched(http_spy):
    url, hits = http_spy
    for doc in (
        f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "{url}/x.dtd"><r/>',
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;]><r>&x;</r>',
        f'<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{url}/inc.xml"/></r>',
    ):
        validate_bytes(doc.encode())
    assert hits == []


def test_doctype_in_utf16_is_refused():
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'.encode("utf-16")
    _failed(doc)


def test_undefined_entity_and_deep_nesting_are_format_failures():
    _failed(b"<r>&undefined;</r>")
    _failed(b"<a>" * 20000 + b"</a>" * 20000)


# --- signature wrapping ------------------------------------------------------------------------

PAYLOAD_DOC = b'<root xmlns="urn:t"><payload Id="p1"><amount>10</amount></payload></root>'


def _signed_by_id(ident, inside: bool) -> etree._ElementTree:
    """A document whose <payload Id="p1"> is signed by Id; the signature sits inside the payload
    (enveloped) or beside it."""
    tree = parse_xml(PAYLOAD_DOC)
    payload = tree.getroot()[0]
    builder = XadesBuilder(ident["key"], XadesOptions())
    builder.add_element(payload)
    (payload if inside else tree.getroot()).append(builder.sig)
    if not inside:  # a detached same-document reference: no enveloped transform
        trs = builder.sig.find("ds:SignedInfo/ds:Reference/ds:Transforms", NS)
        trs.remove(trs[0])
    sig = builder.finish(lambda s: ReferenceProcessor(tree, lambda uri: None))
    self_check(sig, ReferenceProcessor(tree, lambda uri: None), ident["key"])
    return tree


def _bytes(tree: etree._ElementTree) -> bytes:
    return etree.tostring(tree)


@pytest.mark.parametrize("inside", [True, False])
def test_untouched_id_signatures_pass(ident, inside):
    report = validate_bytes(_bytes(_signed_by_id(ident, inside)), ident["roots"])
    assert report.indication == "TOTAL_PASSED", report.to_dict()


@pytest.mark.parametrize("inside", [True, False])
def test_xsw_duplicated_id(ident, inside):
    """An evil element with the same Id placed before or after the signed one."""
    for position in (0, -1):
        tree = _signed_by_id(ident, inside)
        root = tree.getroot()
        evil = etree.fromstring('<payload xmlns="urn:t" Id="p1"><amount>9999</amount></payload>')
        root.insert(position if position == 0 else len(root), evil)
        d = _failed(_bytes(tree), "INDETERMINATE", "SIGNED_DATA_NOT_FOUND", ident["roots"])
        assert any("2 elements carry Id" in e for e in d["signatures"][0]["errors"])


def test_xsw_original_moved_into_signature(ident):
    """XSW1: the original signed element moved into the ds:Signature, an evil one in its place."""
    tree = _signed_by_id(ident, inside=False)
    root = tree.getroot()
    original, sig = root[0], root.find("ds:Signature", NS)
    sig.append(original)
    root.insert(0, etree.fromstring('<payload xmlns="urn:t" Id="evil"><amount>9999</amount></payload>'))
    _failed(_bytes(tree), "INDETERMINATE", "SIGNED_DATA_NOT_FOUND", ident["roots"])


@pytest.mark.parametrize("wrap", ["object", "object-wrapper", "nested-object"])
def test_xsw_original_wrapped_in_object(ident, wrap):
    """XSW with ds:Object wrapping: the original hidden in (a wrapper in) an object of the signature."""
    tree = _signed_by_id(ident, inside=False)
    root = tree.getroot()
    original, sig = root[0], root.find("ds:Signature", NS)
    obj = etree.SubElement(sig, f"{{{DS}}}Object")
    if wrap == "object":
        obj.append(original)
    elif wrap == "object-wrapper":
        etree.SubElement(obj, "wrapper").append(original)
    else:
        etree.SubElement(etree.SubElement(obj, "wrapper"), f"{{{DS}}}Object").append(original)
    root.insert(0, etree.fromstring('<payload xmlns="urn:t" Id="evil"><amount>9999</amount></payload>'))
    _failed(_bytes(tree), "INDETERMINATE", "SIGNED_DATA_NOT_FOUND", ident["roots"])


def test_xsw_enveloped_signature_moved_out(ident):
    """The enveloped signature moved to an evil element while the original keeps its Id elsewhere."""
    tree = _signed_by_id(ident, inside=True)
    root = tree.getroot()
    original = root[0]
    sig = original.find("ds:Signature", NS)
    evil = etree.SubElement(root, "{urn:t}payload", Id="evil")
    etree.SubElement(evil, "{urn:t}amount").text = "9999"
    evil.append(sig)
    wrapper = etree.SubElement(root, "{urn:t}extensions")
    wrapper.append(original)
    _failed(_bytes(tree), "INDETERMINATE", "SIGNED_DATA_NOT_FOUND", ident["roots"])


def test_xsw_second_qualifying_properties(ident):
    signed = to_bytes(sign_detached(ident["key"], [DataObject("a.txt", b"a")], XadesOptions()))
    tree = parse_xml(signed)
    sig = tree.getroot()
    fake = copy.deepcopy(sig.find("ds:Object", NS))
    sig.insert(3, fake)
    _failed(_bytes(tree), roots=ident["roots"])


# --- exclusion and references elsewhere ----------------------------------------------------------


def test_signature_removed_is_no_signature(ident):
    signed = sign_enveloped(ident["key"], b"<doc><a>1</a></doc>", XadesOptions())
    tree = parse_xml(signed)
    sig = tree.getroot().find("ds:Signature", NS)
    sig.getparent().remove(sig)
    report = validate_bytes(_bytes(tree), ident["roots"])
    assert report.indication == "NO_SIGNATURE_FOUND" and report.errors and report.exit_code == 3


def test_data_reference_removed(ident):
    signed = sign_enveloped(ident["key"], b"<doc><a>1</a></doc>", XadesOptions())
    tree = parse_xml(signed)
    si = tree.getroot().find("ds:Signature/ds:SignedInfo", NS)
    si.remove(si.find("ds:Reference", NS))
    _failed(_bytes(tree), "INDETERMINATE", "SIGNED_DATA_NOT_FOUND", ident["roots"])


def test_signed_properties_reference_removed(ident):
    signed = to_bytes(sign_detached(ident["key"], [DataObject("a.txt", b"a")], XadesOptions()))
    tree = parse_xml(signed)
    si = tree.getroot().find("ds:SignedInfo", NS)
    si.remove(si.findall("ds:Reference", NS)[-1])
    # as DSS decides a removed reference (dss-signed-altered-refRemoved.xml): the properties shown
    # are not among the signed data, which decides before the broken signature value
    _failed(_bytes(tree), "INDETERMINATE", "SIGNED_DATA_NOT_FOUND", ident["roots"])


def test_bad_signature_value(ident):
    signed = sign_enveloped(ident["key"], b"<doc><a>1</a></doc>", XadesOptions())
    tree = parse_xml(signed)
    sv = tree.getroot().find("ds:Signature/ds:SignatureValue", NS)
    sv.text = ("A" if sv.text[0] != "A" else "B") + sv.text[1:]
    _failed(_bytes(tree), "TOTAL_FAILED", "SIG_CRYPTO_FAILURE", ident["roots"])


@pytest.mark.parametrize(
    "uri", ["file:///etc/passwd", "http://{host}/a.txt", "../a.txt", "/etc/passwd", "sub/../../a.txt"]
)
def test_detached_reference_pointing_elsewhere(ident, tmp_path, http_spy, uri):
    url, hits = http_spy
    uri = uri.format(host=url.split("//", 1)[1])
    (tmp_path / "a.txt").write_bytes(b"a")
    signed = to_bytes(sign_detached(ident["key"], [DataObject("a.txt", b"a")], XadesOptions()))
    tree = parse_xml(signed)
    tree.getroot().find("ds:SignedInfo/ds:Reference", NS).set("URI", uri)
    report = validate_bytes(_bytes(tree), ident["roots"], {"a.txt": tmp_path / "a.txt"})
    assert (report.indication, report.subindication) == ("INDETERMINATE", "SIGNED_DATA_NOT_FOUND")
    assert any("outside" in e for e in report.signatures[0].errors)
    assert hits == []


def test_unknown_transform_is_not_run(ident):
    signed = sign_enveloped(ident["key"], b"<doc><a>1</a></doc>", XadesOptions())
    tree = parse_xml(signed)
    trs = tree.getroot().find("ds:Signature/ds:SignedInfo/ds:Reference/ds:Transforms", NS)
    xslt = etree.SubElement(
        trs, f"{{{DS}}}Transform", Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"
    )
    xslt.text = "<xsl:stylesheet/>"
    report = validate_bytes(_bytes(tree), ident["roots"])
    assert report.indication != "TOTAL_PASSED" and not report.signatures[0].intact
    assert any("unsupported transform" in e for e in report.signatures[0].errors)


def test_detached_file_path_is_never_opened(ident, tmp_path):
    """A reference names a file that exists next to the signature but was not passed: not read."""
    (tmp_path / "a.txt").write_bytes(b"a")
    signed = to_bytes(sign_detached(ident["key"], [DataObject("a.txt", b"a")], XadesOptions()))
    report = validate_bytes(signed, ident["roots"])
    assert report.subindication == "SIGNED_DATA_NOT_FOUND"


def test_damaged_signatures_always_give_a_clear_report(ident):
    """Elements, attributes and texts of a signed document removed or changed at random: always a
    clear verdict, never an exception, never TOTAL_PASSED with a changed signed part."""
    import random

    rnd = random.Random(11)
    base = etree.fromstring(sign_enveloped(ident["key"], b'<doc><a Id="x">1</a></doc>', XadesOptions()))
    assert validate_bytes(etree.tostring(base), ident["roots"]).indication == "TOTAL_PASSED"
    for _ in range(120):
        tree = etree.fromstring(etree.tostring(base))
        nodes = list(tree.iter())[1:]
        for _ in range(rnd.randint(1, 3)):
            node = rnd.choice(nodes)
            if node.getparent() is not None and rnd.random() < 0.5:
                node.getparent().remove(node)
            elif node.attrib:
                del node.attrib[rnd.choice(list(node.attrib))]
            else:
                node.text = rnd.choice(["", "x", "AAAA", "!"])
        report = validate_bytes(etree.tostring(tree), ident["roots"])
        reasons = report.errors + [e for s in report.signatures for e in s.errors]
        assert not any(r.startswith("cannot validate") or "malformed signature (" in r for r in reasons), (
            reasons
        )
        if report.indication == "TOTAL_PASSED":
            assert _protected_parts(tree) == _protected_parts(base)


def _protected_parts(root: etree._Element) -> list[bytes]:
    """The document outside the signature, SignedInfo, SignatureValue and SignedProperties."""
    doc = etree.fromstring(etree.tostring(root))
    parts = []
    for sig in doc.iter(f"{{{DS}}}Signature"):
        parts += [etree.tostring(e, method="c14n") for e in sig.iter(
            f"{{{DS}}}SignedInfo", f"{{{DS}}}SignatureValue", f"{{{XADES}}}SignedProperties")]
        sig.getparent().remove(sig)
    return [etree.tostring(doc, method="c14n"), *parts]


def test_many_references_to_a_big_document_are_bounded(ident):
    """500 references each canonicalizing a 1 MiB document: refused once the work budget is spent,
    not 500 times the work."""
    import time

    from gateway.signing.validation.policy import ValidationPolicy
    from gateway.signing.validation.xml import validate_signatures

    body = "".join(f"<item>{i:06d}</item>" for i in range(60_000))
    signed = sign_enveloped(ident["key"], f"<doc>{body}</doc>".encode(), XadesOptions())
    tree = parse_xml(signed)
    si = tree.getroot().find("ds:Signature/ds:SignedInfo", NS)
    first = si.find("ds:Reference", NS)
    for _ in range(500):
        si.insert(0, copy.deepcopy(first))
    started = time.monotonic()
    [report] = validate_signatures(
        tree, lambda uri: None, ValidationPolicy(offline=True), budget=64 * 1024 * 1024
    )
    assert time.monotonic() - started < 20
    assert not report.intact and report.indication != "TOTAL_PASSED"
    assert any("bytes of processing" in e for e in report.errors)


def test_signing_certificate_swapped(ident, tmp_path):
    """Another certificate put in KeyInfo (the one SigningCertificateV2 names removed):
    INDETERMINATE / NO_SIGNING_CERTIFICATE_FOUND, and the signature is not reported intact."""
    other = make_identity(tmp_path, "other")
    der = load_certificates(other["cert"])[0].dump()
    signed = sign_enveloped(ident["key"], b"<doc><a>1</a></doc>", XadesOptions())
    tree = parse_xml(signed)
    x509_data = tree.getroot().find("ds:Signature/ds:KeyInfo/ds:X509Data", NS)
    for cert in list(x509_data):
        x509_data.remove(cert)
    etree.SubElement(x509_data, f"{{{DS}}}X509Certificate").text = base64.b64encode(der).decode()
    d = _failed(_bytes(tree), "INDETERMINATE", "NO_SIGNING_CERTIFICATE_FOUND", ident["roots"])
    assert "SigningCertificate" in d["signatures"][0]["errors"][0]
