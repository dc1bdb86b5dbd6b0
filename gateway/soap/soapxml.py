"""SOAP 1.1 envelopes of the SEV IntegrationService as the hub stand-in reads and writes them (lxml).

The stand-in is strict about the dialect it was started with (`sev_dialect`): a request in the
other dialect (operation namespace, qualified or unqualified children, SOAPAction quoting) is
answered with a Client fault naming the difference, so that tests catch a client that speaks the
wrong one. Requests are parsed with the hardened parser. Answers are namespaced as the dialect's
requests are (`schemas/sev-integration.wsdl` for `wcf`, `schemas/sev-integration-sev2.wsdl` for
`sev2`).
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from gateway.soap.sev_dialect import (
    SOAP_ENV,
    TEMPURI,
    TEMPURI_SLASH,
    WCF,
    XSI_NIL,
    Dialect,
    SoapValueError,
    encode,
)
from gateway.soap.sev_dialect import as_bytes as _as_bytes
from gateway.soap.sev_dialect import as_int as _as_int
from gateway.xmlsafe import XmlParseError, parse_xml


class SoapRequestError(Exception):
    """The request is not a SOAP 1.1 envelope the service understands (answered with a Client fault)."""


def parse_request(
    body: bytes, dialect: Dialect = WCF, soap_action: str | None = None
) -> tuple[str, dict[str, Any]]:
    """(operation name, {child local name: element}) of a request envelope in `dialect`.
    `soap_action` is the request's SOAPAction header (None: not checked)."""
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
    if qname.namespace != dialect.operation_ns:
        if qname.namespace in (TEMPURI, TEMPURI_SLASH):
            raise SoapRequestError(
                f"this hub speaks the {dialect.name} dialect: operations in {dialect.operation_ns!r},"
                f" not {qname.namespace!r}"
            )
        raise SoapRequestError(f"unknown namespace {qname.namespace!r}")
    _check_children(op, dialect)
    if soap_action is not None and soap_action != dialect.soap_action(qname.localname):
        raise SoapRequestError(
            f"SOAPAction {soap_action!r}: this hub ({dialect.name}) expects"
            f" {dialect.soap_action(qname.localname)!r}"
        )
    return qname.localname, {etree.QName(child).localname: child for child in op}


def _check_children(op: etree._Element, dialect: Dialect) -> None:
    for param in op:
        if not isinstance(param.tag, str):
            continue
        if etree.QName(param).namespace != dialect.parameter_ns:
            raise SoapRequestError(
                f"parameter {etree.QName(param).localname!r} in namespace"
                f" {etree.QName(param).namespace!r}: this hub speaks the {dialect.name} dialect"
            )
        for field in param.iter():
            if field is param or not isinstance(field.tag, str):
                continue
            if etree.QName(field).namespace != dialect.contract_ns:
                raise SoapRequestError(
                    f"field {etree.QName(field).localname!r} in namespace"
                    f" {etree.QName(field).namespace!r}: this hub speaks the {dialect.name} dialect"
                )


def text(el: etree._Element | None) -> str | None:
    if el is None or el.get(XSI_NIL) in ("true", "1"):
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
    try:
        return _as_int(value, default)
    except SoapValueError as exc:
        raise SoapRequestError(str(exc)) from None


def as_bytes(value: str | None) -> bytes:
    try:
        return _as_bytes(value)
    except SoapValueError as exc:
        raise SoapRequestError(str(exc)) from None


def record(el: etree._Element | None) -> dict[str, str | None]:
    """A data-contract element's children as {local name: text}."""
    if el is None:
        return {}
    return {etree.QName(child).localname: text(child) for child in el}


def response(
    operation: str, result: dict[str, Any] | list[tuple[str, Any]] | None, dialect: Dialect = WCF
) -> bytes:
    """`<OperationResponse><OperationResult>...` with the contract's fields in the WSDL's order,
    namespaced as the dialect's requests are."""
    nsmap = {"SOAP-ENV": SOAP_ENV, "tem": dialect.operation_ns}
    if dialect.contract_ns:
        nsmap["cov"] = dialect.contract_ns
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=nsmap)
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    wrapper = etree.SubElement(body, f"{{{dialect.operation_ns}}}{operation}Response")
    if result is not None:
        _fill(etree.SubElement(wrapper, dialect.parameter(f"{operation}Result")), result, dialect)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def _fill(parent: etree._Element, value: dict[str, Any] | list[tuple[str, Any]], dialect: Dialect) -> None:
    items = value.items() if isinstance(value, dict) else value
    for name, item in items:
        if item is None:
            continue
        el = etree.SubElement(parent, dialect.field(name))
        if isinstance(item, dict | list):
            _fill(el, item, dialect)
        else:
            el.text = encode(item)


def fault(code: str, message: str) -> bytes:
    """A SOAP 1.1 Fault; `code` is Client or Server."""
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"SOAP-ENV": SOAP_ENV})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    f = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(f, "faultcode").text = f"SOAP-ENV:{code}"
    etree.SubElement(f, "faultstring").text = message
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")
