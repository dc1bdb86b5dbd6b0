"""asn1crypto specs for DSTU 4145 parameters, and the registration of the Ukrainian OIDs.

`register()` is idempotent and runs on import of `gateway.crypto.ua`: afterwards certificates with
DSTU 4145 keys parse (PublicKeyInfo, the key's parameters, signature algorithm names) and digest
algorithm identifiers name gost34311 / kupyna256 / ... instead of raising.

    DSTU4145Params ::= SEQUENCE { curve CHOICE { ecbinary ECBinary, namedCurve OID },
                                  dke OCTET STRING OPTIONAL }  -- 64-byte packed GOST 28147 S-box
    ECBinary ::= SEQUENCE { version [0] EXPLICIT INTEGER DEFAULT 0, f BinaryField, a INTEGER,
                            b OCTET STRING, n INTEGER, bp OCTET STRING }
    BinaryField ::= SEQUENCE { m INTEGER, CHOICE { k INTEGER, SEQUENCE { k, j, l INTEGER } } }
"""

from __future__ import annotations

import threading

from asn1crypto import algos, core, keys, x509

from gateway.crypto.ua import oids


class Pentanomial(core.Sequence):
    _fields = [("k", core.Integer), ("j", core.Integer), ("l", core.Integer)]


class Polynomial(core.Choice):
    _alternatives = [("trinomial", core.Integer), ("pentanomial", Pentanomial)]


class BinaryField(core.Sequence):
    _fields = [("m", core.Integer), ("poly", Polynomial)]


class ECBinary(core.Sequence):
    _fields = [
        ("version", core.Integer, {"explicit": 0, "default": 0}),
        ("f", BinaryField),
        ("a", core.Integer),
        ("b", core.OctetString),
        ("n", core.Integer),
        ("bp", core.OctetString),
    ]


class DSTUCurve(core.Choice):
    _alternatives = [("ecbinary", ECBinary), ("named_curve", core.ObjectIdentifier)]


class DSTU4145Params(core.Sequence):
    _fields = [("curve", DSTUCurve), ("dke", core.OctetString, {"optional": True})]


class PrivateKeyInfoUA(core.Sequence):
    """PKCS#8 PrivateKeyInfo with the key as opaque octets (independent of spec callbacks)."""

    _fields = [
        ("version", core.Integer),
        ("private_key_algorithm", keys.PrivateKeyAlgorithm),
        ("private_key", core.OctetString),
    ]


class ECPrivateKeyUA(core.Sequence):
    """SEC 1 ECPrivateKey as Bouncy Castle writes DSTU 4145 keys into PKCS#8 (d big-endian)."""

    _fields = [
        ("version", core.Integer),
        ("private_key", core.OctetString),
        ("parameters", DSTU4145Params, {"explicit": 0, "optional": True}),
        ("public_key", core.BitString, {"explicit": 1, "optional": True}),
    ]


_lock = threading.Lock()
_done = False


def _add(cls: type[core.ObjectIdentifier], oid: str, name: str) -> None:
    cls._map.setdefault(oid, name)
    if cls._reverse_map is not None:
        cls._reverse_map.setdefault(cls._map[oid], oid)


def register() -> None:
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        for oid, (name, _le) in oids.SIGNATURE_OIDS.items():
            _add(keys.PublicKeyAlgorithmId, oid, name)
            _add(keys.PrivateKeyAlgorithmId, oid, name)
            _add(algos.SignedDigestAlgorithmId, oid, name)
            keys.PublicKeyAlgorithm._oid_specs.setdefault(name, DSTU4145Params)
            keys.PrivateKeyAlgorithm._oid_specs.setdefault(name, DSTU4145Params)
        for oid, name in oids.DIGEST_OIDS.items():
            _add(algos.DigestAlgorithmId, oid, name)
        _add(x509.NameType, oids.UA_EDRPOU, "ua_edrpou")
        _add(x509.NameType, oids.UA_DRFO, "ua_drfo")

        original = keys.PublicKeyInfo._spec_callbacks["public_key"]

        def public_key_spec(info: keys.PublicKeyInfo):
            if info["algorithm"]["algorithm"].native in oids.DSTU_KEY_NAMES:
                # BIT STRING holding the DER of an OCTET STRING with the compressed point
                return (keys.OctetBitString, None)
            return original(info)

        keys.PublicKeyInfo._spec_callbacks["public_key"] = public_key_spec

        original_private = keys.PrivateKeyInfo._spec_callbacks["private_key"]

        def private_key_spec(info: keys.PrivateKeyInfo):
            if info["private_key_algorithm"]["algorithm"].native in oids.DSTU_KEY_NAMES:
                # the layout we write; certomancer's wrapper may replace this callback (then opaque
                # octets): keys.load_private_key does not depend on either
                return ECPrivateKeyUA
            return original_private(info)

        keys.PrivateKeyInfo._spec_callbacks["private_key"] = private_key_spec

        original_bit_size = keys.PublicKeyInfo.bit_size

        def bit_size(info: keys.PublicKeyInfo) -> int:
            if info.algorithm in oids.DSTU_KEY_NAMES:
                return dstu_field_size(info)
            return original_bit_size.fget(info)

        keys.PublicKeyInfo.bit_size = property(bit_size)
        _done = True


def dstu_field_size(info: keys.PublicKeyInfo) -> int:
    """m of the key's field: asn1crypto only knows the sizes of RSA, DSA and EC keys."""
    params = info["algorithm"]["parameters"]
    if not isinstance(params, DSTU4145Params):
        params = DSTU4145Params.load(params.dump())
    curve = params["curve"]
    if curve.name == "ecbinary":
        return int(curve.chosen["f"]["m"].native)
    from gateway.crypto.ua.curves import named_curve

    return named_curve(curve.chosen.dotted).m
