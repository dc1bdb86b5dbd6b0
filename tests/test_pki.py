"""The development PKI: real CRL, OCSP and TSA services, checked with OpenSSL as a second opinion."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import requests
from asn1crypto import crl, x509

from gateway.pki.dev import create_dev_pki, load_dev_pki
from gateway.signing.certificates import OID_UA_EDRPOU, load_certificates, registry_codes

openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def cert(path) -> x509.Certificate:
    return load_certificates(path)[0]


def test_seal_carries_the_edrpou_both_ways(dev_pki):
    seal = cert(dev_pki.seal_cert)
    assert seal.subject.native["organization_identifier"] == "NTRUA-04056612"
    directory = [e for e in seal["tbs_certificate"]["extensions"] if e["extn_id"].dotted == "2.5.29.9"]
    attrs = directory[0]["extn_value"].parsed
    assert attrs[0]["type"].dotted == OID_UA_EDRPOU
    assert attrs[0]["values"][0].native == "04056612"
    assert registry_codes(seal) == ("04056612", None)


def test_chain_and_validity(dev_pki):
    root, ca, seal = cert(dev_pki.root_cert), cert(dev_pki.ca_cert), cert(dev_pki.seal_cert)
    assert seal.issuer == ca.subject and ca.issuer == root.subject and root.self_signed == "maybe"
    assert seal.public_key.bit_size >= 2048
    expired = cert(dev_pki.dir / "expired.pem")
    assert expired.not_valid_after < seal.not_valid_after
    assert dev_pki.crl_url in str(seal.crl_distribution_points[0]["distribution_point"].native)
    assert seal.ocsp_urls == [dev_pki.ocsp_url]


def test_crl_served_lists_the_revoked_certificate(dev_pki):
    answer = requests.get(dev_pki.crl_url, timeout=10)
    assert answer.status_code == 200
    listed = crl.CertificateList.load(answer.content)
    revoked = {r["user_certificate"].native for r in listed["tbs_cert_list"]["revoked_certificates"]}
    assert revoked == {cert(dev_pki.dir / "revoked.pem").serial_number}


@openssl
def test_ocsp_answers_revoked_and_good(dev_pki):
    out = subprocess.run(
        ["openssl", "ocsp", "-issuer", str(dev_pki.ca_cert), "-cert", str(dev_pki.dir / "revoked.pem"),
         "-cert", str(dev_pki.seal_cert), "-url", dev_pki.ocsp_url, "-CAfile", str(dev_pki.root_cert)],
        capture_output=True, text=True, timeout=30,
    )
    assert "Response verify OK" in out.stderr + out.stdout
    assert f"{dev_pki.dir / 'revoked.pem'}: revoked" in out.stdout
    assert f"{dev_pki.seal_cert}: good" in out.stdout


@openssl
def test_tsa_token_verifies_with_openssl(dev_pki, tmp_path):
    doc = tmp_path / "doc.txt"
    doc.write_bytes("Лист".encode())
    subprocess.run(["openssl", "ts", "-query", "-data", str(doc), "-sha256", "-cert", "-out",
                    str(tmp_path / "q.tsq")], check=True, capture_output=True)
    answer = requests.post(dev_pki.tsa_url, data=(tmp_path / "q.tsq").read_bytes(), timeout=10,
                           headers={"Content-Type": "application/timestamp-query"})
    (tmp_path / "r.tsr").write_bytes(answer.content)
    out = subprocess.run(["openssl", "ts", "-verify", "-data", str(doc), "-in", str(tmp_path / "r.tsr"),
                          "-CAfile", str(dev_pki.root_cert)], capture_output=True, text=True)
    assert out.returncode == 0 and "Verification: OK" in out.stdout


def test_pkcs12_files_open_with_the_password(dev_pki):
    from cryptography.hazmat.primitives.serialization import pkcs12

    key, leaf, chain = pkcs12.load_key_and_certificates(dev_pki.seal_p12.read_bytes(), dev_pki.password())
    assert key is not None and leaf is not None and len(chain) == 2
    assert (dev_pki.password_file.stat().st_mode & 0o777) == 0o600


def test_existing_pki_is_loaded_not_remade(dev_pki):
    again = create_dev_pki(dev_pki.dir, name="other", edrpou="12345678", port=1)
    assert again == load_dev_pki(dev_pki.dir)
    assert again.root_cert.read_bytes() == dev_pki.root_cert.read_bytes()
