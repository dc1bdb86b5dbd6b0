"""Signing keys: PKCS#12 files and PKCS#11 tokens, loaded once and reused for many signatures.

`load_signing_key(spec, password)` returns a `SigningKey` whose `signer` plugs into pyhanko's CMS and
PDF signing and whose `sign_raw` serves XML signatures. Private key material and passwords never
appear in messages or logs; every failure is a `KeyLoadError` with one clean line.

Policy for new signatures: RSA keys shorter than 2048 bits, EC keys under 256 bits and the digests
SHA-1/MD5 are refused.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from gateway.errors import KeyLoadError, SigningError

MIN_RSA_BITS = 2048
MIN_EC_BITS = 256
MAX_P12_BYTES = 1024 * 1024
#: digests a new signature may use (names as asn1crypto/pyhanko spell them)
ALLOWED_DIGESTS = frozenset({"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512",
                             # DSTU 4145 keys (gateway.crypto.ua)
                             "gost34311", "kupyna256", "kupyna384", "kupyna512"})

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
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


class LoadedKeySigner(Signer):
    """A pyhanko Signer over an already-loaded `cryptography` private key (no re-loading per signature)."""

    def __init__(self, private_key: Any, signing_cert: x509.Certificate, chain: list[x509.Certificate]):
        store = SimpleCertificateStore()
        store.register_multiple([signing_cert, *chain])
        super().__init__(signing_cert=signing_cert, cert_registry=store, embed_roots=True)
        self._private_key = private_key
        self._paddings: dict[str, tuple[padding.AsymmetricPadding, hashes.HashAlgorithm]] = {}

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        return self.sign_raw(data, digest_algorithm)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        digest = check_digest_allowed(digest_algorithm)
        key = self._private_key
        if isinstance(key, rsa.RSAPrivateKey):
            pad = self._paddings.get(digest)
            if pad is None:
                mech = self.get_signature_mechanism_for_digest(digest)
                if mech["algorithm"].native == "rsassa_pss":
                    params = mech["parameters"]
                    pss_hash = _HASHES[check_digest_allowed(params["hash_algorithm"]["algorithm"].native)]()
                    pad = (padding.PSS(mgf=padding.MGF1(pss_hash), salt_length=params["salt_length"].native),
                           pss_hash)
                else:
                    pad = (padding.PKCS1v15(), _HASHES[digest]())
                self._paddings[digest] = pad
            return key.sign(data, *pad)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(_HASHES[digest]()))
        if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
            return key.sign(data)
        raise SigningError(f"unsupported key type: {type(key).__name__}")


def _load_pkcs12(path: Path, password: bytes | None) -> SigningKey:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise KeyLoadError(f"key file not found: {path}") from None
    except OSError as exc:
        raise KeyLoadError(f"cannot read key file {path}: {exc.strerror}") from None
    if size > MAX_P12_BYTES:
        raise KeyLoadError(f"{path}: too large for a PKCS#12 key file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyLoadError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # cryptography cannot tell a wrong password from damaged data; say both, show neither
        raise KeyLoadError(f"cannot open {path}: wrong password or not a PKCS#12 file") from None
    if key is None or cert is None:
        raise KeyLoadError(f"{path}: the PKCS#12 file holds no private key with its certificate")
    certificate = x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    chain = [x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra or ()]
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if public_der != certificate.public_key.dump():
        raise KeyLoadError(f"{path}: the private key does not match the certificate")
    check_key_strength(certificate.public_key)
    signer = LoadedKeySigner(key, certificate, chain)
    return SigningKey(certificate=certificate, chain=chain, signer=signer, raw_signer=signer.sign_raw,
                      source=str(path))


def load_signing_key(spec: str, password: bytes | None) -> SigningKey:
    """Load a signing key from a PKCS#12 path or an RFC 7512 `pkcs11:` URI (see gateway.signing.pkcs11).

    For PKCS#11, `password` is the user PIN unless the URI names one (pin-value / pin-source).
    """
    if not spec:
        raise KeyLoadError("no signing key given (use --key or [signing] key)")
    if spec.startswith("pkcs11:"):
        from gateway.signing.pkcs11 import load_pkcs11_key

        return load_pkcs11_key(spec, password)
    from gateway.crypto.ua.signing import signing_key_if_dstu

    path = Path(spec).expanduser()
    return signing_key_if_dstu(path, password) or _load_pkcs12(path, password)


def needs_password(spec: str) -> bool:
    """False for PKCS#11 URIs that carry their own PIN source; True otherwise."""
    if spec.startswith("pkcs11:"):
        from gateway.signing.pkcs11 import parse_pkcs11_uri

        uri = parse_pkcs11_uri(spec)
        return "pin-value" not in uri.query and "pin-source" not in uri.query
    from gateway.crypto.ua.signing import is_dstu_bundle_file

    return not is_dstu_bundle_file(Path(spec).expanduser())  # DSTU PEM bundles are unencrypted


def _read_secret_file(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyLoadError(f"key password file not found: {path}") from None
    except OSError as exc:
        raise KeyLoadError(f"cannot read key password file {path}: {exc.strerror}") from None
    return data.rstrip(b"\r\n")


def _from_env(var: str) -> bytes:
    value = os.environ.get(var)
    if value is None:
        raise KeyLoadError(f"environment variable {var} (key password) is not set")
    return value.encode()


def key_password(cfg_signing: Any | None, cli_env_var: str | None, *,
                 resolve: Callable[[str], Path] | None = None, prompt: str = "Key password: ") -> bytes:
    """The key password: `--key-password-env VAR`, else [signing] key_password_file / key_password_env
    (when signing with the configured key), else a prompt on a terminal; otherwise a clear error.
    """
    if cli_env_var:
        return _from_env(cli_env_var)
    if cfg_signing is not None:
        if getattr(cfg_signing, "key_password_file", ""):
            p = resolve(cfg_signing.key_password_file) if resolve else Path(cfg_signing.key_password_file)
            return _read_secret_file(p)
        if getattr(cfg_signing, "key_password_env", ""):
            return _from_env(cfg_signing.key_password_env)
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(prompt).encode()
    raise KeyLoadError("the key needs a password: use --key-password-env VAR (no terminal to prompt on)")


def signing_key_from_config(cfg: Any, *, key: str | None = None,
                            password_env: str | None = None) -> SigningKey:
    """Load the key named by `key` (CLI --key) or by [signing] key of `cfg` (a gateway Config).

    Relative [signing] key paths are relative to the configuration file; the password comes from
    `password_env`, else (for the configured key) key_password_file / key_password_env, else a prompt.
    """
    from_config = not key
    spec = key or cfg.signing.key
    if not spec:
        raise KeyLoadError("no signing key: pass --key KEY or set [signing] key")
    if from_config and not spec.startswith("pkcs11:"):
        spec = str(cfg.resolve(spec))
    password = None
    if needs_password(spec):
        password = key_password(cfg.signing if from_config else None, password_env, resolve=cfg.resolve)
    return load_signing_key(spec, password)

