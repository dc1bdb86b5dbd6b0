"""Two gateways and a SEV hub on 127.0.0.1 for the exchange tests (no tests inside).

A throw-away PKI (root CA + one seal per gateway, as PKCS#12) is made per test session; each
gateway gets its own folder with gateway.toml, database, blob store and seal.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

PASSWORD = "seal-password"


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "UA"),
        ]
    )


def make_pki(folder: Path, orgs: list[str]) -> tuple[Path, dict[str, Path]]:
    """(root certificate PEM, {org: seal .p12}) under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = _name("Test Root CA", "Test PKI")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    root_pem = folder / "root.pem"
    root_pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    seals = {}
    for org in orgs:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(f"Seal {org}", org))
            .issuer_name(root_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=10))
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(root_key, hashes.SHA256())
        )
        p12 = folder / f"seal-{org}.p12"
        p12.write_bytes(
            pkcs12.serialize_key_and_certificates(
                org.encode(), key, cert, [root], serialization.BestAvailableEncryption(PASSWORD.encode())
            )
        )
        seals[org] = p12
    return root_pem, seals


@dataclass
class GatewaySpec:
    name: str
    edrpou: str
    system_id: str
    dir: Path
    hub_url: str
    root_pem: Path
    seal_p12: Path
    db_url: str | None = None
    password_file: Path | None = None
    tsa_url: str = ""
    revocation: str = "offline"
    #: `[trust] fetch_allow`: the development PKI's host:port when validating online against it
    fetch_allow: str = ""

    @property
    def password_env(self) -> str:
        return f"TEST_SEV_PASSWORD_{self.system_id.upper().replace('-', '_')}"

    def write_config(self) -> Path:
        """gateway.toml of this gateway; the hub password goes to the environment."""
        self.dir.mkdir(parents=True, exist_ok=True)
        password_file = self.password_file or self.dir / "seal.pass"
        if self.password_file is None:
            password_file.write_text(PASSWORD)
        os.environ.setdefault(self.password_env, secrets.token_urlsafe(12))
        db_url = self.db_url or "sqlite:///gateway.db"
        conf = self.dir / "gateway.toml"
        conf.write_text(
            f"""
[organization]
name = "{self.name}"
edrpou = "{self.edrpou}"
system_id = "{self.system_id}"
system_name = "gateway {self.name}"

[database]
url = "{db_url}"

[storage]
dir = "storage"

[signing]
key = "{self.seal_p12}"
key_password_file = "{password_file}"
tsa_url = "{self.tsa_url}"

[trust]
anchors = ["{self.root_pem}"]
revocation = "{self.revocation}"
cache_dir = "revocation-cache"
fetch_allow = [{f'"{self.fetch_allow}"' if self.fetch_allow else ""}]

[sev]
enabled = true
url = "{self.hub_url}"
system_id = "{self.system_id}"
password_env = "{self.password_env}"
poll_seconds = 0.2
""",
            encoding="utf-8",
        )
        return conf


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    import time

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def letter_status(client: httpx.Client, letter_id: str) -> str:
    return client.get(f"/api/v1/outgoing/{letter_id}").json()["status"]
