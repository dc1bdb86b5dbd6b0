"""CAdES-BES (CMS SignedData) signatures with DSTU 4145 and GOST 34.311 / Kupyna digests.

The layout follows what Ukrainian signing software produces (and what the SEV samples carry):
digest algorithm GOST 34.311 (parameters absent), signature algorithm DSTU 4145 (LE by default), the
SignerInfo signature value = the raw r||s octets, signed attributes contentType, signingTime,
messageDigest and signingCertificateV2 (ESSCertIDv2 hashed with the same digest).
"""

from __future__ import annotations

from datetime import UTC, datetime

from asn1crypto import cms, crl, x509

from gateway.crypto.ua import oids
from gateway.crypto.ua.dstu4145 import PrivateKey, encode_signature
from gateway.crypto.ua.verify import hasher_for

_DIGEST_OIDS = {name: oid for oid, name in oids.DIGEST_OIDS.items()}


def _digest(name: str, data: bytes) -> bytes:
    h = hasher_for(name)
    h.update(data)
    return h.digest()


def sign_cms(
    data: bytes,
    key: PrivateKey,
    certificate: x509.Certificate,
    chain: list[x509.Certificate] = (),  # type: ignore[assignment]
    *,
    digest: str = "gost34311",
    detached: bool = True,
    little_endian: bool = True,
    signing_time: datetime | None = None,
    crls: list[crl.CertificateList] = (),  # type: ignore[assignment]
    content_digest: bytes | None = None,
) -> bytes:
    """DER ContentInfo(SignedData). `content_digest` skips hashing `data` when already known."""
    if digest not in _DIGEST_OIDS:
        raise ValueError(f"DSTU 4145 signatures use gost34311 or kupyna256/384/512, not {digest}")
    if key.public_point != _certified_point(certificate):
        raise ValueError("the private key does not match the certificate")
    digest_algo = {"algorithm": _DIGEST_OIDS[digest]}
    message_digest = content_digest if content_digest is not None else _digest(digest, data)
    cert_id = {
        "hash_algorithm": digest_algo,
        "cert_hash": _digest(digest, certificate.dump()),
        "issuer_serial": {"issuer": [x509.GeneralName({"directory_name": certificate.issuer})],
                          "serial_number": certificate.serial_number},
    }
    signed_attrs = cms.CMSAttributes([
        {"type": "content_type", "values": ["data"]},
        {"type": "signing_time", "values": [cms.Time({"utc_time": signing_time or datetime.now(UTC)})]},
        {"type": "message_digest", "values": [message_digest]},
        {"type": "signing_certificate_v2", "values": [{"certs": [cert_id]}]},
    ])
    r, s = key.sign(_digest(digest, signed_attrs.dump()))
    sig_oid = oids.DSTU4145_LE if little_endian else oids.DSTU4145_BE
    signer = {
        "version": "v1",
        "sid": {"issuer_and_serial_number": {"issuer": certificate.issuer,
                                             "serial_number": certificate.serial_number}},
        "digest_algorithm": digest_algo,
        "signed_attrs": signed_attrs,
        "signature_algorithm": {"algorithm": sig_oid},
        "signature": encode_signature(key.curve, r, s, little_endian),
    }
    encap = {"content_type": "data"}
    if not detached:
        encap["content"] = data
    signed_data = {
        "version": "v1",
        "digest_algorithms": [digest_algo],
        "encap_content_info": encap,
        "certificates": [certificate, *chain],
        "signer_infos": [signer],
    }
    if crls:
        signed_data["crls"] = [cms.RevocationInfoChoice({"crl": c}) for c in crls]
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def _certified_point(certificate: x509.Certificate) -> tuple[int, int]:
    from gateway.crypto.ua.keys import load_public_key

    return load_public_key(certificate.public_key).key.point



