"""DSTU 4145 verification on asn1crypto objects: the glue between CMS / X.509 and `dstu4145`.

`verify_signature(info, signature, data, hash_name, oid)` hashes `data` (GOST 34.311 with the key's
DKE S-box, or Kupyna), then checks the signature in the encoding the signature OID prescribes.
A signature that is itself a DER OCTET STRING (as in X.509 signatureValue) is unwrapped first.
"""

from __future__ import annotations

from collections.abc import Callable

from asn1crypto import keys

from gateway.crypto.ua import oids
from gateway.crypto.ua.dstu4145 import DSTUError, decode_signature
from gateway.crypto.ua.gost34311 import GOST34311
from gateway.crypto.ua.keys import UAPublicKey, _unwrap_octet_string, load_public_key
from gateway.crypto.ua.kupyna import Kupyna

HASHES: dict[str, Callable[[], object]] = {
    "gost34311": GOST34311,
    "kupyna256": lambda: Kupyna(256),
    "kupyna384": lambda: Kupyna(384),
    "kupyna512": lambda: Kupyna(512),
}


def hasher_for(hash_name: str, key: UAPublicKey | None = None):
    if hash_name == "gost34311":
        return GOST34311(sbox=key.dke if key is not None else None)
    try:
        return HASHES[hash_name]()
    except KeyError:
        raise DSTUError(f"DSTU 4145 is not used with {hash_name}") from None


def verify_signature(info: keys.PublicKeyInfo, signature: bytes, data: bytes, hash_name: str | None,
                     sig_oid: str) -> bool:
    """True when `signature` (DSTU 4145, encoding of `sig_oid`) is valid for `data` under `info`."""
    try:
        key = load_public_key(info)
        little_endian = oids.SIGNATURE_OIDS[sig_oid][1]
        hasher = hasher_for(hash_name or oids.SIGNATURE_HASH.get(sig_oid) or "gost34311", key)
        hasher.update(data)
        r, s = decode_signature(_unwrap_octet_string(bytes(signature)), little_endian)
        return key.key.verify(hasher.digest(), r, s)
    except (DSTUError, ValueError, KeyError, TypeError, IndexError, OverflowError):
        return False  # malformed key, parameters or signature: not a valid signature
