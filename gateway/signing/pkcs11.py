"""PKCS#11 signing keys named by RFC 7512 URIs, e.g.

    pkcs11:token=seal;object=org-seal?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:PIN

Path attributes used: token, serial, manufacturer, model, slot-id (to pick the token) and object, id
(to pick the key and its certificate). Query attributes: module-path (or module-name), and the PIN
from pin-value, pin-source=env:VAR, pin-source=file:/path (or a bare path); without them the
caller's password is the PIN. One session is opened per key and kept for all its signatures.

DSTU 4145 keys sign through the Ukrainian vendor mechanisms (UAPKI `pkcs11t-ua.h`): with the digest
computed on the token (CKM_DSTU4145_WITH_GOST34311 / _WITH_KUPYNA256..512) when the token offers
it, else CKM_DSTU4145 over a digest computed here. A token that holds a DSTU key but offers none of
them (e.g. SecureToken-338S) is refused at load with a message saying so. `list_tokens` reports a
module's tokens, their keys and mechanisms and whether they can sign DSTU 4145 (`gateway keys tokens`).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes

import pkcs11
from asn1crypto import x509
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11e
from pkcs11.attributes import AttributeMapper, handle_ulong
from pyhanko.sign.pkcs11 import PKCS11Signer

from gateway.crypto.ua import oids as ua_oids
from gateway.crypto.ua.keys import load_public_key
from gateway.crypto.ua.signing import DSTURawSigner
from gateway.crypto.ua.verify import hasher_for
from gateway.errors import KeyLoadError, SigningError
from gateway.signing.signing_key import SigningKey, check_digest_allowed, check_key_strength

PATH_ATTRS = {"token", "serial", "manufacturer", "model", "slot-id", "object", "id", "type",
              "library-manufacturer", "library-description", "library-version", "slot-description",
              "slot-manufacturer"}
QUERY_ATTRS = {"module-path", "module-name", "pin-value", "pin-source"}
MODULE_DIRS = ("/usr/lib/softhsm", "/usr/lib/x86_64-linux-gnu/pkcs11", "/usr/lib/pkcs11", "/usr/lib")

CKM_VENDOR_DEFINED = 0x80000000
CKM_DSTU4145 = CKM_VENDOR_DEFINED + 0x420031
CKM_DSTU4145_WITH_GOST34311 = CKM_VENDOR_DEFINED + 0x420032
CKM_DSTU4145_WITH_KUPYNA256 = CKM_VENDOR_DEFINED + 0x420033
CKM_DSTU4145_WITH_KUPYNA384 = CKM_VENDOR_DEFINED + 0x420034
CKM_DSTU4145_WITH_KUPYNA512 = CKM_VENDOR_DEFINED + 0x420035
CKM_DSTU4145_KEY_PAIR_GEN = CKM_VENDOR_DEFINED + 0x420042
CKK_DSTU4145 = CKM_VENDOR_DEFINED + 0x420131  # CKK_VENDOR_DEFINED has the same value
VENDOR_MECHANISMS = {
    CKM_DSTU4145: "CKM_DSTU4145",
    CKM_DSTU4145_WITH_GOST34311: "CKM_DSTU4145_WITH_GOST34311",
    CKM_DSTU4145_WITH_KUPYNA256: "CKM_DSTU4145_WITH_KUPYNA256",
    CKM_DSTU4145_WITH_KUPYNA384: "CKM_DSTU4145_WITH_KUPYNA384",
    CKM_DSTU4145_WITH_KUPYNA512: "CKM_DSTU4145_WITH_KUPYNA512",
    CKM_DSTU4145_KEY_PAIR_GEN: "CKM_DSTU4145_KEY_PAIR_GEN",
}
#: digest -> the mechanism that hashes on the token and signs
_HASH_AND_SIGN = {
    "gost34311": CKM_DSTU4145_WITH_GOST34311,
    "kupyna256": CKM_DSTU4145_WITH_KUPYNA256,
    "kupyna384": CKM_DSTU4145_WITH_KUPYNA384,
    "kupyna512": CKM_DSTU4145_WITH_KUPYNA512,
}
NO_DSTU = ("cannot sign with DSTU 4145 (it offers none of the vendor mechanisms CKM_DSTU4145 / "
           "CKM_DSTU4145_WITH_GOST34311 / CKM_DSTU4145_WITH_KUPYNA*)")


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
        session = token.open(user_pin=pin, attribute_mapper=attribute_mapper())
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
    chain = [c for c in signer.cert_registry if c.dump() != cert.dump()]
    try:
        check_key_strength(cert.public_key)
        if cert.public_key["algorithm"]["algorithm"].dotted in ua_oids.SIGNATURE_OIDS:
            dstu_signer, dstu_raw = _dstu_token_key(signer, token, where, lock)
            return SigningKey(certificate=cert, chain=chain, signer=dstu_signer, raw_signer=dstu_raw,
                              source=where, closer=session.close)
    except KeyLoadError:
        session.close()
        raise

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


def _key_type_value(value: int) -> int:
    try:
        return pkcs11.KeyType(value)
    except ValueError:
        return value


def attribute_mapper() -> AttributeMapper:
    """python-pkcs11's attribute mapping, with key types outside its enum (CKK_DSTU4145) kept as
    numbers instead of failing."""
    mapper = AttributeMapper()
    pack, unpack = handle_ulong
    mapper.register_handler(Attribute.KEY_TYPE, lambda v: pack(int(v)), lambda v: _key_type_value(unpack(v)))
    return mapper


def vendor_mechanism(value: int) -> pkcs11.Mechanism:
    """A `pkcs11.Mechanism` for a vendor value: python-pkcs11 accepts only members of its enum, which
    has none of the Ukrainian mechanisms; the pseudo-member carries the number to C_SignInit."""
    member = int.__new__(pkcs11.Mechanism, value)
    member._name_ = VENDOR_MECHANISMS.get(value, f"VENDOR_0x{value:08X}").removeprefix("CKM_")
    member._value_ = value
    return member


def mechanism_name(mechanism: int) -> str:
    """CKM_* name of a standard or Ukrainian vendor mechanism, else its hex value."""
    value = int(mechanism)
    if value in VENDOR_MECHANISMS:
        return VENDOR_MECHANISMS[value]
    try:
        return f"CKM_{pkcs11.Mechanism(value).name}"
    except ValueError:
        return f"0x{value:08X}"


def select_dstu_mechanism(available: Iterable[int], digest: str) -> tuple[int, bool]:
    """(mechanism, whether the token computes the digest) for a DSTU 4145 signature with `digest`;
    a SigningError naming the problem when the token offers no usable mechanism."""
    offered = {int(m) for m in available}
    combined = _HASH_AND_SIGN.get(digest)
    if combined is not None and combined in offered:
        return combined, True
    if CKM_DSTU4145 in offered:
        return CKM_DSTU4145, False
    if offered & set(_HASH_AND_SIGN.values()):
        names = ", ".join(sorted(VENDOR_MECHANISMS[m] for m in offered & set(_HASH_AND_SIGN.values())))
        raise SigningError(f"the token cannot sign DSTU 4145 with {digest} (it offers {names})")
    raise SigningError(f"the token {NO_DSTU}")


def can_sign_dstu(available: Iterable[int]) -> bool:
    offered = {int(m) for m in available}
    return bool(offered & ({CKM_DSTU4145} | set(_HASH_AND_SIGN.values())))


@dataclass
class TokenKey:
    label: str
    id_hex: str
    key_type: str
    #: subject of the certificate with the same id/label on the token, if any
    certificate: str | None = None


@dataclass
class TokenInfo:
    slot_id: int
    label: str
    manufacturer: str
    model: str
    serial: str
    mechanisms: list[str]
    keys: list[TokenKey] | None  # None: not listed (no PIN given)
    dstu: bool

    def lines(self) -> list[str]:
        """Human-readable report (what `gateway keys tokens` prints)."""
        made_by = f"{self.manufacturer.strip()} {self.model.strip()}"
        out = [f"slot {self.slot_id}: token {self.label!r} ({made_by}, serial {self.serial.strip()})",
               "  DSTU 4145: " + ("can sign" if self.dstu else NO_DSTU)]
        out.append("  mechanisms: " + ", ".join(self.mechanisms))
        if self.keys is None:
            out.append("  keys: not listed (give the PIN to list private keys)")
        else:
            for key in self.keys:
                cert = f", certificate {key.certificate!r}" if key.certificate else ", no certificate"
                out.append(f"  key {key.label!r} id={key.id_hex or '-'} type={key.key_type}{cert}")
        return out


def _key_type(obj) -> str:
    try:
        value = obj[Attribute.KEY_TYPE]
    except (p11e.PKCS11Error, ValueError, TypeError, KeyError):
        return "unknown"
    if isinstance(value, pkcs11.KeyType):
        return value.name
    return "CKK_DSTU4145" if value == CKK_DSTU4145 else f"0x{value:08X}"


def _attr(obj, attribute, default=None):
    try:
        return obj[attribute]
    except (p11e.PKCS11Error, ValueError, TypeError, KeyError):
        return default


def _token_keys(session) -> list[TokenKey]:
    certs: dict[tuple[bytes, str], str] = {}
    for cert in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
        value = _attr(cert, Attribute.VALUE)
        if not value:
            continue
        try:
            subject = x509.Certificate.load(value).subject.human_friendly
        except (ValueError, TypeError):
            subject = "(unreadable certificate)"
        certs[(bytes(_attr(cert, Attribute.ID, b"")), _attr(cert, Attribute.LABEL, ""))] = subject
    keys = []
    for obj in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}):
        key_id = bytes(_attr(obj, Attribute.ID, b""))
        label = _attr(obj, Attribute.LABEL, "")
        subject = next((s for (cid, clabel), s in certs.items() if (key_id and cid == key_id) or
                        (not key_id and clabel == label)), None)
        keys.append(TokenKey(label, key_id.hex(), _key_type(obj), subject))
    return keys


def list_tokens(module: str, pin: str | None = None) -> list[TokenInfo]:
    """The tokens of a PKCS#11 module (path or name as in module-name=), their mechanisms, whether
    they can sign DSTU 4145 and, with the user PIN, their private keys."""
    path = _module_path(Pkcs11Uri(query={"module-path" if "/" in module else "module-name": module}))
    try:
        lib = pkcs11.lib(path)
        out = []
        for slot in lib.get_slots(token_present=True):
            token = slot.get_token()
            if not token.flags & pkcs11.TokenFlag.TOKEN_INITIALIZED:  # e.g. SoftHSM's free slot
                continue
            mechanisms = list(slot.get_mechanisms())
            keys = None
            if pin is not None:
                with token.open(user_pin=pin, attribute_mapper=attribute_mapper()) as session:
                    keys = _token_keys(session)
            out.append(TokenInfo(slot.slot_id, token.label, token.manufacturer_id, token.model,
                                 _text(token.serial), sorted(mechanism_name(m) for m in mechanisms), keys,
                                 can_sign_dstu(mechanisms)))
        return out
    except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange):
        raise KeyLoadError(f"{module}: wrong PIN") from None
    except (p11e.PKCS11Error, OSError, RuntimeError) as exc:
        raise KeyLoadError(f"{module}: cannot list the tokens ({type(exc).__name__})") from None


def _dstu_token_key(signer: PKCS11Signer, token, where: str, lock: threading.Lock
                    ) -> tuple[DSTURawSigner, Callable[[bytes, str], bytes]]:
    """A signer for a DSTU 4145 key on a token through the vendor mechanisms."""
    mechanisms = list(token.slot.get_mechanisms())
    if not can_sign_dstu(mechanisms):
        raise KeyLoadError(f"{where}: the token holds a DSTU 4145 key but {NO_DSTU}")
    cert = signer.signing_cert
    public = load_public_key(cert.public_key)
    key_handle = signer._key_handle

    def raw(data: bytes, digest: str) -> bytes:
        digest = check_digest_allowed(digest)
        mechanism, on_token = select_dstu_mechanism(mechanisms, digest)
        if not on_token:
            hasher = hasher_for(digest, public)
            hasher.update(data)
            data = hasher.digest()
        try:
            with lock:
                return key_handle.sign(data, mechanism=vendor_mechanism(mechanism))
        except p11e.PKCS11Error as exc:
            raise SigningError(f"{where}: the token refused to sign ({type(exc).__name__})") from None

    chain = [c for c in signer.cert_registry if c.dump() != cert.dump()]
    return DSTURawSigner(cert, chain, public.little_endian, raw), raw
