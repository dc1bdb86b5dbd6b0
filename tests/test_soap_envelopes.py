"""The client's SOAP envelopes are what the service's published WSDL describes (names, order, namespaces).

The published WSDL (../shared/sev-reference/wsdl/IntegrationService.wsdl) cannot be loaded by zeep;
these tests read it with lxml and check every request our corrected copy makes zeep produce:
the wrapper element is the message part's element (namespace http://tempuri.org/), and its children
and their children are the referenced types' elements, in order, in the types' namespace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from lxml import etree

from gateway.soap.sev_client import COUNT, SevClient
from gateway.soap.sev_hub import HubServer

REFERENCE = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "sev-reference"
    / "wsdl"
    / "IntegrationService.wsdl"
)
pytestmark = pytest.mark.skipif(not REFERENCE.exists(), reason="../shared/sev-reference absent")

WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

IDENTITY = {"Password": "pw", "SystemId": "sys"}
SESSION = {
    "Error": {"Code": 1, "Text": "t"},
    "MaxPartSize": 10,
    "MessageId": "m",
    "MessageSize": 5,
    "SessionId": 7,
    "Status": "Delivered",
    "TransferredBytesCount": 5,
    "Type": "Download",
}
MESSAGE_INFO = {
    "CreationDate": datetime(2026, 11, 25, tzinfo=UTC),
    "Creator": "Sed",
    "Format": "Plain",
    "FromOrgId": "04056612",
    "FromSysId": "sys",
    "MessageId": "m",
    "SessionId": 0,
    "Size": 5,
    "ToOrgId": "37472062",
    "ToSysId": "x",
    "Type": "Document",
}
REQUESTS = {
    "OpenUploadingSession": {"messageInfo": MESSAGE_INFO, "hash": "AB", "signature": b"sig"},
    "UploadMessageChunk": {"sessionId": 1, "messageChunk": b"chunk"},
    "GetInputMessages": {COUNT: 10},
    "OpenDownloadingSession": {"messageId": "m"},
    "DownloadMessageChunk": {"sessionId": 1, "fromPosition": 0, "count": 10},
    "GetMessageValidationInfo": {"sessionId": 1},
    "GetSessionInfo": {"sessionId": 1},
    "EndProcessingDownloadedMessage": {"sessionInfo": SESSION},
}


class Reference:
    def __init__(self) -> None:
        self.doc = etree.parse(str(REFERENCE))
        self.schema = self.doc.find(f"{{{WSDL}}}types/{{{XS}}}schema")
        self.types = {t.get("name"): t for t in self.schema.iterfind(f"{{{XS}}}complexType")}

    def qname(self, el: etree._Element, value: str) -> tuple[str, str]:
        prefix, _, local = value.partition(":")
        return el.nsmap[prefix], local

    def request_element(self, operation: str) -> tuple[str, str]:
        op = self.doc.find(f"{{{WSDL}}}portType/{{{WSDL}}}operation[@name='{operation}']")
        message = self.qname(op.find(f"{{{WSDL}}}input"), op.find(f"{{{WSDL}}}input").get("message"))[1]
        part = self.doc.find(f"{{{WSDL}}}message[@name='{message}']/{{{WSDL}}}part")
        return self.qname(part, part.get("element"))

    def fields(self, type_name: str) -> list[tuple[str, tuple[str, str]]]:
        """(element name, (type namespace, type name)) of a complexType's sequence, in order."""
        return [
            (e.get("name"), self.qname(e, e.get("type")))
            for e in self.types[type_name].iterfind(f"{{{XS}}}sequence/{{{XS}}}element")
        ]

    def action(self, operation: str) -> str:
        op = self.doc.find(f"{{{WSDL}}}binding/{{{WSDL}}}operation[@name='{operation}']")
        return op.find("{http://schemas.xmlsoap.org/wsdl/soap/}operation").get("soapAction")


@pytest.fixture(scope="module")
def ref() -> Reference:
    return Reference()


@pytest.fixture(scope="module")
def client() -> SevClient:
    return SevClient("http://127.0.0.1:9/csp/dirbus/bus.esb.IntegrationService.cls", "sys", "pw")


def check_children(ref: Reference, el: etree._Element, type_ns: str, type_name: str) -> None:
    fields = ref.fields(type_name)
    order = [name for name, _ in fields]
    children = list(el)
    names = [etree.QName(c).localname for c in children]
    assert names == [n for n in order if n in names], f"{type_name}: {names} not in the order {order}"
    for child, name in zip(children, names, strict=True):
        assert etree.QName(child).namespace == type_ns, (
            f"{type_name}/{name} in {etree.QName(child).namespace}"
        )
        ns, sub = dict(fields)[name]
        if ns != XS and sub in ref.types:
            check_children(ref, child, type_ns, sub)


@pytest.mark.parametrize("operation", sorted(REQUESTS))
def test_request_envelope_matches_the_published_wsdl(ref, client, operation):
    envelope = client._client.create_message(
        client._service, operation, identity=IDENTITY, **REQUESTS[operation]
    )
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    (wrapper,) = list(body)
    element_ns, element_name = ref.request_element(operation)
    assert (etree.QName(wrapper).namespace, etree.QName(wrapper).localname) == (element_ns, element_name)
    assert element_ns == "http://tempuri.org/"
    type_ns = ref.schema.nsmap["s0"] if "s0" in ref.schema.nsmap else ref.doc.getroot().nsmap["s0"]
    assert type_ns == "http://tempuri.org"
    check_children(ref, wrapper, type_ns, operation)
    sent = {etree.QName(c).localname for c in wrapper}
    assert sent == {"identity", *REQUESTS[operation]}  # every parameter made it onto the wire
    binding_op = client._service._binding._operations[operation]
    assert binding_op.soapaction == ref.action(operation)


def test_the_count_parameter_is_spelled_with_a_cyrillic_es_on_the_wire(client):
    envelope = client._client.create_message(
        client._service, "GetInputMessages", identity=IDENTITY, **{COUNT: 3}
    )
    wire = etree.tostring(envelope, encoding="utf-8")
    assert "\u0441ount".encode() in wire and b"<count" not in wire and b":count" not in wire


def test_hub_answers_have_the_published_response_shape(ref, tmp_path):
    with HubServer(tmp_path / "hub") as server:
        c = SevClient(server.url, "sys", "pw")
        envelope = c._client.create_message(c._service, "GetSessionInfo", identity=IDENTITY, sessionId=12345)
        answer = httpx.post(
            server.url,
            content=etree.tostring(envelope),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": ref.action("GetSessionInfo")},
        )
    assert answer.status_code == 200
    body = etree.fromstring(answer.content).find(f"{{{SOAP_ENV}}}Body")
    (wrapper,) = list(body)
    assert etree.QName(wrapper).localname == "GetSessionInfoResponse"
    assert etree.QName(wrapper).namespace == "http://tempuri.org/"
    check_children(ref, wrapper, "http://tempuri.org", "GetSessionInfoResponse")
    error = wrapper.find("{http://tempuri.org}GetSessionInfoResult/{http://tempuri.org}Error")
    assert (
        error.findtext("{http://tempuri.org}Code") == "11"
    )  # unknown session, reported in SessionInfo/Error
