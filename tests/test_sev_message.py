"""1207 v1.5 messages: the real certification samples, round trips, acknowledgements, bad input."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.exchange.message import (
    Acknowledgement,
    AckType,
    DocTransfer,
    Document,
    Header,
    MessageFormatError,
    MsgType,
    OfficialPerson,
    Organization,
    Reference,
    SignInfo,
    acknowledge,
    build_acknowledgement,
    build_document,
    parse_message,
)

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "sev-reference" / "samples"
REFERENCE_XSD = SAMPLES.parent / "xsd" / "Header.xsd"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/sev-reference absent")


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("ds*.xml")) if SAMPLES.is_dir() else []


@needs_samples
@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_real_sample_parses_and_validates(path: Path):
    raw = path.read_bytes()
    msg = parse_message(raw)
    assert msg.raw == raw  # kept exactly as received, BOM included
    root = etree.fromstring(raw.removeprefix(b"\xef\xbb\xbf"))
    assert msg.header.msg_id == root.get("msg_id")
    assert msg.header.msg_type == int(root.get("msg_type"))
    if msg.header.msg_type == MsgType.NOTIFICATION:
        assert msg.acknowledgement is not None
        assert msg.acknowledgement.ack_type in (1, 2, 3, 4)
    else:
        assert msg.document is not None
        for f, el in zip(msg.document.files, root.iterfind("Document/DocTransfer"), strict=True):
            assert f.idnumber == el.get("idnumber")
            assert len(f.data) > 0
        for sig in msg.signatures:
            assert msg.document.files[0].idnumber == sig.doc_transfer_idnumber
            assert sig.sign_data[:1] == b"\x30"  # a DER SEQUENCE: the CMS ContentInfo


@needs_samples
def test_acknowledgement_samples_have_one_of_each_type():
    acks = {}
    for name in ("ds13", "ds14", "ds15", "ds16"):
        msg = parse_message((SAMPLES / f"{name}.xml").read_bytes())
        acks[msg.acknowledgement.ack_type] = msg.acknowledgement
    assert sorted(acks) == [1, 2, 3, 4]
    assert acks[3].reg_number == "1/0/-15" and acks[3].reg_date == date(2015, 9, 11)
    assert acks[4].errortext == "Документ відхилено"


@needs_samples
def test_ds05_pdf_and_signature_are_decoded():
    msg = parse_message((SAMPLES / "ds05.xml").read_bytes())
    (pdf,) = msg.document.files
    assert pdf.type == "pdf" and pdf.data.startswith(b"%PDF-")
    (sig,) = msg.signatures_for(pdf.idnumber)
    assert sig.signing_time == datetime(2015, 9, 8, 16, 43, 15)
    assert msg.document.author.edrpou == "37472062"
    assert msg.document.author.officials[0].post == "Міністр"


def _header(msg_type: int = MsgType.DOCUMENT) -> Header:
    return Header(
        msg_type=msg_type,
        msg_id="5b0c8d7e-58a2-4d7a-9d57-0b1f3f1c2a11",
        msg_acknow=2,
        from_org_id="04056612",
        from_organization="Миколаївська міська рада",
        from_sys_id="a1b2c3",
        from_system="gateway",
        to_org_id="37472062",
        to_organization="Міністерство інфраструктури України",
        to_sys_id="d4e5f6",
        to_system="IT-Enterprise",
        time=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
    )


def _document(payload: bytes = b"%PDF-1.7 letter\n") -> Document:
    person = OfficialPerson("Сєнкевич", "Олександр", "Федорович", post="Міський голова")
    return Document(
        idnumber="17",
        reg_number="01-12/345",
        reg_date=date(2026, 11, 24),
        purpose_type=3,
        kind="Лист",
        title="Про ремонт доріг",
        annotation="Щодо фінансування",
        urgent=True,
        author=Organization("04056612", "Миколаївська міська рада", address="Миколаїв", officials=[person]),
        addressees=[Organization("37472062", "Міністерство інфраструктури України")],
        writer=Organization(
            "04056612",
            "Миколаївська міська рада",
            officials=[OfficialPerson("Коваль", "Ірина", "Петрівна", post="спеціаліст")],
        ),
        files=[
            DocTransfer("1", "лист.pdf", "pdf", payload),
            DocTransfer("2", "додаток.docx", "docx", b"PK\x03\x04"),
        ],
        referred=[Reference("1/16/14-15", date(2015, 9, 9), idnumber="184")],
    )


def test_document_round_trip():
    sigs = [
        SignInfo("1", b"\x30\x80sig-one", signing_time=datetime(2026, 11, 25, 8, 59, tzinfo=UTC)),
        SignInfo("2", b"\x30\x80sig-two", certificate=b"\x30\x82cert"),
    ]
    raw = build_document(_header(), _document(), sigs)
    assert raw.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    msg = parse_message(raw)
    assert msg.header == _header()
    doc = msg.document
    assert doc == _document()
    assert [(s.doc_transfer_idnumber, s.sign_data, s.certificate) for s in msg.signatures] == [
        ("1", b"\x30\x80sig-one", None),
        ("2", b"\x30\x80sig-two", b"\x30\x82cert"),
    ]
    assert msg.signatures[0].signing_time == datetime(2026, 11, 25, 8, 59, tzinfo=UTC)


def test_reply_round_trip_and_large_binary_file():
    payload = hashlib.sha256(b"seed").digest() * 50_000  # 1.6 MB of incompressible bytes
    header = _header(MsgType.REPLY)
    msg = parse_message(build_document(header, _document(payload), [SignInfo("1", b"\x30\x00")]))
    assert msg.header.msg_type == MsgType.REPLY
    assert msg.document.files[0].data == payload
    assert msg.document.referred[0].reg_number == "1/16/14-15"


@pytest.mark.parametrize("ack_type", list(AckType))
def test_each_acknowledgement_type_round_trips(ack_type):
    original = parse_message(build_document(_header(), _document()))
    kwargs = {}
    if ack_type == AckType.REGISTERED:
        kwargs = {"reg_number": "вх-77/1", "reg_date": date(2026, 11, 25)}
    if ack_type == AckType.REJECTED:
        kwargs = {"errortext": "Відсутній кваліфікований електронний підпис", "errorcode": 0}
    raw = acknowledge(original.header, ack_type, **kwargs)
    ack_msg = parse_message(raw)
    h = ack_msg.header
    assert h.msg_type == MsgType.NOTIFICATION and h.msg_acknow == 0
    assert (h.from_org_id, h.to_org_id) == ("37472062", "04056612")  # answered to the sender
    assert (h.from_sys_id, h.to_sys_id) == ("d4e5f6", "a1b2c3")
    ack = ack_msg.acknowledgement
    assert ack.msg_id == original.header.msg_id and ack.ack_type == ack_type
    if ack_type == AckType.REGISTERED:
        assert (ack.reg_number, ack.reg_date) == ("вх-77/1", date(2026, 11, 25))
    if ack_type == AckType.REJECTED:
        assert ack.errortext == "Відсутній кваліфікований електронний підпис"
    if ack_type == AckType.DELIVERED:
        assert ack.errortext == "Повідомлення доставлено без помилок"


def test_registered_acknowledgement_needs_a_number():
    with pytest.raises(MessageFormatError, match="registration number"):
        build_acknowledgement(_header(MsgType.NOTIFICATION), Acknowledgement("x", AckType.REGISTERED))


def test_built_messages_are_validated_before_they_leave():
    header = _header()
    header.msg_id = ""
    with pytest.raises(MessageFormatError, match="invalid"):
        build_document(header, _document())


@needs_samples
def test_built_messages_validate_against_the_reference_schema_too():
    ref = etree.XMLSchema(etree.parse(str(REFERENCE_XSD)))
    for raw in (
        build_document(_header(), _document(), [SignInfo("1", b"\x30\x00")]),
        acknowledge(_header(), AckType.REGISTERED, reg_number="5", reg_date=date(2026, 1, 2)),
    ):
        assert ref.validate(etree.fromstring(raw)), ref.error_log.last_error


def test_utf8_bom_is_stripped_for_parsing_but_kept_in_raw():
    raw = b"\xef\xbb\xbf" + build_document(_header(), _document())
    msg = parse_message(raw)
    assert msg.raw == raw and msg.document.files[0].description == "лист.pdf"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"<Header", "not well-formed"),
        (b"<Letter/>", "root element"),
        (b'<?xml version="1.0"?><!DOCTYPE Header [<!ENTITY x "y">]><Header>&x;</Header>', "DOCTYPE"),
        (b'<Header standart="1207" version="1.5"/>', "schema"),
    ],
)
def test_malformed_input_is_a_clear_error(raw, reason):
    with pytest.raises(MessageFormatError, match=reason) as info:
        parse_message(raw)
    assert str(info.value).startswith("malformed 1207 message: ")


def test_schema_invalid_message_still_names_its_sender_for_the_rejection():
    raw = build_document(_header(), _document()).replace(b'purpose_type="3"', b'purpose_type="9"')
    with pytest.raises(MessageFormatError, match="purpose_type") as info:
        parse_message(raw)
    header = info.value.header
    assert header is not None and header.from_org_id == "04056612"
    answer = parse_message(acknowledge(header, AckType.REJECTED, errorcode=1, errortext=info.value.reason))
    assert answer.acknowledgement.errorcode == 1 and answer.header.to_org_id == "04056612"


def test_signature_must_point_at_a_file_in_the_message():
    with pytest.raises(MessageFormatError, match="'99'"):
        build_document(_header(), _document(), [SignInfo("99", b"\x30\x00")])
    raw = build_document(_header(), _document(), [SignInfo("2", b"\x30\x00")]).replace(
        b'docTransfer_idnumber="2"', b'docTransfer_idnumber="99"'
    )
    with pytest.raises(MessageFormatError, match="'99'"):
        parse_message(raw)


def test_size_bound():
    raw = build_document(_header(), _document())
    with pytest.raises(MessageFormatError, match="exceeds"):
        parse_message(raw, max_bytes=len(raw) - 1)


def test_a_notification_need_not_be_an_acknowledgement():
    # e.g. a DocNumber or task-list notification: kept by the inbox, not refused as malformed
    raw = build_document(_header(), _document()).replace(b'msg_type="1"', b'msg_type="0"')
    msg = parse_message(raw)
    assert msg.header.msg_type == MsgType.NOTIFICATION and msg.acknowledgement is None


def test_a_file_larger_than_libxml2s_text_node_cap_travels():
    payload = hashlib.sha256(b"big").digest() * 300_000  # 9.6 MB -> 12.8 MB of base64 in one text node
    msg = parse_message(build_document(_header(), _document(payload)))
    assert msg.document.files[0].data == payload


def test_a_utf16_doctype_is_refused_too():
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE Header [<!ENTITY x "y">]><Header/>'
    raw = text.encode("utf-16")
    with pytest.raises(MessageFormatError, match="DOCTYPE"):
        parse_message(raw)


_SMALL = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<Header standart="1207" version="1.5" charset="UTF-8" '
    b'time="2015-09-11T06:56:34Z" msg_type="0" msg_id="e4e3" msg_acknow="0" from_org_id="30116577" '
    b'from_organization="A" from_sys_id="s1" from_system="S" to_org_id="30855996" to_organization="B" '
    b'to_sys_id="s2" to_system="T"><Acknowledgement msg_id="63FC" ack_type="1">'
    b'<AckResult errorcode="0" errortext="ok"/></Acknowledgement></Header>'
)


def test_the_fuzzing_seed_is_a_valid_message():
    assert parse_message(_SMALL).acknowledgement.ack_type == 1


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_messages_are_refused_with_a_clear_error(data):
    raw = bytearray(_SMALL)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    try:
        parse_message(bytes(raw))
    except MessageFormatError as exc:
        assert str(exc).startswith("malformed 1207 message: ") and "\n" not in exc.reason.strip()
