"""One JSON shape for every error: `{"error": {"code": "...", "message": "..."}}`."""

from __future__ import annotations

import errno
import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from gateway.errors import GatewayError

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 408: "request_timeout", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request", 429: "too_many_requests", 500: "internal_error", 503: "unavailable",
    507: "insufficient_storage",
}

#: seconds a client is asked to wait when the database cannot be reached
DATABASE_RETRY_AFTER = 5
#: what SQLAlchemy raises when the database cannot be reached or the pool is exhausted
DATABASE_ERRORS = (OperationalError, PoolTimeoutError)
#: a full storage folder or an exhausted quota
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


class ApiError(Exception):
    """An error answer with a stable machine-readable code and a one-line human message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def send_error(send: Send, status: int, code: str, message: str, *,
                     headers: list[tuple[bytes, bytes]] | None = None, close: bool = False) -> None:
    """The error shape sent from ASGI middleware (which answers before FastAPI runs). `close`
    ends the connection after the answer: needed whenever a request body is left unread."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw + list(headers or ())})
    await send({"type": "http.response.body", "body": body})


def _describe(errors: list[dict]) -> str:
    parts = []
    for err in errors[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body",))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(exc.status_code, _CODES.get(exc.status_code, "error"), message,
                              getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_req: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _describe(list(exc.errors())))

    @app.exception_handler(GatewayError)
    async def _gateway_error(_req: Request, exc: GatewayError) -> JSONResponse:
        return error_response(400, "bad_request", str(exc))

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeoutError)  # the members of DATABASE_ERRORS
    async def _database_unavailable(req: Request, exc: Exception) -> JSONResponse:
        # connection refused or lost, pool exhausted: nothing was stored; the client tries again
        log.warning("database unavailable on %s %s: %s", req.method, req.url.path, type(exc).__name__)
        return error_response(503, "database_unavailable", "the database is not reachable; try again later",
                              {"Retry-After": str(DATABASE_RETRY_AFTER)})

    @app.exception_handler(OSError)
    async def _os_error(req: Request, exc: OSError) -> JSONResponse:
        if exc.errno in _NO_SPACE:
            log.error("storage full on %s %s: %s", req.method, req.url.path, exc.strerror)
            return error_response(507, "insufficient_storage",
                                  "no space left to store the document; try again later")
        log.exception("internal error on %s %s", req.method, req.url.path)
        return error_response(500, "internal_error", "internal error; see the gateway log")

    @app.exception_handler(Exception)
    async def _internal(req: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", req.method, req.url.path)
        return error_response(500, "internal_error", "internal error; see the gateway log")
