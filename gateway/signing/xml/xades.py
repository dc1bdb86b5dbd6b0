"""XAdES (ETSI EN 319 132-1) names and readers shared by the builder and the validator."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

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
