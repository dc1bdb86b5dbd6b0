"""`.pfx`/`.p12` files with DSTU 4145 keys (IIT, Diia): RFC 7292 with the national algorithms.

The MAC is HMAC-GOST34.311 under a key from the PKCS#12 KDF (id 3, u = v = 32, password as
UTF-16BE with terminator); the key bags are PBES2 (see `iit`), usually two (signing and key
agreement) without certificates; certificate bags, when present, are returned too. Encrypted
content (encryptedData) and nested safe bags are not used by these providers and are refused.
"""

from __future__ import annotations

import hmac

from asn1crypto import core, pkcs12, x509

from gateway.crypto.ua import oids
from gateway.crypto.ua.containers.gost_modes import HmacGost34311, pkcs12_kdf_gost34311
from gateway.crypto.ua.containers.iit import (
    MAX_ITERATIONS,
    ContainerError,
    EncryptedKeyInfo,
    WrongPassword,
    decrypt_pbes2,
)

SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2"
CERT_BAG = "1.2.840.113549.1.12.10.1.3"
X509_CERTIFICATE = "1.2.840.113549.1.9.22.1"


def is_pfx(data: bytes) -> bool:
    """A PKCS#12 file with the national MAC (others are ordinary PKCS#12 files for `cryptography`)."""
    try:
        pfx = pkcs12.Pfx.load(data, strict=True)
        mac = pfx["mac_data"]
        return (pfx["version"].native == "v3" and mac.native is not None
                and mac["mac"]["digest_algorithm"]["algorithm"].dotted == oids.GOST34311)
    except (ValueError, TypeError, KeyError):
        return False


def check_mac(pfx: pkcs12.Pfx, password_text: str) -> None:
    """WrongPassword unless the HMAC-GOST34.311 MAC of the PFX verifies under the password."""
    mac_data = pfx["mac_data"]
    if mac_data.native is None:
        raise ContainerError("the PKCS#12 file has no integrity MAC")
    algorithm = mac_data["mac"]["digest_algorithm"]["algorithm"].dotted
    if algorithm != oids.GOST34311:
        raise ContainerError(f"unsupported PKCS#12 MAC digest {algorithm} (only GOST 34.311)")
    iterations = mac_data["iterations"].native
    if not 0 < iterations <= MAX_ITERATIONS:
        raise ContainerError(f"unsupported PKCS#12 MAC iteration count {iterations}")
    password_bmp = password_text.encode("utf-16-be") + b"\0\0"
    key = pkcs12_kdf_gost34311(password_bmp, mac_data["mac_salt"].native, iterations)
    expected = mac_data["mac"]["digest"].native
    content = pfx["auth_safe"]["content"].native
    if not hmac.compare_digest(HmacGost34311(key).mac(content), expected):
        raise WrongPassword("wrong password or damaged file (the PKCS#12 MAC does not verify)")


def read_pfx(data: bytes, password_text: str, candidates: list[bytes]
             ) -> tuple[list[bytes], list[x509.Certificate]]:
    """(decrypted PrivateKeyInfo DERs, certificates) of a PFX whose MAC verifies.

    Each key bag is decrypted with the first of `candidates` (password encodings) that works."""
    try:
        pfx = pkcs12.Pfx.load(data, strict=True)
        check_mac(pfx, password_text)
        bags = []
        for info in pfx.authenticated_safe:
            if info["content_type"].native != "data":
                raise ContainerError(f"unsupported PKCS#12 content {info['content_type'].native} "
                                     "(only unencrypted safes with shrouded key bags)")
            bags.extend(pkcs12.SafeContents.load(info["content"].native))
    except ContainerError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise ContainerError(f"damaged PKCS#12 file ({type(exc).__name__})") from None
    keys: list[bytes] = []
    certs: list[x509.Certificate] = []
    for bag in bags:
        kind = bag["bag_id"].dotted
        try:
            value = bag["bag_value"].untag().dump()
            if kind == CERT_BAG:
                cert_bag = _CertBag.load(value)
                if cert_bag["cert_id"].dotted == X509_CERTIFICATE:
                    certs.append(x509.Certificate.load(cert_bag["cert_value"].native))
                continue
            if kind != SHROUDED_KEY_BAG:
                continue
            encrypted = EncryptedKeyInfo.load(value)
        except (ValueError, TypeError, KeyError) as exc:
            raise ContainerError(f"damaged PKCS#12 bag ({type(exc).__name__})") from None
        keys.append(_decrypt_any(encrypted, candidates))
    return keys, certs


def _decrypt_any(encrypted: EncryptedKeyInfo, candidates: list[bytes]) -> bytes:
    last: WrongPassword | None = None
    for password in candidates:
        try:
            return decrypt_pbes2(encrypted, password)
        except WrongPassword as exc:
            last = exc
    raise last or WrongPassword("wrong password")


class _CertBag(core.Sequence):
    _fields = [("cert_id", core.ObjectIdentifier),
               ("cert_value", core.OctetString, {"explicit": 0})]
