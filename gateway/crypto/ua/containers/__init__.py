"""Key containers that Ukrainian providers issue: IIT `Key-6.dat` (old IIT store or PBES2),
`.pfx`/`.p12` with DSTU 4145 keys (IIT, Diia) and PrivatBank `.jks`.

`open_container(data, password)` recognises the format, decrypts every key and returns them with
the certificates the file holds. Passwords are bytes as the operator gave them: a password that does
not open the container as given (UTF-8) is tried in cp1251, as Ukrainian tools do. Errors are
`ContainerError` (wrong password: `WrongPassword`) with a message that names the problem and never
shows a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import pem, x509

from gateway.crypto.ua.containers.iit import (
    ContainerError,
    WrongPassword,
    decrypt_iit_store,
    decrypt_pbes2_der,
    is_iit_store,
    is_pbes2,
)
from gateway.crypto.ua.containers.jks import is_jks, read_jks
from gateway.crypto.ua.containers.pkcs8 import keys_from_key_info
from gateway.crypto.ua.containers.pkcs12 import is_pfx, read_pfx
from gateway.crypto.ua.dstu4145 import DSTUError, PrivateKey

__all__ = ["MAX_CONTAINER_BYTES", "ContainerError", "KeyContainer", "WrongPassword", "is_container",
           "open_container", "password_candidates"]

#: real containers are a few kilobytes (a JKS with its chain ~6 KB)
MAX_CONTAINER_BYTES = 256 * 1024


@dataclass(repr=False)
class KeyContainer:
    kind: str
    #: (key, little-endian encoding) in file order: for IIT files the signing key comes first
    keys: list[tuple[PrivateKey, bool]]
    certificates: list[x509.Certificate] = field(default_factory=list)

    def __repr__(self) -> str:  # never shows key material
        return f"<KeyContainer {self.kind}: {len(self.keys)} keys, {len(self.certificates)} certificates>"


def password_candidates(password: bytes) -> list[bytes]:
    """The password as given, then (if it is UTF-8 text that cp1251 spells differently) in cp1251."""
    out = [password]
    try:
        alternative = password.decode("utf-8").encode("cp1251")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return out
    if alternative != password:
        out.append(alternative)
    return out


def _text(password: bytes) -> str:
    try:
        return password.decode("utf-8")
    except UnicodeDecodeError:
        return password.decode("cp1251", errors="replace")


def _der(data: bytes) -> bytes:
    if pem.detect(data):
        try:
            kind, _headers, der = pem.unarmor(data)
        except ValueError:
            raise ContainerError("damaged PEM key file") from None
        if kind != "ENCRYPTED PRIVATE KEY":
            raise ContainerError(f"unsupported PEM block {kind!r} (expected ENCRYPTED PRIVATE KEY)")
        return der
    return data


def is_container(data: bytes) -> bool:
    """Whether `data` looks like one of the supported containers (nothing is decrypted)."""
    if is_jks(data):
        return True
    try:
        der = _der(data)
    except ContainerError:
        return False
    return is_iit_store(der) or is_pbes2(der) or is_pfx(der)


def _keys(der: bytes) -> list[tuple[PrivateKey, bool]]:
    try:
        return keys_from_key_info(der)
    except DSTUError:
        raise WrongPassword("wrong password (the decrypted data is not a key)") from None


def open_container(data: bytes, password: bytes, *, key_password: bytes | None = None) -> KeyContainer:
    """Decrypt a container; `key_password` is the JKS key entries' password (default: `password`)."""
    if len(data) > MAX_CONTAINER_BYTES:
        raise ContainerError(f"too large for a key container ({len(data)} bytes, at most "
                             f"{MAX_CONTAINER_BYTES})")
    if not data:
        raise ContainerError("empty key file")
    if is_jks(data):
        key_ders, certs = read_jks(data, _text(password), _text(key_password or password))
        return KeyContainer("jks", [k for der in key_ders for k in _keys(der)], certs)
    der = _der(data)
    if is_pfx(der):
        key_ders, certs = read_pfx(der, _text(password), password_candidates(password))
        if not key_ders:
            raise ContainerError("the PKCS#12 file holds no key")
        return KeyContainer("pkcs12", [k for d in key_ders for k in _keys(d)], certs)
    if is_iit_store(der):
        return KeyContainer("iit", _first_opening(lambda p: decrypt_iit_store(der, p), password))
    if is_pbes2(der):
        return KeyContainer("pbes2", _first_opening(lambda p: decrypt_pbes2_der(der, p), password))
    raise ContainerError("not a supported key container (IIT Key-6.dat, PKCS#12 or JKS) or damaged")


def _first_opening(decrypt, password: bytes) -> list[tuple[PrivateKey, bool]]:
    last: WrongPassword | None = None
    for candidate in password_candidates(password):
        try:
            return _keys(decrypt(candidate))
        except WrongPassword as exc:
            last = exc
    raise last or WrongPassword("wrong password")
