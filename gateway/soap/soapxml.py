"""SOAP 1.1 envelopes for the SEV IntegrationService, read and written with lxml (used by the hub).

Namespaces follow `schemas/sev-integration.wsdl`: the request/response elements and their direct
children are in `http://tempuri.org/`, the data contracts' fields (Identity, SessionInfo, ...) in
`http://schemas.datacontract.org/2004/07/Cover.Contracts`. Incoming requests are read with a
hardened parser and leniently (children matched by local name, the wrapper in `http://tempuri.org/`
or `http://tempuri.org`, as the service's own WSDL writes both).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from lxml import etree

from gateway.xmlsafe import XmlParseError, parse_xml

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
ELEMENT_NS = "http://tempuri.org/"  # operations' elements and their parameters / results
CONTRACT_NS = "http://schemas.datacontract.org/2004/07/Cover.Contracts"  # data contracts' fields
REQUEST_NAMESPACES = (ELEMENT_NS, "http://tempuri.org")


class SoapRequestError(Exception):
    """The request is not a SOAP 1.1 envelope the service understands (answered with a Client fault)."""


def parse_request(body: bytes) -> tuple[str, dict[str, Any]]:
    """(operation name, {child local name: element}) of a request envelope."""
    try:
        root = parse_xml(body).getroot()
    except XmlParseError as exc:
        raise SoapRequestError(str(exc)) from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapRequestError("not a SOAP 1.1 envelope")
    soap_body = root.find(f"{{{SOAP_ENV}}}Body")
    if soap_body is None or len(soap_body) == 0:
        raise SoapRequestError("the envelope has no Body content")
    op = soap_body[0]
    qname = etree.QName(op)
    if qname.namespace not in REQUEST_NAMESPACES:
        raise SoapRequestError(f"unknown namespace {qname.namespace!r}")
    return qname.localname, {etree.QName(child).localname: child for child in op}


def text(el: etree._Element | None) -> str | None:
    if el is None or el.get("{http://www.w3.org/2001/XMLSchema-instance}nil") in ("true", "1"):
        return None
    return (el.text or "").strip()


def child_text(el: etree._Element | None, name: str) -> str | None:
    if el is None:
        return None
    for child in el:
        if etree.QName(child).localname == name:
            return text(child)
    return None


def as_int(value: str | None, default: int = 0) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SoapRequestError(f"{value!r} is not an integer") from None


def as_bytes(value: str | None) -> bytes:
    if not value:
        return b""
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except ValueError:
        raise SoapRequestError("invalid base64Binary content") from None


def record(el: etree._Element | None) -> dict[str, str | None]:
    """A data-contract element's children as {local name: text}."""
    if el is None:
        return {}
    return {etree.QName(child).localname: text(child) for child in el}


def response(operation: str, result: dict[str, Any] | list[tuple[str, Any]] | None) -> bytes:
    """`<OperationResponse><OperationResult>...` with the contract's fields in the WSDL's order."""
    env = etree.Element(
        f"{{{SOAP_ENV}}}Envelope", nsmap={"SOAP-ENV": SOAP_ENV, "tem": ELEMENT_NS, "cov": CONTRACT_NS}
    )
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    wrapper = etree.SubElement(body, f"{{{ELEMENT_NS}}}{operation}Response")
    if result is not None:
        _fill(etree.SubElement(wrapper, f"{{{ELEMENT_NS}}}{operation}Result"), result)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def _fill(parent: etree._Element, value: dict[str, Any] | list[tuple[str, Any]]) -> None:
    items = value.items() if isinstance(value, dict) else value
    for name, item in items:
        if item is None:
            continue
        el = etree.SubElement(parent, f"{{{CONTRACT_NS}}}{name}")
        if isinstance(item, dict | list):
            _fill(el, item)
        elif isinstance(item, bytes):
            el.text = base64.b64encode(item).decode("ascii")
        elif isinstance(item, datetime):
            el.text = item.isoformat()
        else:
            el.text = str(item)


def fault(code: str, message: str) -> bytes:
    """A SOAP 1.1 Fault; `code` is Client or Server."""
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"SOAP-ENV": SOAP_ENV})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    f = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(f, "faultcode").text = f"SOAP-ENV:{code}"
    etree.SubElement(f, "faultstring").text = message
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")
