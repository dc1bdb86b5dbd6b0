"""CAdES archive-time-stamp-v3 (ETSI EN 319 122-1 5.5.3): recompute what the token timestamps.

The imprint covers the content type, the content's hash, the SignerInfo up to its signature value
and the ATSHashIndexV3 stored in the token; the index lists hashes of the certificates, revocation
data and unsigned attributes present when it was made, which must all still be there.

Everything is hashed from a fresh parse of the original bytes: asn1crypto re-encodes values it has
touched, and the hashes are over the encoding as it was signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, core, parser

from gateway.signing import algorithms
from gateway.signing.algorithms import UnsupportedAlgorithm
from gateway.signing.report import TimestampInfo
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.revocation import RevocationData
from gateway.signing.validation.signerinfo import PARSE_ERRORS, SignedContent, attribute_values, present
from gateway.signing.validation.timestamps import TimestampCheck, validate_timestamp_token

OID_ARCHIVE_TS_V3 = "0.4.0.1733.2.4"
#: ATSHashIndexV3 (EN 319 122-1) and the older ATSHashIndex (TS 101 733) that DSS-era files carry
OID_ATS_HASH_INDEX_V3 = "0.4.0.19122.1.5"
OID_ATS_HASH_INDEX = "0.4.0.1733.2.5"
SIGNER_INFO_FIELDS = (
    "version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm", "signature",
)


class _Octets(core.SequenceOf):
    _child_spec = core.OctetString


@dataclass
class HashIndex:
    """ATSHashIndex (TS 101 733) / ATSHashIndexV3 (EN 319 122-1): the same shape, but hashIndAlgorithm
    DEFAULT sha256 may be omitted, which asn1crypto cannot tell from the SEQUENCE OF that follows."""

    algorithm_oid: str
    certificates: list[bytes]
    crls: list[bytes]
    unsigned_attrs: list[bytes]

    @classmethod
    def load(cls, der: bytes) -> HashIndex:
        _, _, _, _, contents, _ = parser.parse(der, strict=True)
        children = []
        while contents:
            child = parser.parse(contents)
            size = len(child[3]) + len(child[4]) + len(child[5])
            children.append(contents[:size])
            contents = contents[size:]
        algorithm = "2.16.840.1.101.3.4.2.1"
        if len(children) == 4:
            algorithm = algos.DigestAlgorithm.load(children.pop(0))["algorithm"].dotted
        if len(children) != 3:
            raise ValueError("ats-hash-index: unexpected structure")
        lists = [[o.native for o in _Octets.load(c)] for c in children]
        return cls(algorithm, *lists)


class _RawSet(core.SetOf):
    _child_spec = core.Any


class _RawAttribute(core.Sequence):
    _fields = [("type", core.ObjectIdentifier), ("values", _RawSet)]


class _RawAttributes(core.SetOf):
    _child_spec = _RawAttribute


def _as_set(value: core.Asn1Value) -> bytes:
    """The encoding of an IMPLICIT [n] SET field re-tagged as a universal SET."""
    der = value.dump()
    return b"\x31" + der[1:]


def validate_archive_v3(
    token: core.Asn1Value,
    signed_data_der: bytes,
    signer_index: int,
    content: SignedContent | None,
    policy: ValidationPolicy,
    revinfo: RevocationData,
) -> TimestampCheck:
    """Check one archive-time-stamp-v3 token of signer `signer_index` of the SignedData in
    `signed_data_der` (the ContentInfo's original bytes)."""
    try:
        token = as_content_info(token)
        sd = cms.ContentInfo.load(signed_data_der)["content"]
        si = sd["signer_infos"][signer_index]
        tsi = token["content"]["signer_infos"][0]
        index_values = (attribute_values(tsi["unsigned_attrs"], OID_ATS_HASH_INDEX_V3)
                        or attribute_values(tsi["unsigned_attrs"], OID_ATS_HASH_INDEX))
        if len(index_values) != 1 or content is None:
            reason = "no ats-hash-index-v3" if content is not None else "the signed data is not available"
            return _broken(token, f"archive timestamp not verifiable: {reason}")
        index_der = index_values[0].dump()
        index = HashIndex.load(index_der)
        missing = _missing_items(sd, si, index)
        tst = token["content"]["encap_content_info"]["content"].parsed
        imprint_oid = tst["message_imprint"]["hash_algorithm"]["algorithm"].dotted
        imprint_algo = algorithms.digest_algorithm(imprint_oid)
        covered = b"".join([
            sd["encap_content_info"]["content_type"].dump(),
            content.digest(imprint_algo),
            *(si[name].dump() for name in SIGNER_INFO_FIELDS),
            index_der,
        ])
    except UnsupportedAlgorithm as exc:
        return _broken(token, f"archive timestamp: {exc}")
    except PARSE_ERRORS as exc:
        return _broken(token, f"archive timestamp: malformed ({type(exc).__name__})")
    check = validate_timestamp_token(token, covered, policy, kind="archive", extra_revocation=revinfo)
    if missing:
        check.info.intact = False
        check.errors.append(f"archive timestamp: {missing} protected item(s) are no longer in the signature")
    return check


def _missing_items(sd: cms.SignedData, si: cms.SignerInfo, index: HashIndex) -> int:
    """How many hashes of the index match nothing present now. Unsigned attributes are hashed per
    value with their type (V3) or whole (the older index); either form is accepted."""
    h = algorithms.digest_algorithm(index.algorithm_oid)

    def hashes(items: list[bytes]) -> set[bytes]:
        out = set()
        for item in items:
            hasher = h.factory()
            hasher.update(item)
            out.add(hasher.digest())
        return out

    certs = [c.dump() for c in _raw_items(sd["certificates"])]
    crls = [c.dump() for c in _raw_items(sd["crls"])]
    unsigned: list[bytes] = []
    if present(si["unsigned_attrs"]):
        for attr in _RawAttributes.load(_as_set(si["unsigned_attrs"])):
            unsigned.append(attr.dump())
            unsigned.extend(attr["type"].dump() + v.dump() for v in attr["values"])
    missing = 0
    for listed, items in ((index.certificates, certs), (index.crls, crls), (index.unsigned_attrs, unsigned)):
        have = hashes(items)
        missing += sum(1 for value in listed if value not in have)
    return missing


def _raw_items(field: core.Asn1Value) -> list[core.Any]:
    return list(_RawSet.load(_as_set(field))) if present(field) else []


def as_content_info(token: core.Asn1Value) -> cms.ContentInfo:
    """A timestamp token attribute value (asn1crypto gives Any for attribute types it does not know)."""
    return token if isinstance(token, cms.ContentInfo) else cms.ContentInfo.load(token.dump())


def token_time(token: core.Asn1Value) -> datetime | None:
    try:
        return as_content_info(token)["content"]["encap_content_info"]["content"].parsed["gen_time"].native
    except PARSE_ERRORS:
        return None


def _broken(token: core.Asn1Value, reason: str) -> TimestampCheck:
    check = TimestampCheck(TimestampInfo(type="archive", time=token_time(token)))
    check.errors.append(reason)
    return check
