"""The cryptographic check of one CMS SignerInfo: which certificate signed, does the value verify,
does the signed content's digest match. Shared by CAdES, PAdES, timestamp tokens and ASiC-CAdES.

Parsing is lazy and tolerant: real-world signatures carry attributes asn1crypto cannot fully parse
(CAdES-C references, vendor extensions); only what this check uses must parse.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asn1crypto.tsp  # noqa: F401 - registers the signing-certificate[V2] attribute types
from asn1crypto import cms, core, x509

from gateway.signing import algorithms
from gateway.signing.algorithms import UnsupportedAlgorithm
from gateway.signing.report import Indication, SubIndication

#: errors asn1crypto raises on damaged or unexpected encodings
PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, AttributeError)

CHUNK = 1024 * 1024
OID_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
OID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"


class SignedContent:
    """The data a signature covers, as one buffer or several slices (a PDF's /ByteRange).

    Digests are computed once per algorithm, however many signers ask.
    """

    def __init__(
        self,
        parts: Sequence[bytes | memoryview],
        name: str = "",
        path: Path | None = None,
        ranges: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        self.parts = list(parts)
        self.name = name
        #: when set, the content is this file (streamed, never held in memory whole for digests)
        self.path = path
        #: with `path`: only these (offset, length) slices of the file, in order (an attached .p7m's
        #: encapsulated content); None: the whole file
        self.ranges = list(ranges) if ranges is not None else None
        self._digests: dict[str, bytes] = {}

    @classmethod
    def from_file(cls, path: Path, name: str = "") -> SignedContent:
        return cls([], name or path.name, path)

    def _file_chunks(self) -> Iterator[bytes]:
        if self.path is None:
            return
        with self.path.open("rb") as f:
            if self.ranges is None:
                while chunk := f.read(CHUNK):
                    yield chunk
                return
            for offset, length in self.ranges:
                f.seek(offset)
                while length > 0:
                    chunk = f.read(min(CHUNK, length))
                    if not chunk:
                        raise OSError(f"{self.path.name}: shorter than its encoding says")
                    length -= len(chunk)
                    yield chunk

    def digest(self, algo: algorithms.DigestAlgorithm) -> bytes:
        value = self._digests.get(algo.oid)
        if value is None:
            h = algo.factory()
            for chunk in self._file_chunks():
                h.update(chunk)
            for part in self.parts:
                h.update(part)
            value = self._digests[algo.oid] = h.digest()
        return value

    def data(self) -> bytes:
        head = b"".join(self._file_chunks())
        return head + b"".join(bytes(p) for p in self.parts)


@dataclass
class Problem:
    indication: Indication
    subindication: SubIndication | None
    reason: str


@dataclass
class SignerCheck:
    signer_cert: x509.Certificate | None = None
    digest_name: str = ""
    signature_name: str = ""
    #: the hash inside the signature algorithm (sha1WithRSA: sha1), when it differs from digest_name
    signature_hash: str = ""
    #: the message digest matched the content (None: not checked, e.g. content missing)
    digest_ok: bool | None = None
    #: the signature value verified with the signer's key (None: not checked)
    signature_ok: bool | None = None
    claimed_signing_time: datetime | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return bool(self.digest_ok and self.signature_ok)

    def problem(self, indication: Indication, sub: SubIndication | None, reason: str) -> None:
        self.problems.append(Problem(indication, sub, reason))


def present(value: Any) -> bool:
    """An OPTIONAL field that is actually in the encoding (asn1crypto gives Void for absent ones)."""
    return value is not None and not isinstance(value, core.Void)


def attribute_values(attrs: Any, oid: str) -> list[Any]:
    """Values of the attribute `oid` in a (signed or unsigned) attribute set; [] if absent or the set
    is empty. Attributes that do not parse are skipped unless they are the one asked for."""
    if not present(attrs) or not isinstance(attrs, core.Asn1Value):
        return []
    out: list[Any] = []
    for attr in attrs:
        if attr["type"].dotted == oid:
            out.extend(attr["values"])
    return out


_THREAD = threading.local()


def reusable_certificates(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """This thread's own parse of each certificate, kept for reuse across validations: pyhanko caches
    derived values (hashes, normalised names) on the objects, which makes reuse much faster, and
    asn1crypto's lazy parsing makes sharing them between threads unsafe."""
    if not hasattr(_THREAD, "certs"):
        _THREAD.certs = {}
    cache: dict[bytes, x509.Certificate] = _THREAD.certs
    out = []
    for cert in certs:
        der = cert.dump()
        copy = cache.get(der)
        if copy is None:
            if len(cache) >= 512:
                cache.clear()
            copy = cache[der] = x509.Certificate.load(der)
        out.append(copy)
    return out


def embedded_certificates(signed_data: cms.SignedData) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    try:
        choices = signed_data["certificates"]
        if not present(choices):
            return certs
        for choice in choices:
            try:
                if choice.name == "certificate":
                    certs.append(choice.chosen)
            except PARSE_ERRORS:
                continue
    except PARSE_ERRORS:
        pass
    return reusable_certificates(certs)


def _sid_matches(sid: cms.SignerIdentifier, cert: x509.Certificate) -> bool:
    try:
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if ias["serial_number"].native != cert.serial_number:
                return False
            # byte equality first: RFC 4518 name comparison is slow and rarely needed
            return ias["issuer"].dump() == cert.issuer.dump() or ias["issuer"] == cert.issuer
        if sid.name == "subject_key_identifier":
            return cert.key_identifier == sid.chosen.native
    except PARSE_ERRORS:
        return False
    return False


def _cert_refs(signed_attrs: Any) -> list[tuple[str, bytes, Any]]:
    """(digest algorithm OID, certificate hash, issuerSerial or None) from signingCertificate[V2]."""
    refs: list[tuple[str, bytes, Any]] = []
    for value in attribute_values(signed_attrs, OID_SIGNING_CERTIFICATE_V2):
        for ref in value["certs"]:
            algo = (ref["hash_algorithm"]["algorithm"].dotted if present(ref["hash_algorithm"])
                    else "2.16.840.1.101.3.4.2.1")
            refs.append((algo, ref["cert_hash"].native, ref["issuer_serial"]))
    for value in attribute_values(signed_attrs, OID_SIGNING_CERTIFICATE):
        for ref in value["certs"]:
            refs.append(("1.3.14.3.2.26", ref["cert_hash"].native, ref["issuer_serial"]))
    return refs


def _identify_signer(
    si: cms.SignerInfo, certs: Sequence[x509.Certificate], check: SignerCheck
) -> x509.Certificate | None:
    """ETSI EN 319 102-1 5.2.3: the certificate named by sid, confirmed by signingCertificate[V2]."""
    sid = si["sid"]
    candidates = [c for c in certs if _sid_matches(sid, c)]
    try:
        refs = _cert_refs(si["signed_attrs"])
    except PARSE_ERRORS:
        refs = []
        check.warnings.append("the signing-certificate attribute could not be read")
    if refs:
        algo_oid, cert_hash, _ = refs[0]
        try:
            matching = [c for c in certs if algorithms.digest(algo_oid, c.dump()) == cert_hash]
        except UnsupportedAlgorithm as exc:
            check.warnings.append(f"signing-certificate reference not checked: {exc}")
            matching = candidates
        if candidates and not any(c in matching for c in candidates):
            check.problem(Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                          "the signing-certificate attribute does not match the certificate named by sid")
            return None
        if not candidates:
            candidates = matching
    if not candidates:
        check.problem(Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                      "the signing certificate is not in the signature")
        return None
    return candidates[0]


def _signing_time(signed_attrs: Any) -> datetime | None:
    try:
        for value in attribute_values(signed_attrs, "1.2.840.113549.1.9.5"):
            t = value.native
            if isinstance(t, datetime):
                return t if t.tzinfo else t.replace(tzinfo=UTC)
    except PARSE_ERRORS:
        return None
    return None


def _der_sorted_set(signed_attrs: Any) -> bytes:
    """The DER (sorted) encoding of the attribute SET, for signers that signed it canonically while
    the file carries another order."""
    items = sorted(attr.dump() for attr in signed_attrs)
    body = b"".join(items)
    return b"\x31" + _der_length(len(body)) + body


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def check_signer_info(
    si: cms.SignerInfo,
    certs: Sequence[x509.Certificate],
    content: SignedContent | None,
    content_type: str = "1.2.840.113549.1.7.1",
) -> SignerCheck:
    """Identify the signing certificate and verify the signature value and message digest.

    `content` is None when the signed data is not available (detached, nothing given): the result
    then carries INDETERMINATE / SIGNED_DATA_NOT_FOUND and is not intact.
    """
    check = SignerCheck()
    try:
        _check(si, certs, content, content_type, check)
    except UnsupportedAlgorithm as exc:
        check.problem(Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, str(exc))
    except PARSE_ERRORS as exc:
        check.problem(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                      f"malformed SignerInfo ({type(exc).__name__})")
    return check


def _check(
    si: cms.SignerInfo,
    certs: Sequence[x509.Certificate],
    content: SignedContent | None,
    content_type: str,
    check: SignerCheck,
) -> None:
    digest_oid = si["digest_algorithm"]["algorithm"].dotted
    sig_algo_field = si["signature_algorithm"]
    sig_oid = sig_algo_field["algorithm"].dotted
    try:
        digest_algo = algorithms.digest_algorithm(digest_oid)
        check.digest_name = digest_algo.name
    except UnsupportedAlgorithm:
        digest_algo = None
        check.digest_name = digest_oid
    try:
        sig_algo = algorithms.signature_algorithm(sig_oid)
        check.signature_name = sig_algo.name
    except UnsupportedAlgorithm:
        sig_algo = None
        check.signature_name = sig_oid
    signed_attrs = si["signed_attrs"]
    has_attrs = present(signed_attrs)
    # the signed bytes, taken before anything parses the attributes: asn1crypto marks a value with
    # defaulted fields (ESSCertIDv2.hashAlgorithm) as changed and would re-encode it
    tbs = b"\x31" + signed_attrs.dump()[1:] if has_attrs else b""
    check.claimed_signing_time = _signing_time(signed_attrs) if has_attrs else None

    cert = _identify_signer(si, certs, check)
    check.signer_cert = cert

    # the data whose digest the signature protects
    if content is None:
        check.problem(Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND,
                      "the signed data is not available (detached signature: pass the content)")
    elif digest_algo is None:
        raise UnsupportedAlgorithm(f"unsupported digest algorithm {digest_oid}")
    elif has_attrs:
        ct_values = attribute_values(signed_attrs, "1.2.840.113549.1.9.3")
        if ct_values and ct_values[0].dotted != content_type:
            check.problem(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                          "the content-type attribute does not match the signed content")
        md_values = attribute_values(signed_attrs, "1.2.840.113549.1.9.4")
        if len(md_values) != 1:
            check.problem(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                          "the message-digest attribute is missing")
            check.digest_ok = False
        else:
            check.digest_ok = md_values[0].native == content.digest(digest_algo)
            if not check.digest_ok:
                check.problem(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE,
                              "the signed data does not match its digest in the signature")

    if cert is None:
        return
    if sig_algo is None:
        raise UnsupportedAlgorithm(f"unsupported signature algorithm {sig_oid}")
    hash_name = sig_algo.hash_name or check.digest_name
    if hash_name != check.digest_name:
        check.signature_hash = hash_name
    params = sig_algo_field["parameters"]
    signature = si["signature"].native
    key_info = cert.public_key
    if has_attrs:
        ok = sig_algo.verify(key_info, signature, tbs, hash_name, params)
        if not ok:
            canonical = _der_sorted_set(signed_attrs)
            ok = canonical != tbs and sig_algo.verify(key_info, signature, canonical, hash_name, params)
    elif content is not None:
        ok = sig_algo.verify(key_info, signature, content.data(), hash_name, params)
        check.digest_ok = ok
    else:
        return
    check.signature_ok = ok
    if not ok:
        check.problem(Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE,
                      "the signature value does not verify with the signer's public key")
