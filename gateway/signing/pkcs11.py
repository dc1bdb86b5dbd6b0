"""PKCS#11 signing keys named by RFC 7512 URIs, e.g.

    pkcs11:token=seal;object=org-seal?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:PIN

Path attributes used: token, serial, manufacturer, model, slot-id (to pick the token) and object, id
(to pick the key and its certificate). Query attributes: module-path (or module-name), and the PIN
from pin-value, pin-source=env:VAR, pin-source=file:/path (or a bare path); without them the
caller's password is the PIN. One session is opened per key and kept for all its signatures.
"""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes

import pkcs11
from pkcs11 import exceptions as p11e
from pyhanko.sign.pkcs11 import PKCS11Signer

from gateway.errors import KeyLoadError, SigningError
from gateway.signing.signing_key import SigningKey, check_digest_allowed, check_key_strength

PATH_ATTRS = {"token", "serial", "manufacturer", "model", "slot-id", "object", "id", "type",
              "library-manufacturer", "library-description", "library-version", "slot-description",
              "slot-manufacturer"}
QUERY_ATTRS = {"module-path", "module-name", "pin-value", "pin-source"}
MODULE_DIRS = ("/usr/lib/softhsm", "/usr/lib/x86_64-linux-gnu/pkcs11", "/usr/lib/pkcs11", "/usr/lib")


@dataclass
class Pkcs11Uri:
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    key_id: bytes | None = None

    def describe(self) -> str:
        """The URI without any PIN, for messages."""
        attrs = ";".join(f"{k}={v}" for k, v in self.path.items() if k != "id")
        return f"pkcs11:{attrs}"


def parse_pkcs11_uri(uri: str) -> Pkcs11Uri:
    """Parse an RFC 7512 URI; unknown or malformed attributes are a KeyLoadError."""
    if not uri.startswith("pkcs11:"):
        raise KeyLoadError("not a PKCS#11 URI (must start with pkcs11:)")
    body = uri[len("pkcs11:"):]
    path_part, _, query_part = body.partition("?")
    out = Pkcs11Uri()
    for item in filter(None, path_part.split(";")):
        name, sep, value = item.partition("=")
        if not sep or name not in PATH_ATTRS:
            raise KeyLoadError(f"PKCS#11 URI: unsupported path attribute {name!r}")
        if name == "id":
            out.key_id = unquote_to_bytes(value)
        out.path[name] = unquote(value)
    for item in filter(None, query_part.split("&")):
        name, sep, value = item.partition("=")
        if not sep or name not in QUERY_ATTRS:
            raise KeyLoadError(f"PKCS#11 URI: unsupported query attribute {name!r}")
        out.query[name] = unquote(value)
    if "object" not in out.path and out.key_id is None:
        raise KeyLoadError("PKCS#11 URI must name the key with object=LABEL or id=...")
    return out


def _module_path(uri: Pkcs11Uri) -> str:
    if "module-path" in uri.query:
        path = uri.query["module-path"]
        if not Path(path).is_file():
            raise KeyLoadError(f"PKCS#11 module not found: {path}")
        return path
    if "module-name" in uri.query:
        name = uri.query["module-name"]
        for d in MODULE_DIRS:
            for candidate in (Path(d) / name, Path(d) / f"{name}.so", Path(d) / f"lib{name}.so"):
                if candidate.is_file():
                    return str(candidate)
        raise KeyLoadError(f"PKCS#11 module {name!r} not found")
    raise KeyLoadError("PKCS#11 URI needs module-path=... (or module-name=...)")


def _pin(uri: Pkcs11Uri, password: bytes | None) -> str | None:
    if "pin-value" in uri.query:
        return uri.query["pin-value"]
    source = uri.query.get("pin-source")
    if source is None:
        return password.decode() if password is not None else None
    if source.startswith("env:"):
        var = source[4:]
        if var not in os.environ:
            raise KeyLoadError(f"environment variable {var} (token PIN) is not set")
        return os.environ[var]
    path = Path(source[5:] if source.startswith("file:") else source)
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError:
        raise KeyLoadError(f"cannot read the PIN file {path}") from None


def _find_token(lib, uri: Pkcs11Uri):
    wanted = {k: uri.path[k] for k in ("token", "serial", "manufacturer", "model") if k in uri.path}
    slot_id = uri.path.get("slot-id")
    for slot in lib.get_slots(token_present=True):
        if slot_id is not None and str(slot.slot_id) != slot_id:
            continue
        token = slot.get_token()
        actual = {"token": token.label, "serial": _text(token.serial),
                  "manufacturer": token.manufacturer_id, "model": token.model}
        if all(actual[k].strip() == v for k, v in wanted.items()):
            return token
    return None


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def load_pkcs11_key(spec: str, password: bytes | None):
    """Open the token once, find key and certificate, and return a SigningKey bound to the session."""
    uri = parse_pkcs11_uri(spec)
    where = uri.describe()
    module = _module_path(uri)
    pin = _pin(uri, password)
    try:
        lib = pkcs11.lib(module)
        token = _find_token(lib, uri)
        if token is None:
            raise KeyLoadError(f"{where}: no such token")
        session = token.open(user_pin=pin) if pin is not None else token.open()
    except KeyLoadError:
        raise
    except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange):
        raise KeyLoadError(f"{where}: wrong PIN") from None
    except p11e.PinLocked:
        raise KeyLoadError(f"{where}: the PIN is locked") from None
    except p11e.UserAlreadyLoggedIn:
        raise KeyLoadError(f"{where}: the token is already open in this process") from None
    except (p11e.PKCS11Error, OSError, RuntimeError) as exc:
        raise KeyLoadError(f"{where}: cannot open the token ({type(exc).__name__})") from None

    lock = threading.Lock()

    class _SerialSigner(PKCS11Signer):
        """One operation at a time on the shared session, also for pyhanko's own (PDF) signing."""

        async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
            if dry_run:
                return await super().async_sign_raw(data, digest_algorithm, dry_run=True)
            return await asyncio.to_thread(raw, data, digest_algorithm)

    label = uri.path.get("object")
    signer = _SerialSigner(session, cert_label=label, key_label=label, key_id=uri.key_id,
                           cert_id=uri.key_id, other_certs_to_pull=None)
    try:
        signer._load_objects()  # eager: fail now, not at the first signature
    except Exception as exc:  # noqa: BLE001 - pyhanko's PKCS11Error and python-pkcs11's errors alike
        session.close()
        raise KeyLoadError(f"{where}: key or certificate not found on the token ({_short(exc)})") from None
    cert = signer.signing_cert
    try:
        check_key_strength(cert.public_key)
    except KeyLoadError:
        session.close()
        raise
    chain = [c for c in signer.cert_registry if c.dump() != cert.dump()]

    def raw(data: bytes, digest: str) -> bytes:
        digest = check_digest_allowed(digest)
        spec_ = signer._select_pkcs11_signing_params(digest, sign_kwargs=signer.sign_kwargs(data))
        payload = spec_.pre_sign_transform(data) if spec_.pre_sign_transform else data
        try:
            with lock:
                sig = signer._key_handle.sign(payload, **spec_.sign_kwargs)
        except p11e.PKCS11Error as exc:
            raise SigningError(f"{where}: the token refused to sign ({type(exc).__name__})") from None
        return spec_.post_sign_transform(sig) if spec_.post_sign_transform else sig

    return SigningKey(certificate=cert, chain=chain, signer=signer, raw_signer=raw, source=where,
                      closer=session.close)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
