"""PrivatBank `.jks`: a Java KeyStore (JKS v1/v2) with Sun's KeyProtector over the key entries.

    magic FEEDFEED, version, count, entries (1: private key, 2: trusted certificate), then
    SHA-1(UTF-16BE(store password) || "Mighty Aphrodite" || everything before) as integrity check.

A key entry is an EncryptedPrivateKeyInfo with OID 1.3.6.1.4.1.42.2.17.1.1 whose data is
salt (20) || ciphertext || check (20): the ciphertext is XORed with the SHA-1 chain
H_i = SHA-1(UTF-16BE(key password) || H_{i-1}), H_0 = salt, and the check is
SHA-1(UTF-16BE(key password) || plaintext). The plaintext is the IIT PrivateKeyInfo.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from asn1crypto import x509

from gateway.crypto.ua.containers.iit import ContainerError, EncryptedKeyInfo, WrongPassword, trim_der

MAGIC = 0xFEEDFEED
SUN_KEY_PROTECTOR = "1.3.6.1.4.1.42.2.17.1.1"
MAX_ENTRIES = 64


def is_jks(data: bytes) -> bool:
    return len(data) >= 12 and struct.unpack(">I", data[:4])[0] == MAGIC


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ContainerError("damaged Java key store (truncated)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def utf(self) -> str:
        return self.take(self.u16()).decode("utf-8", errors="replace")


def _bmp(password: str) -> bytes:
    return password.encode("utf-16-be")


def read_jks(data: bytes, store_password: str, key_password: str
             ) -> tuple[list[bytes], list[x509.Certificate]]:
    """(decrypted PrivateKeyInfo DERs of the key entries, all certificates, signer chains first)."""
    if len(data) < 32:
        raise ContainerError("damaged Java key store (truncated)")
    body, digest = data[:-20], data[-20:]
    expected = hashlib.sha1(_bmp(store_password) + b"Mighty Aphrodite" + body).digest()  # noqa: S324
    if not hmac.compare_digest(expected, digest):
        raise WrongPassword("wrong store password (or a damaged Java key store)")
    r = _Reader(body)
    if r.u32() != MAGIC or r.u32() not in (1, 2):
        raise ContainerError("not a JKS key store (unsupported version)")
    count = r.u32()
    if count > MAX_ENTRIES:
        raise ContainerError(f"Java key store with {count} entries (at most {MAX_ENTRIES})")
    keys: list[bytes] = []
    certs: list[x509.Certificate] = []
    for _ in range(count):
        tag = r.u32()
        r.utf()  # alias
        r.take(8)  # timestamp
        if tag == 1:
            encrypted = r.take(r.u32())
            for _ in range(min(r.u32(), MAX_ENTRIES)):
                r.utf()  # certificate type, X.509
                certs.append(_certificate(r.take(r.u32())))
            keys.append(_unprotect(encrypted, key_password))
        elif tag == 2:
            r.utf()
            certs.append(_certificate(r.take(r.u32())))
        else:
            raise ContainerError(f"unsupported Java key store entry type {tag}")
    return keys, certs


def _certificate(der: bytes) -> x509.Certificate:
    try:
        cert = x509.Certificate.load(der, strict=True)
        cert.native  # noqa: B018 - parse now: a damaged certificate fails here, not later
        return cert
    except (ValueError, TypeError, KeyError) as exc:
        raise ContainerError(f"damaged certificate in the Java key store ({type(exc).__name__})") from None


def _unprotect(encrypted: bytes, key_password: str) -> bytes:
    try:
        info = EncryptedKeyInfo.load(encrypted, strict=True)
        oid = info["algorithm"]["algorithm"].dotted
        blob = info["data"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise ContainerError(f"damaged Java key entry ({type(exc).__name__})") from None
    if oid != SUN_KEY_PROTECTOR:
        raise ContainerError(f"unsupported Java key protection {oid} (only Sun's JKS KeyProtector)")
    if len(blob) < 41:
        raise ContainerError("damaged Java key entry (too short)")
    salt, cipher, check = blob[:20], blob[20:-20], blob[-20:]
    password = _bmp(key_password)
    stream = bytearray()
    block = salt
    while len(stream) < len(cipher):
        block = hashlib.sha1(password + block).digest()  # noqa: S324 - the format's own SHA-1
        stream += block
    plain = bytes(a ^ b for a, b in zip(cipher, stream, strict=False))
    if not hmac.compare_digest(hashlib.sha1(password + plain).digest(), check):  # noqa: S324
        raise WrongPassword("wrong key password for the Java key store entry")
    return trim_der(plain)
