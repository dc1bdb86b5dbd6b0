"""The keys registry: the organization's seal keys, one of them active.

A key is either a container file (PKCS#12, or a Ukrainian Key-6.dat/.pfx/.jks read by
gateway.signing.keys) copied into [keys] dir - the container stays encrypted at rest under its own
password, and that password is kept sealed (Fernet) under the registry's master key - or a PKCS#11
URI (the key stays in the token), or a generated key awaiting its certificate (an encrypted PKCS#8
file plus the CSR for the qualified provider). `attach` turns a generated key and its issued
certificate into a PKCS#12 container. The active key is a database flag, so a running gateway
picks up `activate` without a restart (gateway.api.seal).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from datetime import UTC
from pathlib import Path

from asn1crypto import pem
from cryptography import x509
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config import Config
from gateway.errors import GatewayError
from gateway.signing.keys import SigningKey, load_signing_key, needs_password
from gateway.store.models import SealKey

ALGORITHMS = ("rsa-3072", "rsa-2048", "ec-p256", "ec-p384")
MAX_CONTAINER_BYTES = 1024 * 1024


class RegistryError(GatewayError):
    """A registry operation that cannot be done (one line for the user)."""


def registry_dir(cfg: Config) -> Path:
    folder = cfg.resolve(cfg.keys.dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _fernet(cfg: Config) -> Fernet:
    configured = cfg.keys.master_key_file
    path = cfg.resolve(configured) if configured else registry_dir(cfg) / "master.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileExistsError):  # another process made it first
            _write_private(path, Fernet.generate_key())
    return Fernet(path.read_bytes().strip())


def _seal(cfg: Config, secret: bytes | None) -> str | None:
    return _fernet(cfg).encrypt(secret).decode("ascii") if secret is not None else None


def _unseal(cfg: Config, sealed: str | None) -> bytes | None:
    if sealed is None:
        return None
    try:
        return _fernet(cfg).decrypt(sealed.encode("ascii"))
    except InvalidToken:
        raise RegistryError("the registry's master key does not open this key's password "
                            "([keys] master_key_file changed?)") from None


def _check_label(session: Session, label: str) -> str:
    label = label.strip()
    if not label or len(label) > 200 or any(ord(c) < 32 for c in label):
        raise RegistryError("a key needs a label (printable, at most 200 characters)")
    if session.scalar(select(SealKey).where(SealKey.label == label)) is not None:
        raise RegistryError(f"a key labelled {label!r} exists already")
    return label


def _describe(row: SealKey, key: SigningKey) -> None:
    """Keep the certificate (first) and the chain the container carries, as one PEM bundle."""
    row.cert_pem = "".join(pem.armor("CERTIFICATE", c.dump()).decode("ascii")
                           for c in [key.certificate, *key.chain])
    row.not_after = key.certificate.not_valid_after.astimezone(UTC)


def import_container(session: Session, cfg: Config, label: str, data: bytes, filename: str,
                     password: bytes | None) -> SealKey:
    """Import a key container (PKCS#12 or a Ukrainian container the signing layer reads)."""
    label = _check_label(session, label)
    if len(data) > MAX_CONTAINER_BYTES:
        raise RegistryError("too large for a key container")
    suffix = "".join(c for c in Path(filename).suffix.lower() if c.isalnum() or c == ".")[:8] or ".p12"
    target = registry_dir(cfg) / f"{uuid.uuid4().hex}{suffix}"
    _write_private(target, data)
    try:
        key = load_signing_key(str(target), password)
    except GatewayError:
        target.unlink()
        raise
    try:
        row = SealKey(label=label, kind="file", source=target.name, sealed_password=_seal(cfg, password),
                      active=False)
        _describe(row, key)
    finally:
        key.close()
    session.add(row)
    session.flush()
    return row


def add_pkcs11(session: Session, cfg: Config, label: str, uri: str, pin: bytes | None) -> SealKey:
    """Register a key that stays in a PKCS#11 token (checked by opening it once)."""
    label = _check_label(session, label)
    key = load_signing_key(uri, pin)
    try:
        row = SealKey(label=label, kind="pkcs11", source=uri, sealed_password=_seal(cfg, pin), active=False)
        _describe(row, key)
    finally:
        key.close()
    session.add(row)
    session.flush()
    return row


def _subject(cfg: Config) -> x509.Name:
    org = cfg.organization
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "UA"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org.name),
        x509.NameAttribute(NameOID.COMMON_NAME, org.name),
        x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRUA-{org.edrpou}"),
    ])


def generate(session: Session, cfg: Config, label: str, algorithm: str = "rsa-3072") -> SealKey:
    """A new key (kept as encrypted PKCS#8) and its CSR with the organization's EDRPOU subject."""
    label = _check_label(session, label)
    if algorithm not in ALGORITHMS:
        raise RegistryError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
    kind, size = algorithm.split("-")
    if kind == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=int(size))
    else:
        private = ec.generate_private_key(ec.SECP256R1() if size == "p256" else ec.SECP384R1())
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    csr = (x509.CertificateSigningRequestBuilder().subject_name(_subject(cfg))
           .add_extension(usage, critical=True).sign(private, hashes.SHA256()))
    password = secrets.token_urlsafe(32).encode()
    target = registry_dir(cfg) / f"{uuid.uuid4().hex}.key.pem"
    _write_private(target, private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password)))
    row = SealKey(label=label, kind="pending", source=target.name, sealed_password=_seal(cfg, password),
                  csr_pem=csr.public_bytes(serialization.Encoding.PEM).decode("ascii"), active=False)
    session.add(row)
    session.flush()
    return row


def _certificates(data: bytes) -> list[x509.Certificate]:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise RegistryError("not a certificate (PEM or DER)") from None


def attach(session: Session, cfg: Config, ident: int, cert_data: bytes) -> SealKey:
    """Attach the certificate issued for a generated key (PEM may carry the CA chain after it)."""
    row = get(session, ident)
    if row.kind != "pending":
        raise RegistryError(f"key {row.label!r} has its certificate already")
    try:
        certs = _certificates(cert_data)
    except ValueError:
        raise RegistryError("not a certificate (PEM or DER)") from None
    if not certs:
        raise RegistryError("no certificate found")
    password = _unseal(cfg, row.sealed_password)
    folder = registry_dir(cfg)
    private = serialization.load_pem_private_key((folder / row.source).read_bytes(), password)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    mine = private.public_key().public_bytes(serialization.Encoding.DER, spki)
    leaf = next((c for c in certs
                 if c.public_key().public_bytes(serialization.Encoding.DER, spki) == mine), None)
    if leaf is None:
        raise RegistryError("the certificate is not for this key (public keys differ)")
    chain = [c for c in certs if c is not leaf]
    p12 = pkcs12.serialize_key_and_certificates(row.label.encode(), private, leaf, chain or None,
                                                serialization.BestAvailableEncryption(password))
    target = folder / f"{uuid.uuid4().hex}.p12"
    _write_private(target, p12)
    key = load_signing_key(str(target), password)  # also checks key strength and the certificate
    try:
        _describe(row, key)
    finally:
        key.close()
    (folder / row.source).unlink()
    row.kind, row.source = "file", target.name
    return row


def get(session: Session, ident: int | str) -> SealKey:
    """A key by id or label."""
    q = select(SealKey).where(SealKey.id == int(ident)) if str(ident).isdigit() else \
        select(SealKey).where(SealKey.label == str(ident))
    row = session.scalar(q)
    if row is None:
        raise RegistryError(f"no key {ident!r} in the registry")
    return row


def list_keys(session: Session) -> list[SealKey]:
    return list(session.scalars(select(SealKey).order_by(SealKey.id)))


def activate(session: Session, ident: int | str) -> SealKey:
    row = get(session, ident)
    if row.kind == "pending":
        raise RegistryError(f"key {row.label!r} has no certificate yet (attach it first)")
    for other in session.scalars(select(SealKey).where(SealKey.active.is_(True))):
        other.active = False
    row.active = True
    return row


def active_key(session: Session) -> SealKey | None:
    return session.scalar(select(SealKey).where(SealKey.active.is_(True)))


def load(cfg: Config, row: SealKey) -> SigningKey:
    """Open a registered key for signing."""
    if row.kind == "pending":
        raise RegistryError(f"key {row.label!r} has no certificate yet")
    secret = _unseal(cfg, row.sealed_password)
    if row.kind == "pkcs11":
        return load_signing_key(row.source, secret)
    path = registry_dir(cfg) / row.source
    return load_signing_key(str(path), secret if needs_password(str(path)) else None)
