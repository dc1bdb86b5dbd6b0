"""1207 v1.5 messages of SEV OVV: build them, parse them, validate them against `schemas/sev1207.xsd`.

Public API (used by the outbox/inbox and the Trembita channel):

- `build_document(header, document, signatures=()) -> bytes` — a document (msg_type 1) or a reply
  (msg_type 3). Each file is a `DocTransfer`; its detached CAdES signature (DER bytes made by
  `gateway.signing`) travels in `Expansion/StaticExpansion/SignInfo`, linked by the file's idnumber.
- `build_acknowledgement(header, ack) -> bytes` — a notification (msg_type 0), and the shortcut
  `acknowledge(original_header, ack_type, ...)` that answers a received message (from/to swapped).
- `parse_message(raw) -> Message` — strips a UTF-8 BOM, parses with a hardened parser (no DTD, no
  entities, no network, no huge nodes, size bound), validates against the schema and the rules
  the schema cannot express (SignInfo → DocTransfer links, msg_type ↔ content). Any problem is a
  `MessageFormatError` with a one-line reason; when the root `Header` could still be read, the
  error's `header` lets the caller answer with `acknowledge(err.header, AckType.REJECTED, ...)`.
  `Message.raw` keeps the bytes exactly as received.

Every message this module builds is validated against the schema before it is returned.
"""

from __future__ import annotations

import base64
import binascii
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import IntEnum
from pathlib import Path

from lxml import etree

from gateway.errors import GatewayError
from gateway.xmlsafe import XmlParseError, hardened_parser, parse_xml, root_attributes

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "sev1207.xsd"
#: messages larger than this are refused before parsing (the hub's own limit is similar)
DEFAULT_MAX_MESSAGE_BYTES = 100 * 1024 * 1024
BOM = b"\xef\xbb\xbf"

#: the recipient system of a letter whose addressee has no known system id: the hub (as in every
#: known sample: to_sys_id="99999999", to_system="CЭВ" with a Latin C)
HUB_SYS_ID = "99999999"
HUB_SYSTEM = "C\u042d\u0412"

ACK_TEXTS = {
    1: "Повідомлення доставлено без помилок",
    2: "Повідомлення було прийнято без помилок",
    3: "",
    4: "Документ відхилено",
}


class MessageFormatError(GatewayError):
    """A 1207 message is malformed. `header` is the root's data when it could be read."""

    def __init__(self, reason: str, header: Header | None = None) -> None:
        reason = " ".join(reason.split())  # libxml2's messages may span lines: keep it one line
        super().__init__(f"malformed 1207 message: {reason}")
        self.reason = reason
        self.header = header


class MsgType(IntEnum):
    NOTIFICATION = 0
    DOCUMENT = 1
    DOCUMENT_ADDITION = 2
    REPLY = 3
    REPLY_ADDITION = 4

    @property
    def transport_type(self) -> str:
        """The IntegrationService's MessageType for messages of this type."""
        return _TRANSPORT_TYPES[self]


_TRANSPORT_TYPES = {
    MsgType.NOTIFICATION: "Notification",
    MsgType.DOCUMENT: "Document",
    MsgType.DOCUMENT_ADDITION: "DocumentAddition",
    MsgType.REPLY: "ReplayDocument",  # sic, as in the service's WSDL
    MsgType.REPLY_ADDITION: "ReplayDocumentAddition",
}


class AckType(IntEnum):
    DELIVERED = 1
    ACCEPTED = 2
    REGISTERED = 3
    REJECTED = 4


@dataclass
class Header:
    """The root element's attributes. `from_*` is the sender, `to_*` the recipient."""

    msg_type: int
    msg_id: str
    from_org_id: str
    from_organization: str
    from_sys_id: str
    from_system: str
    to_org_id: str
    to_organization: str
    to_sys_id: str
    to_system: str
    time: datetime | None = None  # now, when building
    msg_acknow: int = 0
    from_system_details: str | None = None
    from_department: str | None = None
    to_system_details: str | None = None
    to_department: str | None = None

    def reply(self, msg_type: int, *, msg_id: str | None = None) -> Header:
        """A header for a message going back to this one's sender."""
        return Header(
            msg_type=msg_type,
            msg_id=msg_id or new_msg_id(),
            from_org_id=self.to_org_id,
            from_organization=self.to_organization,
            from_sys_id=self.to_sys_id,
            from_system=self.to_system,
            from_system_details=self.to_system_details,
            from_department=self.to_department,
            to_org_id=self.from_org_id,
            to_organization=self.from_organization,
            to_sys_id=self.from_sys_id,
            to_system=self.from_system,
            to_system_details=self.from_system_details,
            to_department=self.from_department,
            msg_acknow=0 if msg_type == MsgType.NOTIFICATION else 2,
        )


@dataclass
class OfficialPerson:
    secname: str = ""
    firstname: str = ""
    fathersname: str = ""
    post: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.secname, self.firstname, self.fathersname) if p)


@dataclass
class Organization:
    """An organization in Author/Addressee/Writer; `edrpou` is its `ogrn` attribute."""

    edrpou: str
    fullname: str = ""
    shortname: str | None = None
    address: str | None = None
    officials: list[OfficialPerson] = field(default_factory=list)


@dataclass
class Reference:
    """A referred document (e.g. the letter a reply answers): its registration number and date."""

    reg_number: str
    reg_date: date
    idnumber: str | None = None


@dataclass
class DocTransfer:
    """One transported file. `type` is the file extension, `description` the file name."""

    idnumber: str
    description: str
    type: str
    data: bytes


@dataclass
class SignInfo:
    """A detached CMS/CAdES signature (DER) of the DocTransfer with `doc_transfer_idnumber`."""

    doc_transfer_idnumber: str
    sign_data: bytes
    signing_time: datetime | None = None
    certificate: bytes | None = None


@dataclass
class Document:
    idnumber: str
    reg_number: str
    reg_date: date
    purpose_type: int = 0
    kind: str | None = None
    title: str | None = None
    annotation: str | None = None
    urgent: bool = False
    confidential: bool = False
    doc_type: int = 0
    pages: int | None = None
    author: Organization | None = None
    addressees: list[Organization] = field(default_factory=list)
    writer: Organization | None = None
    files: list[DocTransfer] = field(default_factory=list)
    #: documents this one refers to (a reply names the letter it answers here)
    referred: list[Reference] = field(default_factory=list)


@dataclass
class Acknowledgement:
    msg_id: str  # the acknowledged message
    ack_type: int
    errorcode: int = 0
    errortext: str = ""
    reg_number: str | None = None  # ack_type 3: the recipient's registration
    reg_date: date | None = None


@dataclass
class Message:
    header: Header
    raw: bytes
    document: Document | None = None
    acknowledgement: Acknowledgement | None = None
    signatures: list[SignInfo] = field(default_factory=list)

    def signatures_for(self, idnumber: str) -> list[SignInfo]:
        return [s for s in self.signatures if s.doc_transfer_idnumber == idnumber]


def new_msg_id() -> str:
    return str(uuid.uuid4())


def msg_id_key(msg_id: str) -> str:
    """The form a msg_id is stored and compared in: GUIDs are equal whatever their case (real
    bodies send upper-case ids, this gateway lower-case ones), and braces or spaces around don't count."""
    return msg_id.strip().strip("{}").strip().lower()


# --------------------------------------------------------------------------- schema and parser


def _load_schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path), hardened_parser()))


# Built once, here, while the module is imported (Python's import lock: one thread): libxml2's
# schema compiler is not safe when several threads build at once, which a lazy build allowed.
_SCHEMA = _load_schema(SCHEMA_PATH)
_schema_lock = threading.Lock()  # an XMLSchema object is not safe to use from two threads at once


def _validate(root: etree._Element) -> str | None:
    with _schema_lock:
        if _SCHEMA.validate(root):
            return None
        err = _SCHEMA.error_log.last_error
    return f"line {err.line}: {err.message}" if err else "schema validation failed"


# --------------------------------------------------------------------------- parsing


def parse_message(raw: bytes, *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Message:
    """Parse and validate a received 1207 message; MessageFormatError with a reason otherwise."""
    if len(raw) > max_bytes:
        raise MessageFormatError(f"{len(raw)} bytes exceeds the limit of {max_bytes}")
    body = raw[len(BOM) :] if raw.startswith(BOM) else raw
    if not body.strip():
        raise MessageFormatError("empty message")
    # large DocTransfer texts only for plain ASCII-compatible bodies, where the DOCTYPE check is exact
    ascii_compatible = body.lstrip()[:1] == b"<" and b"\x00" not in body[:256]
    try:
        root = parse_xml(body, max_bytes=max_bytes, large_text=ascii_compatible).getroot()
    except XmlParseError as exc:
        raise MessageFormatError(str(exc)) from None
    if root.tag != "Header":
        raise MessageFormatError(f"the root element is {root.tag!r}, not 'Header'")
    header = _lenient_header(root)
    problem = _validate(root)
    if problem:
        raise MessageFormatError(f"does not match the 1207 v1.5 schema: {problem}", header)
    assert header is not None  # the schema requires every attribute it reads
    try:
        message = _read_message(root, header, raw)
    except (ValueError, binascii.Error) as exc:
        raise MessageFormatError(str(exc), header) from None
    _check_consistency(message, header)
    return message


def claimed_sender(raw: bytes) -> str | None:
    """The sender's EDRPOU as the message's root `Header` gives it (reading no further than the
    root's start tag), None when it cannot be read (parse_message then says why)."""
    try:
        attrs = root_attributes(raw[len(BOM):] if raw.startswith(BOM) else raw)
    except XmlParseError:
        return None
    sender = attrs.get("from_org_id")
    return sender.strip() if sender is not None else None


def _lenient_header(root: etree._Element) -> Header | None:
    """The header's fields if the attributes needed to answer the sender are there."""
    a = root.attrib
    needed = ("msg_id", "from_org_id", "to_org_id")
    if not all(a.get(k) for k in needed):
        return None
    try:
        msg_type = int(a.get("msg_type", "-1"))
    except ValueError:
        msg_type = -1
    try:
        time = _parse_datetime(a["time"]) if a.get("time") else None
    except ValueError:
        time = None
    return Header(
        msg_type=msg_type,
        msg_id=a["msg_id"],
        time=time,
        msg_acknow=int(a["msg_acknow"]) if a.get("msg_acknow", "").isdigit() else 0,
        from_org_id=a["from_org_id"],
        from_organization=a.get("from_organization", ""),
        from_sys_id=a.get("from_sys_id", ""),
        from_system=a.get("from_system", ""),
        from_system_details=a.get("from_system_details"),
        from_department=a.get("from_department"),
        to_org_id=a["to_org_id"],
        to_organization=a.get("to_organization", ""),
        to_sys_id=a.get("to_sys_id", ""),
        to_system=a.get("to_system", ""),
        to_system_details=a.get("to_system_details"),
        to_department=a.get("to_department"),
    )


def _read_message(root: etree._Element, header: Header, raw: bytes) -> Message:
    message = Message(header=header, raw=raw)
    doc = root.find("Document")
    if doc is not None:
        message.document = _read_document(doc)
    ack = root.find("Acknowledgement")
    if ack is not None:
        reg = ack.find("RegNumber")
        result = ack.find("AckResult")
        assert result is not None
        message.acknowledgement = Acknowledgement(
            msg_id=ack.get("msg_id", ""),
            ack_type=int(ack.get("ack_type", "0")),
            errorcode=int(result.get("errorcode", "0")),
            errortext=result.get("errortext", ""),
            reg_number=(reg.text or "").strip() if reg is not None else None,
            reg_date=date.fromisoformat(reg.get("regdate", "")) if reg is not None else None,
        )
    for si in root.iterfind("Expansion/StaticExpansion/SignInfo"):
        cert = si.findtext("CertificateData")
        when = si.findtext("SigningTime")
        message.signatures.append(
            SignInfo(
                doc_transfer_idnumber=si.get("docTransfer_idnumber", ""),
                sign_data=_b64(si.findtext("SignData") or ""),
                signing_time=_parse_datetime(when) if when else None,
                certificate=_b64(cert) if cert else None,
            )
        )
    return message


def _read_document(doc: etree._Element) -> Document:
    reg = doc.find("RegNumber")
    assert reg is not None
    author = doc.find("Author/Organization")
    writer = doc.find("Writer/Organization")
    return Document(
        idnumber=doc.get("idnumber", ""),
        reg_number=(reg.text or "").strip(),
        reg_date=date.fromisoformat(reg.get("regdate", "")),
        purpose_type=int(doc.get("purpose_type", "0")),
        kind=doc.get("kind"),
        title=doc.get("title"),
        annotation=doc.get("annotation"),
        urgent=doc.get("urgent") == "1",
        confidential=doc.find("Confident").get("flag") == "1",  # type: ignore[union-attr]
        doc_type=int(doc.get("type", "0")),
        pages=int(doc.get("pages")) if doc.get("pages") else None,
        author=_read_org(author) if author is not None else None,
        addressees=[_read_org(o) for o in doc.iterfind("Addressee/Organization")],
        writer=_read_org(writer) if writer is not None else None,
        files=[
            DocTransfer(
                idnumber=dt.get("idnumber", ""),
                description=dt.get("description", ""),
                type=dt.get("type", ""),
                data=_b64(dt.text or ""),
            )
            for dt in doc.iterfind("DocTransfer")
        ],
        referred=[
            Reference(
                reg_number=(r.text or "").strip(),
                reg_date=date.fromisoformat(r.get("regdate", "")),
                idnumber=r.getparent().get("idnumber"),
            )  # type: ignore[union-attr]
            for r in doc.iterfind("Addressee/Referred/RegNumber")
        ],
    )


def _read_org(el: etree._Element) -> Organization:
    officials = []
    for op in el.iterfind("OfficialPerson"):
        name = op.find("Name")
        official = op.find("Official")
        officials.append(
            OfficialPerson(
                secname=name.get("secname", "") if name is not None else "",
                firstname=name.get("firstname", "") if name is not None else "",
                fathersname=name.get("fathersname", "") if name is not None else "",
                post=official.get("post") if official is not None else None,
            )
        )
    address = el.findtext("Address")
    return Organization(
        edrpou=el.get("ogrn", ""),
        fullname=el.get("fullname", ""),
        shortname=el.get("shortname"),
        address=address or None,
        officials=officials,
    )


def _check_consistency(message: Message, header: Header) -> None:
    kind = header.msg_type  # a notification (0) need not be an acknowledgement (task lists, DocNumber, ...)
    if kind in (MsgType.DOCUMENT, MsgType.REPLY) and message.document is None:
        raise MessageFormatError(f"msg_type {kind} without a Document", header)
    files = [f.idnumber for f in message.document.files] if message.document else []
    if len(set(files)) != len(files):
        raise MessageFormatError("two DocTransfer elements share an idnumber", header)
    for sig in message.signatures:
        if sig.doc_transfer_idnumber not in files:
            raise MessageFormatError(
                f"SignInfo refers to DocTransfer {sig.doc_transfer_idnumber!r}, which is not in the message",
                header,
            )


def _b64(text: str) -> bytes:
    return base64.b64decode("".join(text.split()), validate=True)


def _parse_datetime(text: str) -> datetime:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------- building


def build_document(
    header: Header,
    document: Document,
    signatures: Iterable[SignInfo] = (),
    *,
    expansion_organization: str = "gateway",
    expansion_version: str = "1",
) -> bytes:
    """A document (msg_type 1) or reply (msg_type 3) with its files and their signatures."""
    if header.msg_type not in (
        MsgType.DOCUMENT,
        MsgType.REPLY,
        MsgType.DOCUMENT_ADDITION,
        MsgType.REPLY_ADDITION,
    ):
        raise MessageFormatError(f"msg_type {header.msg_type} is not a document")
    sigs = list(signatures)
    ids = {f.idnumber for f in document.files}
    for s in sigs:
        if s.doc_transfer_idnumber not in ids:
            raise MessageFormatError(
                f"a signature names file {s.doc_transfer_idnumber!r}, which is not attached"
            )
    root = _header_element(header)
    doc = etree.SubElement(
        root,
        "Document",
        _attrs(
            idnumber=document.idnumber,
            type=str(document.doc_type),
            kind=document.kind,
            pages=None if document.pages is None else str(document.pages),
            title=document.title,
            annotation=document.annotation,
            purpose_type=str(document.purpose_type),
            urgent="1" if document.urgent else "0",
        ),
    )
    _reg_number(doc, "RegNumber", document.reg_number, document.reg_date)
    etree.SubElement(doc, "Confident", flag="1" if document.confidential else "0")
    for f in document.files:
        dt = etree.SubElement(doc, "DocTransfer", type=f.type, description=f.description, idnumber=f.idnumber)
        dt.text = base64.b64encode(f.data).decode("ascii")
    author = etree.SubElement(doc, "Author")
    if document.author is not None:
        _org(author, document.author)
    outn = etree.SubElement(author, "OutNumber")
    _reg_number(outn, "RegNumber", document.reg_number, document.reg_date)
    for i, org in enumerate(document.addressees):
        addressee = etree.SubElement(doc, "Addressee", type="0")
        _org(addressee, org)
        if i == 0:
            for ref in document.referred:
                referred = etree.SubElement(addressee, "Referred", _attrs(idnumber=ref.idnumber, retype="д"))
                _reg_number(referred, "RegNumber", ref.reg_number, ref.reg_date)
    if document.writer is not None:
        _org(etree.SubElement(doc, "Writer"), document.writer)
    if sigs:
        exp = etree.SubElement(
            root, "Expansion", organization=expansion_organization, exp_ver=expansion_version
        )
        static = etree.SubElement(exp, "StaticExpansion")
        for s in sigs:
            si = etree.SubElement(static, "SignInfo", docTransfer_idnumber=s.doc_transfer_idnumber)
            if s.certificate:
                etree.SubElement(si, "CertificateData").text = base64.b64encode(s.certificate).decode()
            if s.signing_time:
                etree.SubElement(si, "SigningTime").text = _format_datetime(s.signing_time)
            etree.SubElement(si, "SignData").text = base64.b64encode(s.sign_data).decode()
    return _finish(root, header)


def build_acknowledgement(header: Header, ack: Acknowledgement) -> bytes:
    """A notification (msg_type 0) about the message `ack.msg_id`."""
    if header.msg_type != MsgType.NOTIFICATION:
        raise MessageFormatError("an acknowledgement needs msg_type 0")
    if ack.ack_type == AckType.REGISTERED and not (ack.reg_number and ack.reg_date):
        raise MessageFormatError("a 'registered' acknowledgement needs the registration number and date")
    root = _header_element(header)
    el = etree.SubElement(root, "Acknowledgement", msg_id=ack.msg_id, ack_type=str(int(ack.ack_type)))
    if ack.reg_number and ack.reg_date:
        _reg_number(el, "RegNumber", ack.reg_number, ack.reg_date)
    etree.SubElement(el, "AckResult", errorcode=str(ack.errorcode), errortext=ack.errortext)
    return _finish(root, header)


def acknowledge(
    original: Header,
    ack_type: int,
    *,
    errortext: str | None = None,
    errorcode: int = 0,
    reg_number: str | None = None,
    reg_date: date | None = None,
    from_system: str | None = None,
    from_sys_id: str | None = None,
) -> bytes:
    """Answer a received message with an acknowledgement (sender and recipient swapped).

    A malformed message is answered with `AckType.REJECTED`, `errorcode=1` and the reason.
    """
    header = original.reply(MsgType.NOTIFICATION)
    if from_system is not None:
        header.from_system = from_system
    if from_sys_id is not None:
        header.from_sys_id = from_sys_id
    text = ACK_TEXTS.get(int(ack_type), "") if errortext is None else errortext
    return build_acknowledgement(
        header,
        Acknowledgement(
            msg_id=original.msg_id,
            ack_type=ack_type,
            errorcode=errorcode,
            errortext=text,
            reg_number=reg_number,
            reg_date=reg_date,
        ),
    )


def _header_element(h: Header) -> etree._Element:
    return etree.Element(
        "Header",
        _attrs(
            standart="1207",
            version="1.5",
            charset="UTF-8",
            time=_format_datetime(h.time or datetime.now(UTC)),
            msg_type=str(int(h.msg_type)),
            msg_id=h.msg_id,
            msg_acknow=str(h.msg_acknow),
            from_org_id=h.from_org_id,
            from_organization=h.from_organization,
            from_department=h.from_department,
            from_sys_id=h.from_sys_id,
            from_system=h.from_system,
            from_system_details=h.from_system_details,
            to_org_id=h.to_org_id,
            to_organization=h.to_organization,
            to_department=h.to_department,
            to_sys_id=h.to_sys_id,
            to_system=h.to_system,
            to_system_details=h.to_system_details,
        ),
    )


def _finish(root: etree._Element, header: Header) -> bytes:
    problem = _validate(root)
    if problem:
        raise MessageFormatError(f"the message built for {header.msg_id} is invalid: {problem}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _org(parent: etree._Element, org: Organization) -> None:
    el = etree.SubElement(
        parent, "Organization", _attrs(fullname=org.fullname, shortname=org.shortname, ogrn=org.edrpou)
    )
    if org.address is not None:
        etree.SubElement(el, "Address").text = org.address
    for p in org.officials:
        op = etree.SubElement(el, "OfficialPerson")
        etree.SubElement(op, "Name", secname=p.secname, firstname=p.firstname, fathersname=p.fathersname)
        if p.post is not None:
            etree.SubElement(op, "Official", post=p.post)


def _reg_number(parent: etree._Element, tag: str, number: str, when: date) -> None:
    etree.SubElement(parent, tag, regdate=when.isoformat()).text = number


def _attrs(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


def _format_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__: Sequence[str] = [
    "ACK_TEXTS",
    "HUB_SYSTEM",
    "HUB_SYS_ID",
    "AckType",
    "Acknowledgement",
    "DocTransfer",
    "Document",
    "Header",
    "Message",
    "MessageFormatError",
    "MsgType",
    "OfficialPerson",
    "Organization",
    "Reference",
    "SignInfo",
    "acknowledge",
    "build_acknowledgement",
    "build_document",
    "msg_id_key",
    "new_msg_id",
    "parse_message",
]
