"""The gateway's XAdES signatures checked by a second XAdES implementation, xadesjs (npm), via
tests/oracles/xades/verify.js: XMLDSig core, SigningTime, SigningCertificateV2, DataObjectFormat,
and the unsigned properties of the higher levels. The oracle is installed on demand; without node,
npm or the registry the tests are skipped with the reason."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from npm_oracle import npm_oracle
from test_xades_support import load_key, make_identity

from gateway.signing.asic.sign import AsicOptions, asice_xades
from gateway.signing.xades import sign_detached, sign_enveloped, sign_enveloping, to_bytes
from gateway.signing.xml.builder import DataObject, XadesOptions


@pytest.fixture(scope="session")
def oracle() -> Path:
    """xadesjs, installed on demand into tests/oracles/xades."""
    return npm_oracle("xades", "xadesjs") / "verify.js"


def _oracle(script: Path, signature: Path, *detached: Path) -> list[dict]:
    out = subprocess.run(
        ["node", str(script), str(signature), *map(str, detached)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["signatures"]


def _check(sig: dict, formats: int = 1) -> None:
    assert sig["ok"] is True, sig["error"]
    assert sig["signingCertificateV2"] == 1 and sig["signingCertificateOk"] is True
    assert sig["signingTime"] and sig["dataObjectFormats"] == formats


@pytest.fixture(scope="module", params=["rsa", "ecdsa"])
def key(request, tmp_path_factory):
    curve = ec.SECP384R1() if request.param == "ecdsa" else None
    return load_key(make_identity(tmp_path_factory.mktemp("oracle"), request.param, curve))


def test_detached(oracle, key, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"alpha\n")
    (tmp_path / "b.bin").write_bytes(bytes(range(256)))
    objects = [DataObject("a.txt", b"alpha\n", "text/plain"), DataObject("b.bin", bytes(range(256)))]
    (tmp_path / "sig.xml").write_bytes(to_bytes(sign_detached(key, objects, XadesOptions())))
    [sig] = _oracle(oracle, tmp_path / "sig.xml", tmp_path / "a.txt", tmp_path / "b.bin")
    _check(sig, formats=2)
    (tmp_path / "a.txt").write_bytes(b"alphA\n")
    [sig] = _oracle(oracle, tmp_path / "sig.xml", tmp_path / "a.txt", tmp_path / "b.bin")
    assert sig["ok"] is False and "digest" in sig["error"]


def test_enveloped_and_enveloping(oracle, key, tmp_path):
    (tmp_path / "env.xml").write_bytes(
        sign_enveloped(key, b'<doc xmlns="urn:x"><p>text</p></doc>', XadesOptions())
    )
    _check(_oracle(oracle, tmp_path / "env.xml")[0])
    (tmp_path / "ev.xml").write_bytes(
        sign_enveloping(key, DataObject("x.bin", b"\x00payload"), XadesOptions())
    )
    _check(_oracle(oracle, tmp_path / "ev.xml")[0])


def test_asice_xades_two_signatures(oracle, key, tmp_path):
    files = [DataObject("a.txt", b"alpha"), DataObject("b.txt", b"beta")]
    data = asice_xades(key, [], AsicOptions(), existing=asice_xades(key, files, AsicOptions()))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for f in files:
            (tmp_path / f.name).write_bytes(zf.read(f.name))
        for name in ("signatures0.xml", "signatures1.xml"):
            (tmp_path / name).write_bytes(zf.read(f"META-INF/{name}"))
            [sig] = _oracle(oracle, tmp_path / name, tmp_path / "a.txt", tmp_path / "b.txt")
            _check(sig, formats=2)


def test_lt_properties(oracle, dev_pki, tmp_path):
    """B-LT: SignatureTimeStamp and CertificateValues as xadesjs reads them. (xadesjs 2.6 knows only
    the XAdES 1.3.2 ArchiveTimeStamp, not the xadesv141 one EN 319 132-1 requires, so B-LTA
    archive timestamps are checked by test_xades_levels instead.)"""
    from gateway.signing.certificates import load_certificates
    from gateway.signing.keys import load_signing_key

    seal = load_signing_key(str(dev_pki.seal_p12), dev_pki.password())
    opts = XadesOptions(
        level="B-LT", tsa_url=dev_pki.tsa_url, trust_roots=load_certificates(dev_pki.root_cert)
    )
    (tmp_path / "lt.xml").write_bytes(sign_enveloped(seal, b"<letter><to>Odesa</to></letter>", opts))
    [sig] = _oracle(oracle, tmp_path / "lt.xml")
    _check(sig)
    assert sig["unsignedProperties"]["SignatureTimeStamp"] == 1 and sig["certificateValues"] >= 2
    assert sig["unsignedProperties"]["RevocationValues"] == 1
    seal.close()
