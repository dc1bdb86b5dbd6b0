"""The decrypted PrivateKeyInfo of Ukrainian key containers, with the second key in its attributes.

    PrivateKeyInfo ::= SEQUENCE { version, algorithm (DSTU 4145 + DSTU4145Params),
                                  privateKey OCTET STRING (d, in the OID's byte order),
                                  attributes [0] IMPLICIT SET OF Attribute OPTIONAL }

IIT writes the key-agreement key (often on another curve) into the attributes:
1.3.6.1.4.1.19398.1.1.2.3 holds d as a BIT STRING with all its bits reversed, 1.3.6.1.4.1.19398.1.1.2.2
the curve (DSTU4145Params; explicit parameters there are big-endian, some writers swap k and l).
"""

from __future__ import annotations

from asn1crypto import core

from gateway.crypto.ua import oids
from gateway.crypto.ua.asn1 import DSTU4145Params, ECPrivateKeyUA
from gateway.crypto.ua.dstu4145 import DSTUError, PrivateKey
from gateway.crypto.ua.ec import Curve
from gateway.crypto.ua.keys import curve_from_params

ATTR_KEY_BITS = "1.3.6.1.4.1.19398.1.1.2.3"
ATTR_CURVE = "1.3.6.1.4.1.19398.1.1.2.2"


class _Values(core.SetOf):
    _child_spec = core.Any


class _Attribute(core.Sequence):
    _fields = [("type", core.ObjectIdentifier), ("values", _Values)]


class _Attributes(core.SetOf):
    _child_spec = _Attribute


class _Algorithm(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class KeyInfo(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("algorithm", _Algorithm),
        ("private_key", core.OctetString),
        ("attributes", _Attributes, {"implicit": 0, "optional": True}),
    ]


def _reverse_bits(data: bytes) -> int:
    """The integer of a bit string whose bits (all of them, across bytes) are stored reversed."""
    return int(format(int.from_bytes(data, "big"), f"0{8 * len(data)}b")[::-1], 2) if data else 0


def _swapped(params: DSTU4145Params) -> DSTU4145Params | None:
    curve = params["curve"]
    if curve.name != "ecbinary" or curve.chosen["f"]["poly"].name != "pentanomial":
        return None
    native = curve.chosen.native
    pent = native["f"]["poly"]
    native["f"]["poly"] = {"pentanomial": {"k": pent["l"], "j": pent["j"], "l": pent["k"]}}
    return DSTU4145Params({"curve": {"ecbinary": native}})


def _attribute_curve(params: DSTU4145Params) -> Curve:
    candidates = [params]
    swapped = _swapped(params)
    if swapped is not None:
        candidates.append(swapped)
    for candidate in candidates:
        for little_endian in (False, True):
            try:
                return curve_from_params(candidate, little_endian)
            except (DSTUError, ValueError, KeyError, TypeError):
                continue
    raise DSTUError("the second key's curve is not one of the standard's curves")


def _main_scalar(octets: bytes, little_endian: bool) -> int:
    if octets[:1] == b"\x30":
        try:
            parsed = ECPrivateKeyUA.load(octets, strict=True)
            return int.from_bytes(parsed["private_key"].native, "big")
        except (ValueError, TypeError, KeyError):
            pass
    return int.from_bytes(octets, "little" if little_endian else "big")


def _checked(curve: Curve, d: int) -> PrivateKey:
    if not 0 < d < curve.n:
        raise DSTUError("the private key is out of range for its curve")
    return PrivateKey(curve, d)


def keys_from_key_info(der: bytes) -> list[tuple[PrivateKey, bool]]:
    """All DSTU 4145 keys of a PrivateKeyInfo: (key, little_endian), the main key first.
    A DSTUError when the bytes are not such a structure (e.g. decrypted with a wrong password)."""
    try:
        info = KeyInfo.load(der, strict=True)
        oid = info["algorithm"]["algorithm"].dotted
        if oid not in oids.SIGNATURE_OIDS:
            raise DSTUError(f"the container holds a key of another algorithm ({oid})")
        little_endian = oids.SIGNATURE_OIDS[oid][1]
        params = DSTU4145Params.load(info["algorithm"]["parameters"].dump())
        curve = curve_from_params(params, little_endian)
        found = [(_checked(curve, _main_scalar(info["private_key"].native, little_endian)), little_endian)]
        attrs = {a["type"].dotted: a["values"] for a in info["attributes"]} \
            if info["attributes"].native is not None else {}
        if ATTR_KEY_BITS in attrs and ATTR_CURVE in attrs:
            bits = core.BitString.load(attrs[ATTR_KEY_BITS][0].dump())
            second_params = DSTU4145Params.load(attrs[ATTR_CURVE][0].dump())
            second_curve = _attribute_curve(second_params)
            found.append((_checked(second_curve, _reverse_bits(bytes(bits.contents[1:]))), little_endian))
        return found
    except DSTUError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise DSTUError(f"not a readable private key ({type(exc).__name__})") from None
