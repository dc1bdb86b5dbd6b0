"""zeep's own cost per Трембіта deliverMessage call (the client is WSDL-driven with zeep).

The call is made through zeep with a transport that answers at once with a recorded answer of the
gateway's service, so what is timed is zeep alone: building the request with the X-Road headers
from the WSDL, base64 of the message, parsing the answer with the echoed headers. The floor is the
same envelope written and the same answer read directly with lxml (what zeep cannot do faster).
Letters of 100 KiB, as in bench_exchange; for scale, the same letter's 1207 parse on the service
side (what every delivery costs the receiver at least).
"""

from __future__ import annotations

import base64
import statistics
import sys
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
import zeep  # noqa: E402
from lxml import etree  # noqa: E402
from timing import interleaved_samples  # noqa: E402
from zeep.transports import Transport  # noqa: E402

from gateway.config import Config  # noqa: E402
from gateway.exchange.message import (  # noqa: E402
    DocTransfer,
    Document,
    Header,
    MsgType,
    build_document,
    parse_message,
)
from gateway.soap.trembita_client import TrembitaClient  # noqa: E402
from gateway.soap.trembita_service import WSDL_PATH  # noqa: E402
from gateway.soap.trembita_wire import ID_NS, SERVICE_NS, SOAP_ENV, XROAD_NS, XRoadId  # noqa: E402
from gateway.xmlsafe import parse_xml  # noqa: E402

LETTER_BYTES = 100 * 1024
ROUNDS = 60


class _Recorded(Transport):
    """Answers every POST with a fixed deliverMessageResponse (no network)."""

    def __init__(self, answer: bytes) -> None:
        super().__init__()
        self.answer = answer

    def post(self, address, message, headers):  # noqa: ANN001, ANN201 - zeep's signature
        response = requests.Response()
        response.status_code = 200
        response._content = self.answer
        response.headers["Content-Type"] = "text/xml; charset=utf-8"
        return response


def _letter() -> bytes:
    header = Header(MsgType.DOCUMENT, str(uuid.uuid4()), "04056612", "A", "", "", "37472062", "B", "", "")
    doc = Document(
        "1", "01/1", date(2026, 11, 25), files=[DocTransfer("1", "l.pdf", "pdf", b"x" * LETTER_BYTES)]
    )
    return build_document(header, doc)


def _answer(headers: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"s": SOAP_ENV, "xrd": XROAD_NS, "id": ID_NS})
    env.append(headers)
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    wrapper = etree.SubElement(body, f"{{{SERVICE_NS}}}deliverMessageResponse")
    etree.SubElement(wrapper, f"{{{SERVICE_NS}}}status").text = "accepted"
    etree.SubElement(wrapper, f"{{{SERVICE_NS}}}acknowledgement").text = base64.b64encode(
        b"<Header/>" * 200
    ).decode()
    return etree.tostring(env)


def _lxml_call(raw: bytes, headers: etree._Element, answer: bytes) -> None:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"s": SOAP_ENV})
    env.append(headers.__copy__())
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    op = etree.SubElement(body, f"{{{SERVICE_NS}}}deliverMessage")
    etree.SubElement(op, f"{{{SERVICE_NS}}}message").text = base64.b64encode(raw).decode()
    etree.tostring(env)
    root = parse_xml(answer).getroot()
    base64.b64decode(root.findtext(f".//{{{SERVICE_NS}}}acknowledgement"))


def run() -> list[str]:
    cfg = Config()
    cfg.organization.edrpou = "04056612"
    cfg.trembita.subsystem, cfg.trembita.security_server_url = "SEV1207", "http://127.0.0.1:9/soap/trembita"
    cfg.trembita.wsdl = str(WSDL_PATH)
    client = TrembitaClient(cfg)
    service = XRoadId("SEVDEIR-TEST", "GOV", "37472062", "SEV1207", "deliverMessage", "v1")
    raw = _letter()

    # the headers as zeep writes them, recorded once, make the answer both variants read
    zclient = zeep.Client(str(WSDL_PATH))
    request = zclient.create_message(
        zclient.service, "deliverMessage", message=raw, _soapheaders=client.headers(service, "call-1")
    )
    headers = request.find(f"{{{SOAP_ENV}}}Header")
    answer = _answer(headers)
    client.transport = _Recorded(answer)

    def via_zeep() -> None:
        got = client.deliver(service, raw, "call-1")
        assert got.status == "accepted"

    zeep_s, lxml_s, parse_s = interleaved_samples(
        [via_zeep, lambda: _lxml_call(raw, headers, answer), lambda: parse_message(raw)], ROUNDS
    )
    [wsdl_s] = interleaved_samples([lambda: zeep.Client(str(WSDL_PATH))], 10)
    z, x, p = (statistics.median(s) * 1000 for s in (zeep_s, lxml_s, parse_s))
    return [
        f"deliverMessage of a {LETTER_BYTES // 1024} KiB letter, client side without the network:",
        f"zeep {z:.2f} ms per call, lxml floor {x:.2f} ms ({z / x:.1f}x), zeep's extra {z - x:.2f} ms",
        f"the receiver's 1207 parse of the same letter: {p:.2f} ms",
        f"loading the WSDL into zeep (once per partner WSDL): {statistics.median(wsdl_s) * 1000:.1f} ms",
    ]


if __name__ == "__main__":
    print("\n".join(run()))
