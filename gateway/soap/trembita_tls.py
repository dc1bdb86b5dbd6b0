"""The HTTPS listener for `/soap/trembita` (`[trembita] listen`): X-Road's "HTTPS" connection type
for information systems, where the security server must show a client certificate.

It serves only the Трембіта path of the gateway's app (everything else answers 404), with the
gateway's certificate `[trembita] tls_cert`/`tls_key`, and refuses at the TLS handshake a caller
without a certificate issued by (or equal to) one in `[trembita] client_ca`. It runs beside the
main listener, in its own thread and event loop, and shares the app's state (the main listener's
lifespan opens it); it has no lifespan and no signal handling of its own.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

from gateway.config import Config
from gateway.errors import ConfigError
from gateway.netutil import listen_tcp
from gateway.soap.trembita_service import PATH, VIA_TLS_LISTENER


def listen_address(cfg: Config) -> tuple[str, int]:
    host, sep, port = cfg.trembita.listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"[trembita] listen must be HOST:PORT, got {cfg.trembita.listen!r}")
    return host.strip("[]") or cfg.server.host, int(port)


class OnlyTrembita:
    """ASGI: the Трембіта path of `app`, marked as come through this listener; 404 for any other."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] != PATH:
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app({**scope, VIA_TLS_LISTENER: True}, receive, send)


class _Sibling(uvicorn.Server):
    """A server that leaves signals to the main one (it may run off the main thread)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def tls_server(app: Any, cfg: Config) -> uvicorn.Server:
    t = cfg.trembita
    if not (t.tls_cert and t.client_ca):
        raise ConfigError("[trembita] listen needs tls_cert (and tls_key) and client_ca")
    config = uvicorn.Config(
        OnlyTrembita(app),
        lifespan="off",
        log_level="warning",
        proxy_headers=False,
        ssl_certfile=str(cfg.resolve(t.tls_cert)),
        ssl_keyfile=str(cfg.resolve(t.tls_key or t.tls_cert)),
        ssl_ca_certs=str(cfg.resolve(t.client_ca)),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        timeout_graceful_shutdown=5,  # a security server's idle keep-alive connection does not hold a stop
    )
    return _Sibling(config)


@contextlib.contextmanager
def running_tls_listener(app: Any, cfg: Config) -> Iterator[int | None]:
    """Serve `[trembita] listen` (when set) while the block runs; yields its port (None: not set)."""
    if not cfg.trembita.listen:
        yield None
        return
    server = tls_server(app, cfg)
    sock = listen_tcp(*listen_address(cfg))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="gateway-trembita-tls", daemon=True
    )
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
