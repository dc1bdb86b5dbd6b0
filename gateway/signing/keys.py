"""Signing keys: PKCS#12 files, PKCS#11 tokens and the Ukrainian key containers, loaded once and
reused for many signatures.

`load_signing_key(spec, password)` returns a `SigningKey` (see `signing_key`) whose `signer` plugs
into pyhanko's CMS and PDF signing and whose `sign_raw` serves XML signatures. Private key material
and passwords never appear in messages or logs; every failure is a `KeyLoadError` with one clean line.

Files are recognised by content: a DSTU 4145 PEM bundle, an IIT `Key-6.dat` (old store or PBES2),
a `.pfx`/`.p12` with DSTU keys or a PrivatBank `.jks` (`gateway.crypto.ua.containers`), otherwise
an ordinary PKCS#12 file. Ukrainian containers often hold no signing certificate: it is given with
`cert` (`--cert` / `[signing] cert`) and must match the container's signing key.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import pkcs12 as asn1_pkcs12
from asn1crypto import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from gateway.crypto.ua.containers import is_container, open_container
from gateway.crypto.ua.dstu4145 import DSTUError
from gateway.crypto.ua.signing import (
    DSTUKeyBundle,
    DSTUSigner,
    bundle_from_container,
    is_dstu_bundle_file,
    load_bundle,
)
from gateway.errors import GatewayError, KeyLoadError, SigningError
from gateway.signing.certificates import load_certificates
from gateway.signing.pkcs11 import load_pkcs11_key, parse_pkcs11_uri
from gateway.signing.signing_key import (
    ALLOWED_DIGESTS,
    HASHES,
    MIN_EC_BITS,
    MIN_RSA_BITS,
    SigningKey,
    check_digest_allowed,
    check_key_strength,
)

__all__ = ["ALLOWED_DIGESTS", "MIN_EC_BITS", "MIN_RSA_BITS", "LoadedKeySigner", "SigningKey",
           "certificate_validity_problem", "check_digest_allowed", "check_key_strength", "key_password",
           "load_key_file", "load_signing_key", "needs_password", "signing_key_from_config"]

MAX_P12_BYTES = 1024 * 1024


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
                    pss_hash = HASHES[check_digest_allowed(params["hash_algorithm"]["algorithm"].native)]()
                    pad = (padding.PSS(mgf=padding.MGF1(pss_hash), salt_length=params["salt_length"].native),
                           pss_hash)
                else:
                    pad = (padding.PKCS1v15(), HASHES[digest]())
                self._paddings[digest] = pad
            return key.sign(data, *pad)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(HASHES[digest]()))
        if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
            return key.sign(data)
        raise SigningError(f"unsupported key type: {type(key).__name__}")


def _is_pkcs12(data: bytes) -> bool:
    try:
        asn1_pkcs12.Pfx.load(data, strict=True)["auth_safe"]["content_type"].native  # noqa: B018
        return True
    except (ValueError, TypeError, KeyError):
        return False


def _load_pkcs12(path: Path, data: bytes, password: bytes | None) -> SigningKey:
    if not _is_pkcs12(data):
        raise KeyLoadError(f"{path}: not a key file the gateway reads (PKCS#12, IIT Key-6.dat, JKS, "
                           "DSTU PEM bundle), or damaged")
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



def _read_key_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_P12_BYTES:
            raise KeyLoadError(f"{path}: too large for a key file")
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyLoadError(f"key file not found: {path}") from None
    except OSError as exc:
        raise KeyLoadError(f"cannot read key file {path}: {exc.strerror}") from None


def _given_certificates(cert: str | Path | None) -> list[x509.Certificate]:
    if not cert:
        return []
    try:
        return load_certificates(Path(cert).expanduser())
    except GatewayError as exc:
        raise KeyLoadError(f"signing certificate: {exc}") from None


def _dstu_signing_key(bundle: DSTUKeyBundle, source: str) -> SigningKey:
    return SigningKey(certificate=bundle.certificate, chain=bundle.chain, signer=DSTUSigner(bundle),
                      raw_signer=bundle.sign_raw, source=source)


def load_key_file(path: str | Path, password: bytes | None, *, cert: str | Path | None = None,
                  key_password: bytes | None = None) -> SigningKey:
    """A signing key from a file: a Ukrainian container (Key-6.dat, .pfx/.p12 with DSTU keys, .jks),
    a DSTU 4145 PEM bundle or a PKCS#12 file, with `password` (JKS: the store password;
    `key_password` its key entries' one when different). `cert`: a file with the signing certificate
    (and its chain) for containers that do not hold it."""
    path = Path(path).expanduser()
    data = _read_key_file(path)
    given = _given_certificates(cert)
    if is_container(data):
        if password is None:
            raise KeyLoadError(f"{path}: the key container needs a password")
        try:
            container = open_container(data, password, key_password=key_password)
            bundle = bundle_from_container(container, given)
        except DSTUError as exc:  # ContainerError is one
            raise KeyLoadError(f"{path}: {exc}") from None
        return _dstu_signing_key(bundle, str(path))
    if is_dstu_bundle_file(path):
        try:
            bundle = load_bundle(path)
        except DSTUError as exc:
            raise KeyLoadError(f"{path}: {exc}") from None
        if given and given[0].dump() != bundle.certificate.dump():
            raise KeyLoadError(f"{path}: the given certificate is not the key file's certificate")
        return _dstu_signing_key(bundle, str(path))
    key = _load_pkcs12(path, data, password)
    if given and given[0].public_key.dump() != key.certificate.public_key.dump():
        raise KeyLoadError(f"{path}: the given certificate does not match the key")
    return key


def load_signing_key(spec: str, password: bytes | None, *, cert: str | Path | None = None,
                     key_password: bytes | None = None) -> SigningKey:
    """Load a signing key from a file (see `load_key_file`) or an RFC 7512 `pkcs11:` URI (see
    gateway.signing.pkcs11). For PKCS#11, `password` is the user PIN unless the URI names one."""
    if not spec:
        raise KeyLoadError("no signing key given (use --key or [signing] key)")
    if spec.startswith("pkcs11:"):
        return load_pkcs11_key(spec, password)
    return load_key_file(spec, password, cert=cert, key_password=key_password)


def needs_password(spec: str) -> bool:
    """False for PKCS#11 URIs that carry their own PIN source and for DSTU PEM bundles."""
    if spec.startswith("pkcs11:"):
        uri = parse_pkcs11_uri(spec)
        return "pin-value" not in uri.query and "pin-source" not in uri.query
    return not is_dstu_bundle_file(Path(spec).expanduser())  # DSTU PEM bundles are unencrypted


def certificate_validity_problem(key: SigningKey, now: datetime | None = None) -> str | None:
    """Why the key's certificate cannot sign now (expired / not yet valid), or None."""
    now = now or datetime.now(UTC)
    cert = key.certificate
    subject = cert.subject.human_friendly
    if now > cert.not_valid_after:
        return f"the signing certificate of {subject!r} expired on {cert.not_valid_after:%Y-%m-%d %H:%M} UTC"
    if now < cert.not_valid_before:
        return (f"the signing certificate of {subject!r} is not valid before "
                f"{cert.not_valid_before:%Y-%m-%d %H:%M} UTC")
    return None


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




def signing_key_from_config(cfg: Any, *, key: str | None = None, password_env: str | None = None,
                            cert: str | None = None, key_entry_password_env: str | None = None
                            ) -> SigningKey:
    """Load the key named by `key` (CLI --key) or by [signing] key of `cfg` (a gateway Config).

    Relative [signing] key/cert paths are relative to the configuration file; the password comes from
    `password_env`, else (for the configured key) key_password_file / key_password_env, else a prompt.
    The signing certificate is `cert` (CLI --cert), else [signing] cert for the configured key.
    """
    from_config = not key
    spec = key or cfg.signing.key
    if not spec:
        raise KeyLoadError("no signing key: pass --key KEY or set [signing] key")
    if from_config and not spec.startswith("pkcs11:"):
        spec = str(cfg.resolve(spec))
    if not cert and from_config and cfg.signing.cert:
        cert = str(cfg.resolve(cfg.signing.cert))
    password = None
    if needs_password(spec):
        password = key_password(cfg.signing if from_config else None, password_env, resolve=cfg.resolve)
    entry_env = key_entry_password_env or (cfg.signing.key_entry_password_env if from_config else "")
    entry_password = _from_env(entry_env) if entry_env else None
    return load_signing_key(spec, password, cert=cert, key_password=entry_password)
