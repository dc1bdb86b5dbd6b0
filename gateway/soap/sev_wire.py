"""The SEV client's side of the wire: request envelopes built and answers read with lxml.

The envelopes are byte for byte what zeep produces from `schemas/sev-integration.wsdl` (the
earlier implementation; `tests/test_soap_envelopes.py` compares them) at a fraction of zeep's
cost per call: the operation's element and parameters in `http://tempuri.org/` (prefix `ns0`),
each data-contract field in `http://schemas.datacontract.org/2004/07/Cover.Contracts` with the
prefix lxml numbers it with, absent (None) values left out, in the WSDL's order.

Answers are parsed with a hardened parser (no entities, no network, no DTD, no huge trees) and
read by local name into `Record`s (field name -> text or nested Record; repeated fields -> list).
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from lxml import etree

from gateway.xmlsafe import XmlParseError, parse_xml

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
ELEMENT_NS = "http://tempuri.org/"
CONTRACT_NS = "http://schemas.datacontract.org/2004/07/Cover.Contracts"
ACTION_PREFIX = "http://tempuri.org/ICoverIntegrationService/"
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"

#: a value: text-like scalar, bytes (base64Binary), datetime, or a contract given as (field, value) pairs
Fields = list[tuple[str, Any]]
Record = dict[str, Any]


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


def soap_action(operation: str) -> str:
    return ACTION_PREFIX + operation


def request(operation: str, params: Fields) -> bytes:
    """The request envelope of `operation` with its parameters (in the WSDL's order)."""
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap-env": SOAP_ENV})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    op = etree.SubElement(body, f"{{{ELEMENT_NS}}}{operation}")
    for name, value in params:
        if value is not None:
            _put(etree.SubElement(op, f"{{{ELEMENT_NS}}}{name}"), value)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def _put(el: etree._Element, value: Any) -> None:
    if isinstance(value, list):
        for name, item in value:
            if item is not None:
                _put(etree.SubElement(el, f"{{{CONTRACT_NS}}}{name}"), item)
    elif isinstance(value, bytes | bytearray | memoryview):
        el.text = base64.b64encode(value).decode("ascii")
    elif isinstance(value, datetime):
        el.text = _xsd_datetime(value)
    else:
        el.text = str(value)


def _xsd_datetime(value: datetime) -> str:
    """xs:dateTime as zeep writes it: Z for UTC, ±HH:MM for other offsets, nothing when naive."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S.%f" if value.microsecond else "%Y-%m-%dT%H:%M:%S")
    offset = value.utcoffset()
    if offset is None:
        return text
    if offset == timedelta(0):
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


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
    if result is None or result.get(_XSI_NIL) in ("true", "1"):
        return None
    if operation == "GetInputMessages":
        return [_record(item) for item in result if item.get(_XSI_NIL) not in ("true", "1")]
    return _record(result)


def _record(el: etree._Element) -> Record:
    out: Record = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if child.get(_XSI_NIL) in ("true", "1"):
            out[name] = None
        elif len(child):
            out[name] = _record(child)
        else:
            out[name] = (child.text or "").strip()
    return out


def as_int(value: Any) -> int:
    """An xs:int/xs:long field (absent: 0)."""
    if value is None or value == "":
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadAnswer(f"{value!r} is not an integer") from None


def as_bytes(value: Any) -> bytes:
    """An xs:base64Binary field (absent: b"")."""
    if not value:
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        try:
            return base64.b64decode("".join(value.split()), validate=True)
        except ValueError:
            raise BadAnswer("invalid base64Binary content") from None


def as_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise BadAnswer(f"{value!r} is not an xs:dateTime") from None
