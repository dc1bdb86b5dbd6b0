"""Listening sockets for the HTTP servers (`gateway serve`, `gateway sev-hub`, the test hub)."""

from __future__ import annotations

import socket

from gateway.errors import GatewayError


def listen_tcp(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A bound, listening TCP socket (port 0 picks a free one).

    Bound before the server starts, so the caller can announce the real port and connections wait
    in the backlog until the app is ready. The socket is made with `IPPROTO_TCP` explicitly:
    asyncio enables TCP_NODELAY on accepted connections only for such sockets, and without it every
    answer on a kept-alive connection waits ~40 ms for a delayed ACK (Nagle).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise GatewayError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, _type, _proto, _name, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise GatewayError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock
