"""The Трембіта service over real HTTP with hand-written SOAP requests: answers with the X-Road
headers echoed, duplicates (by X-Road id and by msg_id in any case), getDeliveryStatus, the WSDL;
and each refused request (missing headers, protocolVersion, unknown client or service, XXE,
signature wrapping, duplicated ids, a sender that is not the caller) gets a SOAP fault with HTTP
500 and leaves nothing stored."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import httpx
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree
from npm_oracle import npm_oracle
from sqlalchemy import func, select
from test_store_support import BACKENDS, database_url, serve_app
from test_trembita_support import client_path, service_path

from gateway.config import load_config
from gateway.exchange.message import (
    DocTransfer,
    Document,
    Header,
    MsgType,
    Organization,
    SignInfo,
    acknowledge,
    build_document,
    parse_message,
)
from gateway.signing.cades import CadesOptions, sign_cades_bytes
from gateway.signing.keys import LoadedKeySigner, SigningKey
from gateway.store.db import open_database
from gateway.store.models import Incoming, TrembitaRequest
from gateway.store.partners import upsert_partner

US = "04056612"
PARTNER = "37472062"
STRANGER = "22883141"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XRD = "http://x-road.eu/xsd/xroad.xsd"
TNS = "http://mykolaiv.gov.ua/gateway/trembita/1207"


@pytest.fixture(scope="module", params=BACKENDS)
def service(request, tmp_path_factory):
    """A gateway (no workers, SQLite or PostgreSQL) whose directory knows PARTNER and STRANGER."""
    from gateway.api.app import create_app

    d = tmp_path_factory.mktemp("trembita-service")
    with database_url(request.param, d) as url:
        yield from _service(d, url, create_app)


def _service(d, url, create_app):
    (d / "gateway.toml").write_text(
        f"""
[organization]
edrpou = "{US}"
system_id = "sys-us"
[server]
public_url = "https://gateway.example.gov.ua:8443/"
[database]
url = "{url}"
[trust]
revocation = "offline"
[trembita]
enabled = true
member_code = "{US}"
subsystem = "SEV1207"
security_server_url = "http://127.0.0.1:9/"
max_request_bytes = 200000
""",
        encoding="utf-8",
    )
    cfg = load_config(d / "gateway.toml")
    db = open_database(cfg)
    with db.session() as s:
        upsert_partner(
            s, edrpou=PARTNER, name="Partner", channel="trembita", xroad_client=client_path(PARTNER),
            xroad_service=service_path(PARTNER),
        )
        upsert_partner(
            s, edrpou=STRANGER, name="Stranger", channel="trembita", xroad_client=client_path(STRANGER),
            xroad_service=service_path(STRANGER),
        )
    with serve_app(create_app(cfg, workers=False)) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, db, d
    db.dispose()


@cache
def partner_seal() -> SigningKey:
    """The partner's seal: a real key under a self-signed certificate the gateway does not trust, so
    its signatures check out but stay INDETERMINATE (the document is kept `received`, not refused)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Partner seal (test)")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    certificate = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    signer = LoadedKeySigner(key, certificate, [])
    return SigningKey(
        certificate=certificate, chain=[], signer=signer, raw_signer=signer.sign_raw, source="test"
    )


def message(msg_id: str | None = None, *, sender: str = PARTNER, files: int = 1) -> bytes:
    header = Header(
        msg_type=MsgType.DOCUMENT,
        msg_id=msg_id or str(uuid.uuid4()),
        from_org_id=sender,
        from_organization="Partner",
        from_sys_id="sys-p",
        from_system="edms",
        to_org_id=US,
        to_organization="Council",
        to_sys_id="",
        to_system="",
        msg_acknow=2,
    )
    transfers = [DocTransfer(str(n), f"f{n}.txt", "txt", f"file {n}".encode()) for n in range(1, files + 1)]
    doc = Document(
        idnumber="d1",
        reg_number="01/1",
        reg_date=date(2026, 11, 25),
        files=transfers,
        author=Organization(edrpou=sender, fullname="Partner"),
    )
    seal, b_b = partner_seal(), CadesOptions(level="B-B")
    sigs = [SignInfo(f.idnumber, sign_cades_bytes(seal, f.data, b_b)) for f in transfers]
    return build_document(header, doc, sigs)


def xroad_headers(
    *,
    client: str = client_path(PARTNER),
    service_code: str = "deliverMessage",
    xid: str | None = None,
    version: str = "4.0",
    skip: str = "",
    member: str = US,
    extra: str = "",
) -> str:
    inst, cls, code, sub = client.split("/")
    parts = {
        "client": f"""<xrd:client id:objectType="SUBSYSTEM"><id:xRoadInstance>{inst}</id:xRoadInstance>
<id:memberClass>{cls}</id:memberClass><id:memberCode>{code}</id:memberCode>
<id:subsystemCode>{sub}</id:subsystemCode></xrd:client>""",
        "service": f"""<xrd:service id:objectType="SERVICE"><id:xRoadInstance>SEVDEIR-TEST</id:xRoadInstance>
<id:memberClass>GOV</id:memberClass><id:memberCode>{member}</id:memberCode>
<id:subsystemCode>SEV1207</id:subsystemCode><id:serviceCode>{service_code}</id:serviceCode>
<id:serviceVersion>v1</id:serviceVersion></xrd:service>""",
        "id": f"<xrd:id>{xid or uuid.uuid4()}</xrd:id>",
        "userId": "<xrd:userId>UA1234567890</xrd:userId>",
        "issue": "<xrd:issue>ticket-7</xrd:issue>",
        "protocolVersion": f"<xrd:protocolVersion>{version}</xrd:protocolVersion>",
    }
    return "".join(v for k, v in parts.items() if k != skip) + extra


def envelope(body: str, headers: str | None = None, prolog: str = "") -> bytes:
    headers = xroad_headers() if headers is None else headers
    return (
        f"""{prolog}<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:xrd="{XRD}"
 xmlns:id="http://x-road.eu/xsd/identifiers" xmlns:t="{TNS}">
<soapenv:Header>{headers}</soapenv:Header><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"""
    ).encode()


def deliver_body(raw: bytes) -> str:
    return f"<t:deliverMessage><t:message>{base64.b64encode(raw).decode()}</t:message></t:deliverMessage>"


def post(client: httpx.Client, data: bytes) -> tuple[int, etree._Element]:
    resp = client.post("/soap/trembita", content=data, headers={"Content-Type": "text/xml; charset=utf-8"})
    return resp.status_code, etree.fromstring(resp.content)


def stored(db) -> tuple[int, int]:
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Incoming)),
            s.scalar(select(func.count()).select_from(TrembitaRequest)),
        )


def test_deliver_echoes_headers_acknowledges_and_answers_duplicates(service):
    client, db, _ = service
    before = stored(db)
    msg_id = str(uuid.uuid4())
    headers = xroad_headers(xid="call-1")
    status, root = post(client, envelope(deliver_body(message(msg_id)), headers))
    assert status == 200, etree.tostring(root)
    assert root.findtext(f".//{{{TNS}}}status") == "accepted"
    # every X-Road header echoed unchanged (same elements, same text, same order), issue included
    sent = etree.fromstring(envelope("", headers)).find(f"{{{ENV}}}Header")
    got = root.find(f"{{{ENV}}}Header")
    assert [etree.tostring(e, method="c14n", exclusive=True) for e in got] == [
        etree.tostring(e, method="c14n", exclusive=True) for e in sent
    ]
    ack = parse_message(base64.b64decode(root.findtext(f".//{{{TNS}}}acknowledgement")))
    assert ack.header.msg_type == MsgType.NOTIFICATION and ack.acknowledgement.ack_type == 1
    assert ack.acknowledgement.msg_id == msg_id and ack.header.from_org_id == US
    assert stored(db) == (before[0] + 1, before[1] + 1)

    # the same call again, and the same message in another call with its msg_id in upper case
    for again in (headers, xroad_headers(xid="call-2")):
        status, root = post(
            client, envelope(deliver_body(message(msg_id.upper() if again != headers else msg_id)), again)
        )
        assert status == 200 and root.findtext(f".//{{{TNS}}}status") == "duplicate"
        # the same acknowledgement as the first answer (the caller may have lost that one)
        assert parse_message(
            base64.b64decode(root.findtext(f".//{{{TNS}}}acknowledgement"))
        ).header.msg_id == (ack.header.msg_id)
    assert stored(db)[0] == before[0] + 1

    status_body = f"<t:getDeliveryStatus><t:msgId>{msg_id.upper()}</t:msgId></t:getDeliveryStatus>"
    status, root = post(client, envelope(status_body, xroad_headers(service_code="getDeliveryStatus")))
    assert status == 200 and root.findtext(f".//{{{TNS}}}status") == "received"
    unknown = "<t:getDeliveryStatus><t:msgId>nope</t:msgId></t:getDeliveryStatus>"
    status, root = post(client, envelope(unknown, xroad_headers(service_code="getDeliveryStatus")))
    assert root.findtext(f".//{{{TNS}}}status") == "unknown"


def test_braced_upper_case_msg_id_is_one_document(service):
    """Real bodies send GUIDs upper-case in braces: the answer names the id as sent, and the same
    document under the bare lower-case id is a duplicate with the same acknowledgement."""
    client, db, _ = service
    before = stored(db)
    guid = str(uuid.uuid4())
    braced = "{" + guid.upper() + "}"
    status, root = post(client, envelope(deliver_body(message(braced))))
    assert status == 200 and root.findtext(f".//{{{TNS}}}status") == "accepted", etree.tostring(root)
    ack = parse_message(base64.b64decode(root.findtext(f".//{{{TNS}}}acknowledgement")))
    assert ack.acknowledgement.msg_id == braced and ack.acknowledgement.ack_type == 1
    status, root = post(client, envelope(deliver_body(message(guid))))
    assert root.findtext(f".//{{{TNS}}}status") == "duplicate"
    again = parse_message(base64.b64decode(root.findtext(f".//{{{TNS}}}acknowledgement")))
    assert again.header.msg_id == ack.header.msg_id
    assert stored(db)[0] == before[0] + 1
    status_body = f"<t:getDeliveryStatus><t:msgId>{braced}</t:msgId></t:getDeliveryStatus>"
    _, root = post(client, envelope(status_body, xroad_headers(service_code="getDeliveryStatus")))
    assert root.findtext(f".//{{{TNS}}}status") == "received"


def test_different_document_under_a_taken_msg_id_is_kept_apart(service):
    """As over SEV (1207 rules): a different document under a msg_id already received never replaces
    the first, is kept apart as a conflict, and gets no acknowledgement that would confirm anything."""
    client, db, _ = service
    msg_id = str(uuid.uuid4())
    status, root = post(client, envelope(deliver_body(message(msg_id)), xroad_headers(xid="first")))
    assert root.findtext(f".//{{{TNS}}}status") == "accepted", etree.tostring(root)
    other = message(msg_id, files=2)  # same msg_id, other content
    status, root = post(client, envelope(deliver_body(other), xroad_headers(xid="second")))
    assert status == 200 and root.findtext(f".//{{{TNS}}}status") == "duplicate"
    assert root.find(f".//{{{TNS}}}acknowledgement") is None
    with db.session() as s:
        rows = s.scalars(select(Incoming).where(Incoming.msg_id.like(f"{msg_id}%"))).all()
        assert sorted(r.status for r in rows) == ["conflict", "received"]


@pytest.mark.parametrize(
    "signature", [None, b"\x30\x03\x02\x01\x01"], ids=["unsigned", "signature that is not one"]
)
def test_refused_document_is_answered_with_its_refusal(service, signature):
    """A document the 1207 rules refuse (a file without a valid signature) is taken and kept
    `rejected`; the caller's answer carries the refusal acknowledgement (ack_type 4, the reason)."""
    client, db, _ = service
    msg_id = str(uuid.uuid4())
    parsed = parse_message(message(msg_id))
    sigs = [] if signature is None else [SignInfo("1", signature)]
    assert parsed.document is not None
    raw = build_document(parsed.header, parsed.document, sigs)
    status, root = post(client, envelope(deliver_body(raw)))
    assert status == 200 and root.findtext(f".//{{{TNS}}}status") == "accepted", etree.tostring(root)
    ack = parse_message(base64.b64decode(root.findtext(f".//{{{TNS}}}acknowledgement")))
    assert ack.acknowledgement.msg_id == msg_id and ack.acknowledgement.ack_type == 4
    assert "f1.txt" in ack.acknowledgement.errortext and ack.header.from_org_id == US
    status_body = f"<t:getDeliveryStatus><t:msgId>{msg_id}</t:msgId></t:getDeliveryStatus>"
    _, root = post(client, envelope(status_body, xroad_headers(service_code="getDeliveryStatus")))
    assert root.findtext(f".//{{{TNS}}}status") == "rejected"


def test_wsdl_names_the_public_address(service):
    client, _, _ = service
    resp = client.get("/soap/trembita?wsdl")
    assert resp.status_code == 200
    root = etree.fromstring(resp.content)
    [address] = root.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == "https://gateway.example.gov.ua:8443/soap/trembita"
    assert client.get("/soap/trembita").status_code == 404


def _forged_in_front() -> bytes:
    """A signed DocTransfer with a forged copy (same idnumber) placed in front of it."""
    raw = message().decode()
    data = base64.b64encode(b"forged").decode()
    forged = f'<DocTransfer type="txt" description="f1.txt" idnumber="1">{data}</DocTransfer>'
    return raw.replace("<DocTransfer ", forged + "<DocTransfer ", 1).encode()


XXE = """<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>"""
REFUSED = {
    "missing client": (
        lambda: envelope(deliver_body(message()), xroad_headers(skip="client")),
        "Client.MissingHeader",
    ),
    "missing id": (
        lambda: envelope(deliver_body(message()), xroad_headers(skip="id")),
        "Client.MissingHeader",
    ),
    "missing userId": (
        lambda: envelope(deliver_body(message()), xroad_headers(skip="userId")),
        "Client.MissingHeader",
    ),
    "missing protocolVersion": (
        lambda: envelope(deliver_body(message()), xroad_headers(skip="protocolVersion")),
        "Client.MissingHeader",
    ),
    "no header at all": (lambda: envelope(deliver_body(message()), ""), "Client.MissingHeader"),
    "protocolVersion 3.1": (
        lambda: envelope(deliver_body(message()), xroad_headers(version="3.1")),
        "Client.InvalidProtocolVersion",
    ),
    "unknown client": (
        lambda: envelope(deliver_body(message()), xroad_headers(client=client_path("11111111"))),
        "Client.UnknownClient",
    ),
    "not our service": (
        lambda: envelope(deliver_body(message()), xroad_headers(member="12345678")),
        "Client.UnknownService",
    ),
    "service code of another operation": (
        lambda: envelope(deliver_body(message()), xroad_headers(service_code="getDeliveryStatus")),
        "Client.UnknownService",
    ),
    "XXE": (lambda: envelope(deliver_body(message()), prolog=XXE), "Client.InvalidRequest"),
    "XXE inside the 1207 message": (
        lambda: envelope(deliver_body(XXE.encode() + message().split(b"?>", 1)[1])),
        "Client.InvalidMessage",
    ),
    "forged DocTransfer in front of the signed one": (
        lambda: envelope(deliver_body(_forged_in_front())),
        "Client.InvalidMessage",
    ),
    "two X-Road ids": (
        lambda: envelope(deliver_body(message()), xroad_headers(extra="<xrd:id>second</xrd:id>")),
        "Client.InvalidHeader",
    ),
    "two messages in one call": (
        lambda: envelope(
            deliver_body(message()).replace(
                "</t:deliverMessage>",
                f"<t:message>{base64.b64encode(message()).decode()}</t:message></t:deliverMessage>",
            )
        ),
        "Client.InvalidRequest",
    ),
    "two operations in the Body": (
        lambda: envelope(deliver_body(message()) + deliver_body(message())),
        "Client.InvalidRequest",
    ),
    "a sender that is not the caller": (
        lambda: envelope(deliver_body(message(sender=STRANGER))),
        "Client.SenderMismatch",
    ),
    "elements inside the message parameter": (
        lambda: envelope(
            "<t:deliverMessage><t:message>QUJD<t:message>QUJD</t:message></t:message></t:deliverMessage>"
        ),
        "Client.InvalidRequest",
    ),
    "not base64": (
        lambda: envelope("<t:deliverMessage><t:message>%%%</t:message></t:deliverMessage>"),
        "Client.InvalidRequest",
    ),
    "not a 1207 message": (lambda: envelope(deliver_body(b"<a/>")), "Client.InvalidMessage"),
    "too large": (lambda: envelope(deliver_body(b"x" * 200_000)), "Client.RequestTooLarge"),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_refused_requests_get_a_fault_and_store_nothing(service, case):
    client, db, d = service
    build, code = REFUSED[case]
    before = stored(db)
    blobs = (
        sorted(p.name for p in (d / "storage").rglob("*") if p.is_file()) if (d / "storage").exists() else []
    )
    status, root = post(client, build())
    assert status == 500
    fault = root.find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    assert fault is not None and fault.findtext("faultcode") == code, etree.tostring(root)
    assert fault.findtext("faultstring") and "Traceback" not in fault.findtext("faultstring")
    assert stored(db) == before
    after = (
        sorted(p.name for p in (d / "storage").rglob("*") if p.is_file()) if (d / "storage").exists() else []
    )
    assert after == blobs


@pytest.fixture(scope="module")
def node_soap() -> Path:
    """node-soap (npm `soap`), installed on demand into tests/oracles/trembita."""
    return npm_oracle("trembita", "soap") / "client.js"


def _node_call(script: Path, wsdl_url: str, raw: bytes, headers: str, tmp_path: Path) -> dict:
    (tmp_path / "message.xml").write_bytes(raw)
    # node-soap takes the header elements as XML text, each with its namespace declarations
    wrapper = etree.fromstring(
        f'<w xmlns:xrd="{XRD}" xmlns:id="http://x-road.eu/xsd/identifiers">{headers}</w>'
    )
    (tmp_path / "headers.xml").write_bytes(b"".join(etree.tostring(el) for el in wrapper))
    files = [str(tmp_path / "message.xml"), str(tmp_path / "headers.xml")]
    endpoint = wsdl_url.removesuffix("?wsdl")
    out = subprocess.run(
        ["node", str(script), wsdl_url, *files, endpoint], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_node_soap_loads_the_wsdl_and_delivers(service, node_soap, tmp_path):
    """A SOAP implementation that is neither ours nor zeep: the WSDL from the URL, deliverMessage,
    the answer and the echoed X-Road headers read back; then a refused call read as a fault."""
    client, db, _ = service
    before = stored(db)
    msg_id = str(uuid.uuid4())
    wsdl_url = f"{str(client.base_url).rstrip('/')}/soap/trembita?wsdl"
    # the WSDL names the public address; the call goes to this server (as to a security server)
    got = _node_call(node_soap, wsdl_url, message(msg_id), xroad_headers(xid="node-1"), tmp_path)
    assert got["result"]["status"] == "accepted", got
    ack = parse_message(base64.b64decode(got["result"]["acknowledgement"]))
    assert ack.acknowledgement.msg_id == msg_id and ack.acknowledgement.ack_type == 1
    echoed = got["soapHeader"]
    assert (
        echoed["id"] == "node-1" and echoed["protocolVersion"] == "4.0" and echoed["userId"] == "UA1234567890"
    )
    assert echoed["client"]["memberCode"] == PARTNER and echoed["service"]["serviceCode"] == "deliverMessage"
    assert stored(db)[0] == before[0] + 1

    refused = _node_call(node_soap, wsdl_url, message(), xroad_headers(version="3.1"), tmp_path)
    assert refused["fault"]["faultcode"] == "Client.InvalidProtocolVersion"
    assert stored(db)[0] == before[0] + 1


def test_zeep_client_from_the_served_wsdl(service, tmp_path):
    """The gateway's own client (zeep, WSDL loaded from the URL) against the service: the answer,
    the echoed headers, a fault raised as zeep's Fault, getDeliveryStatus."""
    from zeep.exceptions import Fault

    from gateway.soap.trembita_client import TrembitaClient
    from gateway.soap.trembita_wire import XRoadId

    client, db, _ = service
    base = str(client.base_url).rstrip("/")
    cfg = load_config(None, env={})
    cfg.organization.edrpou = PARTNER  # calling as the partner
    cfg.trembita.instance, cfg.trembita.subsystem = "SEVDEIR-TEST", "SEV1207"
    cfg.trembita.security_server_url, cfg.trembita.wsdl = (
        base + "/soap/trembita",
        base + "/soap/trembita?wsdl",
    )
    caller = TrembitaClient(cfg)
    ours = XRoadId("SEVDEIR-TEST", "GOV", US, "SEV1207", "deliverMessage", "v1")
    msg_id = str(uuid.uuid4())
    answer = caller.deliver(ours, message(msg_id), "zeep-1")
    assert answer.status == "accepted" and answer.headers["id"] == "zeep-1"
    assert answer.headers["client"]["memberCode"] == PARTNER and answer.headers["protocolVersion"] == "4.0"
    assert parse_message(answer.acknowledgement).acknowledgement.msg_id == msg_id
    assert caller.deliver(ours, message(msg_id), "zeep-1").status == "duplicate"
    assert caller.delivery_status(ours, msg_id) == "received"
    with pytest.raises(Fault) as fault:
        caller.deliver(ours, message(sender=STRANGER), "zeep-2")
    assert fault.value.code == "Client.SenderMismatch"
    caller.close()


def _letter_to(db, to_edrpou: str) -> str:
    """An outgoing letter of ours (as the outbox keeps it once sent); its msg_id."""
    from gateway.store.models import Outgoing, utcnow

    msg_id = str(uuid.uuid4())
    with db.session() as s:
        s.add(
            Outgoing(
                id=str(uuid.uuid4()),
                msg_id=msg_id,
                status="sent",
                channel="trembita",
                to_edrpou=to_edrpou,
                to_name="x",
                meta={},
                attempts=0,
                next_attempt_at=utcnow(),
            )
        )
    return msg_id


def _ack(letter_msg_id: str, ack_type: int, sender: str = PARTNER, **kw) -> bytes:
    original = Header(MsgType.DOCUMENT, letter_msg_id, US, "Council", "sys-us", "", sender, "Partner", "", "")
    return acknowledge(original, ack_type, **kw)


def test_acknowledgements_move_our_letter_and_only_from_its_recipient(service):
    from gateway.store.models import Outgoing

    client, db, _ = service
    letter = _letter_to(db, PARTNER)
    registered = _ack(letter, 3, reg_number="вх-5", reg_date=date(2026, 11, 27))
    status, root = post(client, envelope(deliver_body(registered)))
    assert status == 200 and root.findtext(f".//{{{TNS}}}status") == "accepted"
    assert root.find(f".//{{{TNS}}}acknowledgement") is None  # an acknowledgement is not acknowledged
    status, root = post(client, envelope(deliver_body(registered)))  # the same one in a new call
    assert root.findtext(f".//{{{TNS}}}status") == "duplicate"
    with db.session() as s:
        row = s.scalar(select(Outgoing).where(Outgoing.msg_id == letter))
        assert row.status == "registered"

    # an acknowledgement of a letter we sent to another body is refused, the letter untouched
    other = _letter_to(db, STRANGER)
    status, root = post(client, envelope(deliver_body(_ack(other, 4, errortext="відхилено"))))
    assert status == 500 and root.findtext(f".//{{{ENV}}}Fault/faultcode") == "Client.SenderMismatch"
    with db.session() as s:
        assert s.scalar(select(Outgoing.status).where(Outgoing.msg_id == other)) == "sent"
