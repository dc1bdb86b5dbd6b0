"""Building XAdES baseline signatures (ETSI EN 319 132-1): B-B, B-T, B-LT, B-LTA; detached,
enveloped and enveloping.

Everything signed is canonicalized with exclusive C14N, which does not depend on where the element
sits, so a signature built here verifies the same inside any document or container. The archive
timestamp input is computed by the validator's own code (`archive_input`), and the finished
signature is validated before it is returned (use what you verified).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import quote

from asn1crypto import algos, tsp, x509
from lxml import etree

from gateway.asyncutil import run_sync
from gateway.errors import SigningError
from gateway.signing.cades import new_hash
from gateway.signing.keys import SigningKey, check_digest_allowed
from gateway.signing.xml import algorithms as xalg
from gateway.signing.xml.c14n import EXC_C14N, NodeSet, canonicalize
from gateway.signing.xml.xades import SIGNED_PROPERTIES_TYPE, XADES, XADES141, archive_input
from gateway.signing.xml.xmldsig import DS, ENVELOPED, TYPE_OBJECT, ReferenceProcessor

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
_NSMAP = {"ds": DS}
_XNSMAP = {"xades": XADES}


def ds(local: str) -> str:
    return f"{{{DS}}}{local}"


def xa(local: str) -> str:
    return f"{{{XADES}}}{local}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class DataObject:
    """A file a detached signature covers: its name (the reference URI) and content."""

    name: str
    data: bytes
    mime_type: str = "application/octet-stream"


@dataclass
class XadesOptions:
    level: str = "B-B"
    tsa_url: str | None = None
    digest_algorithm: str | None = None
    trust_roots: Sequence[x509.Certificate] = field(default_factory=list)
    signing_time: datetime | None = None

    def __post_init__(self) -> None:
        self.level = self.level.upper()
        if self.level not in LEVELS:
            raise SigningError(f"unknown signature level {self.level!r} (use one of {', '.join(LEVELS)})")
        if self.level != "B-B" and not self.tsa_url:
            raise SigningError(
                f"level {self.level} needs a time-stamping authority (--tsa URL or [signing] tsa_url)"
            )


def _signature_method(key: SigningKey, digest: str) -> str:
    family = {"rsa": "rsa", "ecdsa": "ec"}.get(key.key_algorithm)
    if key.key_algorithm == "dstu4145":  # the certificate's byte order: dstu4145le / dstu4145be
        family = key.certificate.public_key.algorithm
    uri = xalg.SIGNATURE_URIS.get((family or "", digest))
    if uri is None:
        raise SigningError(f"XML signatures with {key.key_algorithm} and {digest} are not supported")
    return uri


def _digest_uri(digest: str) -> str:
    uri = xalg.DIGEST_URIS.get(digest.replace("_", "-"))
    if uri is None:
        raise SigningError(f"digest {digest} has no XML Signature identifier")
    return uri


def _raw_signature(key: SigningKey, data: bytes, digest: str) -> bytes:
    value = key.sign_raw(data, digest)
    if key.key_algorithm == "ecdsa":  # DER ECDSA-Sig-Value -> r||s (XMLDSig 1.1, 6.4.3)
        size = (key.key_size + 7) // 8
        sig = algos.DSASignature.load(value)
        return sig["r"].native.to_bytes(size, "big") + sig["s"].native.to_bytes(size, "big")
    return value


def _reference(
    parent: etree._Element,
    uri: str | None,
    digest_uri: str,
    value: bytes,
    *,
    ref_id: str | None = None,
    ref_type: str | None = None,
    transforms: Sequence[str] = (),
) -> etree._Element:
    ref = etree.SubElement(parent, ds("Reference"))
    if ref_id:
        ref.set("Id", ref_id)
    if ref_type:
        ref.set("Type", ref_type)
    if uri is not None:
        ref.set("URI", uri)
    if transforms:
        trs = etree.SubElement(ref, ds("Transforms"))
        for algo in transforms:
            etree.SubElement(trs, ds("Transform"), Algorithm=algo)
    etree.SubElement(ref, ds("DigestMethod"), Algorithm=digest_uri)
    etree.SubElement(ref, ds("DigestValue")).text = _b64(value)
    return ref


@lru_cache(maxsize=32)
def _issuer_serial_der(cert_der: bytes) -> bytes:
    cert = x509.Certificate.load(cert_der)
    return tsp.IssuerSerial(
        {
            "issuer": [x509.GeneralName(name="directory_name", value=cert.issuer)],
            "serial_number": cert.serial_number,
        }
    ).dump()


def _issuer_serial_v2(cert: x509.Certificate) -> bytes:
    """RFC 5035 IssuerSerial of the signing certificate (cached: asn1crypto is slow at this)."""
    return _issuer_serial_der(cert.dump())


class XadesBuilder:
    """One signature under construction."""

    def __init__(self, key: SigningKey, options: XadesOptions) -> None:
        self.key = key
        self.options = options
        self.digest = check_digest_allowed(options.digest_algorithm or key.default_digest).replace("_", "-")
        self.digest_uri = _digest_uri(self.digest)
        self.sig_id = f"id-{uuid.uuid4().hex}"
        self.sig = etree.Element(ds("Signature"), nsmap=_NSMAP, Id=self.sig_id)
        self.signed_info = etree.SubElement(self.sig, ds("SignedInfo"))
        etree.SubElement(self.signed_info, ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
        etree.SubElement(
            self.signed_info, ds("SignatureMethod"), Algorithm=_signature_method(key, self.digest)
        )
        self.formats: list[tuple[str, str]] = []
        self._n = 0

    def _hash(self, data: bytes) -> bytes:
        return new_hash(self.digest.replace("-", "_"), data).digest()

    def _ref_id(self) -> str:
        self._n += 1
        return f"r-{self.sig_id}-{self._n}"

    def add_detached(self, obj: DataObject) -> None:
        ref_id = self._ref_id()
        _reference(
            self.signed_info, quote(obj.name, safe="/"), self.digest_uri, self._hash(obj.data), ref_id=ref_id
        )
        self.formats.append((ref_id, obj.mime_type))

    def add_enveloped(self, tree: etree._ElementTree) -> None:
        """Cover the whole document `tree`; the signature is then appended to its root element."""
        ref_id = self._ref_id()
        octets = canonicalize(NodeSet(tree, with_comments=False), EXC_C14N)
        _reference(
            self.signed_info,
            "",
            self.digest_uri,
            self._hash(octets),
            ref_id=ref_id,
            transforms=(ENVELOPED, EXC_C14N),
        )
        self.formats.append((ref_id, "text/xml"))

    def add_element(self, element: etree._Element, mime_type: str = "text/xml") -> None:
        """Cover one element of a document by its Id (a same-document reference). If the signature is
        then placed inside that element, the reference gets the enveloped-signature transform."""
        el_id = element.get("Id")
        if not el_id:
            raise SigningError("the element to sign has no Id attribute")
        ref_id = self._ref_id()
        octets = canonicalize(NodeSet(element, with_comments=False), EXC_C14N)
        _reference(
            self.signed_info,
            f"#{el_id}",
            self.digest_uri,
            self._hash(octets),
            ref_id=ref_id,
            transforms=(ENVELOPED, EXC_C14N),
        )
        self.formats.append((ref_id, mime_type))

    def add_enveloping(self, obj: DataObject) -> None:
        """Carry `obj` base64-encoded inside the signature, in a ds:Object."""
        ref_id, obj_id = self._ref_id(), f"o-{self.sig_id}-{self._n}"
        wrapper = etree.SubElement(self.sig, ds("Object"), Id=obj_id)
        wrapper.text = _b64(obj.data)
        _reference(
            self.signed_info,
            f"#{obj_id}",
            self.digest_uri,
            self._hash(obj.data),
            ref_id=ref_id,
            ref_type=TYPE_OBJECT,
            transforms=(xalg.DSIG + "base64",),
        )
        self.formats.append((ref_id, obj.mime_type))

    def finish(self, processor_for: Callable[[etree._Element], ReferenceProcessor]) -> etree._Element:
        """Sign, then add the properties of the requested level. `processor_for(sig)` gives a
        ReferenceProcessor over the signature's final document (for B-LTA and the self-check)."""
        obj, qp, sp = self._qualifying_properties()
        sv = etree.Element(ds("SignatureValue"), Id=f"value-{self.sig_id}")
        # SignatureValue, KeyInfo and the properties' object go before any enveloping ds:Object
        for offset, el in enumerate((sv, self._key_info(), obj)):
            self.sig.insert(1 + offset, el)
        _reference(
            self.signed_info,
            f"#{sp.get('Id')}",
            self.digest_uri,
            self._hash(canonicalize(sp, EXC_C14N)),
            ref_type=SIGNED_PROPERTIES_TYPE,
            transforms=(EXC_C14N,),
        )
        tbs = canonicalize(self.signed_info, EXC_C14N)
        sv.text = _b64(_raw_signature(self.key, tbs, self.digest))
        if self.options.level != "B-B":
            run_sync(self._extend(qp, sv, processor_for))
        return self.sig

    def _key_info(self) -> etree._Element:
        cert = self.key.certificate
        key_info = etree.Element(ds("KeyInfo"))
        x509_data = etree.SubElement(key_info, ds("X509Data"))
        for c in [cert, *(c for c in self.key.chain if c != cert)]:
            etree.SubElement(x509_data, ds("X509Certificate")).text = _b64(c.dump())
        return key_info

    def _qualifying_properties(self) -> tuple[etree._Element, etree._Element, etree._Element]:
        """(ds:Object, QualifyingProperties, SignedProperties) with SigningTime,
        SigningCertificateV2 and a DataObjectFormat per signed data object."""
        cert = self.key.certificate
        obj = etree.Element(ds("Object"))
        qp = etree.SubElement(obj, xa("QualifyingProperties"), nsmap=_XNSMAP, Target=f"#{self.sig_id}")
        sp = etree.SubElement(qp, xa("SignedProperties"), Id=f"xades-{self.sig_id}")
        ssp = etree.SubElement(sp, xa("SignedSignatureProperties"))
        when = (self.options.signing_time or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        etree.SubElement(ssp, xa("SigningTime")).text = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        cert_el = etree.SubElement(etree.SubElement(ssp, xa("SigningCertificateV2")), xa("Cert"))
        cd = etree.SubElement(cert_el, xa("CertDigest"))
        etree.SubElement(cd, ds("DigestMethod"), Algorithm=self.digest_uri)
        etree.SubElement(cd, ds("DigestValue")).text = _b64(self._hash(cert.dump()))
        etree.SubElement(cert_el, xa("IssuerSerialV2")).text = _b64(_issuer_serial_v2(cert))
        sdop = etree.SubElement(sp, xa("SignedDataObjectProperties"))
        for ref_id, mime in self.formats:
            dof = etree.SubElement(sdop, xa("DataObjectFormat"), ObjectReference=f"#{ref_id}")
            etree.SubElement(dof, xa("MimeType")).text = mime
        return obj, qp, sp

    async def _timestamp(self, data: bytes) -> bytes:
        from gateway.signing.tsa import CheckedTimeStamper

        digest = self.digest.replace("-", "_")
        token = await CheckedTimeStamper(self.options.tsa_url or "").async_timestamp(
            new_hash(digest, data).digest(), digest
        )
        return token.dump()

    async def _extend(
        self,
        qp: etree._Element,
        sv: etree._Element,
        processor_for: Callable[[etree._Element], ReferenceProcessor],
    ) -> None:
        usp = etree.SubElement(
            etree.SubElement(qp, xa("UnsignedProperties")), xa("UnsignedSignatureProperties")
        )
        sts = etree.SubElement(usp, xa("SignatureTimeStamp"), Id=f"ts-{self.sig_id}")
        etree.SubElement(sts, ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
        token = await self._timestamp(canonicalize(sv, EXC_C14N))
        etree.SubElement(sts, xa("EncapsulatedTimeStamp")).text = _b64(token)
        if self.options.level == "B-T":
            return
        await self._add_validation_data(usp, [token])
        if self.options.level == "B-LTA":
            await self._add_archive_timestamp(usp, processor_for)

    async def _add_validation_data(self, usp: etree._Element, tokens: list[bytes]) -> None:
        from asn1crypto import cms

        from gateway.signing.cades import _signer_cert, collect_revocation

        targets = [(self.key.certificate, list(self.key.chain))]
        for raw in tokens:
            tsd = cms.ContentInfo.load(raw)["content"]
            tcerts = [c.chosen for c in tsd["certificates"] or [] if c.name == "certificate"]
            targets.append((_signer_cert(tsd, tsd["signer_infos"][0]), tcerts))
        certs, crls, ocsps = await collect_revocation(targets, self.options.trust_roots, extra=self.key.chain)
        cv = etree.SubElement(usp, xa("CertificateValues"))
        for c in certs:
            etree.SubElement(cv, xa("EncapsulatedX509Certificate")).text = _b64(c.dump())
        rv = etree.SubElement(usp, xa("RevocationValues"))
        if crls:
            crl_values = etree.SubElement(rv, xa("CRLValues"))
            for c in crls:
                etree.SubElement(crl_values, xa("EncapsulatedCRLValue")).text = _b64(c.dump())
        if ocsps:
            ocsp_values = etree.SubElement(rv, xa("OCSPValues"))
            for o in ocsps:
                etree.SubElement(ocsp_values, xa("EncapsulatedOCSPValue")).text = _b64(o.dump())

    async def _add_archive_timestamp(
        self, usp: etree._Element, processor_for: Callable[[etree._Element], ReferenceProcessor]
    ) -> None:
        ats = etree.SubElement(
            usp, f"{{{XADES141}}}ArchiveTimeStamp", nsmap={"xades141": XADES141}, Id=f"ats-{self.sig_id}"
        )
        etree.SubElement(ats, ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
        processor: ReferenceProcessor = processor_for(self.sig)
        results = [
            processor.process(ref, self.sig, digest=False)
            for ref in self.signed_info.findall(ds("Reference"))
        ]
        token = await self._timestamp(archive_input(self.sig, ats, results, EXC_C14N))
        etree.SubElement(ats, xa("EncapsulatedTimeStamp")).text = _b64(token)
