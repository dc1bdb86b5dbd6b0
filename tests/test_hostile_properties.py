"""Property-based hostile input (hypothesis) for the 1207 parser and the two SOAP doors.

Inputs start from valid messages and requests and are damaged the way an attacker or a broken
partner would: bytes flipped, cut or repeated, hostile snippets (DOCTYPE, entities, CDATA, NUL,
BOMs, huge attributes) spliced in. Properties:
- the 1207 parser returns a message whose signatures all point at files it carries, or refuses it
  with a one-line MessageFormatError; nothing else ever escapes;
- the Трембіта service answers 200 with an acknowledgement or a SOAP Client fault, never a server
  error or a traceback, and stores at most one document, only when it answered 200, and only
  one from the calling partner;
- the SEV hub stand-in answers a SOAP response or a SOAP fault (never a traceback), no damaged
  request queues a message for the recipient, and the hub keeps working.
The corpora of known attacks are in test_hostile_corpus.py; byte-level fuzzing of the signature
readers (CMS, PDF, ASiC) is in test_bad_input.py and test_zip_attacks.py.
"""

from __future__ import annotations

import copy
import hashlib

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import func, select
from test_trembita_service import (
    ENV,
    PARTNER,
    US,
    deliver_body,
    envelope,
    message,
    post,
    service,
    xroad_headers,
)

from gateway.exchange.message import MessageFormatError, parse_message
from gateway.soap import sev_wire
from gateway.soap.sev_client import MessageInfo, RetryPolicy, SevClient
from gateway.soap.sev_hub import HubServer
from gateway.store.models import Incoming

__all__ = ["service"]  # the Трембіта service fixture (SQLite, then PostgreSQL), shared

PROPERTY = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
OVER_HTTP = settings(PROPERTY, max_examples=60)

SNIPPETS = [
    b'<!DOCTYPE Header [<!ENTITY x SYSTEM "file:///etc/passwd">]>', b"&x;", b"&amp;", b"&#0;", b"\x00",
    b"<![CDATA[", b"]]>", b"\xef\xbb\xbf", b"\xff\xfe", b"<!--", b"-->", b"<?xml-stylesheet?>",
    b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>',
    b'idnumber="1"', b'docTransfer_idnumber="1"', b"</DocTransfer>", b"<DocTransfer>", b"</Header>",
    b" a=\"" + b"A" * 5000 + b"\"", b"\xd0", b"\r", b"=", b"<", b">", b'"',
    b'<DocTransfer type="txt" description="f1.txt" idnumber="1">Zm9yZ2Vk</DocTransfer>',  # wrapping
]
DIGITS = b"0123456789"


@st.composite
def damaged(draw, original: bytes) -> bytes:
    """`original` with a few edits: flip, cut, repeat, splice a hostile snippet, change a digit."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "cut", "repeat", "splice", "digit"]))
        digits = [i for i, b in enumerate(data) if b in DIGITS]
        if kind == "digit" and digits:  # another number: ids, sizes, dates, codes
            data[draw(st.sampled_from(digits))] = draw(st.sampled_from(DIGITS))
        elif kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif kind == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.sampled_from(SNIPPETS))
    return bytes(data)


#: the header's identity attributes and what an impostor would put there
IDENTITIES = {
    "from_org_id": ["22883141", "04056612", "00000000"],  # another partner, ourselves, nobody
    "to_org_id": ["22883141", "37472062"],
    "msg_type": ["0", "3"],
    "msg_id": ["", "{0}", "x" * 40],
}


def impersonating(original: bytes, name: str, value: str) -> bytes:
    """`original` with its header claiming another sender, recipient, type or id."""
    root = etree.fromstring(original)
    root.set(name, value)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


@st.composite
def restructured(draw, original: bytes) -> bytes:
    """`original` (well-formed XML) with elements copied, moved, dropped or given other attribute
    values or text: still XML, but with the structure an attacker would try (wrapping, dangling
    links, duplicated ids, contradictory content)."""
    root = etree.fromstring(original)
    for _ in range(draw(st.integers(1, 3))):
        elements = list(root.iter())
        el = draw(st.sampled_from(elements))
        kind = draw(st.sampled_from(["copy", "move", "drop", "attribute", "text"]))
        parent = el.getparent()
        if kind == "copy" and parent is not None:
            parent.insert(draw(st.integers(0, len(parent))), copy.deepcopy(el))
        elif kind == "move" and parent is not None:
            target = draw(st.sampled_from(elements))
            if el not in target.iterancestors() and target is not el:
                target.insert(draw(st.integers(0, len(target))), el)
        elif kind == "drop" and parent is not None:
            parent.remove(el)
        elif kind == "attribute" and el.attrib:
            name = draw(st.sampled_from(sorted(el.attrib)))
            el.set(name, draw(st.sampled_from(["", "1", "2", "9", "-1", "x" * 300, "0" * 8, "\u0456"])))
        elif kind == "text":
            el.text = draw(st.sampled_from(["", "Zm9yZ2Vk", "not base64!", " " * 10, "\u0491" * 50]))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


# --------------------------------------------------------------------------- the 1207 parser

BASE_1207 = message("7c1b1c66-0f52-4b3e-9e45-1d7a3f1e2d01", files=2)


@settings(PROPERTY, max_examples=300)
@given(raw=st.one_of(damaged(BASE_1207), restructured(BASE_1207)))
def test_the_1207_parser_accepts_a_consistent_message_or_refuses_in_one_line(raw):
    try:
        msg = parse_message(raw)
    except MessageFormatError as exc:
        assert str(exc) and "\n" not in str(exc) and "root:" not in str(exc)
        return
    if msg.document is not None:
        ids = [f.idnumber for f in msg.document.files]
        assert len(ids) == len(set(ids))  # no wrapping: one file per idnumber
        assert all(sig.doc_transfer_idnumber in ids for sig in msg.signatures)


def test_the_undamaged_base_message_is_accepted():
    assert len(parse_message(BASE_1207).document.files) == 2


# --------------------------------------------------------------------------- Трембіта


TREMBITA_1207 = message("0b6f3d4e-2a51-4c7e-8f0a-5d2e9c1b7a30")


def _senders(db) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(Incoming.from_edrpou)))


def _count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Incoming))


@OVER_HTTP
@given(data=st.data())
def test_the_trembita_service_acknowledges_or_faults_and_stores_at_most_once(service, data):
    client, db, _d = service
    inner = data.draw(st.booleans(), label="damage the 1207 message (else the envelope)")
    raw = TREMBITA_1207
    if inner:
        body = data.draw(st.one_of(restructured(raw), damaged(raw)))
        # an X-Road id per message (a repeated id is a replay, answered from the first call), derived
        # from the drawn bytes so that hypothesis can replay its examples exactly
        request = envelope(deliver_body(body), xroad_headers(xid=hashlib.sha256(body).hexdigest()[:32]))
    else:
        request = data.draw(damaged(envelope(deliver_body(raw), xroad_headers(xid="fuzz-envelope"))))
    before = _count(db)
    status, root = _post(client, request)
    assert "Traceback" not in etree.tostring(root, encoding="unicode")
    fault = root.find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    if status == 200:
        assert fault is None and _count(db) - before in (0, 1)  # 0: a duplicate, acknowledged again
    else:
        assert status == 500 and fault is not None, etree.tostring(root)
        assert fault.findtext("faultcode").startswith("Client."), etree.tostring(root)
        assert _count(db) == before
    assert _senders(db) <= {PARTNER}  # whatever was stored came from the caller


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, values in IDENTITIES.items() for v in values])
def test_the_trembita_service_stores_nothing_a_partner_writes_as_someone_else(service, name, value):
    """The finite space of identity swaps, all of it: refused, or stored as from the caller."""
    client, db, _d = service
    body = impersonating(message(), name, value)
    before = _count(db)
    xid = hashlib.sha256(body).hexdigest()
    status, root = _post(client, envelope(deliver_body(body), xroad_headers(xid=xid)))
    fault = root.find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    if status != 200:
        assert fault is not None and fault.findtext("faultcode").startswith("Client.")
        assert _count(db) == before
    assert _senders(db) <= {PARTNER}


def _post(client: httpx.Client, request: bytes) -> tuple[int, etree._Element]:
    try:
        return post(client, request)
    except etree.XMLSyntaxError as exc:  # the answer itself must always be XML
        raise AssertionError(f"the service answered something that is not XML: {exc}") from None


# --------------------------------------------------------------------------- the SEV hub stand-in

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, budget_seconds=5)
PAYLOAD = b"<Header>a letter</Header>"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with HubServer(tmp_path_factory.mktemp("hub"), open_registration=True) as server:
        recipient = SevClient(server.url, "sys-b", "secret-b", retry=FAST)
        recipient.list_incoming()
        sender = SevClient(server.url, "sys-a", "secret-a", retry=FAST)
        info = MessageInfo("seed", from_org_id="37472062", to_org_id=US, to_sys_id="sys-b")
        sender.send(PAYLOAD, info)  # sys-a now owns its organization; the seed waits for sys-b
        yield server, sender, recipient


def _requests(server: HubServer) -> list[tuple[str, bytes]]:
    """Valid requests of sys-a, one per operation a sender or a recipient uses. The upload is for
    a body nobody polls (not one flipped bit away from sys-b), so that the property below holds
    even if damage happens to leave it valid."""
    dialect = server.hub.dialect
    ident = ("identity", [("Password", "secret-a"), ("SystemId", "sys-a")])
    digest = hashlib.sha256(PAYLOAD).hexdigest().upper()
    info = [("Creator", "Sed"), ("Format", "Plain"), ("FromOrgId", "37472062"), ("FromSysId", "sys-a"),
            ("MessageId", "fuzzed"), ("Size", len(PAYLOAD)), ("ToOrgId", "22883141"), ("ToSysId", "sys-x"),
            ("Type", "Document")]
    calls = {
        "OpenUploadingSession": [ident, ("messageInfo", info), ("hash", digest), ("signature", b"")],
        "UploadMessageChunk": [ident, ("sessionId", 1), ("messageChunk", PAYLOAD)],
        "GetInputMessages": [ident, ("\u0441ount", 5)],
        "OpenDownloadingSession": [ident, ("messageId", "seed")],
        "DownloadMessageChunk": [ident, ("sessionId", 1), ("fromPosition", 0), ("count", 10)],
        "GetSessionInfo": [ident, ("sessionId", 1)],
    }
    return [(op, sev_wire.request(op, params, dialect)) for op, params in calls.items()]


@OVER_HTTP
@given(data=st.data())
def test_the_hub_answers_soap_and_queues_nothing_for_damaged_requests(hub, data):
    server, _sender, recipient = hub
    operation, request = data.draw(st.sampled_from(_requests(server)), label="operation")
    body = data.draw(damaged(request))
    answer = httpx.post(server.url, content=body, timeout=10, headers={
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": server.hub.dialect.soap_action(operation)})
    assert answer.status_code in (200, 400, 413, 500), answer.status_code
    assert "Traceback" not in answer.text
    root = etree.fromstring(answer.content)
    assert root.tag == f"{{{ENV}}}Envelope", answer.text
    if answer.status_code != 200:
        code = root.findtext(f"{{{ENV}}}Body/{{{ENV}}}Fault/faultcode") or ""
        assert code.split(":")[-1] == "Client", answer.text
    assert [m.message_id for m in recipient.list_incoming()] == ["seed"]  # nothing else was queued


def test_the_hub_still_delivers_after_the_fuzzing(hub):
    server, sender, recipient = hub
    sender.send(PAYLOAD, MessageInfo("after", from_org_id="37472062", to_org_id=US, to_sys_id="sys-b"))
    assert sorted(m.message_id for m in recipient.list_incoming()) == ["after", "seed"]
    assert recipient.download("after").data == PAYLOAD
