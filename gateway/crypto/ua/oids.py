"""Object identifiers of the Ukrainian algorithms (DSTU 4145, GOST 34.311, DSTU 7564 / Kupyna)."""

from __future__ import annotations

DSTU4145_LE = "1.2.804.2.1.1.1.1.3.1.1"
DSTU4145_BE = "1.2.804.2.1.1.1.1.3.1.1.1.1"
#: DSTU 4145 with a Kupyna-256 digest (Bouncy Castle's dstu4145le/be_7564digest_256)
DSTU4145_KUPYNA_LE = "1.2.804.2.1.1.1.1.3.6.1.1"
DSTU4145_KUPYNA_BE = "1.2.804.2.1.1.1.1.3.6.1.1.1.1"

GOST34311 = "1.2.804.2.1.1.1.1.2.1"
# Kupyna: 1.2.804.2.1.1.1.1.2.2.x (Bouncy Castle UAObjectIdentifiers, UAPKI); ...2.3 is HMAC-GOST 34.311
KUPYNA_256 = "1.2.804.2.1.1.1.1.2.2.1"
KUPYNA_384 = "1.2.804.2.1.1.1.1.2.2.2"
KUPYNA_512 = "1.2.804.2.1.1.1.1.2.2.3"

CURVE_BASE = "1.2.804.2.1.1.1.1.3.1.1.2."

UA_EDRPOU = "1.2.804.2.1.1.1.11.1.4.2.1"
UA_DRFO = "1.2.804.2.1.1.1.11.1.4.1.1"

#: signature / public-key algorithm OID -> (asn1crypto name, little-endian encoding?)
SIGNATURE_OIDS: dict[str, tuple[str, bool]] = {
    DSTU4145_LE: ("dstu4145le", True),
    DSTU4145_BE: ("dstu4145be", False),
    DSTU4145_KUPYNA_LE: ("dstu4145le_kupyna256", True),
    DSTU4145_KUPYNA_BE: ("dstu4145be_kupyna256", False),
}
#: the digest a signature OID implies where nothing else names one (X.509, CRLs, OCSP)
SIGNATURE_HASH = {DSTU4145_KUPYNA_LE: "kupyna256", DSTU4145_KUPYNA_BE: "kupyna256"}

DIGEST_OIDS: dict[str, str] = {
    GOST34311: "gost34311",
    KUPYNA_256: "kupyna256",
    KUPYNA_384: "kupyna384",
    KUPYNA_512: "kupyna512",
}

#: public-key algorithm names (asn1crypto) that are DSTU 4145 keys
DSTU_KEY_NAMES = frozenset(name for name, _le in SIGNATURE_OIDS.values())


def is_little_endian(oid_or_name: str) -> bool:
    for oid, (name, le) in SIGNATURE_OIDS.items():
        if oid_or_name in (oid, name):
            return le
    raise KeyError(oid_or_name)
