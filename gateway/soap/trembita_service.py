"""The gateway's Трембіта service: `POST /soap/trembita` and its WSDL at `GET /soap/trembita?wsdl`.

Authentication of this path is its own (it is not behind the EDMS's bearer API keys): the caller
is the security server, which vouches for the X-Road `client` header; the client must be a partner
whose `--xroad-client` it is, and the `service` must be ours (instance, member, subsystem from
`[trembita]`, service code = the operation). When `[trembita] listen` is set, the security server
reaches us over HTTPS with a client certificate (checked against `[trembita] client_ca` by the TLS
listener) and calls over plain HTTP are refused. Every error is a SOAP 1.1 fault with HTTP 500.

Whether a call came through that listener is a mark the listener puts in the ASGI scope
(`VIA_TLS_LISTENER`), not the scope's scheme: that one follows `[server] public_url` (see
`gateway.api.public_url`), which says "https" for a gateway behind a TLS proxy whatever the socket.
"""

from __future__ import annotations

import base64
import binascii
import logging
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from lxml import etree
from starlette.concurrency import run_in_threadpool

from gateway.config import Config
from gateway.exchange import trembita_intake
from gateway.exchange.trembita_intake import Refused
from gateway.soap.trembita_wire import (
    TrembitaFault,
    XRoadId,
    fault,
    parse_request,
    response,
)
from gateway.xmlsafe import hardened_parser

log = logging.getLogger(__name__)

PATH = "/soap/trembita"
WSDL_PATH = Path(__file__).resolve().parents[2] / "schemas" / "trembita.wsdl"
_XML = "text/xml; charset=utf-8"

#: ASGI scope key the HTTPS listener sets on every call it passes on (clients cannot set scope keys)
VIA_TLS_LISTENER = "gateway.trembita_tls"

router = APIRouter(include_in_schema=False)


def our_subsystem(cfg: Config) -> XRoadId:
    """The council's X-Road subsystem ([trembita]; the member code defaults to the EDRPOU)."""
    t = cfg.trembita
    return XRoadId(t.instance, t.member_class, t.member_code or cfg.organization.edrpou, t.subsystem or None)


def public_address(cfg: Config) -> str:
    base = cfg.server.public_url.rstrip("/") or f"http://{cfg.server.host}:{cfg.server.port}"
    return base + PATH


@cache
def _wsdl_template() -> bytes:
    return WSDL_PATH.read_bytes()


def wsdl(address: str) -> bytes:
    """schemas/trembita.wsdl with the service's address."""
    root = etree.fromstring(_wsdl_template(), hardened_parser())
    for el in root.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address"):
        el.set("location", address)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _context(request: Request) -> Any:
    """The running gateway; None while it starts (the HTTPS listener may be up before it)."""
    return getattr(request.app.state, "gateway", None)


@router.get(PATH)
def get_wsdl(request: Request) -> Response:
    ctx = _context(request)
    if "wsdl" not in request.query_params:
        return Response(b"", status_code=404)
    if ctx is None:
        return Response(b"", status_code=503, headers={"Retry-After": "1"})
    return Response(wsdl(public_address(ctx.cfg)), media_type=_XML)


@router.post(PATH)
async def post(request: Request) -> Response:
    ctx = _context(request)
    if ctx is None:
        return _fault("Server.Unavailable", "the gateway is starting; try again shortly")
    cfg: Config = ctx.cfg
    if cfg.trembita.listen and not request.scope.get(VIA_TLS_LISTENER):
        return _fault("Client.TlsRequired", "this service is reached over HTTPS with a client certificate")
    limit = cfg.trembita.max_request_bytes
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return _fault("Client.RequestTooLarge", f"the request is larger than {limit} bytes")
    return await run_in_threadpool(handle, ctx, bytes(body))


def handle(ctx: Any, body: bytes) -> Response:
    """One call: its answer, or a fault (nothing stored)."""
    cfg: Config = ctx.cfg
    headers: list[Any] = []
    try:
        req = parse_request(body, max_bytes=cfg.trembita.max_request_bytes)
        headers = req.headers
        _check_service(cfg, req.service, req.operation)
        if req.operation == "getDeliveryStatus":
            status = trembita_intake.delivery_status(
                ctx.db, client=req.client.path, msg_id=req.params["msgId"]
            )
            return _ok(response(req, [("status", status)]))
        raw = _base64(req.params["message"])
        got = trembita_intake.deliver(
            cfg,
            ctx.db,
            ctx.blobs,
            raw,
            client=req.client.path,
            xroad_id=req.id,
            validator=ctx.validate_signature,
        )
        ctx.metrics.incoming.labels(got.kind, "stored" if got.stored else "duplicate").inc()
        if got.stored:
            ctx.wake_workers()
        ack = base64.b64encode(got.acknowledgement).decode("ascii") if got.acknowledgement else None
        log.info("trembita: %s %s from %s (call %s)", got.status, got.msg_id, req.client.path, req.id)
        return _ok(response(req, [("status", got.status), ("acknowledgement", ack)]))
    except TrembitaFault as exc:
        return _fault(exc.code, exc.message, exc.headers or headers)
    except Refused as exc:
        return _fault(exc.code, exc.reason, headers)
    except Exception:  # noqa: BLE001 - a fault for the caller, the details in our log only
        log.exception("trembita: the call failed")
        return _fault("Server.InternalError", "the message could not be processed; try again later", headers)


def _check_service(cfg: Config, service: XRoadId, operation: str) -> None:
    if not cfg.trembita.enabled:
        raise TrembitaFault("Server.ServiceDisabled", "the Трембіта service is not enabled")
    if service.member != our_subsystem(cfg) or service.service_code != operation:
        raise TrembitaFault(
            "Client.UnknownService",
            f"the service {service.path} is not {our_subsystem(cfg).path}/{operation}",
        )


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise TrembitaFault("Client.InvalidRequest", "message is not valid base64Binary") from None


def _ok(body: bytes) -> Response:
    return Response(body, media_type=_XML)


def _fault(code: str, message: str, headers: list[Any] | None = None) -> Response:
    return Response(fault(code, message, headers), status_code=500, media_type=_XML)
