"""Helpers for the console/keys tests: a certificate issued by the development CA for a CSR (as a
qualified provider would), a gateway with keys of every role. Not a test module of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization


def issue_for_csr(dev_pki, csr_pem: bytes, *, days: int = 365) -> bytes:
    """PEM: a seal certificate for the CSR signed by the dev PKI's issuing CA, then the CA itself."""
    csr = x509.load_pem_x509_csr(csr_pem)
    assert csr.is_signature_valid
    ca_cert = x509.load_pem_x509_certificate(dev_pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key((dev_pki.dir / "keys" / "ca.key.pem").read_bytes(), None)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)


PASSWORD = "Пароль для тесту 2026"


def write_gateway(dev_pki, tmp_path, *, extra: str = "", revocation: str = "offline"):
    """A gateway.toml whose trust folder (managed: `trust add/remove` write there) holds the dev
    root, with the dev seal as [signing] key; and a console user of every role (PASSWORD)."""
    import shutil

    from gateway.config import load_config
    from gateway.store.db import open_database
    from gateway.store.users import create_user

    trust = tmp_path / "trust"
    trust.mkdir()
    shutil.copy(dev_pki.root_cert, trust / "root.pem")
    path = tmp_path / "gateway.toml"
    path.write_text(
        f'[organization]\nname = "Миколаївська міська рада"\nedrpou = "{dev_pki.edrpou}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "gw.db"}"\n'
        f'[storage]\ndir = "{tmp_path / "blobs"}"\n'
        f'[signing]\nkey = "{dev_pki.seal_p12}"\nkey_password_file = "{dev_pki.password_file}"\n'
        f'[trust]\nanchors = ["trust"]\nrevocation = "{revocation}"\ncache_dir = "cache"\n'
        f'fetch_allow = ["127.0.0.1:{dev_pki.port}"]\n{extra}',
        encoding="utf-8")
    cfg = load_config(path)
    db = open_database(cfg)
    with db.session() as s:
        for role in ("officer", "operator", "auditor"):
            create_user(s, role, role, PASSWORD)
    db.dispose()
    return path
