"""What travels between the client and the hub is what the service's published interface describes.

Two references from ../shared/sev-reference:
- wsdl/IntegrationService.wsdl (the service's WSDL, which zeep cannot load): operation names,
  parameter names and their order, SOAPActions;
- xsd/tempuri.org.xsd + Cover.Contracts.xsd (the service's data contracts): namespaces and types.
  Every request the client sends and every answer the hub gives is validated against them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zeep
from lxml import etree

from gateway.soap.sev_client import COUNT, MessageInfo, SevClient, SevSessionError
from gateway.soap.sev_hub import HubServer

REF = Path(__file__).resolve().parents[1].parent / "shared" / "sev-reference"
pytestmark = pytest.mark.skipif(not REF.is_dir(), reason="../shared/sev-reference absent")

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


@pytest.fixture(scope="module")
def contracts() -> etree.XMLSchema:
    """The service's data contracts (their imports carry no schemaLocation: a driver supplies them)."""
    x = REF / "xsd"
    imports = [
        ("http://schemas.microsoft.com/2003/10/Serialization/", "Serialization.xsd"),
        ("http://schemas.microsoft.com/2003/10/Serialization/Arrays", "Arrays.xsd"),
        ("http://schemas.datacontract.org/2004/07/Cover.Contracts", "Cover.Contracts.xsd"),
        ("http://tempuri.org/", "tempuri.org.xsd"),
    ]
    driver = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{(x / f).as_uri()}"/>' for ns, f in imports
    )
    return etree.XMLSchema(
        etree.fromstring(f'<xs:schema xmlns:xs="{XS}" targetNamespace="urn:t">{driver}</xs:schema>')
    )


@pytest.fixture(scope="module")
def published() -> etree._ElementTree:
    return etree.parse(str(REF / "wsdl" / "IntegrationService.wsdl"))


@pytest.fixture(scope="module")
def client() -> SevClient:
    return SevClient("http://127.0.0.1:9/csp/dirbus/bus.esb.IntegrationService.cls", "sys", "pw")


def body_element(envelope: etree._Element) -> etree._Element:
    (element,) = list(envelope.find(f"{{{SOAP_ENV}}}Body"))
    return etree.fromstring(etree.tostring(element, encoding="utf-8"))  # as it is on the wire


def published_fields(published: etree._ElementTree, type_name: str) -> list[str]:
    schema = published.find(f"{{{WSDL}}}types/{{{XS}}}schema")
    ctype = schema.find(f"{{{XS}}}complexType[@name='{type_name}']")
    return [e.get("name") for e in ctype.iterfind(f"{{{XS}}}sequence/{{{XS}}}element")]


@pytest.mark.parametrize("operation", sorted(REQUESTS))
def test_requests_follow_the_published_wsdl_and_data_contracts(contracts, published, client, operation):
    envelope = client._client.create_message(
        client._service, operation, identity=IDENTITY, **REQUESTS[operation]
    )
    element = body_element(envelope)
    assert contracts.validate(element), contracts.error_log.last_error
    assert etree.QName(element).localname == operation
    names = [etree.QName(c).localname for c in element]
    assert names == published_fields(published, operation)  # every parameter, in the service's order
    binding = published.find(f"{{{WSDL}}}binding/{{{WSDL}}}operation[@name='{operation}']")
    action = binding.find("{http://schemas.xmlsoap.org/wsdl/soap/}operation").get("soapAction")
    assert client._service._binding._operations[operation].soapaction == action


def test_the_contracts_reject_a_request_in_the_wrong_namespace(contracts):
    wrong = etree.fromstring(
        '<t:GetInputMessages xmlns:t="http://tempuri.org/"><t:identity><t:Password>p</t:Password>'
        "</t:identity></t:GetInputMessages>"
    )
    assert not contracts.validate(wrong)  # so the check above can fail


def test_the_count_parameter_is_spelled_with_a_cyrillic_es_on_the_wire(client):
    envelope = client._client.create_message(
        client._service, "GetInputMessages", identity=IDENTITY, **{COUNT: 3}
    )
    wire = etree.tostring(envelope, encoding="utf-8")
    assert "<ns0:\u0441ount>".encode() in wire and b"count" not in wire


class Capture(zeep.Plugin):
    def __init__(self) -> None:
        self.sent: list[etree._Element] = []
        self.received: list[etree._Element] = []

    def egress(self, envelope, http_headers, operation, binding_options):
        self.sent.append(body_element(envelope))
        return envelope, http_headers

    def ingress(self, envelope, http_headers, operation):
        self.received.append(body_element(envelope))
        return envelope, http_headers


def test_a_whole_exchange_validates_against_the_data_contracts(contracts, tmp_path):
    with HubServer(tmp_path / "hub", max_part_size=4096) as server:
        a, b = SevClient(server.url, "a", "pa"), SevClient(server.url, "b", "pb")
        capture = Capture()
        for c in (a, b):
            c._client.plugins.append(capture)
        b.list_incoming()
        raw = os.urandom(10_000)
        sent = a.send(raw, MessageInfo("m-1", "04056612", "37472062", to_sys_id="b"))
        (offered,) = b.list_incoming()
        b.end_processing(b.download(offered.message_id))
        with pytest.raises(SevSessionError):
            b.session_info(sent.session_id)  # an error answer, too
    operations = {etree.QName(e).localname for e in capture.received}
    assert operations == {f"{op}Response" for op in REQUESTS}  # every operation was exercised
    for element in capture.sent + capture.received:
        assert contracts.validate(element), (etree.QName(element).localname, contracts.error_log.last_error)
