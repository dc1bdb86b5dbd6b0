"""XAdES signatures made by the gateway: validated by our engine AND by xmlsec1 (core XMLDSig), in
every shape (detached, enveloped, enveloping; RSA and ECDSA), and through `gateway sign`."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from test_xades_support import (
    PASSWORD,
    load_key,
    make_identity,
    needs_xmlsec1,
    trust_roots,
    validate_bytes,
    xmlsec1_verify,
)

from gateway.signing.xades import sign_detached, sign_enveloped, sign_enveloping, to_bytes
from gateway.signing.xml.builder import DataObject, XadesOptions
from gateway.signing.xml.xades import XADES

DOC = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<doc xmlns="urn:example" Id="d1">\n'
    b'  <item n="1">one</item>\n  <!-- a comment -->\n</doc>\n'
)


@pytest.fixture(scope="module", params=["rsa", "ecdsa"])
def ident(request, tmp_path_factory):
    curve = ec.SECP256R1() if request.param == "ecdsa" else None
    files = make_identity(tmp_path_factory.mktemp(request.param), request.param, curve)
    return {"files": files, "key": load_key(files), "roots": trust_roots(files)}


def _passed(data: bytes, ident, detached=None) -> dict:
    report = validate_bytes(data, ident["roots"], detached).to_dict()
    assert report["indication"] == "TOTAL_PASSED", report
    assert all(s["intact"] for s in report["signatures"])
    return report


@needs_xmlsec1
def test_detached_over_two_files(ident, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"first file\n")
    (tmp_path / "b name.bin").write_bytes(os.urandom(3000))
    objects = [DataObject(p.name, p.read_bytes()) for p in (tmp_path / "a.txt", tmp_path / "b name.bin")]
    sig = to_bytes(sign_detached(ident["key"], objects, XadesOptions()))
    (tmp_path / "sig.xml").write_bytes(sig)
    report = _passed(sig, ident, {p.name: p for p in (tmp_path / "a.txt", tmp_path / "b name.bin")})
    sig0 = report["signatures"][0]
    assert sig0["format"] == "XAdES-BASELINE-B" and sig0["signed_objects"] == ["a.txt", "b name.bin"]
    assert sig0["algorithm"]["signature"] == ident["key"].key_algorithm
    out = xmlsec1_verify(tmp_path / "sig.xml", ident["files"]["root"])
    assert out.returncode == 0, out.stderr
    assert "SignedInfo References (ok/all): 3/3" in out.stderr

    # one changed byte: ours says HASH_FAILURE, xmlsec1 refuses too
    (tmp_path / "a.txt").write_bytes(b"first filE\n")
    report = validate_bytes(
        sig, ident["roots"], {"a.txt": tmp_path / "a.txt", "b name.bin": tmp_path / "b name.bin"}
    )
    assert (report.indication, report.subindication) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert not report.signatures[0].intact
    assert xmlsec1_verify(tmp_path / "sig.xml", ident["files"]["root"]).returncode != 0


def test_detached_without_content_is_indeterminate(ident):
    sig = to_bytes(sign_detached(ident["key"], [DataObject("x.txt", b"x")], XadesOptions()))
    report = validate_bytes(sig, ident["roots"])
    assert (report.indication, report.subindication) == ("INDETERMINATE", "SIGNED_DATA_NOT_FOUND")


@needs_xmlsec1
def test_enveloped_keeps_the_document_and_verifies(ident, tmp_path):
    signed = sign_enveloped(ident["key"], DOC, XadesOptions())
    root = etree.fromstring(signed)
    assert root.tag == "{urn:example}doc" and root.find("{urn:example}item").text == "one"
    _passed(signed, ident)
    (tmp_path / "env.xml").write_bytes(signed)
    out = xmlsec1_verify(tmp_path / "env.xml", ident["files"]["root"])
    assert out.returncode == 0, out.stderr
    tampered = signed.replace(b">one<", b">two<")
    report = validate_bytes(tampered, ident["roots"])
    assert (report.indication, report.subindication) == ("TOTAL_FAILED", "HASH_FAILURE")
    (tmp_path / "bad.xml").write_bytes(tampered)
    assert xmlsec1_verify(tmp_path / "bad.xml", ident["files"]["root"]).returncode != 0


@needs_xmlsec1
def test_enveloping_binary(ident, tmp_path):
    payload = bytes(range(256)) * 10
    signed = sign_enveloping(ident["key"], DataObject("blob.bin", payload), XadesOptions())
    _passed(signed, ident)
    (tmp_path / "ev.xml").write_bytes(signed)
    assert xmlsec1_verify(tmp_path / "ev.xml", ident["files"]["root"]).returncode == 0


def test_signed_properties(ident):
    when_before = datetime.now(UTC).replace(microsecond=0)
    sig = sign_detached(ident["key"], [DataObject("a.xml", b"<a/>", "text/xml")], XadesOptions())
    ns = {"xades": XADES, "ds": "http://www.w3.org/2000/09/xmldsig#"}
    cert = ident["key"].certificate
    digest = sig.find(".//xades:SigningCertificateV2/xades:Cert/xades:CertDigest/ds:DigestValue", ns).text
    assert base64.b64decode(digest) == hashlib.sha256(cert.dump()).digest()
    issuer_serial = base64.b64decode(sig.find(".//xades:IssuerSerialV2", ns).text)
    from asn1crypto import tsp

    parsed = tsp.IssuerSerial.load(issuer_serial)
    assert parsed["serial_number"].native == cert.serial_number
    assert parsed["issuer"][0].chosen == cert.issuer
    fmt = sig.find(".//xades:DataObjectFormat", ns)
    ref = sig.find(".//ds:Reference", ns)
    assert fmt.get("ObjectReference") == "#" + ref.get("Id")
    assert fmt.find("xades:MimeType", ns).text == "text/xml"
    signing_time = sig.find(".//xades:SigningTime", ns).text
    report = validate_bytes(to_bytes(sig), ident["roots"])
    assert report.signatures[0].claimed_signing_time >= when_before
    assert signing_time.endswith("Z")


def test_weak_digest_refused(ident):
    from gateway.errors import SigningError

    with pytest.raises(SigningError):
        sign_detached(ident["key"], [DataObject("a", b"a")], XadesOptions(digest_algorithm="sha1"))


def test_higher_level_needs_tsa():
    from gateway.errors import SigningError

    with pytest.raises(SigningError, match="time-stamping"):
        XadesOptions(level="B-T")


def _gateway(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize(
    "fmt,inputs,output",
    [
        ("xades", ["a.txt", "b.txt"], "a.txt.xades.xml"),
        ("xades-enveloped", ["doc.xml"], "doc-signed.xml"),
        ("xades-enveloping", ["a.txt"], "a.txt.xades.xml"),
        ("asice-xades", ["a.txt", "b.txt"], "a.txt.asice"),
        ("asice-cades", ["a.txt", "b.txt"], "a.txt.asice"),
        ("asics-cades", ["a.txt"], "a.txt.asics"),
    ],
)
def test_cli_sign_then_verify(fmt, inputs, output, tmp_path):
    files = make_identity(tmp_path, "cli")
    (tmp_path / "a.txt").write_text("alpha\n")
    (tmp_path / "b.txt").write_text("beta\n")
    (tmp_path / "doc.xml").write_bytes(DOC)
    env = {"XKP": PASSWORD.decode()}
    out = _gateway(
        "sign",
        "--format",
        fmt,
        "--level",
        "B-B",
        "--key",
        str(files["p12"]),
        "--key-password-env",
        "XKP",
        *inputs,
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / output).is_file()
    detached = [a for name in inputs for a in ("--detached", name)] if fmt == "xades" else []
    out = _gateway(
        "verify", "--json", "--offline", "--trust", str(files["root"]), *detached, output, cwd=tmp_path
    )
    report = json.loads(out.stdout)
    assert out.returncode == 0, report
    assert report["indication"] == "TOTAL_PASSED"
    expected_container = {"asice": "ASiC-E", "asics": "ASiC-S"}.get(output.rsplit(".", 1)[1], "XML")
    assert report["container"] == expected_container


def test_utf16_signature_is_recognised_as_xml(ident):
    """A signature saved as UTF-16 (with or without its byte order mark) is XML, not a broken CMS:
    canonical XML is UTF-8 whatever the file's encoding, so it still validates."""
    sig = sign_enveloping(ident["key"], DataObject("a.txt", b"alpha"), XadesOptions())
    text = sig.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    for data in (text.encode("utf-16"), text.encode("utf-16-le")):
        report = validate_bytes(data, ident["roots"]).to_dict()
        assert (report["container"], report["indication"]) == ("XML", "TOTAL_PASSED"), report
