"""DSTU 4145 keys sign every format at every level (CAdES, PAdES, XAdES, ASiC-S/E) and the
validation engine verifies them; the development PKI's TSA, CRL and OCSP really run on localhost."""

from __future__ import annotations

import shutil

import pytest
from asn1crypto import cms, core, x509
from second_opinion import openssl_cms_verify
from test_cades_sign_support import minimal_pdf
from test_ua_keys_support import write_pem

from gateway.cli import main
from gateway.crypto.ua.signing import DSTUSigner, make_dev_bundle, parse_bundle
from gateway.errors import SigningError
from gateway.signing.cades import new_hash
from gateway.signing.certificates import load_certificates
from gateway.signing.formats import SignRequest, sign_files
from gateway.signing.keys import SigningKey, load_key_file
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


def _attrs(signature: bytes) -> dict[str, list]:
    si = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    return {a["type"].dotted: list(a["values"]) for a in si["unsigned_attrs"]}


@pytest.mark.parametrize("which", ["dstu", "rsa"])
def test_cades_x_long_made_validated_and_named_both_ways(which, seal, inputs, dev_pki, tmp_path, capsys):
    """`--level X-Long`: CAdES-C (complete certificate and revocation references) plus the values;
    validated offline from what it carries; the report names it CAdES-BASELINE-LT and CAdES-X-Long."""
    if which == "dstu":
        key, dstu_root = seal
        roots = [dstu_root, *load_certificates(dev_pki.root_cert)]
    else:
        key = load_key_file(dev_pki.seal_p12, dev_pki.password())
        roots = load_certificates(dev_pki.root_cert)
    req = SignRequest(level="X-LONG", tsa_url=dev_pki.tsa_url, trust_roots=roots)
    [out] = sign_files("cades", key, [inputs / "a.txt"], req, tmp_path / "a.txt.p7s")
    attrs = _attrs(out.read_bytes())
    refs_oid, rev_refs_oid, values_oid, rev_values_oid = (f"1.2.840.113549.1.9.16.2.{n}"
                                                          for n in (21, 22, 23, 24))
    assert {refs_oid, rev_refs_oid, values_oid, rev_values_oid, "1.2.840.113549.1.9.16.2.14"} <= set(attrs)
    # every referenced certificate is among the values, by its hash under the signature's digest
    values = [c.dump() for c in core.SequenceOf.load(attrs[values_oid][0].dump(), spec=x509.Certificate)]
    digest = key.default_digest
    for ref in core.Sequence.load(attrs[refs_oid][0].dump()):
        other_hash = core.Sequence.load(ref.dump())[0]
        hashed = core.Sequence.load(other_hash.dump())[1].native
        assert any(new_hash(digest, v).digest() == hashed for v in values)
    policy = ValidationPolicy(trust_roots=roots, offline=True, detached={"a.txt": inputs / "a.txt"})
    report = validate(out, policy)
    [sig] = report.signatures
    assert (report.indication.value, sig.format, sig.profile) == ("TOTAL_PASSED", "CAdES-BASELINE-LT",
                                                                  "CAdES-X-Long"), report
    assert sig.to_dict()["profile"] == "CAdES-X-Long"
    if which == "rsa" and shutil.which("openssl"):  # an implementation the project does not use
        ca = write_pem(tmp_path / "ca.pem", *roots)
        assert openssl_cms_verify(out, ca, content=inputs / "a.txt").returncode == 0


def test_profile_names_of_lower_levels(seal, inputs, dev_pki, tmp_path):
    key, dstu_root = seal
    for level, profile in (("B-B", "CAdES-BES"), ("B-T", "CAdES-T"), ("B-LTA", "CAdES-A")):
        roots = [dstu_root, *load_certificates(dev_pki.root_cert)]
        req = SignRequest(level=level, tsa_url=dev_pki.tsa_url, trust_roots=roots)
        [out] = sign_files("cades", key, [inputs / "a.txt"], req, tmp_path / f"{level}.p7s")
        policy = ValidationPolicy(trust_roots=roots, detached={"a.txt": inputs / "a.txt"})
        report = validate(out, policy)
        assert report.signatures[0].profile == profile


def test_x_long_is_a_cades_level_only(seal, inputs, dev_pki, tmp_path):
    key, dstu_root = seal
    req = SignRequest(level="X-LONG", tsa_url=dev_pki.tsa_url, trust_roots=[dstu_root])
    with pytest.raises(SigningError, match="unknown signature level 'X-LONG'"):
        sign_files("pades", key, [inputs / "a.pdf"], req, tmp_path / "x.pdf")


def test_cli_x_long_sign_and_verify_name_both_levels(dev_pki, inputs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEAL_PW", dev_pki.password().decode())
    letter = tmp_path / "letter.txt"
    letter.write_bytes((inputs / "a.txt").read_bytes())
    code = main(["sign", "--format", "cades", "--level", "X-Long", "--key", str(dev_pki.seal_p12),
                 "--key-password-env", "SEAL_PW", "--tsa", dev_pki.tsa_url, str(letter)])
    out = capsys.readouterr()
    assert code == 0, out.err
    code = main(["verify", "--offline", "--trust", str(dev_pki.root_cert), "--detached", str(letter),
                 f"{letter}.p7s"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert "CAdES-BASELINE-LT (CAdES-X-Long): TOTAL_PASSED" in out.out
