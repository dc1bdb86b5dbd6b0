"""CAdES archive timestamps: recompute what the token timestamps.

archive-time-stamp-v3 (ETSI EN 319 122-1 5.5.3): the imprint covers the content type, the content's
hash, the SignerInfo up to its signature value and the ATSHashIndexV3 stored in the token; the index
lists hashes of the certificates, revocation data and unsigned attributes present when it was made,
which must all still be there.

archive-time-stamp-v2 (ETSI TS 101 733 6.4.1 and Annex K): the imprint covers the encapsulated
content info (and, detached, the content itself), the certificates and CRLs fields, the SignerInfo's
fields and its unsigned attributes except archive timestamps made at or after this one. TS 101 733
1.8.3 left the unsigned attributes' SET tag and length out and 2.2.1 put them in: both are tried,
as 2.2.1 recommends and DSS does.

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
OID_ARCHIVE_TS_V2 = "1.2.840.113549.1.9.16.2.48"
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


def validate_archive_v2(
    token: core.Asn1Value,
    signed_data_der: bytes,
    signer_index: int,
    content: SignedContent | None,
    policy: ValidationPolicy,
    revinfo: RevocationData,
) -> TimestampCheck:
    """Check one archive-time-stamp-v2 token of signer `signer_index` of the SignedData in
    `signed_data_der` (the ContentInfo's original bytes)."""
    try:
        token = as_content_info(token)
        sd = cms.ContentInfo.load(signed_data_der)["content"]
        si = sd["signer_infos"][signer_index]
        detached = not present(sd["encap_content_info"]["content"])
        if detached and content is None:
            return _broken(token, "archive timestamp not verifiable: the signed data is not available")
        made = token_time(token)
        tst = token["content"]["encap_content_info"]["content"].parsed
        imprint = tst["message_imprint"]
        algo = algorithms.digest_algorithm(imprint["hash_algorithm"]["algorithm"].dotted)
        # as DSS (BouncyCastle) encodes them: the content info and the certificate and CRL sets as
        # the file has them (BER stays BER), the SignerInfo's fields and attributes in DER
        raw = _signed_data_fields(signed_data_der)
        head = [raw["encap_content_info"]]
        if detached and content is not None:
            head.append(content.data())
        head.extend(raw[name] for name in ("certificates", "crls") if name in raw)
        head.extend(der(si[name].dump()) for name in SIGNER_INFO_FIELDS if present(si[name]))
        unsigned = [der(a) for a in _attributes_before(si, made)]
        body = b"".join(unsigned)
        variants = [b"".join(head) + b"\xa1" + _der_length(len(body)) + body, b"".join(head) + body]
        covered = next((v for v in variants if _digest(algo, v) == imprint["hashed_message"].native),
                       variants[0])
    except UnsupportedAlgorithm as exc:
        return _broken(token, f"archive timestamp: {exc}")
    except PARSE_ERRORS as exc:
        return _broken(token, f"archive timestamp: malformed ({type(exc).__name__})")
    return validate_timestamp_token(token, covered, policy, kind="archive", extra_revocation=revinfo)


def _children(encoding: bytes) -> list[bytes]:
    """The encodings of a constructed value's children, byte for byte."""
    rest = parser.parse(encoding)[4]
    out = []
    while rest:
        child = parser.parse(rest)
        size = len(child[3]) + len(child[4]) + len(child[5])
        out.append(rest[:size])
        rest = rest[size:]
    return out


def _signed_data_fields(content_info_der: bytes) -> dict[str, bytes]:
    """The original encodings of a SignedData's encapContentInfo, certificates and crls (asn1crypto
    gives indefinite-length values back with definite lengths)."""
    signed_data = _children(_children(content_info_der)[1])[0]
    fields = _children(signed_data)
    out = {"encap_content_info": fields[2]}
    for field in fields[3:]:
        if field[0] & 0xDF == 0x80:
            out["certificates"] = field
        elif field[0] & 0xDF == 0x81:
            out["crls"] = field
    return out


def _attributes_before(si: cms.SignerInfo, made: datetime | None) -> list[bytes]:
    """The encodings of the unsigned attributes, in their order, without the archive timestamps
    (v2 or v3) not made before `made`."""
    if not present(si["unsigned_attrs"]):
        return []
    out = []
    for attr in _RawAttributes.load(_as_set(si["unsigned_attrs"])):
        if attr["type"].dotted in (OID_ARCHIVE_TS_V2, OID_ARCHIVE_TS_V3):
            times = [token_time(v) for v in attr["values"]]
            if made is None or any(t is None or t >= made for t in times):
                continue
        out.append(attr.dump())
    return out


def der(encoding: bytes, depth: int = 0) -> bytes:
    """The DER form of a BER encoding: definite lengths, constructed strings joined, SET OF sorted."""
    if depth > 64:
        raise ValueError("ASN.1 nested too deeply")
    cls, constructed, tag, header, contents, _trailer = parser.parse(encoding, strict=True)
    if not constructed:
        return _header(header, len(contents)) + contents
    children = []
    rest = contents
    while rest:
        child = parser.parse(rest)
        size = len(child[3]) + len(child[4]) + len(child[5])
        children.append(der(rest[:size], depth + 1))
        rest = rest[size:]
    if cls == 0 and tag in (3, 4):  # a BER constructed BIT/OCTET STRING: one primitive value
        values = [parser.parse(c)[4] for c in children]
        if tag == 3:
            body = (values[-1][:1] if values else b"\x00") + b"".join(v[1:] for v in values)
        else:
            body = b"".join(values)
        return bytes([tag]) + _der_length(len(body)) + body
    if cls == 0 and tag == 17:
        children.sort()
    body = b"".join(children)
    return _header(header, len(body)) + body


def _header(header: bytes, length: int) -> bytes:
    """`header`'s identifier octets with a definite `length`."""
    end = 1
    if header[0] & 0x1F == 0x1F:  # high tag number form
        while header[end] & 0x80:
            end += 1
        end += 1
    return header[:end] + _der_length(length)


def _digest(algo: algorithms.DigestAlgorithm, data: bytes) -> bytes:
    h = algo.factory()
    h.update(data)
    return h.digest()


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


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
