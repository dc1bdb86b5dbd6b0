"""Helpers for the XAdES/ASiC tests (no tests here): throw-away identities, xmlsec1, validation."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from gateway.signing.keys import SigningKey, load_signing_key
from gateway.signing.report import ValidationReport
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

PASSWORD = b"xades test"
needs_xmlsec1 = pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 not installed")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "XAdES tests"),
        ]
    )


def make_identity(tmp: Path, name: str = "seal", curve: ec.EllipticCurve | None = None) -> dict[str, Path]:
    """A root CA and an end-entity certificate (RSA-2048, or EC on `curve`) as files in `tmp`."""
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{name} root"))
        .issuer_name(_name(f"{name} root"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = (
        ec.generate_private_key(curve)
        if curve
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = {
        "p12": tmp / f"{name}.p12",
        "root": tmp / f"{name}-root.pem",
        "cert": tmp / f"{name}.pem",
        "key": tmp / f"{name}.key.pem",
    }
    files["p12"].write_bytes(
        pkcs12.serialize_key_and_certificates(
            name.encode(), key, cert, [ca], serialization.BestAvailableEncryption(PASSWORD)
        )
    )
    files["root"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


def load_key(files: dict[str, Path]) -> SigningKey:
    return load_signing_key(str(files["p12"]), PASSWORD)


def trust_roots(files: dict[str, Path]) -> list:
    from gateway.signing.certificates import load_certificates

    return load_certificates(files["root"])


def validate_bytes(
    data: bytes, roots: list | None = None, detached: dict[str, Path] | None = None, offline: bool = True
) -> ValidationReport:
    return validate(
        data, ValidationPolicy(trust_roots=list(roots or []), offline=offline, detached=dict(detached or {}))
    )


def xmlsec1_verify(path: Path, ca: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """xmlsec1's core XMLDSig verification, trusting only `ca` (detached files resolved by xmlsec1
    from the signature file's folder)."""
    return subprocess.run(
        ["xmlsec1", "--verify", "--trusted-pem", str(ca), "--enabled-key-data", "x509", *extra, path.name],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=60,
    )
