"""`gateway serve [--config FILE]`: REST + SOAP + background workers (+ dev PKI) in one process."""

from __future__ import annotations

import argparse

from gateway.cli.common import add_config_argument, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the gateway (REST API, SOAP, workers)")
    add_config_argument(p)
    p.add_argument("--host", help="override [server] host")
    p.add_argument("--port", type=int, help="override [server] port")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.api.app import create_app

    cfg = config_from_args(args, required=True)
    host = args.host or cfg.server.host
    port = args.port if args.port is not None else cfg.server.port
    app = create_app(cfg)
    print(f"gateway serving on http://{host}:{port} (config {cfg.path})", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
    return 0
