"""`gateway sev-hub`: run the stand-in for the SEV OVV hub (see gateway.soap.sev_hub)."""

from __future__ import annotations

import argparse

from gateway.errors import GatewayError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sev-hub",
        help="run a stand-in for the SEV OVV hub (IntegrationService)",
        description="Serves the SEV OVV IntegrationService at /csp/dirbus/bus.esb.IntegrationService.cls "
        "(WSDL at ?wsdl). Systems and their organizations are registered explicitly (--systems); "
        "--open-registration lets unknown systems register on first use (demos only).",
    )
    p.add_argument(
        "--listen",
        default="127.0.0.1:8711",
        metavar="HOST:PORT",
        help="address to listen on (default 127.0.0.1:8711; port 0 picks a free one)",
    )
    p.add_argument(
        "--data", default="sev-hub-data", metavar="DIR", help="state directory (default ./sev-hub-data)"
    )
    p.add_argument(
        "--max-part-size",
        type=int,
        default=2_500_000,
        metavar="N",
        help="MaxPartSize announced to clients, in bytes (default 2500000)",
    )
    p.add_argument(
        "--systems",
        metavar="FILE",
        help="TOML file of [[system]] id, password|password_env, org_id; only these may call",
    )
    p.add_argument(
        "--open-registration",
        action="store_true",
        help="let unknown systems register on first use with the password they present, and take "
        "the FromOrgId of their first upload if no registered system has it (demos only)",
    )
    p.add_argument(
        "--dialect",
        choices=("sev2", "wcf"),
        default="sev2",
        help="the only wire form answered: sev2 (the SEV 2.0 hub, default) or wcf (the older service)",
    )
    p.add_argument(
        "--accept-duplicates",
        action="store_true",
        help="store a second upload of a MessageId instead of refusing it (as some hubs do; tests)",
    )
    p.add_argument(
        "--fail-every",
        type=int,
        default=0,
        metavar="N",
        help="fault injection: answer every Nth request with HTTP 503",
    )
    p.add_argument(
        "--lose-upload-answer-every",
        type=int,
        default=0,
        metavar="N",
        help="fault injection: store every Nth chunk but answer HTTP 504",
    )
    p.add_argument(
        "--drop-connections",
        action="store_true",
        help="fault injection: with --lose-upload-answer-every, break the connection instead of a 504",
    )
    p.add_argument(
        "--public-url",
        default="",
        metavar="URL",
        help="the hub's base URL as partners reach it, for the WSDL's address "
        "(default: the listening address)",
    )
    p.set_defaults(func=run)


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise GatewayError(f"--listen must be HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def run(args: argparse.Namespace) -> int:
    import socket
    from pathlib import Path

    import uvicorn

    from gateway.netutil import listen_tcp
    from gateway.soap.sev_dialect import dialect
    from gateway.soap.sev_hub import SERVICE_PATH, Faults, SevHub, create_app

    host, port = parse_listen(args.listen)
    faults = Faults(
        unavailable_every=args.fail_every,
        lose_upload_answer_every=args.lose_upload_answer_every,
        drop_upload_answer=args.drop_connections,
    )
    hub = SevHub(
        Path(args.data),
        max_part_size=args.max_part_size,
        open_registration=args.open_registration,
        accept_duplicates=args.accept_duplicates,
        faults=faults,
        dialect=dialect(args.dialect),
        public_url=args.public_url,
    )
    if args.systems:
        count = hub.load_systems(Path(args.systems))
        print(f"registered {count} system(s) from {args.systems}", flush=True)
    elif not args.open_registration:
        print("no --systems file: only systems registered earlier in --data may call", flush=True)
    sock = listen_tcp(host, port, backlog=128)
    port = sock.getsockname()[1]
    shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
    print(
        f"SEV hub stand-in: http://{shown}:{port}{SERVICE_PATH} (WSDL: ?wsdl), data in {args.data},"
        f" dialect {args.dialect}",
        flush=True,
    )
    server = uvicorn.Server(uvicorn.Config(create_app(hub), log_level="warning", lifespan="off"))
    try:
        server.run(sockets=[sock])
    finally:
        hub.store.close()
    return 0
