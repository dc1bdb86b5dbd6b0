"""XAdES (ETSI EN 319 132-1) names and readers shared by the builder and the validator."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from gateway.signing.xml.c14n import canonicalize
from gateway.signing.xml.xmldsig import ReferenceResult, StructureError, child, q

XADES = "http://uri.etsi.org/01903/v1.3.2#"
XADES141 = "http://uri.etsi.org/01903/v1.4.1#"
ETSI_PREFIX = "http://uri.etsi.org/01903"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"


def is_etsi(el: etree._Element, local: str) -> bool:
    """`el` is the XAdES element `local` of any XAdES version (1.1.1 to 1.4.1)."""
    if not isinstance(el.tag, str):
        return False
    qn = etree.QName(el)
    return qn.localname == local and (qn.namespace or "").startswith(ETSI_PREFIX)


def etsi_children(el: etree._Element | None, local: str) -> Iterator[etree._Element]:
    if el is None:
        return
    for c in el:
        if is_etsi(c, local):
            yield c


def etsi_child(el: etree._Element | None, local: str) -> etree._Element | None:
    return next(etsi_children(el, local), None)


def etsi_path(el: etree._Element | None, *path: str) -> etree._Element | None:
    for local in path:
        el = etsi_child(el, local)
    return el


def is_signed_properties_type(value: str) -> bool:
    return value.startswith(ETSI_PREFIX) and value.endswith("#SignedProperties")


def archive_input(
    sig_el: etree._Element, ats: etree._Element, results: list[ReferenceResult], method: str
) -> bytes:
    """The octets an XAdES archive timestamp covers (ETSI EN 319 132-1 5.5.2.2, not distributed)."""
    parts: list[bytes] = []
    for res in results:
        if not res.found or res.result is None:
            raise StructureError("a referenced object is missing")
        parts.append(res.result if isinstance(res.result, bytes) else canonicalize(res.result, method))
    for local in ("SignedInfo", "SignatureValue", "KeyInfo"):
        el = child(sig_el, local)
        if el is not None:
            parts.append(canonicalize(el, method))
    usp = ats.getparent()
    for prop in usp:
        if prop is ats:
            break
        if isinstance(prop.tag, str):
            parts.append(canonicalize(prop, method))
    for obj in sig_el.findall(q("Object")):
        if etsi_child(obj, "QualifyingProperties") is None:
            parts.append(canonicalize(obj, method))
    return b"".join(parts)
