"""Real DSTU 4145 / GOST 34.311 signatures: the SEV sample messages of ../shared/sev-reference.

Each sample carries a PDF (DocTransfer) and a detached CAdES signature over it (SignInfo/SignData,
linked by docTransfer_idnumber) by a test CA of 2014-2015. The certificate is expired and its CA is
not trusted here, so the verdict is INDETERMINATE; the signature itself must be intact, and must stop
being intact when a byte of the document or of the signed attributes changes.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import cms
from lxml import etree

from gateway.crypto.ua.keys import load_public_key
from gateway.crypto.ua.verify import verify_signature
from gateway.signing.report import Indication, SubIndication
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "sev-reference" / "samples"
NAMES = ["ds05", "ds06", "ds07", "ds12"]
DSTU_LE = "1.2.804.2.1.1.1.1.3.1.1"

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/sev-reference absent")


def extract(name: str) -> tuple[bytes, bytes]:
    """(document, detached CMS) of the sample's signature."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    tree = etree.parse(str(SAMPLES / f"{name}.xml"), parser)
    docs = {d.get("idnumber"): d for d in tree.iter("DocTransfer")}
    info = next(tree.iter("SignInfo"))
    doc = docs[info.get("docTransfer_idnumber")]
    return base64.b64decode(doc.text), base64.b64decode(info.find("SignData").text)


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("sev")
    out = {}
    for name in NAMES:
        doc, sig = extract(name)
        (folder / f"{name}.pdf").write_bytes(doc)
        (folder / f"{name}.p7s").write_bytes(sig)
        out[name] = (folder / f"{name}.pdf", folder / f"{name}.p7s")
    return out


def signer_parts(sig: bytes):
    signed_data = cms.ContentInfo.load(sig)["content"]
    cert = signed_data["certificates"][0].chosen
    si = signed_data["signer_infos"][0]
    return cert, si


@pytest.mark.parametrize("name", NAMES)
def test_signature_over_signed_attributes(name: str) -> None:
    _doc, sig = extract(name)
    cert, si = signer_parts(sig)
    key = load_public_key(cert.public_key)
    assert key.little_endian and key.key.curve.m == 257 and key.key.curve.oid  # explicit = M257PB
    assert si["digest_algorithm"]["algorithm"].native == "gost34311"
    assert si["signature_algorithm"]["algorithm"].native == "dstu4145le"
    signed = b"\x31" + si["signed_attrs"].dump()[1:]
    signature = si["signature"].native
    assert verify_signature(cert.public_key, signature, signed, "gost34311", DSTU_LE)
    for pos in (5, len(signed) // 2, len(signed) - 3):
        damaged = bytearray(signed)
        damaged[pos] ^= 0x01
        assert not verify_signature(cert.public_key, signature, bytes(damaged), "gost34311", DSTU_LE)


def _report(sig: Path, doc: Path):
    policy = ValidationPolicy(offline=True, detached={doc.name: doc}, source_name=sig.name)
    return validate(sig.read_bytes(), policy)


@pytest.mark.parametrize("name", ["ds05", "ds06", "ds07"])
def test_engine_reports_intact_indeterminate(samples, name: str) -> None:
    doc, sig = samples[name]
    report = _report(sig, doc)
    (signature,) = report.signatures
    assert signature.intact is True
    assert signature.indication is Indication.INDETERMINATE
    assert signature.subindication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert signature.algorithm.signature == "dstu4145"
    assert signature.algorithm.digest == "gost34311"


def test_cli_verify_detached(samples) -> None:
    doc, sig = samples["ds12"]
    proc = subprocess.run(
        [sys.executable, "-m", "gateway", "verify", "--json", "--offline", "--detached", str(doc), str(sig)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 3, proc.stderr
    report = json.loads(proc.stdout)
    assert report["indication"] == "INDETERMINATE"
    (signature,) = report["signatures"]
    assert signature["intact"] is True
    assert signature["subindication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    assert signature["algorithm"] == {"digest": "gost34311", "signature": "dstu4145"}
    assert signature["signer"]["serial"] == "5B63D88375D920180400000050050000460B0000"


def test_changed_document_byte_is_not_intact(samples, tmp_path: Path) -> None:
    doc, sig = samples["ds12"]
    data = bytearray(doc.read_bytes())
    data[len(data) // 3] ^= 0x20
    damaged = tmp_path / doc.name
    damaged.write_bytes(bytes(data))
    (signature,) = _report(sig, damaged).signatures
    assert signature.intact is False
    assert signature.indication is Indication.TOTAL_FAILED
    assert signature.subindication is SubIndication.HASH_FAILURE


def test_changed_signed_attribute_is_not_intact(samples, tmp_path: Path) -> None:
    doc, sig = samples["ds12"]
    raw = sig.read_bytes()
    _cert, si = signer_parts(raw)
    # a digit of the signing-certificate-v2 hash inside the signed attributes
    attrs = si["signed_attrs"].dump()
    target = next(a for a in si["signed_attrs"] if a["type"].dotted == "1.2.840.113549.1.9.16.2.47").dump()
    offset = raw.index(attrs) + attrs.index(target) + len(target) - 40
    damaged = bytearray(raw)
    damaged[offset] ^= 0x01
    bad = tmp_path / sig.name
    bad.write_bytes(bytes(damaged))
    (signature,) = _report(bad, doc).signatures
    assert signature.intact is False
    assert signature.indication is Indication.TOTAL_FAILED
