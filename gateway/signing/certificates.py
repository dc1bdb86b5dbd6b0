"""Reading certificates (PEM, DER, PKCS#7 bundles, folders) and naming their holders.

The signer identity of the report includes the Ukrainian registry codes when a certificate carries
them: the EDRPOU (legal entities) and DRFO (individuals' tax number), found either in
`organizationIdentifier` (NTRUA-XXXXXXXX, ETSI EN 319 412-1) or in the Ukrainian subject directory
attributes (ДСТУ/Наказ 1236 profile).
"""

from __future__ import annotations

import re
from pathlib import Path

from asn1crypto import cms, pem, x509

import gateway.crypto.ua  # noqa: F401 - DSTU 4145 keys and signatures parse (asn1crypto OIDs)
from gateway.errors import GatewayError

OID_UA_EDRPOU = "1.2.804.2.1.1.1.11.1.4.2.1"
OID_UA_DRFO = "1.2.804.2.1.1.1.11.1.4.1.1"
CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der", ".p7b", ".p7c", ".p7s"}
MAX_CERT_FILE = 16 * 1024 * 1024


def parse_certificates(data: bytes, source: str = "input") -> list[x509.Certificate]:
    """All certificates in PEM (one or many blocks), DER or a PKCS#7 certs-only bundle."""
    blobs: list[bytes] = []
    if pem.detect(data):
        for _type, _headers, der in pem.unarmor(data, multiple=True):
            blobs.append(der)
    else:
        blobs.append(data)
    certs: list[x509.Certificate] = []
    for der in blobs:
        certs.extend(_parse_der(der, source))
    return certs


def _parse_der(der: bytes, source: str) -> list[x509.Certificate]:
    try:
        cert = x509.Certificate.load(der, strict=True)
        cert.native  # noqa: B018 - forces a full parse so damage shows here, not later
        return [cert]
    except (ValueError, TypeError):
        pass
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native == "signed_data":
            return [c.chosen for c in info["content"]["certificates"] if c.name == "certificate"]
    except (ValueError, TypeError, KeyError):
        pass
    raise GatewayError(f"{source}: not a certificate (PEM, DER or PKCS#7 expected)")


def load_certificates(path: str | Path) -> list[x509.Certificate]:
    """Certificates from a file, or from every certificate file in a folder."""
    p = Path(path)
    if p.is_dir():
        out: list[x509.Certificate] = []
        for child in sorted(p.iterdir()):
            if child.is_file() and child.suffix.lower() in CERT_SUFFIXES:
                out.extend(load_certificates(child))
        return out
    if not p.exists():
        raise GatewayError(f"no such certificate file or folder: {p}")
    if p.stat().st_size > MAX_CERT_FILE:
        raise GatewayError(f"{p}: too large for a certificate file")
    return parse_certificates(p.read_bytes(), str(p))


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint, uppercase hex."""
    return cert.sha256.hex().upper()


def _ua_directory_attributes(cert: x509.Certificate) -> dict[str, str]:
    found: dict[str, str] = {}
    for ext in cert["tbs_certificate"]["extensions"]:
        if ext["extn_id"].dotted != "2.5.29.9":
            continue
        for attr in ext["extn_value"].parsed:
            oid = attr["type"].dotted
            if oid in (OID_UA_EDRPOU, OID_UA_DRFO):
                for value in attr["values"]:
                    text = _printable(value)
                    if text:
                        found[oid] = text
    return found


def _printable(value: object) -> str:
    """The text of an attribute value whatever string type it was encoded as."""
    try:
        native = value.native  # type: ignore[attr-defined]
        if isinstance(native, str):
            return native.strip()
        parsed = value.parsed  # type: ignore[attr-defined]
        return str(parsed.native).strip()
    except (ValueError, TypeError, AttributeError):
        contents = getattr(value, "contents", b"") or b""
        return contents.decode("utf-8", "replace").strip()


def registry_codes(cert: x509.Certificate) -> tuple[str | None, str | None]:
    """(EDRPOU, DRFO) carried by the certificate, or None for each."""
    ua = _ua_directory_attributes(cert)
    edrpou = ua.get(OID_UA_EDRPOU)
    drfo = ua.get(OID_UA_DRFO)
    subject = cert.subject.native
    org_id = subject.get("organization_identifier")
    if isinstance(org_id, str):
        m = re.fullmatch(r"NTRUA-(\d{8,10})", org_id.strip())
        if m and not edrpou:
            edrpou = m.group(1)
    serial = subject.get("serial_number")
    if isinstance(serial, str) and not drfo:
        m = re.fullmatch(r"(?:TINUA-|PNOUA-)?(\d{10})", serial.strip())
        if m:
            drfo = m.group(1)
    return edrpou, drfo


def name_text(name: x509.Name) -> str:
    """A readable RFC 4514-like string of a distinguished name (asn1crypto's `human_friendly`)."""
    try:
        return name.human_friendly
    except (ValueError, TypeError, KeyError):
        return name.sha256.hex()
