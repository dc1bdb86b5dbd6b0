"""Helpers for the Ukrainian key-container tests: the public vectors and test certificates for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path

from asn1crypto import core, pem, x509

from gateway.crypto.ua.containers import KeyContainer, open_container
from gateway.crypto.ua.containers.gost_modes import Gost28147, pbkdf2_gost34311
from gateway.crypto.ua.curves import curve_by_m
from gateway.crypto.ua.dstu4145 import PrivateKey, generate_private_key
from gateway.crypto.ua.gost28147 import DKE1_PACKED
from gateway.crypto.ua.x509 import issue_certificate

DATA = Path(__file__).resolve().parent / "data" / "ua"
KEY6 = DATA / "Key-6.dat"
PFX = DATA / "Key-6.pfx"
JKS = DATA / "key.jks"
STORE_A040 = DATA / "STORE_A040.dat"
PASSWORDS = {KEY6: b"tect4", PFX: b"testplat2021", JKS: b"123456"}
JKS_KEY_PASSWORD = b"qwerty"


@cache
def opened(path: Path) -> KeyContainer:
    """The container decrypted once per test session (pure-Python KDFs take seconds)."""
    key_password = JKS_KEY_PASSWORD if path == JKS else None
    return open_container(path.read_bytes(), PASSWORDS[path], key_password=key_password)


@lru_cache(maxsize=1)
def dstu_root() -> tuple[PrivateKey, x509.Certificate]:
    now = datetime.now(UTC).replace(microsecond=0)
    key = generate_private_key(curve_by_m(257))
    name = x509.Name.build({"country_name": "UA", "common_name": "Test DSTU root for container keys"})
    cert = issue_certificate(name, key.public_key(), key, not_before=now - timedelta(days=1),
                             not_after=now + timedelta(days=30), ca=True)
    return key, cert


def certificate_for(key: PrivateKey, *, not_before: datetime | None = None,
                    not_after: datetime | None = None, name: str = "Test seal of a container key"
                    ) -> x509.Certificate:
    """A signing certificate (digitalSignature, nonRepudiation) for `key` from the test root."""
    root_key, root = dstu_root()
    now = datetime.now(UTC).replace(microsecond=0)
    subject = x509.Name.build({"country_name": "UA", "common_name": name,
                               "organization_identifier": "NTRUA-04056612"})
    return issue_certificate(subject, key.public_key(), root_key, issuer=root,
                             not_before=not_before or now - timedelta(hours=1),
                             not_after=not_after or now + timedelta(days=10), edrpou="04056612")


def write_pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(pem.armor("CERTIFICATE", c.dump()) for c in certs))
    return path


def cfb_encrypt(cipher: Gost28147, iv: bytes, data: bytes) -> bytes:
    """GOST 28147 CFB encryption (the gateway only decrypts)."""
    out, feedback = bytearray(), iv
    for i in range(0, len(data), 8):
        chunk = bytes(a ^ b for a, b in zip(data[i:i + 8], cipher.encrypt_block(feedback), strict=False))
        out += chunk
        feedback = chunk
    return bytes(out)


def _seq(*parts: bytes) -> bytes:
    body = b"".join(parts)
    n = len(body)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return b"\x30" + length + body


def pbes2_container(plain: bytes, password: bytes, *, iterations: int = 1000,
                    prf: str = "1.2.804.2.1.1.1.1.1.2") -> bytes:
    """A PBES2 EncryptedPrivateKeyInfo as IIT writes Key-6.dat (PBKDF2 + GOST 28147 CFB, DKE No.1)."""
    salt, iv = bytes(range(32)), bytes(range(8, 16))
    body = cfb_encrypt(Gost28147(pbkdf2_gost34311(password, salt, iterations), DKE1_PACKED), iv, plain)
    kdf = _seq(core.ObjectIdentifier("1.2.840.113549.1.5.12").dump(),
               _seq(core.OctetString(salt).dump(), core.Integer(iterations).dump(),
                    _seq(core.ObjectIdentifier(prf).dump(), core.Null().dump())))
    cipher = _seq(core.ObjectIdentifier("1.2.804.2.1.1.1.1.1.1.3").dump(),
                  _seq(core.OctetString(iv).dump(), core.OctetString(DKE1_PACKED).dump()))
    algorithm = _seq(core.ObjectIdentifier("1.2.840.113549.1.5.13").dump(), _seq(kdf, cipher))
    return _seq(algorithm, core.OctetString(body).dump())
