"""XML Signature algorithm URIs mapped onto the validation algorithm registry."""

from __future__ import annotations

from asn1crypto import algos, keys

from gateway.signing import algorithms
from gateway.signing.algorithms import UnsupportedAlgorithm

DSIG = "http://www.w3.org/2000/09/xmldsig#"
MORE = "http://www.w3.org/2001/04/xmldsig-more#"
MORE07 = "http://www.w3.org/2007/05/xmldsig-more#"
XMLENC = "http://www.w3.org/2001/04/xmlenc#"

DIGESTS: dict[str, str] = {
    DSIG + "sha1": "sha1",
    MORE + "md5": "md5",
    MORE + "sha224": "sha224",
    XMLENC + "sha256": "sha256",
    MORE + "sha384": "sha384",
    XMLENC + "sha512": "sha512",
    MORE07 + "sha3-224": "sha3-224",
    MORE07 + "sha3-256": "sha3-256",
    MORE07 + "sha3-384": "sha3-384",
    MORE07 + "sha3-512": "sha3-512",
}
# Ukrainian algorithms: no W3C identifiers exist; their OIDs as URNs (RFC 3061), as for CMS
UA = "urn:oid:1.2.804.2.1.1.1.1."
DIGESTS.update({UA + "2.1": "gost34311", UA + "2.2.1": "kupyna256", UA + "2.2.2": "kupyna384",
                UA + "2.2.3": "kupyna512"})
DIGEST_URIS = {name: uri for uri, name in DIGESTS.items()}

_RSA, _PSS, _EC, _DSA = (
    "1.2.840.113549.1.1.1",
    "1.2.840.113549.1.1.10",
    "1.2.840.10045.2.1",
    "1.2.840.10040.4.1",
)

#: signature method URI -> (registry OID of the key family, hash name)
SIGNATURES: dict[str, tuple[str, str]] = {
    DSIG + "rsa-sha1": (_RSA, "sha1"),
    MORE + "rsa-md5": (_RSA, "md5"),
    MORE + "rsa-sha224": (_RSA, "sha224"),
    MORE + "rsa-sha256": (_RSA, "sha256"),
    MORE + "rsa-sha384": (_RSA, "sha384"),
    MORE + "rsa-sha512": (_RSA, "sha512"),
    MORE07 + "sha1-rsa-MGF1": (_PSS, "sha1"),
    MORE07 + "sha224-rsa-MGF1": (_PSS, "sha224"),
    MORE07 + "sha256-rsa-MGF1": (_PSS, "sha256"),
    MORE07 + "sha384-rsa-MGF1": (_PSS, "sha384"),
    MORE07 + "sha512-rsa-MGF1": (_PSS, "sha512"),
    MORE07 + "sha3-256-rsa-MGF1": (_PSS, "sha3-256"),
    MORE07 + "sha3-512-rsa-MGF1": (_PSS, "sha3-512"),
    MORE + "ecdsa-sha1": (_EC, "sha1"),
    MORE + "ecdsa-sha224": (_EC, "sha224"),
    MORE + "ecdsa-sha256": (_EC, "sha256"),
    MORE + "ecdsa-sha384": (_EC, "sha384"),
    MORE + "ecdsa-sha512": (_EC, "sha512"),
    DSIG + "dsa-sha1": (_DSA, "sha1"),
    "http://www.w3.org/2009/xmldsig11#dsa-sha256": (_DSA, "sha256"),
}
# DSTU 4145 with GOST 34.311 / Kupyna-256, little- or big-endian values (the certificate's OID)
SIGNATURES.update({
    UA + "3.1.1": (UA[8:] + "3.1.1", "gost34311"),
    UA + "3.1.1.1.1": (UA[8:] + "3.1.1.1.1", "gost34311"),
    UA + "3.6.1.1": (UA[8:] + "3.6.1.1", "kupyna256"),
    UA + "3.6.1.1.1.1": (UA[8:] + "3.6.1.1.1.1", "kupyna256"),
})
SIGNATURE_URIS = {
    ("dstu4145le", "gost34311"): UA + "3.1.1",
    ("dstu4145be", "gost34311"): UA + "3.1.1.1.1",
    ("dstu4145le", "kupyna256"): UA + "3.6.1.1",
    ("dstu4145be", "kupyna256"): UA + "3.6.1.1.1.1",
    ("rsa", "sha256"): MORE + "rsa-sha256",
    ("rsa", "sha384"): MORE + "rsa-sha384",
    ("rsa", "sha512"): MORE + "rsa-sha512",
    ("ec", "sha256"): MORE + "ecdsa-sha256",
    ("ec", "sha384"): MORE + "ecdsa-sha384",
    ("ec", "sha512"): MORE + "ecdsa-sha512",
}


def digest_name(uri: str) -> str:
    try:
        return DIGESTS[uri]
    except KeyError:
        raise UnsupportedAlgorithm(f"unsupported digest algorithm {uri}") from None


def new_hash(uri: str) -> algorithms.Hasher:
    return algorithms.digest_by_name(digest_name(uri)).factory()


def digest(uri: str, data: bytes) -> bytes:
    h = new_hash(uri)
    h.update(data)
    return h.digest()


def signature_family(uri: str) -> tuple[str, str]:
    """(family name for the report, hash name) of a SignatureMethod URI."""
    try:
        oid, hash_name = SIGNATURES[uri]
    except KeyError:
        raise UnsupportedAlgorithm(f"unsupported signature algorithm {uri}") from None
    return algorithms.signature_algorithm(oid).name, hash_name


def verify(uri: str, key: keys.PublicKeyInfo, signature: bytes, signed: bytes) -> bool:
    """Verify an XML signature value (ECDSA/DSA values are r||s, not DER)."""
    try:
        oid, hash_name = SIGNATURES[uri]
    except KeyError:
        raise UnsupportedAlgorithm(f"unsupported signature algorithm {uri}") from None
    algo = algorithms.signature_algorithm(oid)
    if oid in (_EC, _DSA):
        if not signature or len(signature) % 2:
            return False
        signature = algos.DSASignature.from_p1363(signature).dump()
    return algo.verify(key, signature, signed, hash_name, None)
