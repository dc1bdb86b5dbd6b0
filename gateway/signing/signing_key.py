"""The signing-key model shared by every key source (files, tokens, Ukrainian containers) and the
signing formats: `SigningKey`, and the policy for new signatures (RSA >= 2048 bits, EC >= 256 bits,
no SHA-1/MD5). Key sources (`keys`, `pkcs11`, `gateway.crypto.ua.signing`) build on it; it imports
none of them.
"""

from __future__ import annotations

from collections.abc import Callable

from asn1crypto import keys as asn1_keys
from asn1crypto import x509
from cryptography.hazmat.primitives import hashes
from pyhanko.sign.signers.pdf_cms import Signer

from gateway.errors import KeyLoadError, SigningError

MIN_RSA_BITS = 2048
MIN_EC_BITS = 256
#: digests a new signature may use (names as asn1crypto/pyhanko spell them)
ALLOWED_DIGESTS = frozenset({"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512",
                             # DSTU 4145 keys (gateway.crypto.ua)
                             "gost34311", "kupyna256", "kupyna384", "kupyna512"})

HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
    "sha3_256": hashes.SHA3_256, "sha3_384": hashes.SHA3_384, "sha3_512": hashes.SHA3_512,
}


def check_digest_allowed(digest_algorithm: str) -> str:
    """The normalised digest name, or a SigningError for SHA-1/MD5 and unknown digests."""
    name = digest_algorithm.lower().replace("-", "")
    name = {"sha3256": "sha3_256", "sha3384": "sha3_384", "sha3512": "sha3_512"}.get(name, name)
    if name in ("sha1", "md5", "sha224"):
        raise SigningError(
            f"digest {digest_algorithm} is too weak for new signatures (use sha256 or stronger)")
    if name not in ALLOWED_DIGESTS:
        raise SigningError(f"unsupported digest algorithm for new signatures: {digest_algorithm}")
    return name


def check_key_strength(public_key: asn1_keys.PublicKeyInfo) -> str:
    """The key algorithm name ("rsa", "ecdsa", "ed25519", ...), refusing keys too weak to sign with."""
    algo = public_key.algorithm
    if algo in ("rsa", "rsassa_pss"):
        if public_key.bit_size < MIN_RSA_BITS:
            raise KeyLoadError(
                f"RSA key of {public_key.bit_size} bits is too weak for new signatures "
                f"(at least {MIN_RSA_BITS} bits required)"
            )
        return "rsa"
    if algo == "ec":
        if public_key.bit_size < MIN_EC_BITS:
            raise KeyLoadError(f"EC key of {public_key.bit_size} bits is too weak for new signatures")
        return "ecdsa"
    if algo in ("ed25519", "ed448"):
        return algo
    if algo in ("dstu4145le", "dstu4145be"):
        return "dstu4145"
    raise KeyLoadError(f"unsupported key algorithm for signing: {algo}")


class SigningKey:
    """A loaded signing key with its certificate and CA chain.

    `signer` is a pyhanko Signer (CMS/PDF); `sign_raw` produces a bare signature value: RSA PKCS#1 v1.5,
    ECDSA as DER `ECDSA-Sig-Value` (XML signatures convert it to r||s themselves).
    """

    def __init__(self, *, certificate: x509.Certificate, chain: list[x509.Certificate], signer: Signer,
                 raw_signer: Callable[[bytes, str], bytes], source: str,
                 closer: Callable[[], None] | None = None):
        self.certificate = certificate
        self.chain = chain
        self.key_algorithm = check_key_strength(certificate.public_key)
        self.key_size = certificate.public_key.bit_size
        self.signer = signer
        self.source = source
        self._raw_signer = raw_signer
        self._closer = closer
        #: encodings derived from the certificate, built once per key (e.g. CMS templates)
        self.derived: dict[object, object] = {}

    @property
    def default_digest(self) -> str:
        """SHA-256 for everything up to RSA-3072 / P-256, stronger digests for stronger keys."""
        if self.key_algorithm == "dstu4145":
            return "gost34311"
        if self.key_algorithm == "ed25519":
            return "sha512"
        if self.key_algorithm == "ecdsa":
            return {384: "sha384", 521: "sha512"}.get(self.key_size, "sha256")
        return "sha256"

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        """Sign `data` (hashed with `digest_algorithm`); ECDSA values are DER `ECDSA-Sig-Value`."""
        return self._raw_signer(data, check_digest_allowed(digest_algorithm))

    def close(self) -> None:
        """Release the token session (PKCS#11); a no-op for file keys."""
        if self._closer is not None:
            self._closer()
            self._closer = None

    def __repr__(self) -> str:  # never shows key material
        subject = self.certificate.subject.human_friendly
        return f"<SigningKey {self.key_algorithm}-{self.key_size} {subject!r}>"
