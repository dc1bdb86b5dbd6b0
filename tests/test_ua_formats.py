"""DSTU 4145 keys sign every format at every level (CAdES, PAdES, XAdES, ASiC-S/E) and the
validation engine verifies them; the development PKI's TSA, CRL and OCSP really run on localhost."""

from __future__ import annotations

import pytest
from test_cades_sign_support import minimal_pdf

from gateway.crypto.ua.signing import DSTUSigner, make_dev_bundle, parse_bundle
from gateway.signing.certificates import load_certificates
from gateway.signing.formats import SignRequest, sign_files
from gateway.signing.keys import SigningKey
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

FORMATS = {
    "cades": ("a.txt", "CAdES"), "cades-attached": ("a.txt", "CAdES"), "pades": ("a.pdf", "PAdES"),
    "xades": ("a.txt", "XAdES"), "xades-enveloped": ("a.xml", "XAdES"),
    "xades-enveloping": ("a.txt", "XAdES"),
    "asice-cades": ("a.txt", "CAdES"), "asice-xades": ("a.txt", "XAdES"), "asics-cades": ("a.txt", "CAdES"),
}


@pytest.fixture(scope="module")
def seal():
    data, root = make_dev_bundle("Mykolaiv City Council (DSTU test seal)", edrpou="04056612")
    bundle = parse_bundle(data)
    key = SigningKey(certificate=bundle.certificate, chain=bundle.chain, signer=DSTUSigner(bundle),
                     raw_signer=bundle.sign_raw, source="test")
    return key, root


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("ua-formats-in")
    (d / "a.txt").write_text("Розпорядження міського голови № 17", encoding="utf-8")
    (d / "a.pdf").write_bytes(minimal_pdf())
    (d / "a.xml").write_bytes("<doc><p>Розпорядження</p></doc>".encode())
    return d


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT", "B-LTA"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_dstu_key_signs_every_format_and_level(fmt, level, seal, inputs, dev_pki, tmp_path):
    key, dstu_root = seal
    name, family = FORMATS[fmt]
    roots = [dstu_root, *load_certificates(dev_pki.root_cert)]
    req = SignRequest(level=level, tsa_url=dev_pki.tsa_url, trust_roots=roots)
    [out] = sign_files(fmt, key, [inputs / name], req, tmp_path / f"signed-{fmt}")
    offline = level in ("B-LT", "B-LTA")  # these carry their validation data
    report = validate(out, ValidationPolicy(trust_roots=roots, offline=offline,
                                            detached={name: inputs / name}))
    [sig] = report.signatures
    expected = ("TOTAL_PASSED", f"{family}-BASELINE-{level[2:]}")
    assert (report.indication.value, sig.format) == expected, report
