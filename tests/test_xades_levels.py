"""XAdES B-T, B-LT and B-LTA against the development PKI (TSA, OCSP and CRL really served on
localhost); timestamps cross-checked with `openssl ts -verify`."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from conftest import dev_pki_env, dev_pki_fetch
from lxml import etree
from test_xades_support import needs_openssl, needs_xmlsec1, xmlsec1_verify

from gateway.signing.asic.sign import AsicOptions, asice_cades, asice_xades
from gateway.signing.certificates import load_certificates
from gateway.signing.keys import load_signing_key
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.xades import sign_detached, sign_enveloped, to_bytes
from gateway.signing.xml.builder import DataObject, XadesOptions
from gateway.signing.xml.c14n import EXC_C14N, canonicalize
from gateway.signing.xml.xades import XADES, XADES141
from gateway.signing.xml.xmldsig import DS

NS = {"ds": DS, "xades": XADES, "xades141": XADES141}


@pytest.fixture(scope="module")
def pki(dev_pki, tmp_path_factory):
    key = load_signing_key(str(dev_pki.seal_p12), dev_pki.password())
    roots = load_certificates(dev_pki.root_cert)
    ca = tmp_path_factory.mktemp("xl") / "ca.pem"
    ca.write_bytes(Path(dev_pki.root_cert).read_bytes() + Path(dev_pki.ca_cert).read_bytes())
    yield {"key": key, "roots": roots, "tsa": dev_pki.tsa_url, "ca": ca, "pki": dev_pki}
    key.close()


def _opts(pki, level: str) -> XadesOptions:
    return XadesOptions(level=level, tsa_url=pki["tsa"], trust_roots=pki["roots"])


def _validate(data: bytes, pki, offline: bool, detached=None):
    return validate(
        data, ValidationPolicy(trust_roots=pki["roots"], offline=offline, detached=detached or {},
                               fetch=dev_pki_fetch(pki["pki"]))
    )


@pytest.mark.parametrize(
    "level,fmt,kinds",
    [
        ("B-T", "XAdES-BASELINE-T", ["signature"]),
        ("B-LT", "XAdES-BASELINE-LT", ["signature"]),
        ("B-LTA", "XAdES-BASELINE-LTA", ["signature", "archive"]),
    ],
)
def test_levels_detached(pki, tmp_path, level, fmt, kinds):
    (tmp_path / "a.txt").write_bytes(b"letter body\n")
    sig = to_bytes(sign_detached(pki["key"], [DataObject("a.txt", b"letter body\n")], _opts(pki, level)))
    # B-LT and B-LTA carry their validation data: offline validation passes; B-T fetches it
    report = _validate(sig, pki, offline=level != "B-T", detached={"a.txt": tmp_path / "a.txt"})
    d = report.to_dict()
    assert d["indication"] == "TOTAL_PASSED", d
    s = d["signatures"][0]
    assert s["format"] == fmt
    assert [t["type"] for t in s["timestamps"]] == kinds and all(t["intact"] for t in s["timestamps"])
    assert s["best_signature_time"] == s["timestamps"][0]["time"]
    assert s["signer"]["edrpou"] == pki["pki"].edrpou


@needs_openssl
def test_signature_timestamp_verified_by_openssl(pki, tmp_path):
    sig = sign_detached(pki["key"], [DataObject("a.txt", b"x")], _opts(pki, "B-T"))
    token = base64.b64decode(sig.find(".//xades:SignatureTimeStamp/xades:EncapsulatedTimeStamp", NS).text)
    (tmp_path / "tst.der").write_bytes(token)
    (tmp_path / "covered").write_bytes(canonicalize(sig.find("ds:SignatureValue", NS), EXC_C14N))
    out = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-token_in",
            "-in",
            str(tmp_path / "tst.der"),
            "-data",
            str(tmp_path / "covered"),
            "-CAfile",
            str(pki["ca"]),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "Verification: OK" in out.stdout, out.stdout + out.stderr


@needs_xmlsec1
def test_enveloped_lta_verified_by_xmlsec1(pki, tmp_path):
    signed = sign_enveloped(pki["key"], b"<letter><to>Kyiv</to></letter>", _opts(pki, "B-LTA"))
    report = _validate(signed, pki, offline=True)
    assert report.indication == "TOTAL_PASSED", report.to_dict()
    assert report.signatures[0].format == "XAdES-BASELINE-LTA"
    (tmp_path / "s.xml").write_bytes(signed)
    out = xmlsec1_verify(tmp_path / "s.xml", pki["ca"])
    assert out.returncode == 0, out.stderr


def test_archive_timestamp_detects_changed_validation_data(pki):
    signed = sign_enveloped(pki["key"], b"<letter><to>Kyiv</to></letter>", _opts(pki, "B-LTA"))
    tree = etree.fromstring(signed)
    cv = tree.find(".//xades:CertificateValues", NS)
    cv.remove(cv[-1])
    report = _validate(etree.tostring(tree), pki, offline=True)
    sig = report.signatures[0]
    archive = [t for t in sig.timestamps if t.type == "archive"]
    assert archive and not archive[0].intact
    assert any("archive timestamp" in w and "imprint" in w for w in sig.warnings)
    assert sig.intact  # the signature itself is untouched


def test_asice_levels(pki):
    files = [DataObject("a.txt", b"alpha"), DataObject("b.txt", b"beta")]
    opts = AsicOptions(level="B-LTA", tsa_url=pki["tsa"], trust_roots=pki["roots"])
    for make in (asice_xades, asice_cades):
        first = make(pki["key"], files, opts)
        both = make(pki["key"], [], AsicOptions(level="B-T", tsa_url=pki["tsa"]), existing=first)
        d = _validate(both, pki, offline=False).to_dict()
        assert d["indication"] == "TOTAL_PASSED", d
        assert [s["format"].rsplit("-", 1)[1] for s in d["signatures"]] == ["LTA", "T"]


@pytest.mark.parametrize(
    "fmt,output", [("xades-enveloped", "letter-signed.xml"), ("asice-xades", "letter.xml.asice")]
)
def test_cli_b_t(pki, tmp_path, fmt, output):
    import json
    import os
    import sys

    (tmp_path / "letter.xml").write_bytes(b"<letter><to>Kherson</to></letter>")
    env = {**os.environ, "SEAL_PW": pki["pki"].password().decode()}
    run = [sys.executable, "-m", "gateway"]
    out = subprocess.run(
        [
            *run,
            "sign",
            "--format",
            fmt,
            "--level",
            "B-T",
            "--tsa",
            pki["tsa"],
            "--key",
            str(pki["pki"].seal_p12),
            "--key-password-env",
            "SEAL_PW",
            "letter.xml",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    out = subprocess.run(
        [*run, "verify", "--json", "--trust", str(pki["pki"].root_cert), output],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dev_pki_env(pki["pki"]),
        timeout=120,
    )
    report = json.loads(out.stdout)
    assert out.returncode == 0, report
    assert report["signatures"][0]["format"] == "XAdES-BASELINE-T"
