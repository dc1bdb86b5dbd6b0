"""The Трембіта (X-Road message protocol 4.0) wire of the gateway's service: requests read, answers
and faults written with lxml, following `schemas/trembita.wsdl`.

Requests are read strictly, because what is read here decides what is stored: one Header and one
Body, exactly one operation element in the service's namespace, each parameter and each X-Road
header exactly once (a second `id`, `client` or `message` is a fault, never "the first one wins"),
no header we do not understand marked mustUnderstand. The X-Road headers of the request are echoed
unchanged (copied element by element) in the answer, also in a fault when they could be read.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from lxml import etree

from gateway.xmlsafe import XmlParseError, parse_xml

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XROAD_NS = "http://x-road.eu/xsd/xroad.xsd"
ID_NS = "http://x-road.eu/xsd/identifiers"
SERVICE_NS = "http://mykolaiv.gov.ua/gateway/trembita/1207"
PROTOCOL_VERSION = "4.0"
OPERATIONS = {"deliverMessage": ("message",), "getDeliveryStatus": ("msgId",)}
REQUIRED_HEADERS = ("client", "service", "id", "userId", "protocolVersion")
OPTIONAL_HEADERS = ("issue",)
_OBJECT_TYPE = f"{{{ID_NS}}}objectType"
_CLIENT_FIELDS = ("xRoadInstance", "memberClass", "memberCode", "subsystemCode")
_SERVICE_FIELDS = (*_CLIENT_FIELDS, "serviceCode", "serviceVersion")
_PART = re.compile(r"[^/\s]+")


class TrembitaFault(Exception):
    """An error answered as a SOAP 1.1 fault with an X-Road style code (`Client.…`, `Server.…`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = " ".join(message.split())
        #: the request's X-Road headers, when they could be read (echoed in the fault)
        self.headers: list[etree._Element] = []


@dataclass(frozen=True)
class XRoadId:
    """An X-Road client (subsystem or member) or service identifier."""

    instance: str
    member_class: str
    member_code: str
    subsystem: str | None = None
    service_code: str | None = None
    service_version: str | None = None

    @property
    def path(self) -> str:
        """INSTANCE/CLASS/CODE[/SUBSYSTEM][/SERVICE[/VERSION]], as in the partners directory."""
        parts = (
            self.instance,
            self.member_class,
            self.member_code,
            self.subsystem,
            self.service_code,
            self.service_version,
        )
        return "/".join(p for p in parts if p)

    @property
    def member(self) -> XRoadId:
        """The client part of a service identifier (the provider's subsystem)."""
        return XRoadId(self.instance, self.member_class, self.member_code, self.subsystem)

    @classmethod
    def service_from_path(cls, path: str) -> XRoadId:
        """INSTANCE/CLASS/CODE/SUBSYSTEM/SERVICE[/VERSION] (the partners directory's --xroad-service)."""
        parts = path.split("/")
        if len(parts) not in (5, 6) or not all(_PART.fullmatch(p) for p in parts):
            raise ValueError(f"not an X-Road service identifier: {path!r}")
        return cls(*parts[:5], parts[5] if len(parts) == 6 else None)


@dataclass
class Request:
    operation: str
    client: XRoadId
    service: XRoadId
    id: str
    user_id: str
    protocol_version: str
    issue: str | None
    #: the request's X-Road header elements, echoed unchanged in the answer
    headers: list[etree._Element]
    #: the operation's parameters as text (`message` is still base64)
    params: dict[str, str]


def parse_request(body: bytes, *, max_bytes: int) -> Request:
    """The request, or TrembitaFault. A fault raised after the headers were read carries them
    (`fault.headers`) so that they can be echoed."""
    ascii_compatible = body.lstrip()[:1] == b"<" and b"\x00" not in body[:256]
    try:
        root = parse_xml(
            body, max_bytes=max_bytes, large_text=ascii_compatible, keep_comments=False
        ).getroot()
    except XmlParseError as exc:
        raise TrembitaFault("Client.InvalidRequest", str(exc)) from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise TrembitaFault("Client.InvalidRequest", "not a SOAP 1.1 envelope")
    parts = _elements(root)
    tags = [el.tag for el in parts]
    if tags not in ([f"{{{SOAP_ENV}}}Header", f"{{{SOAP_ENV}}}Body"], [f"{{{SOAP_ENV}}}Body"]):
        raise TrembitaFault("Client.InvalidRequest", "the envelope must hold one Header and one Body")
    header = parts[0] if len(parts) == 2 else None
    values, elements = _read_headers(header)
    try:
        request = _request(_elements(parts[-1]), values, elements)
    except TrembitaFault as exc:
        exc.headers = elements
        raise
    return request


def _elements(el: etree._Element) -> list[etree._Element]:
    """Child elements (comments and processing instructions are not content)."""
    return [child for child in el if isinstance(child.tag, str)]


def _read_headers(header: etree._Element | None) -> tuple[dict[str, etree._Element], list[etree._Element]]:
    values: dict[str, etree._Element] = {}
    echoed: list[etree._Element] = []
    for el in _elements(header) if header is not None else []:
        qname = etree.QName(el)
        if qname.namespace == XROAD_NS and qname.localname in (*REQUIRED_HEADERS, *OPTIONAL_HEADERS):
            if qname.localname in values:
                raise TrembitaFault(
                    "Client.InvalidHeader", f"the X-Road header {qname.localname!r} appears twice"
                )
            values[qname.localname] = el
            echoed.append(el)
        elif el.get(f"{{{SOAP_ENV}}}mustUnderstand") in ("1", "true"):
            raise TrembitaFault("Client.MustUnderstand", f"header {qname.text} is not understood")
    return values, echoed


def _request(
    body: list[etree._Element], values: dict[str, etree._Element], echoed: list[etree._Element]
) -> Request:
    missing = [name for name in REQUIRED_HEADERS if name not in values]
    if missing:
        raise TrembitaFault("Client.MissingHeader", f"missing X-Road header(s): {', '.join(missing)}")
    version = _text(values["protocolVersion"])
    if version != PROTOCOL_VERSION:
        raise TrembitaFault(
            "Client.InvalidProtocolVersion", f"protocolVersion must be {PROTOCOL_VERSION}, got {version!r}"
        )
    client = _identifier(values["client"], _CLIENT_FIELDS, ("SUBSYSTEM", "MEMBER"))
    service = _identifier(values["service"], _SERVICE_FIELDS, ("SERVICE",))
    ident, user = _text(values["id"]), _text(values["userId"])
    if not ident or len(ident) > 200:
        raise TrembitaFault("Client.InvalidHeader", "the X-Road header 'id' must have 1 to 200 characters")
    if not user:
        raise TrembitaFault("Client.InvalidHeader", "the X-Road header 'userId' is empty")
    if len(body) != 1:
        raise TrembitaFault("Client.InvalidRequest", "the Body must hold exactly one operation element")
    op = etree.QName(body[0])
    if op.namespace != SERVICE_NS or op.localname not in OPERATIONS:
        raise TrembitaFault("Client.UnknownOperation", f"unknown operation {op.text}")
    params: dict[str, str] = {}
    for child in _elements(body[0]):
        name = etree.QName(child)
        if name.namespace != SERVICE_NS or name.localname not in OPERATIONS[op.localname]:
            raise TrembitaFault(
                "Client.InvalidRequest", f"unexpected element {name.localname!r} in {op.localname}"
            )
        if name.localname in params:
            raise TrembitaFault(
                "Client.InvalidRequest", f"{name.localname!r} appears twice in {op.localname}"
            )
        if len(child):
            raise TrembitaFault("Client.InvalidRequest", f"{name.localname!r} must be text, not elements")
        params[name.localname] = child.text or ""
    for name in OPERATIONS[op.localname]:
        if name not in params:
            raise TrembitaFault("Client.InvalidRequest", f"{op.localname} needs {name!r}")
    issue = _text(values["issue"]) if "issue" in values else None
    return Request(op.localname, client, service, ident, user, version, issue, echoed, params)


def _text(el: etree._Element) -> str:
    return (el.text or "").strip()


def _identifier(el: etree._Element, fields: tuple[str, ...], types: tuple[str, ...]) -> XRoadId:
    name = etree.QName(el).localname
    if el.get(_OBJECT_TYPE) not in types:
        raise TrembitaFault(
            "Client.InvalidHeader", f"the {name} header's objectType must be {' or '.join(types)}"
        )
    got: dict[str, str] = {}
    for child in _elements(el):
        q = etree.QName(child)
        if q.namespace != ID_NS or q.localname not in fields or q.localname in got:
            raise TrembitaFault(
                "Client.InvalidHeader", f"unexpected or repeated {q.localname!r} in the {name} header"
            )
        got[q.localname] = _text(child)
    required = [f for f in fields if f not in ("subsystemCode", "serviceVersion")]
    if any(not got.get(f) for f in required) or any(not _PART.fullmatch(v) for v in got.values()):
        raise TrembitaFault("Client.InvalidHeader", f"the {name} header needs {', '.join(required)}")
    return XRoadId(
        got["xRoadInstance"],
        got["memberClass"],
        got["memberCode"],
        got.get("subsystemCode"),
        got.get("serviceCode"),
        got.get("serviceVersion"),
    )


def _envelope(headers: list[etree._Element]) -> tuple[etree._Element, etree._Element]:
    env = etree.Element(
        f"{{{SOAP_ENV}}}Envelope",
        nsmap={"SOAP-ENV": SOAP_ENV, "xrd": XROAD_NS, "id": ID_NS, "tns": SERVICE_NS},
    )
    if headers:
        header = etree.SubElement(env, f"{{{SOAP_ENV}}}Header")
        for el in headers:
            header.append(copy.deepcopy(el))
    return env, etree.SubElement(env, f"{{{SOAP_ENV}}}Body")


def response(request: Request, fields: list[tuple[str, str | None]]) -> bytes:
    """`<operation>Response` with `fields` (name, text; None left out) and the echoed headers."""
    env, body = _envelope(request.headers)
    wrapper = etree.SubElement(body, f"{{{SERVICE_NS}}}{request.operation}Response")
    for name, value in fields:
        if value is not None:
            etree.SubElement(wrapper, f"{{{SERVICE_NS}}}{name}").text = value
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def fault(code: str, message: str, headers: list[etree._Element] | None = None) -> bytes:
    """A SOAP 1.1 Fault with an X-Road style code; the request's X-Road headers when known."""
    env, body = _envelope(headers or [])
    f = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(f, "faultcode").text = code
    etree.SubElement(f, "faultstring").text = message
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")
