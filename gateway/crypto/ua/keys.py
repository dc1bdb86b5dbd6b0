"""DSTU 4145 keys from certificates (SubjectPublicKeyInfo) and PKCS#8 files, and their encodings.

Public keys as real Ukrainian certificates carry them: the BIT STRING holds an OCTET STRING with the
compressed point; the curve is a named-curve OID or explicit ECBinary parameters (accepted when they
are one of the ten curves of the standard, as in practice); an optional DKE
gives the GOST 28147 S-box for GOST 34.311 hashing. Octet strings (b, base point, key, signature)
are little-endian under the little-endian OID and big-endian under the big-endian one.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import core, keys, pem

from gateway.crypto.ua import oids
from gateway.crypto.ua.asn1 import DSTU4145Params, ECBinary, ECPrivateKeyUA, PrivateKeyInfoUA, register
from gateway.crypto.ua.curves import find_named, named_curve
from gateway.crypto.ua.dstu4145 import DSTUError, PrivateKey, PublicKey, decode_point, encode_point
from gateway.crypto.ua.ec import Curve
from gateway.crypto.ua.gf2m import Field

register()


@dataclass(frozen=True)
class UAPublicKey:
    key: PublicKey
    little_endian: bool
    #: packed 64-byte S-box from the parameters, None: DKE No.1
    dke: bytes | None


def _octets(value: bytes, little_endian: bool) -> int:
    return int.from_bytes(value, "little" if little_endian else "big")


def curve_from_params(params: DSTU4145Params, little_endian: bool) -> Curve:
    choice = params["curve"]
    if choice.name == "named_curve":
        try:
            return named_curve(choice.chosen.dotted)
        except KeyError:
            raise DSTUError(f"unknown DSTU 4145 curve {choice.chosen.dotted}") from None
    ecb: ECBinary = choice.chosen
    m = ecb["f"]["m"].native
    poly = ecb["f"]["poly"]
    ks = (poly.chosen.native,) if poly.name == "trinomial" else tuple(
        poly.chosen[name].native for name in ("k", "j", "l"))
    if not 100 < m < 1000 or not all(isinstance(k, int) and 0 < k < m for k in ks):
        raise DSTUError("unsupported DSTU 4145 field")
    a = ecb["a"].native
    if a not in (0, 1):
        raise DSTUError("DSTU 4145 parameter A must be 0 or 1")
    field = Field(m, ks)
    b = _octets(ecb["b"].native, little_endian)
    n = ecb["n"].native
    if b == 0 or b >> m or n <= 1 or n.bit_length() > m + 1:
        raise DSTUError("bad DSTU 4145 curve parameters")
    probe = Curve(field, a, b, n, 0, 0)
    gx, gy = decode_point(probe, ecb["bp"].native, little_endian)
    curve = find_named(Curve(field, a, b, n, gx, gy, name=f"DSTU 4145 explicit m={m}"))
    if not curve.oid:
        # unvalidated domain parameters could be a weak curve: only the standard's curves are used
        raise DSTUError("explicit DSTU 4145 parameters that are not one of the standard's curves")
    return curve


def _unwrap_octet_string(data: bytes) -> bytes:
    try:
        inner = core.OctetString.load(data, strict=True)
    except (ValueError, TypeError):
        return data
    return inner.native


_PUB_CACHE: dict[bytes, UAPublicKey] = {}


def load_public_key(info: keys.PublicKeyInfo) -> UAPublicKey:
    """The DSTU 4145 key of a SubjectPublicKeyInfo; DSTUError for anything malformed."""
    try:
        return _load_public_key(info)
    except DSTUError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, OverflowError) as exc:
        raise DSTUError(f"malformed DSTU 4145 public key ({type(exc).__name__})") from None


def _load_public_key(info: keys.PublicKeyInfo) -> UAPublicKey:
    der = info.dump()
    cached = _PUB_CACHE.get(der)
    if cached is not None:
        return cached
    algo_oid = info["algorithm"]["algorithm"].dotted
    if algo_oid not in oids.SIGNATURE_OIDS:
        raise DSTUError("not a DSTU 4145 public key")
    little_endian = oids.SIGNATURE_OIDS[algo_oid][1]
    params = info["algorithm"]["parameters"]
    if not isinstance(params, DSTU4145Params):
        params = DSTU4145Params.load(params.dump())
    curve = curve_from_params(params, little_endian)
    raw = info["public_key"].native
    point = decode_point(curve, _unwrap_octet_string(bytes(raw)), little_endian)
    dke = params["dke"].native if "dke" in params and params["dke"].native is not None else None
    result = UAPublicKey(PublicKey(curve, point), little_endian, dke)
    if len(_PUB_CACHE) > 256:
        _PUB_CACHE.clear()
    _PUB_CACHE[der] = result
    return result


def params_for(curve: Curve, *, dke: bytes | None = None) -> DSTU4145Params:
    if not curve.oid:
        raise DSTUError("only named curves can be written")
    value = {"curve": {"named_curve": curve.oid}}
    if dke is not None:
        value["dke"] = dke
    return DSTU4145Params(value)


def public_key_info(key: PublicKey, *, little_endian: bool = True, dke: bytes | None = None
                    ) -> keys.PublicKeyInfo:
    oid = oids.DSTU4145_LE if little_endian else oids.DSTU4145_BE
    point = core.OctetString(encode_point(key.curve, key.point, little_endian)).dump()
    return keys.PublicKeyInfo({
        "algorithm": {"algorithm": oid, "parameters": params_for(key.curve, dke=dke)},
        "public_key": point,
    })


def private_key_to_pkcs8(key: PrivateKey, *, little_endian: bool = True) -> bytes:
    """PKCS#8 PrivateKeyInfo (unencrypted DER) in Bouncy Castle's layout: a SEC 1 ECPrivateKey."""
    oid = oids.DSTU4145_LE if little_endian else oids.DSTU4145_BE
    size = (key.curve.n.bit_length() + 7) // 8
    inner = ECPrivateKeyUA({"version": 1, "private_key": key.d.to_bytes(size, "big")})
    info = PrivateKeyInfoUA({
        "version": 0,
        "private_key_algorithm": {"algorithm": oid, "parameters": params_for(key.curve)},
        "private_key": inner.dump(),
    })
    return info.dump()


def load_private_key(data: bytes) -> tuple[PrivateKey, bool]:
    """A DSTU 4145 private key from unencrypted PKCS#8 (DER or PEM) -> (key, little_endian)."""
    if pem.detect(data):
        _type, _headers, data = pem.unarmor(data)
    try:
        info = core.Sequence.load(data, strict=True)
        algo = keys.PrivateKeyAlgorithm.load(info[1].dump())
        oid = algo["algorithm"].dotted
        if oid not in oids.SIGNATURE_OIDS:
            raise DSTUError("not a DSTU 4145 private key")
        little_endian = oids.SIGNATURE_OIDS[oid][1]
        params = DSTU4145Params.load(algo["parameters"].dump())
        curve = curve_from_params(params, little_endian)
        octets = core.OctetString.load(info[2].dump()).native
        d = _private_scalar(octets, little_endian)
    except DSTUError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise DSTUError(f"not a readable DSTU 4145 PKCS#8 key ({type(exc).__name__})") from None
    return PrivateKey(curve, d), little_endian


def _private_scalar(octets: bytes, little_endian: bool) -> int:
    """ECPrivateKey (Bouncy Castle), a bare INTEGER, or a bare OCTET STRING (key-file order)."""
    try:
        parsed = core.load(octets, strict=True)
    except ValueError:
        return _octets(octets, little_endian)
    if isinstance(parsed, core.Integer):
        return parsed.native
    if isinstance(parsed, core.OctetString):
        return _octets(parsed.native, little_endian)
    return int.from_bytes(ECPrivateKeyUA.load(octets)["private_key"].native, "big")
