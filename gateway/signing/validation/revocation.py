"""Revocation data a validation may use without the network: what a signature embeds and the cache.

The cache folder (`[trust] cache_dir`, ValidationPolicy.cache_dir) holds DER or PEM CRLs as `*.crl`
and DER OCSP responses as `*.ocsp`. Online validations add what they fetched or found embedded once
its signature verified against an issuer on a validated path (revcache.py), so a later `--offline`
validation finds it; a file dropped there by hand is used too, checked like embedded data.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import cms, core, crl, ocsp, pem
from asn1crypto import pdf as asn1_pdf

from gateway.signing.validation.signerinfo import PARSE_ERRORS, attribute_values, present

log = logging.getLogger(__name__)

OID_REVOCATION_VALUES = "1.2.840.113549.1.9.16.2.24"
OID_ADBE_REVOCATION = "1.2.840.113583.1.1.8"
MAX_CACHE_FILE = 64 * 1024 * 1024


class _CrlValues(core.SequenceOf):
    _child_spec = crl.CertificateList


class _BasicOcspValues(core.SequenceOf):
    _child_spec = ocsp.BasicOCSPResponse


class RevocationValues(core.Sequence):
    """ETSI EN 319 122-1 revocation-values (asn1crypto has no type for it)."""

    _fields = [
        ("crl_vals", _CrlValues, {"explicit": 0, "optional": True}),
        ("ocsp_vals", _BasicOcspValues, {"explicit": 1, "optional": True}),
        ("other_rev_vals", core.Any, {"explicit": 2, "optional": True}),
    ]


def _parsed(value: Any, spec: type[core.Asn1Value]) -> Any:
    if isinstance(value, spec):
        return value
    return spec.load(value.dump())


@dataclass
class RevocationData:
    crls: list[bytes] = field(default_factory=list)
    ocsps: list[bytes] = field(default_factory=list)

    def extend(self, other: RevocationData) -> None:
        self.crls.extend(c for c in other.crls if c not in self.crls)
        self.ocsps.extend(o for o in other.ocsps if o not in self.ocsps)


_CACHE: dict[tuple[str, float, int], RevocationData] = {}


def load_cache(cache_dir: Path | None) -> RevocationData:
    """CRLs and OCSP responses in the cache folder (re-read only when the folder changes)."""
    if cache_dir is None or not cache_dir.is_dir():
        return RevocationData()
    st = cache_dir.stat()
    key = (str(cache_dir.resolve()), st.st_mtime, st.st_nlink)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    data = RevocationData()
    for path in sorted(cache_dir.iterdir()):
        suffix = path.suffix.lower()
        if suffix not in (".crl", ".ocsp") or not path.is_file() or path.stat().st_size > MAX_CACHE_FILE:
            continue
        raw = path.read_bytes()
        if pem.detect(raw):
            try:
                _, _, raw = pem.unarmor(raw)
            except ValueError:
                continue
        (data.crls if suffix == ".crl" else data.ocsps).append(raw)
    _CACHE.clear()
    _CACHE[key] = data
    return data


def from_signed_data(signed_data: cms.SignedData) -> RevocationData:
    """CRLs and OCSP responses in SignedData.crls (RFC 5652 and RFC 5940 other-revocation-info)."""
    data = RevocationData()
    try:
        choices = signed_data["crls"]
        if not present(choices):
            return data
        for choice in choices:
            try:
                if choice.name == "crl":
                    data.crls.append(choice.chosen.dump())
                elif choice.name == "other":
                    other = choice.chosen
                    fmt = other["other_rev_info_format"].dotted
                    if fmt == "1.3.6.1.5.5.7.16.2":  # id-ri-ocsp-response
                        data.ocsps.append(other["other_rev_info"].dump())
            except PARSE_ERRORS:
                continue
    except PARSE_ERRORS:
        pass
    return data


def from_attributes(signed_attrs: Any, unsigned_attrs: Any) -> RevocationData:
    """CAdES revocation-values (unsigned) and Adobe's revocation archival (signed) attributes."""
    data = RevocationData()
    try:
        for raw in attribute_values(unsigned_attrs, OID_REVOCATION_VALUES):
            values = _parsed(raw, RevocationValues)
            for c in values["crl_vals"] or []:
                data.crls.append(c.dump())
            for o in values["ocsp_vals"] or []:
                data.ocsps.append(ocsp.OCSPResponse({"response_status": "successful", "response_bytes": {
                    "response_type": "basic_ocsp_response", "response": o}}).dump())
    except PARSE_ERRORS:
        pass
    try:
        for raw in attribute_values(signed_attrs, OID_ADBE_REVOCATION):
            values = _parsed(raw, asn1_pdf.RevocationInfoArchival)
            for c in values["crl"] or []:
                data.crls.append(c.dump())
            for o in values["ocsp"] or []:
                data.ocsps.append(o.dump())
    except PARSE_ERRORS:
        pass
    return data


#: per thread: asn1crypto parses lazily, mutating the object, so parses are never shared by threads
_PARSED = threading.local()


def parse_crls(items: Iterable[bytes]) -> list[crl.CertificateList]:
    """Parsed CRLs (damaged ones dropped). Parses are kept for reuse: a CRL from the cache serves
    many validations, and a large one is costly to parse."""
    if not hasattr(_PARSED, "crls"):
        _PARSED.crls = {}
    parsed: dict[bytes, crl.CertificateList] = _PARSED.crls
    out = []
    for der in items:
        key = hashlib.sha256(der).digest()
        c = parsed.get(key)
        if c is None:
            try:
                c = crl.CertificateList.load(der)
                c["tbs_cert_list"]["issuer"]  # noqa: B018 - damaged CRLs are dropped here
            except PARSE_ERRORS:
                continue
            if len(parsed) >= 64:
                parsed.clear()
            parsed[key] = c
        out.append(c)
    return out


def parse_ocsps(items: Iterable[bytes]) -> list[ocsp.OCSPResponse]:
    out = []
    for der in items:
        try:
            o = ocsp.OCSPResponse.load(der)
            if o["response_status"].native == "successful":
                out.append(o)
        except PARSE_ERRORS:
            continue
    return out
