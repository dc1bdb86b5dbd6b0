"""The SEV hub stand-in over real HTTP: chunked transfer, routing, re-offering, persistence, errors."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx
import pytest
import zeep
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.soap import sev_wire
from gateway.soap.sev_client import (
    MessageInfo,
    RetryPolicy,
    SevClient,
    SevError,
    SevHashMismatch,
    SevSessionError,
)
from gateway.soap.sev_dialect import DIALECTS, Dialect
from gateway.soap.sev_hub import Faults, HubServer
from gateway.soap.soapxml import SoapRequestError, parse_request

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, budget_seconds=10)


@pytest.fixture(params=sorted(DIALECTS))
def hub(tmp_path, request):
    """The strict stand-in in each dialect (the clients below speak the hub's)."""
    with HubServer(
        tmp_path / "hub", open_registration=True, max_part_size=1_000_000, dialect=DIALECTS[request.param]
    ) as server:
        yield server


@pytest.fixture
def wcf_hub(tmp_path):
    with HubServer(tmp_path / "hub", open_registration=True, dialect=DIALECTS["wcf"]) as server:
        yield server


def client(server: HubServer, name: str, **kw) -> SevClient:
    return SevClient(
        server.url, name, f"secret-{name}", retry=kw.pop("retry", FAST), dialect=server.hub.dialect, **kw
    )


class DialectPlugin(zeep.Plugin):
    """zeep quotes every SOAPAction; the sev2 form carries it unquoted (and an empty Header)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def egress(self, envelope, http_headers, operation, binding_options):
        if not self.dialect.quoted_action:
            http_headers["SOAPAction"] = http_headers["SOAPAction"].strip('"')
        return envelope, http_headers


def zeep_client(dialect: Dialect) -> zeep.Client:
    return zeep.Client(str(dialect.wsdl), plugins=[DialectPlugin(dialect)])


def raw_service(server: HubServer, name: str) -> tuple[Any, dict[str, str]]:
    """zeep (an independent SOAP implementation) bound to the hub, in its dialect, and `name`'s
    identity: for requests the gateway's client would never send."""
    dialect = server.hub.dialect
    service = zeep_client(dialect).create_service(
        f"{{{dialect.operation_ns}}}IntegrationServiceSoap", server.url
    )
    return service, {"Password": f"secret-{name}", "SystemId": name}


def info(message_id: str, to_sys: str | None = "sys-b", to_org: str = "37472062") -> MessageInfo:
    return MessageInfo(message_id, from_org_id="04056612", to_org_id=to_org, to_sys_id=to_sys)


def test_three_megabytes_travel_in_chunks_and_are_offered_until_end_processing(hub):
    a, b = client(hub, "sys-a"), client(hub, "sys-b")
    assert b.list_incoming() == []  # registers sys-b (first use)
    raw = os.urandom(3 * 1024 * 1024)
    sent = a.send(raw, info("msg-3mb"))
    assert sent.chunks == 4 and sent.status == "Processed"
    assert sent.hash == hashlib.sha256(raw).hexdigest().upper()

    (offered,) = b.list_incoming()
    assert (offered.message_id, offered.size, offered.from_sys_id) == ("msg-3mb", len(raw), "sys-a")
    got = b.download("msg-3mb")
    assert got.data == raw and got.hash == sent.hash
    # downloaded but not end-processed (e.g. the gateway crashed before storing it): offered again
    assert [m.message_id for m in b.list_incoming()] == ["msg-3mb"]
    again = b.download("msg-3mb")
    assert again.data == raw
    assert a.session_info(sent.session_id).status == "Processed"
    ended = b.end_processing(again)
    assert ended.status == "Delivered"
    assert a.session_info(sent.session_id).status == "Delivered"  # the sender can see it arrived
    assert b.list_incoming() == []
    assert a.list_incoming() == []  # the sender never sees it


def test_a_restarted_hub_loses_nothing(tmp_path):
    raw = os.urandom(1500)
    with HubServer(tmp_path / "hub", open_registration=True, max_part_size=1000) as first:
        client(first, "sys-b").list_incoming()
        client(first, "sys-a").send(raw, info("persisted"))
    with HubServer(tmp_path / "hub", open_registration=True, max_part_size=1000) as second:
        b = client(second, "sys-b")
        (offered,) = b.list_incoming()
        got = b.download(offered.message_id)
        assert got.data == raw
        b.end_processing(got)
        # and the systems' passwords were kept too
        with pytest.raises(SevError, match="refused"):
            SevClient(second.url, "sys-b", "another-password", retry=FAST).list_incoming()


def test_wrong_hash_fails_the_session_cleanly(hub):
    a, b = client(hub, "sys-a"), client(hub, "sys-b")
    b.list_incoming()
    raw = b"<Header/>" * 100
    lowercase = hashlib.sha256(raw).hexdigest()  # the hub expects UPPERCASE hex
    service, ident = raw_service(hub, "sys-a")
    opened = service.OpenUploadingSession(
        identity=ident,
        hash=lowercase,
        signature=b"",
        messageInfo={
            "MessageId": "bad-hash",
            "Size": len(raw),
            "FromOrgId": "04056612",
            "ToOrgId": "37472062",
            "ToSysId": "sys-b",
            "Type": "Document",
            "Creator": "Sed",
            "Format": "Plain",
        },
    )
    done = service.UploadMessageChunk(identity=ident, sessionId=opened.SessionId, messageChunk=raw)
    assert done.Status == "Failed"
    assert done.Error.Code == 14 and "hash mismatch" in done.Error.Text
    assert b.list_incoming() == []  # nothing is delivered
    # the same message may be sent again after a failed upload, and then it travels
    assert a.send(raw, info("bad-hash")).status == "Processed"
    with pytest.raises(SevSessionError) as err:
        a.send(raw, info("bad-hash"))  # once queued, its id is taken
    assert err.value.code == 15
    assert [m.message_id for m in b.list_incoming()] == ["bad-hash"]


def test_data_damaged_on_the_way_up_fails_the_send(tmp_path):
    with HubServer(tmp_path / "hub", open_registration=True, faults=Faults(corrupt_uploads=True)) as server:
        a, b = client(server, "sys-a"), client(server, "sys-b")
        b.list_incoming()
        with pytest.raises(SevSessionError) as err:
            a.send(b"<Header>damaged</Header>", info("damaged"))
        assert err.value.code == 14 and "hash mismatch" in err.value.text
        assert b.list_incoming() == []


def test_routing_by_organization_when_the_system_is_not_named(tmp_path):
    systems = tmp_path / "systems.toml"
    systems.write_text(
        '[[system]]\nid = "council"\npassword = "p1"\norg_id = "04056612"\n'
        '[[system]]\nid = "ministry"\npassword_env = "TEST_MINISTRY_PW"\norg_id = "37472062"\n'
        '[[system]]\nid = "other"\npassword = "p3"\norg_id = "21560045"\n',
        encoding="utf-8",
    )
    os.environ["TEST_MINISTRY_PW"] = "p2"
    with HubServer(tmp_path / "hub", open_registration=False) as server:
        assert server.hub.load_systems(systems) == 3
        council = SevClient(server.url, "council", "p1", retry=FAST)
        ministry = SevClient(server.url, "ministry", "p2", retry=FAST)
        other = SevClient(server.url, "other", "p3", retry=FAST)
        council.send(b"<Header>letter</Header>", info("to-org", to_sys="99999999"))
        assert [m.message_id for m in ministry.list_incoming()] == ["to-org"]
        assert other.list_incoming() == []
        with pytest.raises(SevSessionError) as err:
            other.download("to-org")
        assert err.value.code == 16
        with pytest.raises(SevSessionError, match="FromOrgId"):
            other.send(b"x", info("spoofed"))  # claims the council's EDRPOU
        stranger = SevClient(server.url, "stranger", "pw", retry=FAST)
        with pytest.raises(SevError, match="identity"):
            stranger.list_incoming()
        assert stranger.retries == 0  # a Client fault is not retried


def test_corrupted_download_is_detected_and_the_message_stays_offered(tmp_path):
    faults = Faults(corrupt_downloads=True)
    with HubServer(tmp_path / "hub", open_registration=True, faults=faults) as server:
        a, b = client(server, "sys-a"), client(server, "sys-b")
        b.list_incoming()
        a.send(b"<Header>payload</Header>", info("corrupt"))
        with pytest.raises(SevHashMismatch, match="hashes to"):
            b.download("corrupt")
        faults.corrupt_downloads = False
        assert [m.message_id for m in b.list_incoming()] == ["corrupt"]
        b.end_processing(b.download("corrupt"))
        assert b.list_incoming() == []


def test_wsdl_is_served_and_loads_in_zeep(hub):
    response = httpx.get(hub.url + "?wsdl")
    assert response.status_code == 200
    assert f'location="{hub.url}"' in response.text
    remote = zeep.Client(hub.url + "?wsdl", plugins=[DialectPlugin(hub.hub.dialect)])
    service = remote.bind("IntegrationService", "IntegrationServiceSoap")
    assert service.GetInputMessages(identity={"SystemId": "z", "Password": "z"}, **{"\u0441ount": 1}) in (
        None,
        [],
    )


def test_wsdl_location_never_comes_from_the_host_header(hub):
    response = httpx.get(hub.url + "?wsdl", headers={"Host": "evil.example"})
    assert response.status_code == 200
    assert "evil.example" not in response.text
    assert f'location="{hub.url}"' in response.text


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"not xml", "not well-formed"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "DOCTYPE"),
        (b"<Envelope/>", "not a SOAP 1.1 envelope"),
        (
            b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
            b'<Evil xmlns="http://tempuri.org/"/></e:Body></e:Envelope>',
            "unknown operation",
        ),
    ],
)
def test_malformed_requests_get_a_client_fault(wcf_hub, body, needle):
    headers = {"Content-Type": "text/xml", "SOAPAction": '"http://tempuri.org/ICoverIntegrationService/Evil"'}
    response = httpx.post(wcf_hub.url, content=body, headers=headers)
    assert response.status_code == 500
    assert "Client" in response.text and needle in response.text


def test_sessions_belong_to_their_system(hub):
    a, b = client(hub, "sys-a"), client(hub, "sys-b")
    b.list_incoming()
    sent = a.send(b"<Header/>", info("mine"))
    with pytest.raises(SevSessionError) as err:
        b.session_info(sent.session_id)
    assert err.value.code == 11


def test_hub_limits_and_a_non_delivered_end_keep_the_message(tmp_path):
    with HubServer(
        tmp_path / "hub", open_registration=True, max_part_size=1000, max_message_size=5000
    ) as server:
        a, b = client(server, "sys-a"), client(server, "sys-b")
        b.list_incoming()
        service, ident = raw_service(server, "sys-a")
        meta = {"MessageId": "big", "FromOrgId": "04056612", "ToOrgId": "37472062", "ToSysId": "sys-b"}
        too_big = service.OpenUploadingSession(identity=ident, hash="AA", messageInfo={**meta, "Size": 5001})
        assert too_big.Error.Code == 17 and too_big.SessionId is None
        raw = b"x" * 1500
        digest = hashlib.sha256(raw).hexdigest().upper()
        opened = service.OpenUploadingSession(identity=ident, hash=digest, messageInfo={**meta, "Size": 1500})
        assert opened.MaxPartSize == 1000
        over = service.UploadMessageChunk(identity=ident, sessionId=opened.SessionId, messageChunk=raw)
        assert over.Error.Code == 13 and over.TransferredBytesCount == 0
        assert a.send(raw, info("big")).chunks == 2  # the same upload, resumed with the right chunk size
        got = b.download("big")
        b_service, b_ident = raw_service(server, "sys-b")
        state = b_service.EndProcessingDownloadedMessage(
            identity=b_ident, sessionInfo={"SessionId": got.session_id, "Status": "Failed"}
        )
        assert state.Status == "InProgress"
        assert [m.message_id for m in b.list_incoming()] == ["big"]  # not delivered: offered again


def test_a_recipient_that_registers_after_the_upload_still_gets_its_message(hub):
    client(hub, "sys-a").send(b"<Header>early</Header>", info("early", to_sys="sys-late"))
    late = client(hub, "sys-late")  # first contact with the hub only now
    assert [m.message_id for m in late.list_incoming()] == ["early"]
    assert late.download("early").data == b"<Header>early</Header>"
    assert client(hub, "sys-b").list_incoming() == []  # same organization, but not the named system


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_any_request_body_is_a_soap_request_or_a_clear_refusal(body):
    try:
        parse_request(body)
    except SoapRequestError as exc:
        assert str(exc)


def test_a_non_numeric_session_id_is_a_client_fault(wcf_hub):
    envelope = (
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
        b'<t:GetSessionInfo xmlns:t="http://tempuri.org/"><t:identity>'
        b'<c:Password xmlns:c="http://schemas.datacontract.org/2004/07/Cover.Contracts">p</c:Password>'
        b'<c:SystemId xmlns:c="http://schemas.datacontract.org/2004/07/Cover.Contracts">s</c:SystemId>'
        b"</t:identity><t:sessionId>x1</t:sessionId></t:GetSessionInfo></e:Body></e:Envelope>"
    )
    action = '"http://tempuri.org/ICoverIntegrationService/GetSessionInfo"'
    response = httpx.post(
        wcf_hub.url, content=envelope, headers={"Content-Type": "text/xml", "SOAPAction": action}
    )
    assert response.status_code == 500
    assert "Client" in response.text and "not an integer" in response.text


@pytest.mark.parametrize(("hub_dialect", "client_dialect"), [("sev2", "wcf"), ("wcf", "sev2")])
def test_the_stand_in_answers_only_its_own_dialect(tmp_path, hub_dialect, client_dialect):
    with HubServer(tmp_path / "hub", open_registration=True, dialect=DIALECTS[hub_dialect]) as server:
        wrong = SevClient(server.url, "a", "pw", retry=FAST, dialect=DIALECTS[client_dialect])
        with pytest.raises(SevError, match=f"speaks the {hub_dialect} dialect"):
            wrong.list_incoming()
        assert wrong.retries == 0  # a Client fault: not retried
        # the right namespaces but the other SOAPAction quoting is caught too
        identity = [("identity", [("Password", "pw"), ("SystemId", "a")])]
        body = sev_wire.request("GetInputMessages", identity, DIALECTS[hub_dialect])
        other = DIALECTS[client_dialect].soap_action("GetInputMessages")
        headers = {"Content-Type": "text/xml", "SOAPAction": other}
        response = httpx.post(server.url, content=body, headers=headers)
        assert response.status_code == 500 and "SOAPAction" in response.text
        right = SevClient(server.url, "a", "pw", retry=FAST, dialect=DIALECTS[hub_dialect])
        assert right.list_incoming() == []
