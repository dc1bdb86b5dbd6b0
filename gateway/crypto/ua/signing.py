"""DSTU 4145 signing keys: PEM bundles (PKCS#8 key + certificate chain), a pyhanko Signer, and a
development key for `gateway init --dstu`.

A bundle is a PEM file holding one unencrypted `PRIVATE KEY` (PKCS#8, DSTU 4145 algorithm OID and
named-curve parameters, see `keys.private_key_to_pkcs8`) and `CERTIFICATE` blocks: the signer's
certificate (the one matching the key) and its chain. Encrypted containers (Key-6.dat, .pfx, .jks,
see `containers`) become a bundle through `bundle_from_container`, which picks the signing key and
matches it to its certificate.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import algos, pem, x509
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from gateway.crypto.ua import oids
from gateway.crypto.ua.cms import sign_cms
from gateway.crypto.ua.containers import KeyContainer
from gateway.crypto.ua.curves import curve_by_m
from gateway.crypto.ua.dstu4145 import DSTUError, PrivateKey, encode_signature, generate_private_key
from gateway.crypto.ua.keys import load_private_key, load_public_key, private_key_to_pkcs8
from gateway.crypto.ua.verify import hasher_for
from gateway.crypto.ua.x509 import issue_certificate

MAX_BUNDLE_BYTES = 1024 * 1024
DIGESTS = frozenset(oids.DIGEST_OIDS.values())


@dataclass(repr=False)
class DSTUKeyBundle:
    key: PrivateKey
    little_endian: bool
    certificate: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)

    def __repr__(self) -> str:  # never shows key material
        return f"<DSTUKeyBundle {self.certificate.subject.human_friendly!r}>"

    def sign_raw(self, data: bytes, digest_algorithm: str = "gost34311") -> bytes:
        """The signature value over `data` hashed with GOST 34.311 (the certificate's DKE) or Kupyna."""
        if digest_algorithm not in DIGESTS:
            raise DSTUError(f"DSTU 4145 keys sign with GOST 34.311 or Kupyna, not {digest_algorithm}")
        h = hasher_for(digest_algorithm, load_public_key(self.certificate.public_key))
        h.update(data)
        r, s = self.key.sign(h.digest())
        return encode_signature(self.key.curve, r, s, self.little_endian)

    def sign_cades(self, data: bytes, *, detached: bool = True, digest: str = "gost34311") -> bytes:
        """CAdES-BES (DER ContentInfo) over `data`."""
        return sign_cms(data, self.key, self.certificate, self.chain, digest=digest, detached=detached,
                        little_endian=self.little_endian)


def is_dstu_bundle(data: bytes) -> bool:
    """A PEM text whose private key is a DSTU 4145 PKCS#8 key."""
    if not pem.detect(data):
        return False
    for kind, _headers, der in pem.unarmor(data, multiple=True):
        if kind == "PRIVATE KEY":
            try:
                load_private_key(der)
            except DSTUError:
                return False
            return True
    return False


def load_bundle(path: Path) -> DSTUKeyBundle:
    try:
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise DSTUError(f"{path}: too large for a key file")
        data = path.read_bytes()
    except OSError as exc:
        raise DSTUError(f"cannot read key file {path}: {exc.strerror}") from None
    return parse_bundle(data)


def parse_bundle(data: bytes) -> DSTUKeyBundle:
    if not pem.detect(data):
        raise DSTUError("a DSTU 4145 key file is PEM: PRIVATE KEY and CERTIFICATE blocks")
    key: tuple[PrivateKey, bool] | None = None
    certs: list[x509.Certificate] = []
    try:
        for kind, _headers, der in pem.unarmor(data, multiple=True):
            if kind == "ENCRYPTED PRIVATE KEY":
                raise DSTUError("encrypted DSTU 4145 keys are not supported: store the key unencrypted "
                                "in a protected file or use a token")
            if kind == "PRIVATE KEY":
                key = load_private_key(der)
            elif kind == "CERTIFICATE":
                certs.append(x509.Certificate.load(der))
    except DSTUError:
        raise
    except ValueError as exc:
        raise DSTUError(f"not a readable PEM key file ({type(exc).__name__})") from None
    if key is None:
        raise DSTUError("the key file holds no PRIVATE KEY")
    private, little_endian = key
    point = private.public_point
    for cert in certs:
        try:
            if load_public_key(cert.public_key).key.point == point:
                chain = [c for c in certs if c is not cert]
                return DSTUKeyBundle(private, little_endian, cert, chain)
        except (DSTUError, ValueError, KeyError):
            continue
    raise DSTUError("no certificate in the key file matches the private key")


class DSTURawSigner(Signer):
    """A pyhanko Signer over any DSTU 4145 signing function (a file key or a token's mechanism);
    the signature value is the raw r||s / s||r octets of the certificate's byte order."""

    def __init__(self, certificate: x509.Certificate, chain: list[x509.Certificate], little_endian: bool,
                 sign_raw: Callable[[bytes, str], bytes]) -> None:
        store = SimpleCertificateStore()
        store.register_multiple([certificate, *chain])
        oid = oids.DSTU4145_LE if little_endian else oids.DSTU4145_BE
        super().__init__(signing_cert=certificate, cert_registry=store, embed_roots=True,
                         signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": oid}))
        self._sign = sign_raw

    def get_signature_mechanism_for_digest(self, digest_algorithm: str | None) -> algos.SignedDigestAlgorithm:
        return self.signature_mechanism

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        return self.sign_raw(data, digest_algorithm)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        return self._sign(data, digest_algorithm)


class DSTUSigner(DSTURawSigner):
    """A pyhanko Signer over a loaded DSTU 4145 key."""

    def __init__(self, bundle: DSTUKeyBundle) -> None:
        super().__init__(bundle.certificate, bundle.chain, bundle.little_endian, bundle.sign_raw)


def make_dev_bundle(common_name: str, *, edrpou: str | None = None, drfo: str | None = None, m: int = 257,
                    days: int = 365) -> tuple[bytes, x509.Certificate]:
    """A development key: a fresh DSTU 4145 root and a signer certificate it issued.
    Returns (PEM bundle of key + signer certificate + root, root certificate to trust)."""
    now = datetime.now(UTC).replace(microsecond=0)
    curve = curve_by_m(m)
    root_key = generate_private_key(curve)
    root_name = x509.Name.build({"country_name": "UA", "common_name": f"{common_name} development DSTU root"})
    root = issue_certificate(root_name, root_key.public_key(), root_key,
                             not_before=now - timedelta(minutes=5), not_after=now + timedelta(days=days),
                             ca=True)
    key = generate_private_key(curve)
    subject = x509.Name.build({"country_name": "UA", "common_name": common_name,
                               **({"organization_identifier": f"NTRUA-{edrpou}"} if edrpou else {})})
    cert = issue_certificate(subject, key.public_key(), root_key, issuer=root,
                             not_before=now - timedelta(minutes=5), not_after=now + timedelta(days=days),
                             edrpou=edrpou, drfo=drfo)
    parts = [pem.armor("PRIVATE KEY", private_key_to_pkcs8(key)), pem.armor("CERTIFICATE", cert.dump()),
             pem.armor("CERTIFICATE", root.dump())]
    return b"".join(parts), root


def write_dev_bundle(path: Path, common_name: str, **kw) -> x509.Certificate:
    """Write a development key bundle (mode 0600); returns the root certificate to trust."""
    data, root = make_dev_bundle(common_name, **kw)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return root


def is_dstu_bundle_file(path: Path) -> bool:
    try:
        if not path.is_file() or path.stat().st_size > MAX_BUNDLE_BYTES:
            return False
        return is_dstu_bundle(path.read_bytes())
    except OSError:
        return False


#: key usages that allow signing documents (a key-agreement certificate must not sign)
SIGNING_USAGES = frozenset({"digital_signature", "non_repudiation"})


def _certified(cert: x509.Certificate):
    try:
        return load_public_key(cert.public_key)
    except (DSTUError, ValueError, KeyError, TypeError):
        return None


def _can_sign(cert: x509.Certificate) -> bool:
    usage = cert.key_usage_value
    return usage is None or bool(set(usage.native) & SIGNING_USAGES)


def bundle_from_container(container: KeyContainer, given: list[x509.Certificate]) -> DSTUKeyBundle:
    """The signing key of a container with its certificate and chain.

    The signer's certificate comes from `given` (--cert / [signing] cert) when any, else from the
    container; it must hold the public point of one of the container's keys and allow signing
    (digitalSignature or nonRepudiation). A DSTUError names what is missing or does not match."""
    candidates = [c for c in (given or container.certificates) if not c.ca]
    matches = []
    for cert in candidates:
        public = _certified(cert)
        if public is None:
            continue
        for key, _le in container.keys:
            if key.curve.m == public.key.curve.m and key.public_point == public.key.point:
                matches.append((cert, key, public.little_endian))
    n = len(container.keys)
    if given and not matches:
        raise DSTUError(f"the given certificate does not match any of the {n} keys in the container "
                        "(wrong certificate for this key)")
    signing = [m for m in matches if _can_sign(m[0])]
    if not signing:
        if matches:
            raise DSTUError("the container's certificate is for key agreement only, not for signing: "
                            "give the signing certificate (--cert or [signing] cert)")
        raise DSTUError(f"no certificate in the container matches its {n} keys: give the signing "
                        "certificate (--cert or [signing] cert)")
    cert, key, little_endian = signing[0]
    chain: list[x509.Certificate] = []
    seen = {cert.dump()}
    for other in [*given, *container.certificates]:
        if other.dump() not in seen:
            seen.add(other.dump())
            chain.append(other)
    return DSTUKeyBundle(key, little_endian, cert, chain)
