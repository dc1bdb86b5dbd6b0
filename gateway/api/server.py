"""The HTTP server of `gateway serve`: uvicorn with the connection limits of `[server]`.

uvicorn closes an idle kept-alive connection (`keep_alive_timeout`), but a connection that sends
nothing, or sends its request line and headers a byte at a time, is kept forever: a few hundred
of them hold the server, and httptools buffers a header line of any length. `GuardedHttpProtocol`
adds a header timeout: from the moment a connection opens (or a new request on it begins) the
headers must be complete within `header_timeout` seconds, else it is answered 408 and closed;
and headers over 64 KiB are answered 431 and closed. The body's time limit is
`gateway.api.limits` (it needs to know when the application reads); `limit_concurrency` makes
uvicorn answer 503 once that many connections or requests are open.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.config import ServerConfig

MAX_HEADER_BYTES = 64 * 1024


def _raw_error(status: bytes, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 answer in the one error shape, for the protocol level (no app yet)."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return (b"HTTP/1.1 %s\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n%s" % (status, len(body), body))


_REQUEST_TIMEOUT = _raw_error(b"408 Request Timeout", "request_timeout",
                              "the request headers came too slowly")
_HEADERS_TOO_LARGE = _raw_error(b"431 Request Header Fields Too Large", "headers_too_large",
                                f"request line and headers larger than {MAX_HEADER_BYTES} bytes")


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size limit for the request headers."""

    header_timeout: float = 20.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes: int | None = 0  # None: not reading headers now
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        # httptools buffers a header of any size: bound it. Only chunks that began inside the
        # headers count, so a body and the next pipelined request in one chunk are never counted
        # as headers (the limit may let one extra chunk through, never refuse a fair request).
        counting = self._header_bytes is not None
        super().data_received(data)
        if counting and self._header_bytes is not None and not self.transport.is_closing():
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(_HEADERS_TOO_LARGE)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._header_bytes = None
        self._disarm_header_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """A request httptools cannot parse: the one error shape instead of uvicorn's plain text."""
        self.transport.write(_raw_error(b"400 Bad Request", "bad_request", msg))
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        cycle = self.cycle  # the newest request: the one answered, unless another is pipelined
        unread = cycle is not None and cycle.response_complete and cycle.more_body
        if unread and not self.transport.is_closing():
            # answered before its body was read (401, 413, an endpoint without a body): a client
            # could trickle the rest of a huge declared body forever, no timer would stop it
            self.transport.close()

    def _arm_header_timer(self) -> None:
        if self.header_timeout > 0 and self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self._refuse(_REQUEST_TIMEOUT)

    def _refuse(self, answer: bytes) -> None:
        self._disarm_header_timer()
        if self.cycle is None or self.cycle.response_complete:  # never in the middle of an answer
            self.transport.write(answer)
        self.transport.close()


def protocol_class(header_timeout: float) -> type[GuardedHttpProtocol]:
    """The protocol class with this header timeout (uvicorn instantiates the class itself)."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"header_timeout": header_timeout})


def uvicorn_config(app: Any, server: ServerConfig, **kwargs: Any) -> uvicorn.Config:
    """uvicorn's configuration for `app` with the limits of `[server]` (other uvicorn settings,
    such as `log_level`, through `kwargs`)."""
    return uvicorn.Config(
        app,
        http=protocol_class(server.header_timeout),
        timeout_keep_alive=server.keep_alive_timeout,
        limit_concurrency=server.limit_concurrency or None,
        proxy_headers=False,  # the client's address and scheme are the socket's, never a header's
        **kwargs,
    )
