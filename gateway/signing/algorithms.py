"""Digest and signature algorithms by OID, and the algorithm acceptance policy.

Validators never call hashlib or cryptography directly for a signature: they look the OIDs up here.
Other algorithm families (DSTU 4145, GOST 34.311, Kupyna in `gateway.crypto.ua`) plug in with
`register_digest` / `register_signature`; an OID nobody registered gives `UnsupportedAlgorithm`,
which validators map to INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from asn1crypto import algos, core, keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


#: verify(public_key_info, signature, signed_bytes, hash_name, parameters) -> bool
VerifyFn = Callable[[keys.PublicKeyInfo, bytes, bytes, str, Any], bool]


class UnsupportedAlgorithm(Exception):
    """No implementation is registered for this OID."""


@dataclass(frozen=True)
class DigestAlgorithm:
    oid: str
    name: str
    factory: Callable[[], Hasher]


@dataclass(frozen=True)
class SignatureAlgorithm:
    oid: str
    #: family name for the report: rsa, rsassa-pss, ecdsa, ed25519, dsa, dstu4145, ...
    name: str
    verify: VerifyFn
    #: the hash the OID itself fixes (sha256WithRSAEncryption); None: take the SignerInfo's digest
    hash_name: str | None = None


_DIGESTS: dict[str, DigestAlgorithm] = {}
_SIGNATURES: dict[str, SignatureAlgorithm] = {}


#: pyhanko-certvalidator SignatureValidator for certificates, CRLs and OCSP responses (None: its
#: default, which knows RSA/ECDSA/DSA/EdDSA); set by plugins that bring other algorithms (DSTU 4145)
_CHAIN_SIGNATURE_VALIDATOR: Any = None


def set_chain_signature_validator(validator: Any) -> None:
    """Use `validator` (a pyhanko_certvalidator.sig_validate.SignatureValidator) for chain checks."""
    global _CHAIN_SIGNATURE_VALIDATOR
    _CHAIN_SIGNATURE_VALIDATOR = validator


def chain_signature_validator() -> Any:
    return _CHAIN_SIGNATURE_VALIDATOR


def register_digest(oid: str, name: str, factory: Callable[[], Hasher]) -> None:
    _DIGESTS[oid] = DigestAlgorithm(oid, name, factory)


def register_signature(oid: str, name: str, verify: VerifyFn, hash_name: str | None = None) -> None:
    _SIGNATURES[oid] = SignatureAlgorithm(oid, name, verify, hash_name)


def digest_algorithm(oid: str) -> DigestAlgorithm:
    try:
        return _DIGESTS[oid]
    except KeyError:
        raise UnsupportedAlgorithm(f"unsupported digest algorithm {_oid_label(oid)}") from None


def digest_by_name(name: str) -> DigestAlgorithm:
    for algo in _DIGESTS.values():
        if algo.name == name:
            return algo
    raise UnsupportedAlgorithm(f"unsupported digest algorithm {name}")


def signature_algorithm(oid: str) -> SignatureAlgorithm:
    try:
        return _SIGNATURES[oid]
    except KeyError:
        raise UnsupportedAlgorithm(f"unsupported signature algorithm {_oid_label(oid)}") from None


def digest(oid: str, data: bytes) -> bytes:
    h = digest_algorithm(oid).factory()
    h.update(data)
    return h.digest()


def _oid_label(oid: str) -> str:
    name = algos.DigestAlgorithmId._map.get(oid) or algos.SignedDigestAlgorithmId._map.get(oid)
    return f"{name} ({oid})" if name else oid


# --- standard algorithms (cryptography) -------------------------------------------------------

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "md5": hashes.MD5, "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,  # noqa: S303
    "sha384": hashes.SHA384, "sha512": hashes.SHA512, "sha3-224": hashes.SHA3_224,
    "sha3-256": hashes.SHA3_256, "sha3-384": hashes.SHA3_384, "sha3-512": hashes.SHA3_512,
}
_ASN1_HASH_NAMES = {
    "md5": "md5", "sha1": "sha1", "sha224": "sha224", "sha256": "sha256", "sha384": "sha384",
    "sha512": "sha512", "sha3_224": "sha3-224", "sha3_256": "sha3-256", "sha3_384": "sha3-384",
    "sha3_512": "sha3-512",
}


def _hash(name: str) -> hashes.HashAlgorithm:
    try:
        return _HASHES[name]()
    except KeyError:
        raise UnsupportedAlgorithm(f"unsupported hash {name} for this signature") from None


_KEY_CACHE: dict[bytes, Any] = {}


def load_public_key(info: keys.PublicKeyInfo) -> Any:
    """The cryptography key object, cached by its encoding (one key verifies many signatures)."""
    der = info.dump()
    key = _KEY_CACHE.get(der)
    if key is None:
        try:
            key = serialization.load_der_public_key(der)
        except (ValueError, TypeError) as exc:
            raise UnsupportedAlgorithm(f"cannot load the public key: {exc}") from None
        if len(_KEY_CACHE) > 256:
            _KEY_CACHE.clear()
        _KEY_CACHE[der] = key
    return key


def _verify_rsa(info: keys.PublicKeyInfo, sig: bytes, data: bytes, hash_name: str, _params: Any) -> bool:
    key = load_public_key(info)
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    algorithm = _hash(hash_name)
    try:
        key.verify(sig, data, padding.PKCS1v15(), algorithm)
        return True
    except InvalidSignature:
        return _verify_rsa_absent_parameters(key, sig, data, algorithm)


def _verify_rsa_absent_parameters(
    key: rsa.RSAPublicKey, sig: bytes, data: bytes, algorithm: hashes.HashAlgorithm
) -> bool:
    """PKCS#1 v1.5 with the DigestInfo's hash AlgorithmIdentifier lacking its NULL parameters, which
    RFC 8017 (9.2, note 2) says verifiers should accept; OpenSSL does not, DSS (BouncyCastle) does.
    The whole encoded message is rebuilt and compared, so nothing but that one variant passes."""
    size = (key.key_size + 7) // 8
    oid = _DIGEST_INFO_OIDS.get(algorithm.name)
    if oid is None or len(sig) != size:
        return False
    numbers = key.public_numbers()
    m = pow(int.from_bytes(sig, "big"), numbers.e, numbers.n).to_bytes(size, "big")
    h = hashes.Hash(algorithm)
    h.update(data)
    algorithm_id = _der(0x30, core.ObjectIdentifier(oid).dump())
    digest_info = _der(0x30, algorithm_id + core.OctetString(h.finalize()).dump())
    expected = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    return size - len(digest_info) - 3 >= 8 and hmac.compare_digest(m, expected)


def _der(tag: int, body: bytes) -> bytes:
    """A DER TLV with a short-form length (DigestInfo parts are all under 128 bytes)."""
    return bytes([tag, len(body)]) + body


#: cryptography hash name -> OID, for DigestInfo
_DIGEST_INFO_OIDS = {
    "md5": "1.2.840.113549.2.5", "sha1": "1.3.14.3.2.26", "sha224": "2.16.840.1.101.3.4.2.4",
    "sha256": "2.16.840.1.101.3.4.2.1", "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3", "sha3-224": "2.16.840.1.101.3.4.2.7",
    "sha3-256": "2.16.840.1.101.3.4.2.8", "sha3-384": "2.16.840.1.101.3.4.2.9",
    "sha3-512": "2.16.840.1.101.3.4.2.10",
}


def _verify_pss(info: keys.PublicKeyInfo, sig: bytes, data: bytes, hash_name: str, params: Any) -> bool:
    key = load_public_key(info)
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    pss_hash, salt = hash_name, padding.PSS.AUTO
    mgf_hash = hash_name
    if params is not None and params.native is not None:
        pss_hash = _ASN1_HASH_NAMES.get(params["hash_algorithm"]["algorithm"].native, pss_hash)
        mgf = params["mask_gen_algorithm"]
        if mgf["parameters"].native is not None:
            mgf_hash = _ASN1_HASH_NAMES.get(mgf["parameters"]["algorithm"].native, pss_hash)
        else:
            mgf_hash = pss_hash
        salt = params["salt_length"].native
    try:
        key.verify(sig, data, padding.PSS(padding.MGF1(_hash(mgf_hash)), salt), _hash(pss_hash))
        return True
    except InvalidSignature:
        return False


def _verify_ecdsa(info: keys.PublicKeyInfo, sig: bytes, data: bytes, hash_name: str, _params: Any) -> bool:
    key = load_public_key(info)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(sig, data, ec.ECDSA(_hash(hash_name)))
        return True
    except (InvalidSignature, ValueError):
        return False


def _verify_dsa(info: keys.PublicKeyInfo, sig: bytes, data: bytes, hash_name: str, _params: Any) -> bool:
    key = load_public_key(info)
    if not isinstance(key, dsa.DSAPublicKey):
        return False
    try:
        key.verify(sig, data, _hash(hash_name))
        return True
    except (InvalidSignature, ValueError):
        return False


def _verify_eddsa(info: keys.PublicKeyInfo, sig: bytes, data: bytes, _hash_name: str, _params: Any) -> bool:
    key = load_public_key(info)
    if not isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return False
    try:
        key.verify(sig, data)
        return True
    except InvalidSignature:
        return False


def _register_standard() -> None:
    for oid, name in algos.DigestAlgorithmId._map.items():
        canonical = _ASN1_HASH_NAMES.get(name)
        ctor = getattr(hashlib, canonical.replace("-", "_"), None) if canonical else None
        if canonical and ctor is not None:
            register_digest(oid, canonical, ctor)
    rsa_oids = {
        "1.2.840.113549.1.1.1": None, "1.2.840.113549.1.1.4": "md5", "1.2.840.113549.1.1.5": "sha1",
        "1.3.14.3.2.29": "sha1", "1.2.840.113549.1.1.14": "sha224", "1.2.840.113549.1.1.11": "sha256",
        "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512",
        "2.16.840.1.101.3.4.3.13": "sha3-224", "2.16.840.1.101.3.4.3.14": "sha3-256",
        "2.16.840.1.101.3.4.3.15": "sha3-384", "2.16.840.1.101.3.4.3.16": "sha3-512",
    }
    for oid, h in rsa_oids.items():
        register_signature(oid, "rsa", _verify_rsa, h)
    register_signature("1.2.840.113549.1.1.10", "rsassa-pss", _verify_pss)
    ecdsa_oids = {
        "1.2.840.10045.2.1": None, "1.2.840.10045.4.1": "sha1", "1.2.840.10045.4.3.1": "sha224",
        "1.2.840.10045.4.3.2": "sha256", "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512",
        "2.16.840.1.101.3.4.3.9": "sha3-224", "2.16.840.1.101.3.4.3.10": "sha3-256",
        "2.16.840.1.101.3.4.3.11": "sha3-384", "2.16.840.1.101.3.4.3.12": "sha3-512",
    }
    for oid, h in ecdsa_oids.items():
        register_signature(oid, "ecdsa", _verify_ecdsa, h)
    dsa_oids = {"1.2.840.10040.4.1": None, "1.2.840.10040.4.3": "sha1",
                "2.16.840.1.101.3.4.3.1": "sha224", "2.16.840.1.101.3.4.3.2": "sha256"}
    for oid, h in dsa_oids.items():
        register_signature(oid, "dsa", _verify_dsa, h)
    register_signature("1.3.101.112", "ed25519", _verify_eddsa)
    register_signature("1.3.101.113", "ed448", _verify_eddsa)


_register_standard()


# --- acceptance policy ------------------------------------------------------------------------

#: weak digests and the date after which a signature using them is not accepted without a POE
DIGEST_SUNSET = {
    "md5": datetime(2005, 1, 1, tzinfo=UTC),
    "sha1": datetime(2016, 1, 1, tzinfo=UTC),
}
RSA_MIN_BITS = 1024
RSA_WARN_BITS = 2048


@dataclass
class AlgorithmVerdict:
    #: "ok" | "weak-after-sunset" (INDETERMINATE/CRYPTO_CONSTRAINTS_FAILURE_NO_POE) | "forbidden"
    status: str = "ok"
    reason: str = ""
    warnings: list[str] | None = None


def key_size(info: keys.PublicKeyInfo) -> int | None:
    try:
        return int(info.bit_size)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def assess_algorithms(
    digest_names: list[str], info: keys.PublicKeyInfo, proof_of_existence: datetime | None
) -> AlgorithmVerdict:
    """Apply the policy: MD5/SHA-1 only with proof the signature existed before the sunset date,
    RSA keys under 1024 bits never, under 2048 bits with a warning."""
    warnings: list[str] = []
    try:
        algo = info.algorithm
    except (ValueError, KeyError):
        algo = ""
    bits = key_size(info)
    if algo in ("rsa", "rsassa_pss") and bits is not None:
        if bits < RSA_MIN_BITS:
            reason = f"RSA key of {bits} bits is too short (minimum {RSA_MIN_BITS})"
            return AlgorithmVerdict("forbidden", reason)
        if bits < RSA_WARN_BITS:
            warnings.append(f"RSA key of {bits} bits is weak (under {RSA_WARN_BITS})")
    for name in digest_names:
        sunset = DIGEST_SUNSET.get(name)
        if sunset is None:
            continue
        if proof_of_existence is not None and proof_of_existence < sunset:
            warnings.append(f"{name} accepted: the signature existed before {sunset.date()}")
            continue
        return AlgorithmVerdict(
            "weak-after-sunset",
            f"{name} is not accepted for signatures made after {sunset.date()} and there is no proof "
            "the signature existed before",
            warnings,
        )
    return AlgorithmVerdict("ok", "", warnings)
