"""What travels between the client and the hub is what the service's published interface describes.

The client builds its envelopes itself (gateway.soap.sev_wire); they are compared byte for byte with
what zeep, an independent SOAP implementation, makes of `schemas/sev-integration.wsdl`.

Two references from ../shared/sev-reference:
- wsdl/IntegrationService.wsdl (the service's WSDL, which zeep cannot load): operation names,
  parameter names and their order, SOAPActions;
- xsd/tempuri.org.xsd + Cover.Contracts.xsd (the service's data contracts): namespaces and types.
  Every request the client sends and every answer the hub gives is validated against them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import zeep
from lxml import etree

from gateway.soap import sev_wire
from gateway.soap.sev_client import COUNT, MessageInfo, SevClient, SevSessionError
from gateway.soap.sev_dialect import SEV2, WCF
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
def zeep_client() -> tuple[zeep.Client, object]:
    client = zeep.Client(str(WCF.wsdl))
    return client, client.create_service("{http://tempuri.org/}IntegrationServiceSoap", "http://127.0.0.1:9/")


def as_fields(value):
    """zeep's keyword values as sev_wire's (field, value) pairs, in the given order."""
    if isinstance(value, dict):
        return [(k, as_fields(v)) for k, v in value.items()]
    return value


def lean(operation: str, **params) -> bytes:
    return sev_wire.request(operation, as_fields({"identity": IDENTITY, **params}), WCF)


def body_element(envelope: etree._Element) -> etree._Element:
    (element,) = list(envelope.find(f"{{{SOAP_ENV}}}Body"))
    return etree.fromstring(etree.tostring(element, encoding="utf-8"))  # as it is on the wire


def published_fields(published: etree._ElementTree, type_name: str) -> list[str]:
    schema = published.find(f"{{{WSDL}}}types/{{{XS}}}schema")
    ctype = schema.find(f"{{{XS}}}complexType[@name='{type_name}']")
    return [e.get("name") for e in ctype.iterfind(f"{{{XS}}}sequence/{{{XS}}}element")]


@pytest.mark.parametrize("operation", sorted(REQUESTS))
def test_requests_follow_the_published_wsdl_and_data_contracts(contracts, published, operation):
    element = body_element(etree.fromstring(lean(operation, **REQUESTS[operation])))
    assert contracts.validate(element), contracts.error_log.last_error
    assert etree.QName(element).localname == operation
    names = [etree.QName(c).localname for c in element]
    assert names == published_fields(published, operation)  # every parameter, in the service's order
    binding = published.find(f"{{{WSDL}}}binding/{{{WSDL}}}operation[@name='{operation}']")
    action = binding.find("{http://schemas.xmlsoap.org/wsdl/soap/}operation").get("soapAction")
    assert WCF.soap_action(operation) == f'"{action}"'


def test_the_contracts_reject_a_request_in_the_wrong_namespace(contracts):
    wrong = etree.fromstring(
        '<t:GetInputMessages xmlns:t="http://tempuri.org/"><t:identity><t:Password>p</t:Password>'
        "</t:identity></t:GetInputMessages>"
    )
    assert not contracts.validate(wrong)  # so the check above can fail


ODD_INFO = {
    **MESSAGE_INFO,
    "CreationDate": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=-2, minutes=-30))),
    "FromSysId": None,  # absent values are left out
    "MessageId": "лист <&> 'x'",
    "ToSysId": None,
}
WIRE_CASES = [
    *((op, params) for op, params in REQUESTS.items()),
    ("OpenUploadingSession", {"messageInfo": ODD_INFO, "hash": "AB", "signature": b""}),
    (
        "OpenUploadingSession",
        {"messageInfo": {**MESSAGE_INFO, "CreationDate": datetime(2026, 5, 1)}, "hash": "A"},
    ),
    ("UploadMessageChunk", {"sessionId": 2**40, "messageChunk": os.urandom(3000)}),
    ("EndProcessingDownloadedMessage", {"sessionInfo": {**SESSION, "Error": None, "MaxPartSize": None}}),
]


@pytest.mark.parametrize(("operation", "params"), WIRE_CASES)
def test_the_client_sends_exactly_the_bytes_zeep_would(zeep_client, operation, params):
    client, service = zeep_client
    envelope = client.create_message(
        service, operation, identity={"Password": "p<&>w", "SystemId": "s"}, **params
    )
    theirs = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")  # zeep's etree_to_string
    mine = sev_wire.request(
        operation, as_fields({"identity": {"Password": "p<&>w", "SystemId": "s"}, **params}), WCF
    )
    assert mine == theirs
    assert etree.tostring(etree.fromstring(mine), method="c14n") == etree.tostring(envelope, method="c14n")


def test_the_count_parameter_is_spelled_with_a_cyrillic_es_on_the_wire():
    wire = lean("GetInputMessages", **{COUNT: 3})
    assert "<ns0:\u0441ount>".encode() in wire and b"count" not in wire


class Capture:
    """Every request body the clients sent and every answer they got, as on the wire."""

    def __init__(self) -> None:
        self.sent: list[etree._Element] = []
        self.received: list[etree._Element] = []
        self.actions: list[tuple[str, str]] = []

    def __call__(self, operation, headers, body, status, answer) -> None:
        self.sent.append(body_element(etree.fromstring(body)))
        self.received.append(body_element(etree.fromstring(answer)))
        self.actions.append((operation, headers["SOAPAction"]))


def test_a_whole_exchange_validates_against_the_data_contracts(contracts, tmp_path):
    with HubServer(tmp_path / "hub", open_registration=True, max_part_size=4096, dialect=WCF) as server:
        a, b = SevClient(server.url, "a", "pa", dialect=WCF), SevClient(server.url, "b", "pb", dialect=WCF)
        capture = Capture()
        for c in (a, b):
            c.observers.append(capture)
        b.list_incoming()
        raw = os.urandom(10_000)
        sent = a.send(raw, MessageInfo("m-1", "04056612", "37472062", to_sys_id="b"))
        (offered,) = b.list_incoming()
        b.end_processing(b.download(offered.message_id))
        with pytest.raises(SevSessionError):
            b.session_info(sent.session_id)  # an error answer, too
    assert all(
        action == f'"http://tempuri.org/ICoverIntegrationService/{op}"' for op, action in capture.actions
    )
    operations = {etree.QName(e).localname for e in capture.received}
    assert operations == {f"{op}Response" for op in REQUESTS}  # every operation was exercised
    for element in capture.sent + capture.received:
        assert contracts.validate(element), (etree.QName(element).localname, contracts.error_log.last_error)


# ---------------------------------------------------------------------------- the sev2 dialect


@pytest.fixture(scope="module")
def published_sev2(published) -> etree.XMLSchema:
    """The published WSDL's own types, as the SEV 2.0 hub's clients read them: in its s0 namespace
    (http://tempuri.org), children unqualified. Requests and answers in sev2 must validate."""
    schema = published.find(f"{{{WSDL}}}types/{{{XS}}}schema")
    schema = etree.fromstring(etree.tostring(schema))
    schema.set("targetNamespace", "http://tempuri.org")
    schema.set("elementFormDefault", "unqualified")
    return etree.XMLSchema(schema)


@pytest.fixture(scope="module")
def zeep_sev2() -> tuple[zeep.Client, object]:
    client = zeep.Client(str(SEV2.wsdl))
    return client, client.create_service("{http://tempuri.org}IntegrationServiceSoap", "http://127.0.0.1:9/")


@pytest.mark.parametrize(("operation", "params"), WIRE_CASES)
def test_sev2_requests_are_what_zeep_makes_of_the_sev2_wsdl(zeep_sev2, published_sev2, operation, params):
    client, service = zeep_sev2
    envelope = client.create_message(
        service, operation, identity={"Password": "p<&>w", "SystemId": "s"}, **params
    )
    mine = etree.fromstring(
        sev_wire.request(
            operation, as_fields({"identity": {"Password": "p<&>w", "SystemId": "s"}, **params}), SEV2
        )
    )
    assert etree.QName(body_element(mine)).namespace == "http://tempuri.org"
    assert all(etree.QName(e).namespace is None for e in body_element(mine).iterdescendants())
    assert etree.tostring(body_element(mine), method="c14n") == etree.tostring(
        body_element(envelope), method="c14n"
    )
    header = mine.find(f"{{{SOAP_ENV}}}Header")
    assert header is not None and len(header) == 0  # an empty SOAP Header, as the SEV 2.0 clients send
    assert published_sev2.validate(body_element(mine)), published_sev2.error_log.last_error


def test_a_whole_sev2_exchange_follows_the_published_types(published_sev2, tmp_path):
    with HubServer(tmp_path / "hub", open_registration=True, max_part_size=4096, dialect=SEV2) as server:
        a, b = SevClient(server.url, "a", "pa"), SevClient(server.url, "b", "pb")
        capture = Capture()
        for c in (a, b):
            c.observers.append(capture)
        b.list_incoming()
        sent = a.send(os.urandom(10_000), MessageInfo("m-1", "04056612", "37472062", to_sys_id="b"))
        (offered,) = b.list_incoming()
        b.end_processing(b.download(offered.message_id))
        with pytest.raises(SevSessionError):
            b.session_info(sent.session_id)
    # the SOAPAction unquoted, as the SEV 2.0 clients send it
    prefix = "http://tempuri.org/ICoverIntegrationService/"
    assert all(action == prefix + op for op, action in capture.actions)
    for element in capture.sent + capture.received:
        assert published_sev2.validate(element), (
            etree.QName(element).localname,
            published_sev2.error_log.last_error,
        )
