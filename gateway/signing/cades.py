"""CAdES baseline signatures (ETSI EN 319 122-1): detached (.p7s) and attached (.p7m), B-B to B-LTA.

- B-B: content-type, message-digest, signing-time and signing-certificate-v2 signed attributes.
- B-T: a signature time stamp from the TSA (checked before embedding, see gateway.signing.tsa).
- B-LT: all certificates of the signer's and TSA's chains in SignedData.certificates, their CRLs and
  OCSP responses in SignedData.crls (OCSP as RFC 5940 id-ri-ocsp-response), as EN 319 122-1 requires
  for baseline LT (the legacy revocation-values attribute is not used).
- B-LTA: an archive-time-stamp-v3 whose token carries the ats-hash-index-v3 unsigned attribute.

Inputs are hashed in chunks: a detached signature of any size needs memory for one chunk only. An
attached signature is written as definite-length DER whose content is copied from the input in chunks
as well (and re-hashed while copying, so a file changed in between is refused).

The coroutines are the core; the synchronous `sign_*` functions run them with `run_sync`, which is
safe inside a server's event loop thread as well (better: call them from a worker thread there).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from asn1crypto import cms, core, x509

from gateway.asyncutil import run_sync
from gateway.errors import SigningError
from gateway.signing import algorithms
from gateway.signing.keys import SigningKey, check_digest_allowed

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
#: CAdES also makes the Ukrainian X-Long profile (ETSI TS 101 733 CAdES-C + certificate and
#: revocation values, as the id.gov.ua signer makes it)
CADES_LEVELS = (*LEVELS, "X-LONG")
OID_CERTIFICATE_REFS = "1.2.840.113549.1.9.16.2.21"
OID_REVOCATION_REFS = "1.2.840.113549.1.9.16.2.22"
OID_CERTIFICATE_VALUES = "1.2.840.113549.1.9.16.2.23"
OID_REVOCATION_VALUES = "1.2.840.113549.1.9.16.2.24"
CHUNK = 1024 * 1024
OID_ARCHIVE_TS_V3 = "0.4.0.1733.2.4"
OID_ATS_HASH_INDEX_V3 = "0.4.0.19122.1.5"
SHA256_OID = "2.16.840.1.101.3.4.2.1"


def check_level(level: str) -> str:
    lvl = level.upper()
    if lvl not in LEVELS:
        raise SigningError(f"unknown signature level {level!r} (use one of {', '.join(LEVELS)})")
    return lvl


def check_cades_level(level: str) -> str:
    """A CAdES level: the baseline levels or X-Long (spelled X-Long, X-LONG or CAdES-X-Long)."""
    lvl = level.upper().removeprefix("CADES-")
    if lvl not in CADES_LEVELS:
        raise SigningError(f"unknown CAdES level {level!r} (use one of B-B, B-T, B-LT, B-LTA, X-Long)")
    return lvl


def needs_tsa(level: str) -> bool:
    return check_cades_level(level) != "B-B"


@dataclass
class CadesOptions:
    """How to sign: level, TSA and (for B-LT/B-LTA) the trust anchors used to build chains."""

    level: str = "B-B"
    tsa_url: str | None = None
    digest_algorithm: str | None = None
    trust_roots: Sequence[x509.Certificate] = ()
    #: False for the CMS inside a PAdES signature: EN 319 142-1 forbids the signing-time attribute
    #: there (the time is the signature dictionary's /M)
    signing_time: bool = True

    def __post_init__(self) -> None:
        self.level = check_cades_level(self.level)
        if self.level != "B-B" and not self.tsa_url:
            raise SigningError(
                f"level {self.level} needs a time-stamping authority (--tsa URL or [signing] tsa_url)")


# --- DER helpers -------------------------------------------------------------------------------

def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_header(tag: int, n: int) -> bytes:
    return bytes([tag]) + _der_len(n)


def _der_seq(*parts: bytes) -> bytes:
    body = b"".join(parts)
    return _der_header(0x30, len(body)) + body


def new_hash(name: str, data: bytes = b""):
    """hashlib.new, falling back to the validation algorithm registry (GOST 34.311, Kupyna)."""
    try:
        return hashlib.new(name, data)
    except ValueError:
        from gateway.signing.algorithms import digest_by_name

        h = digest_by_name(name).factory()
        h.update(data)
        return h


def hash_stream(stream: BinaryIO, digest_algorithm: str, chunk: int = CHUNK) -> bytes:
    """Digest of a stream, read in chunks."""
    h = new_hash(digest_algorithm)
    buf = bytearray(chunk)
    view = memoryview(buf)
    while True:
        n = stream.readinto(buf)
        if not n:
            break
        h.update(view[:n])
    return h.digest()


# --- B-B / B-T ---------------------------------------------------------------------------------

def _timestamper(tsa_url: str):
    from gateway.signing.tsa import CheckedTimeStamper

    return CheckedTimeStamper(tsa_url)


def _attr(oid_der: bytes, value_der: bytes) -> bytes:
    return _der_seq(oid_der, _der_header(0x31, len(value_der)) + value_der)


def _set_of(items: Iterable[bytes], tag: int = 0x31) -> bytes:
    body = b"".join(sorted(items))  # DER: SET OF elements in ascending order of their encodings
    return _der_header(tag, len(body)) + body


OID_DATA = core.ObjectIdentifier("1.2.840.113549.1.7.1").dump()
OID_SIGNED_DATA = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
_ATTR_CONTENT_TYPE = _attr(core.ObjectIdentifier("1.2.840.113549.1.9.3").dump(), OID_DATA)
_OID_MESSAGE_DIGEST = core.ObjectIdentifier("1.2.840.113549.1.9.4").dump()
_OID_SIGNING_TIME = core.ObjectIdentifier("1.2.840.113549.1.9.5").dump()
_OID_SIGNING_CERT_V2 = core.ObjectIdentifier("1.2.840.113549.1.9.16.2.47").dump()


@dataclass(frozen=True)
class _Template:
    """The parts of a B-B SignedData that do not change between signatures with one key and digest."""

    signing_cert_attr: bytes
    signer_head: bytes  # version, sid, digestAlgorithm
    signature_algorithm: bytes
    digest_algorithms: bytes
    certificates: bytes


def _signing_certificate_v2(cert: x509.Certificate, digest: str) -> bytes:
    """ESSCertIDv2 of the signer's certificate (RFC 5035), hashed with the signature's digest."""
    from asn1crypto import tsp

    return tsp.SigningCertificateV2({"certs": [{
        "hash_algorithm": {"algorithm": digest},
        "cert_hash": new_hash(digest, cert.dump()).digest(),
        "issuer_serial": {"issuer": [x509.GeneralName({"directory_name": cert.issuer})],
                          "serial_number": cert.serial_number},
    }]}).dump()


def _template(key: SigningKey, digest: str) -> _Template:
    """Built once per key and digest: asn1crypto is slow, the per-signature work is plain bytes."""
    found = key.derived.get(("cades-template", digest))
    if isinstance(found, _Template):
        return found
    from asn1crypto import algos

    cert = key.certificate
    sid = cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
        {"issuer": cert.issuer, "serial_number": cert.serial_number})})
    digest_alg = algos.DigestAlgorithm({"algorithm": digest}).dump()
    certs = {cms.CertificateChoices(name="certificate", value=c).dump() for c in [cert, *key.chain]}
    tpl = _Template(
        signing_cert_attr=_attr(_OID_SIGNING_CERT_V2, _signing_certificate_v2(cert, digest)),
        signer_head=core.Integer(1).dump() + sid.dump() + digest_alg,
        signature_algorithm=key.signer.get_signature_mechanism_for_digest(digest).dump(),
        digest_algorithms=_set_of([digest_alg]),
        certificates=_set_of(certs, tag=0xA0),
    )
    key.derived[("cades-template", digest)] = tpl
    return tpl


def cades_bb_der(key: SigningKey, data_digest: bytes, digest: str,
                 signing_time: datetime | None = None, *, with_signing_time: bool = True) -> bytes:
    """DER of a detached CAdES-B-B ContentInfo: content-type, signing-time (unless
    `with_signing_time` is False, as PAdES requires), message-digest and signing-certificate-v2
    signed attributes, the signer's certificate and chain embedded."""
    digest = check_digest_allowed(digest)
    tpl = _template(key, digest)
    attrs = [
        _ATTR_CONTENT_TYPE,
        _attr(_OID_MESSAGE_DIGEST, core.OctetString(data_digest).dump()),
        tpl.signing_cert_attr,
    ]
    if with_signing_time:
        when = (signing_time or datetime.now(UTC)).astimezone(UTC)
        utc = 1950 <= when.year < 2050
        time_der = core.UTCTime(when).dump() if utc else core.GeneralizedTime(when).dump()
        attrs.append(_attr(_OID_SIGNING_TIME, time_der))
    signed_attrs = _set_of(attrs)
    signature = key.sign_raw(signed_attrs, digest)
    signer_info = _der_seq(tpl.signer_head, b"\xa0" + signed_attrs[1:], tpl.signature_algorithm,
                           core.OctetString(signature).dump())
    signed_data = _der_seq(core.Integer(1).dump(), tpl.digest_algorithms, _der_seq(OID_DATA),
                           tpl.certificates, _set_of([signer_info]))
    return _der_seq(OID_SIGNED_DATA, _der_header(0xA0, len(signed_data)) + signed_data)


async def _add_signature_timestamp(ci: cms.ContentInfo, digest: str, options: CadesOptions) -> None:
    si = ci["content"]["signer_infos"][0]
    imprint = new_hash(digest, si["signature"].native).digest()
    token = await _timestamper(options.tsa_url).async_timestamp(imprint, digest)
    _append_unsigned(si, cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]}))


def _present(value: core.Asn1Value) -> list:
    """The elements of an optional SET OF field; [] when absent (without parsing the elements)."""
    return [] if isinstance(value, core.Void) else list(value)


def _append_unsigned(si: cms.SignerInfo, attr: cms.CMSAttribute) -> None:
    unsigned = _present(si["unsigned_attrs"])
    si["unsigned_attrs"] = cms.CMSAttributes([*unsigned, attr])


async def async_cades_signature(key: SigningKey, data_digest: bytes, options: CadesOptions,
                                *, content_digest_for_archive: bytes | None = None) -> cms.ContentInfo:
    """A detached CAdES SignedData at options.level over content whose digest is `data_digest`
    (computed with options.digest_algorithm, default the key's).

    `content_digest_for_archive` (B-LTA) is the content digest with the archive time stamp's hash
    algorithm, which is the signature's digest algorithm: it defaults to `data_digest`.
    """
    digest = check_digest_allowed(options.digest_algorithm or key.default_digest)
    ci = cms.ContentInfo.load(cades_bb_der(key, data_digest, digest, with_signing_time=options.signing_time))
    if options.level != "B-B":
        await _add_signature_timestamp(ci, digest, options)
    if options.level in ("B-LT", "B-LTA"):
        await _add_validation_data(ci, key, options)
    if options.level == "B-LTA":
        await _add_archive_timestamp(ci, content_digest_for_archive or data_digest, digest, options)
    if options.level == "X-LONG":
        await _add_x_long(ci, key, options, digest)
    return ci


def cades_signature(key: SigningKey, data_digest: bytes, options: CadesOptions) -> cms.ContentInfo:
    """Synchronous `async_cades_signature`."""
    if options.level == "B-B":  # no I/O: no event loop needed
        digest = check_digest_allowed(options.digest_algorithm or key.default_digest)
        return cms.ContentInfo.load(cades_bb_der(key, data_digest, digest,
                                                 with_signing_time=options.signing_time))
    return run_sync(async_cades_signature(key, data_digest, options))


def sign_cades_bytes(key: SigningKey, data: bytes, options: CadesOptions, *, attached: bool = False) -> bytes:
    """CAdES over in-memory data (small documents, container manifests); DER bytes."""
    digest = check_digest_allowed(options.digest_algorithm or key.default_digest)
    options = dataclasses.replace(options, digest_algorithm=digest)
    ci = cades_signature(key, new_hash(digest, data).digest(), options)
    if attached:
        ci["content"]["encap_content_info"] = {"content_type": "data", "content": data}
    return ci.dump()


# --- B-LT -------------------------------------------------------------------------------------

def _tst_tokens(signer_info: cms.SignerInfo) -> list[cms.ContentInfo]:
    out = []
    for attr in _present(signer_info["unsigned_attrs"]):
        if attr["type"].dotted in ("1.2.840.113549.1.9.16.2.14", OID_ARCHIVE_TS_V3):
            out.extend(attr["values"])
    return [t if isinstance(t, cms.ContentInfo) else cms.ContentInfo.load(t.dump()) for t in out]


def _signer_cert(sd: cms.SignedData, si: cms.SignerInfo) -> x509.Certificate:
    sid = si["sid"].chosen
    for c in sd["certificates"] or []:
        cert = c.chosen
        if (c.name == "certificate" and cert.issuer == sid["issuer"]
                and cert.serial_number == sid["serial_number"].native):
            return cert
    raise SigningError("signer certificate missing from the signature")


async def _add_validation_data(ci: cms.ContentInfo, key: SigningKey, options: CadesOptions) -> None:
    """Fetch chains, CRLs and OCSP responses for the signer and the TSA(s); embed them (B-LT)."""
    certs, crls, ocsps = await collect_revocation(revocation_targets(ci, key), options.trust_roots,
                                                  extra=key.chain)
    embed_validation_data(ci["content"], certs, crls, ocsps)


Target = tuple[x509.Certificate, list[x509.Certificate]]


def revocation_targets(ci: cms.ContentInfo, key: SigningKey) -> list[Target]:
    """The certificates whose status a B-LT signature must prove: the signer's and its TSAs'."""
    si = ci["content"]["signer_infos"][0]
    targets: list[Target] = [(key.certificate, list(key.chain))]
    for token in _tst_tokens(si):
        tsd = token["content"]
        tcerts = [c.chosen for c in tsd["certificates"] or [] if c.name == "certificate"]
        targets.append((_signer_cert(tsd, tsd["signer_infos"][0]), tcerts))
    return targets


async def collect_revocation(targets: Iterable[tuple[x509.Certificate, list[x509.Certificate]]],
                             trust_roots: Sequence[x509.Certificate], *,
                             extra: Sequence[x509.Certificate] = ()):
    """Chains (roots included) plus CRLs/OCSP responses that prove each target certificate unrevoked now.

    Every certificate that names a revocation source (CRL distribution point, OCSP responder) must get
    its data or signing fails ("hard-fail"); a CA certificate naming none cannot have any.
    """
    from pyhanko.sign.validation.dss import enumerate_ocsp_certs
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError

    targets = list(targets)
    pool = [*extra, *(c for _, cs in targets for c in cs)]
    roots = list(trust_roots) + [c for c in pool if c.self_signed == "maybe" or c.self_signed == "yes"]
    if not roots:
        raise SigningError("B-LT needs trust anchors ([trust] anchors) to build certificate chains")
    vc = ValidationContext(trust_roots=roots, other_certs=pool, allow_fetching=True,
                           revocation_mode="hard-fail",
                           signature_validator=algorithms.chain_signature_validator())
    try:
        certs: dict[bytes, x509.Certificate] = {}
        for cert, others in targets:
            try:
                path = await CertificateValidator(cert, intermediate_certs=others, validation_context=vc
                                                  ).async_validate_usage(key_usage=set())
            except PathBuildingError:
                raise SigningError(
                    f"B-LT: no chain to a trust anchor for {cert.subject.human_friendly}") from None
            except PathValidationError as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise SigningError(f"B-LT: {cert.subject.human_friendly}: {reason}") from None
            for c in path:
                certs.setdefault(c.dump(), c)
        ocsps = list(vc.ocsps)
        for resp in ocsps:
            for c in enumerate_ocsp_certs(resp):
                certs.setdefault(c.dump(), c)
    finally:
        await vc.aclose()
    return list(certs.values()), list(vc.crls), ocsps


def embed_validation_data(sd: cms.SignedData, certs, crls, ocsps) -> None:
    """Add certificates and revocation data to SignedData (no duplicates); version 5 with OCSP."""
    have = {c.dump() for c in _present(sd["certificates"])}
    cert_choices = _present(sd["certificates"])
    for c in certs:
        choice = cms.CertificateChoices(name="certificate", value=c)
        if choice.dump() not in have:
            have.add(choice.dump())
            cert_choices.append(choice)
    rev = _present(sd["crls"])
    seen = {r.dump() for r in rev}
    for c in crls:
        choice = cms.RevocationInfoChoice(name="crl", value=c)
        if choice.dump() not in seen:
            seen.add(choice.dump())
            rev.append(choice)
    for o in ocsps:
        choice = cms.RevocationInfoChoice(name="other", value=cms.OtherRevocationInfoFormat(
            {"other_rev_info_format": "ocsp_response", "other_rev_info": o}))
        if choice.dump() not in seen:
            seen.add(choice.dump())
            rev.append(choice)
    sd["certificates"] = cms.CertificateSet(cert_choices)
    if rev:
        sd["crls"] = cms.RevocationInfoChoices(rev)
    if any(r.name == "other" for r in rev):
        sd["version"] = "v5"


# --- B-LTA ------------------------------------------------------------------------------------

def ats_hash_index_v3(sd: cms.SignedData, si: cms.SignerInfo, hash_algorithm: str) -> bytes:
    """DER of ATSHashIndexV3 (EN 319 122-1 5.5.2) over the signature's current state."""

    def octets(items: Iterable[bytes]) -> bytes:
        return _der_seq(*(core.OctetString(new_hash(hash_algorithm, i).digest()).dump() for i in items))

    certs = [c.dump() for c in _present(sd["certificates"])]
    crls = [c.dump() for c in _present(sd["crls"])]
    unsigned = [a["type"].dump() + v.dump() for a in _present(si["unsigned_attrs"]) for v in a["values"]]
    parts = [octets(certs), octets(crls), octets(unsigned)]
    if hash_algorithm != "sha256":  # hashIndAlgorithm DEFAULT sha256: omitted in DER when default
        from asn1crypto import algos

        parts.insert(0, algos.DigestAlgorithm({"algorithm": hash_algorithm}).dump())
    return _der_seq(*parts)


def archive_imprint(sd: cms.SignedData, si: cms.SignerInfo, content_digest: bytes, hash_index: bytes,
                    hash_algorithm: str) -> bytes:
    """Message imprint of archive-time-stamp-v3 (EN 319 122-1 5.5.3)."""
    h = new_hash(hash_algorithm)
    h.update(sd["encap_content_info"]["content_type"].dump())
    h.update(content_digest)
    for name in ("version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm", "signature"):
        h.update(si[name].dump())
    h.update(hash_index)
    return h.digest()


def _attribute(oid: str, value_der: bytes) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": cms.CMSAttributeType(oid), "values": [core.Any.load(value_der)]})


async def _add_archive_timestamp(ci: cms.ContentInfo, content_digest: bytes, digest: str,
                                 options: CadesOptions) -> None:
    sd = ci["content"]
    si = sd["signer_infos"][0]
    index = ats_hash_index_v3(sd, si, digest)
    imprint = archive_imprint(sd, si, content_digest, index, digest)
    token = await _timestamper(options.tsa_url).async_timestamp(imprint, digest)
    tsi = token["content"]["signer_infos"][0]
    t_unsigned = _present(tsi["unsigned_attrs"])
    tsi["unsigned_attrs"] = cms.CMSAttributes([*t_unsigned, _attribute(OID_ATS_HASH_INDEX_V3, index)])
    _append_unsigned(si, _attribute(OID_ARCHIVE_TS_V3, token.dump()))


# --- files ------------------------------------------------------------------------------------

def _write_attached(ci: cms.ContentInfo, source: Path, out: BinaryIO, digest: str, expected: bytes) -> None:
    """Write ContentInfo with the input as eContent, streaming the content in chunks (definite DER)."""
    sd = ci["content"]
    size = source.stat().st_size
    ctype = sd["encap_content_info"]["content_type"].dump()
    octet_hdr = _der_header(0x04, size)
    explicit_len = len(octet_hdr) + size
    explicit_hdr = _der_header(0xA0, explicit_len)
    encap_len = len(ctype) + len(explicit_hdr) + explicit_len
    encap_hdr = _der_header(0x30, encap_len)
    before = sd["version"].dump() + sd["digest_algorithms"].dump()
    after = sd["certificates"].dump() + sd["crls"].dump() + sd["signer_infos"].dump()
    sd_len = len(before) + len(encap_hdr) + encap_len + len(after)
    sd_hdr = _der_header(0x30, sd_len)
    outer_oid = ci["content_type"].dump()
    explicit0 = _der_header(0xA0, len(sd_hdr) + sd_len)
    ci_len = len(outer_oid) + len(explicit0) + len(sd_hdr) + sd_len
    out.write(_der_header(0x30, ci_len) + outer_oid + explicit0 + sd_hdr + before + encap_hdr + ctype
              + explicit_hdr + octet_hdr)
    h = new_hash(digest)
    copied = 0
    with source.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            out.write(chunk)
            copied += len(chunk)
    if copied != size or h.digest() != expected:
        raise SigningError(f"{source} changed while it was being signed")
    out.write(after)


def sign_cades_file(key: SigningKey, source: str | os.PathLike[str], output: str | os.PathLike[str],
                    options: CadesOptions, *, attached: bool = False) -> Path:
    """Sign a file into `output` (.p7s detached or .p7m attached); the input is streamed."""
    src, dst = Path(source), Path(output)
    digest = check_digest_allowed(options.digest_algorithm or key.default_digest)
    options = dataclasses.replace(options, digest_algorithm=digest)
    try:
        with src.open("rb") as f:
            data_digest = hash_stream(f, digest)
    except FileNotFoundError:
        raise SigningError(f"input not found: {src}") from None
    except IsADirectoryError:
        raise SigningError(f"input is a folder: {src}") from None
    if options.level == "B-B" and not attached:  # the fast path: no asn1crypto objects at all
        der = cades_bb_der(key, data_digest, digest)
    else:
        ci = cades_signature(key, data_digest, options)
    tmp = dst.with_name(dst.name + ".part")
    try:
        with tmp.open("wb") as out:
            if attached:
                _write_attached(ci, src, out, digest, data_digest)
            else:
                out.write(der if options.level == "B-B" else ci.dump())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


# --- CAdES-C / CAdES-X Long (ETSI TS 101 733, RFC 5126) ------------------------------------------

def _other_hash(digest: str, der: bytes) -> bytes:
    """OtherHash as OtherHashAlgAndValue (the signature's digest algorithm, SHA-1 never used)."""
    algorithm = cms.DigestAlgorithm({"algorithm": digest}).dump()
    return _der_seq(algorithm, core.OctetString(new_hash(digest, der).digest()).dump())


def _certificate_refs(certs: Sequence[x509.Certificate], digest: str) -> bytes:
    """CompleteCertificateRefs: SEQUENCE OF OtherCertID { otherCertHash, issuerSerial }."""
    refs = []
    for cert in certs:
        issuer_serial = _der_seq(_der_seq(core.Any.load(b"\xa4" + _der_len(len(cert.issuer.dump()))
                                                        + cert.issuer.dump()).dump()),
                                 core.Integer(cert.serial_number).dump())
        refs.append(_der_seq(_other_hash(digest, cert.dump()), issuer_serial))
    return _der_seq(*refs)


def _revocation_refs(crls: Sequence, ocsps: Sequence, digest: str) -> bytes:
    """CompleteRevocationRefs with one CrlOcspRef holding every CRL and OCSP response used."""
    parts = []
    if crls:
        ids = []
        for c in crls:
            tbs = c["tbs_cert_list"]
            number = c.crl_number_value
            identifier = _der_seq(tbs["issuer"].dump(),
                                  core.UTCTime(tbs["this_update"].native).dump(),
                                  *([core.Integer(number.native).dump()] if number is not None else []))
            ids.append(_der_seq(_other_hash(digest, c.dump()), identifier))
        crl_list = _der_seq(_der_seq(*ids))
        parts.append(_der_header(0xA0, len(crl_list)) + crl_list)
    if ocsps:
        ids = []
        for response in ocsps:
            basic = response["response_bytes"]["response"].parsed
            data = basic["tbs_response_data"]
            identifier = _der_seq(data["responder_id"].dump(),
                                  core.GeneralizedTime(data["produced_at"].native).dump())
            ids.append(_der_seq(identifier, _other_hash(digest, response.dump())))
        ocsp_list = _der_seq(_der_seq(*ids))
        parts.append(_der_header(0xA1, len(ocsp_list)) + ocsp_list)
    return _der_seq(_der_seq(*parts))


def _revocation_values(crls: Sequence, ocsps: Sequence) -> bytes:
    """RevocationValues { crlVals [0], ocspVals [1] } (EXPLICIT tags, as RFC 5126's module)."""
    parts = []
    if crls:
        body = _der_seq(*(c.dump() for c in crls))
        parts.append(_der_header(0xA0, len(body)) + body)
    if ocsps:
        body = _der_seq(*(o["response_bytes"]["response"].parsed.dump() for o in ocsps))
        parts.append(_der_header(0xA1, len(body)) + body)
    return _der_seq(*parts)


async def _add_x_long(ci: cms.ContentInfo, key: SigningKey, options: CadesOptions, digest: str) -> None:
    """CAdES-T + complete certificate and revocation references (CAdES-C) + their values (X-Long)
    for the signer's and the TSA's chains, fetched now and checked against the trust anchors."""
    certs, crls, ocsps = await collect_revocation(revocation_targets(ci, key), options.trust_roots,
                                                  extra=key.chain)
    signer = key.certificate.dump()
    others = [c for c in certs if c.dump() != signer]
    si = ci["content"]["signer_infos"][0]
    _append_unsigned(si, _attribute(OID_CERTIFICATE_REFS, _certificate_refs(others, digest)))
    _append_unsigned(si, _attribute(OID_REVOCATION_REFS, _revocation_refs(crls, ocsps, digest)))
    _append_unsigned(si, _attribute(OID_CERTIFICATE_VALUES, _der_seq(*(c.dump() for c in others))))
    _append_unsigned(si, _attribute(OID_REVOCATION_VALUES, _revocation_values(crls, ocsps)))
