"""The SEV client's side of the wire: request envelopes built and answers read with lxml.

Requests are written in the configured dialect (`sev_dialect`): `sev2` by default, or `wcf`, whose
envelopes are byte for byte what zeep produces from `schemas/sev-integration.wsdl` (the earlier
implementation; `tests/test_soap_envelopes.py` compares them) at a fraction of zeep's cost per
call. Absent (None) values are left out; parameters and fields go in the WSDL's order.

Answers are parsed with a hardened parser (no entities, no network, no DTD, no huge trees) and
read by local name into `Record`s (field name -> text or nested Record; repeated fields -> list),
whatever namespaces the hub answers in.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from gateway.soap.sev_dialect import (
    SEV2,
    SOAP_ENV,
    XSI_NIL,
    Dialect,
    SoapValueError,
    as_bytes,
    as_datetime,
    as_int,
    encode,
)
from gateway.xmlsafe import XmlParseError, parse_xml

#: a value: text-like scalar, bytes (base64Binary), datetime, or a contract given as (field, value) pairs
Fields = list[tuple[str, Any]]
Record = dict[str, Any]

__all__ = [
    "BadAnswer",
    "Fields",
    "Record",
    "SoapFault",
    "SoapValueError",
    "answer",
    "as_bytes",
    "as_datetime",
    "as_int",
    "request",
]


class SoapFault(Exception):
    """The hub answered with a SOAP Fault (`code` is e.g. "SOAP-ENV:Client")."""

    def __init__(self, code: str | None, message: str | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class BadAnswer(Exception):
    """The answer is not the SOAP envelope the operation should return (e.g. a proxy's 503 page)."""

    def __init__(self, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.status = status


def request(operation: str, params: Fields, dialect: Dialect = SEV2) -> bytes:
    """The request envelope of `operation` with its parameters (in the WSDL's order)."""
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap-env": SOAP_ENV})
    if dialect.header:
        etree.SubElement(env, f"{{{SOAP_ENV}}}Header")
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    op = etree.SubElement(body, f"{{{dialect.operation_ns}}}{operation}")
    for name, value in params:
        if value is not None:
            _put(etree.SubElement(op, dialect.parameter(name)), value, dialect)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def _put(el: etree._Element, value: Any, dialect: Dialect) -> None:
    if isinstance(value, list):
        for name, item in value:
            if item is not None:
                _put(etree.SubElement(el, dialect.field(name)), item, dialect)
    else:
        el.text = encode(value)


def answer(operation: str, status: int, content: bytes) -> Record | list[Record] | None:
    """The `<operation>Result` of an answer as a Record (an array as a list of Records; None when
    absent or nil). Raises SoapFault for a Fault, BadAnswer for anything else unexpected."""
    try:
        root = parse_xml(content, keep_comments=False).getroot() if content else None
    except XmlParseError as exc:
        raise BadAnswer(f"HTTP {status} with an answer that is not acceptable XML ({exc})", status) from None
    if root is None:
        raise BadAnswer(f"HTTP {status} without a SOAP answer", status)
    body = root.find(f"{{{SOAP_ENV}}}Body") if root.tag == f"{{{SOAP_ENV}}}Envelope" else None
    if body is None:
        raise BadAnswer(f"HTTP {status} without a SOAP answer", status)
    fault = body.find(f"{{{SOAP_ENV}}}Fault")
    if fault is not None:
        raise SoapFault(fault.findtext("faultcode"), fault.findtext("faultstring"))
    if status != 200:
        raise BadAnswer(f"HTTP {status}", status)
    wrapper = body.find(f"{{*}}{operation}Response")
    if wrapper is None:
        raise BadAnswer(f"the answer is not a {operation}Response")
    result = wrapper.find(f"{{*}}{operation}Result")
    if result is None or result.get(XSI_NIL) in ("true", "1"):
        return None
    if operation == "GetInputMessages":
        return [_record(item) for item in result if item.get(XSI_NIL) not in ("true", "1")]
    return _record(result)


def _record(el: etree._Element) -> Record:
    out: Record = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if child.get(XSI_NIL) in ("true", "1"):
            out[name] = None
        elif len(child):
            out[name] = _record(child)
        else:
            out[name] = (child.text or "").strip()
    return out
