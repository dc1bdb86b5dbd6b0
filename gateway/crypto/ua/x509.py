"""Issuing DSTU 4145-signed X.509 certificates and CRLs (development PKI, tests).

Certificates carry the key as Ukrainian CAs write it (compressed point in an OCTET STRING, named
curve, little-endian by default) and, when given, the EDRPOU / DRFO codes as subject directory
attributes (OIDs 1.2.804.2.1.1.1.11.1.4.2.1 / .4.1.1).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from asn1crypto import core, crl, x509

from gateway.crypto.ua import oids
from gateway.crypto.ua.dstu4145 import PrivateKey, PublicKey, encode_signature
from gateway.crypto.ua.gost34311 import gost34311
from gateway.crypto.ua.keys import public_key_info


class _Attribute(core.Sequence):
    _fields = [("type", core.ObjectIdentifier), ("values", core.SetOf, {"spec": core.Any})]


class _Attributes(core.SequenceOf):
    _child_spec = _Attribute


def sign_bytes(key: PrivateKey, data: bytes, *, little_endian: bool = True) -> bytes:
    """DSTU 4145 over GOST 34.311(data): the raw r||s (LE) or s||r (BE) octets."""
    r, s = key.sign(gost34311(data).digest())
    return encode_signature(key.curve, r, s, little_endian)


def _algorithm(little_endian: bool) -> dict:
    return {"algorithm": oids.DSTU4145_LE if little_endian else oids.DSTU4145_BE}


def _directory_attributes(edrpou: str | None, drfo: str | None) -> bytes:
    items = []
    for oid, value in ((oids.UA_EDRPOU, edrpou), (oids.UA_DRFO, drfo)):
        if value:
            items.append({"type": oid, "values": [core.PrintableString(value)]})
    return _Attributes(items).dump()


def issue_certificate(
    subject: x509.Name,
    subject_key: PublicKey,
    issuer_key: PrivateKey,
    *,
    issuer: x509.Certificate | None = None,
    not_before: datetime,
    not_after: datetime,
    ca: bool = False,
    edrpou: str | None = None,
    drfo: str | None = None,
    little_endian: bool = True,
) -> x509.Certificate:
    """A certificate for `subject_key` signed by `issuer_key` (self-signed when `issuer` is None)."""
    spki = public_key_info(subject_key, little_endian=little_endian)
    ski = hashlib.sha256(spki["public_key"].contents).digest()[:20]
    issuer_name = issuer.subject if issuer is not None else subject
    aki = issuer.key_identifier if issuer is not None else ski
    usage = {"key_cert_sign", "crl_sign"} if ca else {"digital_signature", "non_repudiation"}
    extensions = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
        {"extn_id": "key_usage", "critical": True, "extn_value": usage},
        {"extn_id": "key_identifier", "extn_value": ski},
        {"extn_id": "authority_key_identifier", "extn_value": {"key_identifier": aki}},
    ]
    if edrpou or drfo:
        extensions.append({"extn_id": "2.5.29.9",
                           "extn_value": core.ParsableOctetString(_directory_attributes(edrpou, drfo))})
    tbs = x509.TbsCertificate({
        "version": "v3",
        "serial_number": secrets.randbits(120) | 1 << 120,
        "signature": _algorithm(little_endian),
        "issuer": issuer_name,
        "validity": {"not_before": x509.Time({"utc_time": not_before}),
                     "not_after": x509.Time({"utc_time": not_after})},
        "subject": subject,
        "subject_public_key_info": spki,
        "extensions": extensions,
    })
    signature = core.OctetString(sign_bytes(issuer_key, tbs.dump(), little_endian=little_endian)).dump()
    return x509.Certificate({
        "tbs_certificate": tbs,
        "signature_algorithm": _algorithm(little_endian),
        "signature_value": signature,
    })


def issue_crl(issuer: x509.Certificate, issuer_key: PrivateKey, *, this_update: datetime,
              next_update: datetime, revoked: list[tuple[int, datetime]] = (),  # type: ignore[assignment]
              little_endian: bool = True) -> crl.CertificateList:
    tbs = crl.TbsCertList({
        "version": "v2",
        "signature": _algorithm(little_endian),
        "issuer": issuer.subject,
        "this_update": x509.Time({"utc_time": this_update}),
        "next_update": x509.Time({"utc_time": next_update}),
        "revoked_certificates": [
            {"user_certificate": serial, "revocation_date": x509.Time({"utc_time": when})}
            for serial, when in revoked
        ] or None,
        "crl_extensions": [
            {"extn_id": "authority_key_identifier", "extn_value": {"key_identifier": issuer.key_identifier}},
            {"extn_id": "crl_number", "extn_value": 1},
        ],
    })
    signature = core.OctetString(sign_bytes(issuer_key, tbs.dump(), little_endian=little_endian)).dump()
    return crl.CertificateList({
        "tbs_cert_list": tbs,
        "signature_algorithm": _algorithm(little_endian),
        "signature": signature,
    })
