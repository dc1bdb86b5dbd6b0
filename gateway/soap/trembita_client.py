"""The Трембіта channel: letters and acknowledgements delivered to partners' services through our
security server, with zeep driven by the partner service's WSDL.

The WSDL comes from `[trembita] wsdl` (a file or URL) or else from the security server's metadata
service (`GET <security server>/wsdl?xRoadInstance=…&serviceCode=…`), is loaded once per source,
and the call goes to `[trembita] security_server_url` whatever address the WSDL names. Each call
carries the X-Road headers: client = our subsystem, service = the partner's `--xroad-service`, and
an `id` derived from the 1207 msg_id, so a retried letter is the same X-Road request (the partner
answers "duplicate", nothing is delivered twice). The "delivered" acknowledgement in the answer is
applied before `send` returns; later acknowledgements come to our own service.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import zeep
import zeep.exceptions
from zeep.transports import Transport

from gateway.config import Config
from gateway.errors import ConfigError
from gateway.exchange import trembita_intake
from gateway.exchange.message import Header
from gateway.exchange.workers import register_channel
from gateway.soap.trembita_service import our_subsystem
from gateway.soap.trembita_wire import PROTOCOL_VERSION, XRoadId
from gateway.store.db import Database, open_database

log = logging.getLogger(__name__)

#: X-Road request ids are derived from 1207 msg_ids in this namespace (stable across retries)
_ID_NAMESPACE = uuid.UUID("5d0b7f3e-8f1e-4b8e-9d38-7a1c2e0f1207")


def xroad_id(msg_id: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, msg_id.lower()))


@dataclass
class Answer:
    status: str
    acknowledgement: bytes | None
    #: the X-Road headers the service echoed, as zeep read them
    headers: Any


def _identifier(ident: XRoadId, object_type: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "objectType": object_type,
        "xRoadInstance": ident.instance,
        "memberClass": ident.member_class,
        "memberCode": ident.member_code,
    }
    if ident.subsystem:
        out["subsystemCode"] = ident.subsystem
    if ident.service_code:
        out["serviceCode"] = ident.service_code
    if ident.service_version:
        out["serviceVersion"] = ident.service_version
    return out


def _binding_of(client: zeep.Client, operation: str, service: XRoadId) -> str:
    """The WSDL binding offering `operation` (a partner's WSDL may name things differently)."""
    for qname, binding in client.wsdl.bindings.items():
        try:
            binding.get(operation)
        except ValueError:
            continue
        return qname
    raise ConfigError(f"the WSDL of {service.path} has no operation {operation!r}")


class TrembitaClient:
    """zeep clients (one per WSDL source) calling through the security server."""

    def __init__(self, cfg: Config) -> None:
        t = cfg.trembita
        if not t.security_server_url:
            raise ConfigError("[trembita] security_server_url is needed to send over Трембіта")
        self.cfg = cfg
        self.session = requests.Session()
        # the configured certificates, not REQUESTS_CA_BUNDLE or proxies from the environment
        self.session.trust_env = False
        if t.tls_cert:
            self.session.cert = (str(cfg.resolve(t.tls_cert)), str(cfg.resolve(t.tls_key or t.tls_cert)))
        if t.server_ca:
            self.session.verify = str(cfg.resolve(t.server_ca))
        self.transport = Transport(session=self.session, timeout=t.timeout, operation_timeout=t.timeout)
        self._operations: dict[tuple[str, str], Callable[..., Any]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.session.close()

    def wsdl_source(self, service: XRoadId) -> str:
        t = self.cfg.trembita
        if t.wsdl:
            if "://" in t.wsdl:
                return t.wsdl
            return str(self.cfg.resolve(t.wsdl))
        url = urlsplit(t.security_server_url)
        query = {
            "xRoadInstance": service.instance,
            "memberClass": service.member_class,
            "memberCode": service.member_code,
            "subsystemCode": service.subsystem or "",
            "serviceCode": service.service_code or "",
            "version": service.service_version or "",
        }
        return f"{url.scheme}://{url.netloc}/wsdl?" + urlencode({k: v for k, v in query.items() if v})

    def _operation(self, service: XRoadId, operation: str) -> Callable[..., Any]:
        """The operation of the partner's WSDL, bound to the security server (loaded once)."""
        source = self.wsdl_source(service)
        with self._lock:
            call = self._operations.get((source, operation))
            if call is None:
                client = zeep.Client(source, transport=self.transport)
                proxy = client.create_service(
                    _binding_of(client, operation, service), self.cfg.trembita.security_server_url
                )
                call = self._operations[(source, operation)] = getattr(proxy, operation)
            return call

    def headers(self, service: XRoadId, request_id: str) -> dict[str, Any]:
        ours = our_subsystem(self.cfg)
        return {
            "client": _identifier(ours, "SUBSYSTEM" if ours.subsystem else "MEMBER"),
            "service": _identifier(service, "SERVICE"),
            "id": request_id,
            "userId": self.cfg.trembita.user_id,
            "protocolVersion": PROTOCOL_VERSION,
        }

    def deliver(self, service: XRoadId, raw: bytes, request_id: str) -> Answer:
        """deliverMessage; zeep.exceptions.Fault for a fault, requests' errors for the transport."""
        call = self._operation(service, "deliverMessage")
        result = call(message=raw, _soapheaders=self.headers(service, request_id))
        echoed = getattr(result, "header", None)
        if echoed is None or echoed["id"] != request_id:
            raise RuntimeError(f"the answer to X-Road request {request_id} does not echo its id")
        return Answer(str(result.body["status"]), result.body["acknowledgement"], echoed)

    def delivery_status(self, service: XRoadId, msg_id: str) -> str:
        status_service = XRoadId(
            service.instance,
            service.member_class,
            service.member_code,
            service.subsystem,
            "getDeliveryStatus",
            service.service_version,
        )
        call = self._operation(status_service, "getDeliveryStatus")
        result = call(msgId=msg_id, _soapheaders=self.headers(status_service, str(uuid.uuid4())))
        return str(result.body["status"])


class TrembitaChannel:
    """Трембіта as a worker channel (gateway.exchange.workers): delivery only, nothing to poll
    (partners deliver to our service), so its health is that of its calls to partners."""

    name = "trembita"

    def __init__(self, cfg: Config) -> None:
        self.client = TrembitaClient(cfg)
        self.db: Database = open_database(cfg, migrate=False)  # the partners directory, answers' acks
        #: partner EDRPOU -> why its latest call failed (cleared by its next success)
        self._failures: dict[str, str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()
        self.db.dispose()

    def health(self) -> str:
        """"ok", or "failing: <why>" for the partners whose latest call failed (for /healthz)."""
        with self._lock:
            failures = sorted(self._failures.items())
        if not failures:
            return "ok"
        return ("failing: " + "; ".join(f"{partner}: {why}" for partner, why in failures))[:300]

    def send(self, raw: bytes, header: Header) -> None:
        partner = header.to_org_id
        try:
            answer, service = self._deliver(raw, header)
        except Exception as exc:
            with self._lock:
                self._failures[partner] = str(exc)
            raise
        with self._lock:
            self._failures.pop(partner, None)
        log.info("trembita: %s delivered to %s (%s)", header.msg_id, service.path, answer.status)
        if answer.acknowledgement and not trembita_intake.take_answer_ack(
            self.db, answer.acknowledgement, letter_msg_id=header.msg_id
        ):
            log.warning(
                "trembita: the answer to %s carried an acknowledgement of another message", header.msg_id
            )

    def _deliver(self, raw: bytes, header: Header) -> tuple[Answer, XRoadId]:
        """deliverMessage to the partner's service; a fault is an error naming its code."""
        service = XRoadId.service_from_path(trembita_intake.partner_service(self.db, header.to_org_id))
        try:
            return self.client.deliver(service, raw, xroad_id(header.msg_id)), service
        except zeep.exceptions.Fault as fault:
            raise RuntimeError(f"{service.path} answered {fault.code}: {fault.message}") from None

    def poll(self, handle: Callable[[bytes], None]) -> int:
        return 0


register_channel("trembita", TrembitaChannel)
