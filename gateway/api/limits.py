"""Request body limits: size ([server] max_request_bytes) and time ([server] body_timeout,
min_body_rate), for declared and for streamed bodies.

The size is checked against Content-Length before anything is read and counted while a chunked
body streams. The time limit is that of Apache's mod_reqtimeout: the body must arrive within
`body_timeout` seconds, extended by one second for every `min_body_rate` bytes received, so a
large upload on a slow line passes while a client trickling a byte now and then (slowloris) is
cut off with 408 and the connection closed.
"""

from __future__ import annotations

import asyncio
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.errors import send_error

_CLOSE = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes the limit (an HTTPException so that
    FastAPI's body parsing passes it on instead of calling it a parse error)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes", headers=_CLOSE)


class BodyTimeout(HTTPException):
    """Raised from `receive` when the body does not arrive in time."""

    def __init__(self) -> None:
        super().__init__(408, "the request body did not arrive in time", headers=_CLOSE)


class BodyLimitMiddleware:
    """413 (size) and 408 (time) in the common JSON error shape for request bodies."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float = 0, min_rate: float = 0) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await send_error(send, 413, "payload_too_large",
                                     f"request body larger than {self.limit} bytes", close=True)
                    return
        seen = 0
        body_done = False
        started = False
        began = time.monotonic()

        async def limited_receive() -> Message:
            nonlocal seen, body_done
            if body_done or not self.timeout:
                message = await receive()  # after the body: only http.disconnect, no deadline
            else:
                extra = seen / self.min_rate if self.min_rate else 0.0
                remaining = began + self.timeout + extra - time.monotonic()
                try:
                    message = await asyncio.wait_for(receive(), max(remaining, 0.001))
                except TimeoutError:
                    raise BodyTimeout() from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
                body_done = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (BodyTooLarge, BodyTimeout) as exc:
            if not started:
                code = "payload_too_large" if exc.status_code == 413 else "request_timeout"
                await send_error(send, exc.status_code, code, exc.detail, close=True)
