"""DSTU 4145 signing keys: PEM bundles, the pyhanko Signer, development keys, CAdES made with them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import algos, cms, pem

import gateway.crypto.ua  # noqa: F401 - registers the algorithms
from gateway.crypto.ua.dstu4145 import DSTUError
from gateway.crypto.ua.signing import DSTUSigner, is_dstu_bundle, load_bundle, parse_bundle, write_dev_bundle
from gateway.crypto.ua.verify import verify_signature
from gateway.signing.report import Indication
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy


@pytest.fixture(scope="module")
def dev_key(tmp_path_factory):
    path = tmp_path_factory.mktemp("dstu") / "seal.pem"
    root = write_dev_bundle(path, "Mykolaiv city council seal", edrpou="04056612")
    return path, root


def test_dev_bundle_loads(dev_key) -> None:
    path, root = dev_key
    assert path.stat().st_mode & 0o777 == 0o600
    data = path.read_bytes()
    assert is_dstu_bundle(data)
    bundle = load_bundle(path)
    assert bundle.little_endian
    assert bundle.certificate.public_key.algorithm == "dstu4145le"
    assert [c.dump() for c in bundle.chain] == [root.dump()]
    assert "PrivateKey" not in repr(bundle) and str(bundle.key.d) not in repr(bundle)


def test_signer_produces_verifiable_values(dev_key) -> None:
    bundle = load_bundle(dev_key[0])
    signer = DSTUSigner(bundle)
    mech = signer.get_signature_mechanism_for_digest("gost34311")
    assert mech["algorithm"].dotted == "1.2.804.2.1.1.1.1.3.1.1"
    info, oid = bundle.certificate.public_key, mech["algorithm"].dotted
    for digest in ("gost34311", "kupyna256"):
        value = signer.sign_raw(b"to be signed", digest)
        assert verify_signature(info, value, b"to be signed", digest, oid)
        assert not verify_signature(info, value, b"to be signeD", digest, oid)
    with pytest.raises(DSTUError):
        signer.sign_raw(b"x", "sha256")
    assert isinstance(mech, algos.SignedDigestAlgorithm)


@pytest.mark.parametrize("detached", [True, False])
def test_cades_with_dev_key_validates(dev_key, tmp_path: Path, detached: bool) -> None:
    path, root = dev_key
    bundle = load_bundle(path)
    doc = tmp_path / "letter.txt"
    doc.write_bytes("Лист до міської ради\n".encode() * 50)
    sig = bundle.sign_cades(doc.read_bytes(), detached=detached)
    assert cms.ContentInfo.load(sig)["content"]["signer_infos"][0]["digest_algorithm"]["algorithm"].native \
        == "gost34311"
    policy = ValidationPolicy(trust_roots=[root], offline=True, detached={doc.name: doc} if detached else {})
    report = validate(sig, policy)
    (signature,) = report.signatures
    assert signature.intact is True
    assert signature.signer.edrpou == "04056612"
    # the development certificates name no revocation source: trusted root -> TOTAL_PASSED
    assert report.indication is Indication.TOTAL_PASSED, signature.errors


def test_bad_bundles_are_refused(dev_key, tmp_path: Path) -> None:
    path, _root = dev_key
    blocks = list(pem.unarmor(path.read_bytes(), multiple=True))
    only_key = pem.armor("PRIVATE KEY", blocks[0][2])
    with pytest.raises(DSTUError, match="no certificate"):
        parse_bundle(only_key)
    wrong_cert = only_key + pem.armor("CERTIFICATE", blocks[2][2])
    with pytest.raises(DSTUError, match="no certificate"):
        parse_bundle(wrong_cert)
    with pytest.raises(DSTUError, match="PEM"):
        parse_bundle(b"\x30\x03\x02\x01\x00")
    with pytest.raises(DSTUError, match="encrypted"):
        parse_bundle(pem.armor("ENCRYPTED PRIVATE KEY", b"\x30\x00"))
    with pytest.raises(DSTUError, match="cannot read"):
        load_bundle(tmp_path / "missing.pem")
    assert not is_dstu_bundle(b"not pem")


def test_gateway_sign_and_verify_with_a_dstu_key(dev_key, tmp_path: Path) -> None:
    """`gateway sign` with a DSTU 4145 PEM bundle (no password), `gateway verify` trusting its root."""
    key_path, root = dev_key
    (tmp_path / "root.pem").write_bytes(pem.armor("CERTIFICATE", root.dump()))
    (tmp_path / "gateway.toml").write_text("")
    doc = tmp_path / "letter.txt"
    doc.write_bytes("Рішення сесії міської ради\n".encode() * 100)

    def gateway(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                              timeout=300, check=False, cwd=tmp_path)

    signed = gateway("sign", "--config", "gateway.toml", "--format", "cades", "--level", "B-B", "--key",
                     str(key_path), "--out", "letter.txt.p7s", "letter.txt")
    assert signed.returncode == 0, signed.stderr
    si = cms.ContentInfo.load((tmp_path / "letter.txt.p7s").read_bytes())["content"]["signer_infos"][0]
    assert si["signature_algorithm"]["algorithm"].native == "dstu4145le"
    assert si["digest_algorithm"]["algorithm"].native == "gost34311"
    checked = gateway("verify", "--config", "gateway.toml", "--json", "--offline", "--trust", "root.pem",
                      "--detached", "letter.txt", "letter.txt.p7s")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert report["indication"] == "TOTAL_PASSED"
    assert report["signatures"][0]["algorithm"] == {"digest": "gost34311", "signature": "dstu4145"}
    assert report["signatures"][0]["signer"]["edrpou"] == "04056612"
    doc.write_bytes(doc.read_bytes() + b" ")
    changed = gateway("verify", "--config", "gateway.toml", "--offline", "--trust", "root.pem",
                      "--detached", "letter.txt", "letter.txt.p7s")
    assert changed.returncode == 1
