"""A corpus of known XML attacks (tests/data/attacks/) run at every door of the gateway that takes XML.

Each 1207 attack message is given to the 1207 parser, to the inbox (as if the SEV hub delivered it)
and to the Трембіта service (inside a deliverMessage); the SOAP-level variants (the attack's DOCTYPE
in front of a SOAP envelope) go to the Трембіта service and to the SEV hub stand-in's
IntegrationService; the XML attacks also go to the REST API's validation. Every attack must be
refused with its reason, quickly, without the file it names being read or the address it names
being called, and must leave nothing stored: no document, no file, no acknowledgement, nothing
queued at the hub.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from test_exchange_support import GatewaySpec, make_pki
from test_security_api import client_for, running_gateway
from test_trembita_service import ENV, PARTNER, US, deliver_body, envelope, message, post, service, stored

from gateway.config import load_config
from gateway.exchange import inbox
from gateway.exchange.message import MessageFormatError, parse_message
from gateway.soap.sev_client import MessageInfo, RetryPolicy, SevClient
from gateway.soap.sev_hub import HubServer
from gateway.store.blobs import BlobStore
from gateway.store.db import open_database
from gateway.store.models import Acknowledgement, Incoming, IncomingFile

__all__ = ["service"]  # the Трембіта service fixture (SQLite, then PostgreSQL), shared

ATTACKS = Path(__file__).resolve().parent / "data" / "attacks"
#: corpus file -> what the refusal must say
CORPUS = {
    "xxe-file.xml": "DOCTYPE",
    "xxe-parameter-entity.xml": "DOCTYPE",
    "xxe-utf16.xml": "DOCTYPE",
    "external-dtd.xml": "DOCTYPE",
    "billion-laughs.xml": "DOCTYPE",
    "quadratic-blowup.xml": "DOCTYPE",
    "xinclude.xml": "schema",
    "deep-nesting.xml": "depth",
}
DOCTYPE_ATTACKS = [name for name, reason in CORPUS.items() if reason == "DOCTYPE" and "utf16" not in name]
LEAK = "root:"  # the first line of /etc/passwd, which the XXE files name
QUICK = 5.0  # seconds, with room for a loaded CI machine; an expanding entity bomb takes far longer


def _attack(name: str) -> bytes:
    return (ATTACKS / name).read_bytes()


def _forged_in_front() -> bytes:
    """Signature wrapping: a forged DocTransfer with the signed file's idnumber in front of it."""
    raw = message().decode()
    data = base64.b64encode(b"forged").decode()
    forged = f'<DocTransfer type="txt" description="f1.txt" idnumber="1">{data}'
    return raw.replace("<DocTransfer ", forged + "</DocTransfer><DocTransfer ", 1).encode()


def _dangling_signature() -> bytes:
    """A SignInfo for a file that is not in the message (and the file itself left unsigned)."""
    return message().replace(b'<SignInfo docTransfer_idnumber="1"', b'<SignInfo docTransfer_idnumber="9"', 1)


GENERATED = {
    "signature-wrapping": (_forged_in_front, "idnumber"),
    "dangling-signature": (_dangling_signature, "SignInfo refers to DocTransfer"),
}


def _raw(name: str) -> bytes:
    return GENERATED[name][0]() if name in GENERATED else _attack(name)


def _reason(name: str) -> str:
    return GENERATED[name][1] if name in GENERATED else CORPUS[name]


ALL = [*CORPUS, *GENERATED]


@pytest.fixture
def spy(http_spy):
    """(port, hits) of a local server recording every request: no attack may make the gateway call out."""
    url, hits = http_spy
    return int(url.rsplit(":", 1)[1]), hits


def _aimed_at(raw: bytes, port: int) -> bytes:
    """The corpus names 127.0.0.1:9 (nothing listens there); aim it at the spy instead."""
    return raw.replace(b"127.0.0.1:9/", b"127.0.0.1:%d/" % port)


# --------------------------------------------------------------------------- the 1207 parser


def test_the_base_message_is_accepted():
    """Control: the message the generated attacks start from is a valid 1207 document."""
    assert parse_message(message()).document is not None


@pytest.mark.parametrize("name", ALL)
def test_the_1207_parser_refuses_the_attack(name, spy):
    port, hits = spy
    raw = _aimed_at(_raw(name), port)
    started = time.monotonic()
    with pytest.raises(MessageFormatError) as refused:
        parse_message(raw)
    assert time.monotonic() - started < QUICK
    reason = str(refused.value)
    assert _reason(name) in reason and "\n" not in reason, reason
    assert LEAK not in reason and "pwned" not in reason
    assert hits == []


# --------------------------------------------------------------------------- the inbox (SEV)


@pytest.fixture
def gateway_store(tmp_path):
    root, seals = make_pki(tmp_path / "pki", ["A"])
    spec = GatewaySpec("A", US, "sys-a", tmp_path / "a", "http://127.0.0.1:9/x", root, seals["A"])
    cfg = load_config(spec.write_config())
    db = open_database(cfg)
    yield db, BlobStore(cfg.resolve(cfg.storage.dir))
    db.dispose()


def _count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("name", ALL)
def test_the_inbox_stores_no_document_from_the_attack(name, gateway_store, spy):
    """What the hub delivers is kept only as raw evidence: no document, no file, nothing validated.
    (A readable header gets a refusal, ack_type 4, addressed to its sender.)"""
    db, blobs = gateway_store
    port, hits = spy
    validated: list = []
    got = inbox.receive(db, blobs, _aimed_at(_raw(name), port), channel="sev",
                        validator=lambda *a: validated.append(a) or {}, own_edrpou=US)
    assert got.kind == "malformed", got
    assert validated == [] and hits == []
    assert _count(db, IncomingFile) == 0
    with db.session() as s:
        rows = s.scalars(select(Incoming)).all()
        assert [r.status for r in rows] in ([], ["malformed"], ["rejected"]), [r.status for r in rows]
        acks = s.scalars(select(Acknowledgement)).all()
        assert all(a.ack_type == 4 for a in acks)
        assert all(r.status == "rejected" for r in rows) or acks == []


# --------------------------------------------------------------------------- Трембіта


@pytest.mark.parametrize("name", ALL)
def test_the_trembita_service_refuses_the_attack_message(service, name, spy):
    client, db, _d = service
    port, hits = spy
    before = stored(db)
    status, root = post(client, envelope(deliver_body(_aimed_at(_raw(name), port))))
    assert status == 500
    fault = root.find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    assert fault is not None and fault.findtext("faultcode") == "Client.InvalidMessage"
    assert LEAK not in fault.findtext("faultstring") and hits == []
    assert stored(db) == before


@pytest.mark.parametrize("name", DOCTYPE_ATTACKS)
def test_the_trembita_service_refuses_the_attack_envelope(service, name, spy):
    client, db, _d = service
    port, hits = spy
    prolog = _aimed_at(_attack(name), port).split(b"<Header", 1)[0].decode()
    before = stored(db)
    started = time.monotonic()
    status, root = post(client, envelope(deliver_body(message()), prolog=prolog))
    assert time.monotonic() - started < QUICK
    assert status == 500
    fault = root.find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    assert fault is not None and fault.findtext("faultcode") == "Client.InvalidRequest"
    assert "DOCTYPE" in fault.findtext("faultstring") and hits == []
    assert stored(db) == before


# --------------------------------------------------------------------------- the SEV hub stand-in

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, budget_seconds=5)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with HubServer(tmp_path_factory.mktemp("hub"), open_registration=True) as server:
        yield server


@pytest.mark.parametrize("name", DOCTYPE_ATTACKS)
def test_the_hub_refuses_the_attack_envelope_and_queues_nothing(hub, name, spy):
    port, hits = spy
    recipient = SevClient(hub.url, "sys-b", "secret-b", retry=FAST)
    recipient.list_incoming()
    prolog = _aimed_at(_attack(name), port).split(b"<Header", 1)[0]
    raw = base64.b64encode(message()).decode()
    body = (
        f'<e:Envelope xmlns:e="{ENV}"><e:Body><t:UploadMessageChunk xmlns:t="http://tempuri.org/">'
        f"<t:sessionId>1</t:sessionId><t:messageChunk>{raw}&send;</t:messageChunk>"
        "</t:UploadMessageChunk></e:Body></e:Envelope>"
    ).encode()
    started = time.monotonic()
    answer = httpx.post(hub.url, content=prolog + body, timeout=10, headers={
        "Content-Type": "text/xml", "SOAPAction": '"http://tempuri.org/IIntegrationService/UploadMessageChunk"'})
    assert time.monotonic() - started < QUICK
    assert answer.status_code == 500 and "Client" in answer.text and "DOCTYPE" in answer.text, answer.text
    assert LEAK not in answer.text and "Traceback" not in answer.text and hits == []
    assert recipient.list_incoming() == []
    sender = SevClient(hub.url, "sys-a", "secret-a", retry=FAST)
    sent = sender.send(b"<Header/>", MessageInfo(f"after-{name}", from_org_id=PARTNER, to_org_id=US,
                                                 to_sys_id="sys-b"))
    assert sent.status == "Processed"  # and the hub still works
    (offered,) = recipient.list_incoming()
    recipient.end_processing(recipient.download(offered.message_id))


# --------------------------------------------------------------------------- the REST API


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("corpus-api")
    with running_gateway(tmp) as (base, key, _cfg), client_for(base, key) as c:
        yield c


@pytest.mark.parametrize("name", [*DOCTYPE_ATTACKS, "xxe-utf16.xml"])
def test_the_validation_api_reports_the_attack_as_a_format_failure(api, name, spy):
    port, hits = spy
    started = time.monotonic()
    answer = api.post("/api/v1/validations", files=[("file", (name, _aimed_at(_attack(name), port)))])
    assert time.monotonic() - started < QUICK
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE"), report
    assert LEAK not in answer.text and hits == []
    if "utf16" not in name:  # UTF-16 input is not recognised as XML at all: refused as a bad CMS
        assert "DOCTYPE" in report["errors"][0], report
