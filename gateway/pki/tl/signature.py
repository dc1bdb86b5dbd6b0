"""The enveloped XMLDSig/XAdES signature of a trusted list, checked against pinned certificates.

A list is trusted because a known key signed it, not because its signer chains to an anchor: the
signer is pinned (`--signer CERT`, or the certificates a list of lists points with). Core XMLDSig
validation (references, transforms, canonicalization, algorithms) is the project's
`gateway.signing.xml.xmldsig`; this module adds what a trusted list requires: exactly one
signature, covering the whole document through the enveloped-signature transform.
"""

from __future__ import annotations

from collections.abc import Sequence

from asn1crypto import x509
from lxml import etree

from gateway.pki.tl.parse import TrustedListError
from gateway.signing.algorithms import UnsupportedAlgorithm
from gateway.signing.validation.signerinfo import PARSE_ERRORS
from gateway.signing.xml import algorithms as xalg
from gateway.signing.xml.c14n import UnsupportedCanonicalization
from gateway.signing.xml.xmldsig import (
    ENVELOPED,
    ReferenceProcessor,
    StructureError,
    child,
    q,
    signature_value,
    signed_info,
)


def _covers_document(ref: etree._Element, target: etree._Element | None, root: etree._Element) -> bool:
    transforms = child(ref, "Transforms")
    algos = [t.get("Algorithm") for t in transforms.findall(q("Transform"))] if transforms is not None else []
    whole = ref.get("URI") == "" or target is root
    return whole and ENVELOPED in algos


def verify_list_signature(tree: etree._ElementTree, signers: Sequence[x509.Certificate]) -> x509.Certificate:
    """The pinned certificate whose key made the list's signature; TrustedListError otherwise."""
    root = tree.getroot()
    found = list(root.iter(q("Signature")))
    if not found:
        raise TrustedListError("the trusted list is not signed")
    if len(found) > 1:
        raise TrustedListError(f"the trusted list carries {len(found)} signatures (one is expected)")
    sig = found[0]
    if sig.getparent() is not root:
        raise TrustedListError("the trusted list's signature is not a child of its root element")
    try:
        info = signed_info(sig)
        value = signature_value(sig)
        if info.signature_method not in xalg.SIGNATURES:
            raise TrustedListError(f"the list's signature algorithm is not allowed: {info.signature_method}")
        processor = ReferenceProcessor(tree, lambda _uri: None)
        results = [processor.process(ref, sig) for ref in info.references]
        for res in results:
            if not (res.found and res.digest_ok):
                raise TrustedListError(_broken(res.error))
        if not any(_covers_document(r.element, r.target, root) for r in results):
            raise TrustedListError("the trusted list's signature does not cover the whole list (enveloped)")
        tbs = info.octets()
    except (StructureError, UnsupportedCanonicalization, UnsupportedAlgorithm) as exc:
        raise TrustedListError(f"the trusted list's signature cannot be checked: {exc}") from None
    for cert in signers:
        try:
            if xalg.verify(info.signature_method, cert.public_key, value, tbs):
                return cert
        except (UnsupportedAlgorithm, *PARSE_ERRORS):
            continue
    raise TrustedListError("the trusted list's signature does not verify with the pinned signer certificate")


def _broken(error: str) -> str:
    if "digest does not match" in error:
        return "the trusted list's signature is broken: the signed content was altered (digest mismatch)"
    return f"the trusted list's signature is broken: {error or 'a reference cannot be processed'}"
