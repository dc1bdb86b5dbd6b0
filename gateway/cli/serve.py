"""`gateway serve [--config FILE]`: REST + SOAP + background workers (+ dev PKI) in one process."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from gateway.cli.common import add_config_argument, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the gateway (REST API, SOAP, workers)")
    add_config_argument(p)
    p.add_argument("--host", help="override [server] host")
    p.add_argument("--port", type=int, help="override [server] port")
    p.set_defaults(func=run)


class _StartupErrors:
    """ASGI wrapper keeping the exception of a failed start-up (a wrong key password, a PKI port
    held by another program, ...) so the CLI reports it as one line instead of uvicorn's traceback."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.error: BaseException | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_quietly(message: Any) -> None:
            if message["type"] == "lifespan.startup.failed":
                message = {**message, "message": ""}  # the traceback text starlette puts there
            await send(message)

        try:
            await self.app(scope, receive, send_quietly)
        except BaseException as exc:
            self.error = exc
            raise


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.api.app import create_app
    from gateway.api.server import uvicorn_config
    from gateway.errors import GatewayError
    from gateway.netutil import listen_tcp
    from gateway.soap.trembita_tls import running_tls_listener

    cfg = config_from_args(args, required=True)
    host = args.host or cfg.server.host
    port = args.port if args.port is not None else cfg.server.port
    if not isinstance(port, int) or not 0 <= port < 65536:
        raise GatewayError(f"[server] port must be a number from 0 to 65535, got {port!r}")
    sock = listen_tcp(host, port, backlog=2048)
    app = _StartupErrors(create_app(cfg))
    server = uvicorn.Server(uvicorn_config(app, cfg.server, log_level="warning", lifespan="on"))
    logging.getLogger("uvicorn.error").addFilter(lambda _record: app.error is None)
    print(f"gateway serving on http://{host}:{sock.getsockname()[1]} (config {cfg.path})", flush=True)
    try:
        with running_tls_listener(app, cfg) as tls_port:
            if tls_port is not None:
                print(f"Трембіта HTTPS listener on port {tls_port} (client certificates)", flush=True)
            server.run(sockets=[sock])
    except SystemExit:  # uvicorn's way of ending a failed start-up
        if app.error is None:
            raise
    finally:
        sock.close()
    if app.error is not None:
        if isinstance(app.error, GatewayError | OSError):
            raise app.error
        raise GatewayError(f"start-up failed: {type(app.error).__name__}: {app.error}")
    return 0
