"""Connection limits of `gateway serve` (issue 11): idle, slow and oversized requests over raw
sockets, against the uvicorn configuration `gateway serve` uses (gateway.api.server)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from test_security_api import raw_request, upload_head

from gateway.api.app import create_app
from gateway.api.server import uvicorn_config
from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.netutil import listen_tcp
from gateway.store.apikeys import create_key
from gateway.store.db import open_database


@pytest.mark.parametrize("key", ["HEADER_TIMEOUT", "BODY_TIMEOUT", "MIN_BODY_RATE", "KEEP_ALIVE_TIMEOUT",
                                 "LIMIT_CONCURRENCY"])
def test_negative_limits_are_a_configuration_error(key):
    with pytest.raises(ConfigError, match=key.lower()):
        load_config(env={f"GATEWAY_SERVER__{key}": "-1"})


@contextmanager
def served_like_gateway_serve(app: Any, cfg: Any) -> Iterator[tuple[str, int]]:
    """Serve `app` as `gateway serve` does (its uvicorn configuration); yields (host, port)."""
    sock = listen_tcp("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn_config(app, cfg.server, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield sock.getsockname()
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


LIMITS = {"GATEWAY_SERVER__HEADER_TIMEOUT": "1", "GATEWAY_SERVER__BODY_TIMEOUT": "1",
          "GATEWAY_SERVER__MIN_BODY_RATE": "50000", "GATEWAY_SERVER__KEEP_ALIVE_TIMEOUT": "1",
          "GATEWAY_SERVER__LIMIT_CONCURRENCY": "6"}


@pytest.fixture
def limited(tmp_path):
    """(address, api key) of a gateway served with short timeouts and at most 6 connections."""
    cfg = load_config(env={"GATEWAY_DATABASE__URL": f"sqlite:///{tmp_path / 'gateway.db'}",
                           "GATEWAY_STORAGE__DIR": str(tmp_path / "storage"), **LIMITS})
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
    db.dispose()
    with served_like_gateway_serve(create_app(cfg, workers=False), cfg) as address:
        yield address, key


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection; and how long that took."""
    started = time.monotonic()
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pytest.fail(f"the connection was still open after {limit} s; got {data[:100]!r}")
    except ConnectionResetError:
        pass
    return data, time.monotonic() - started


def test_silent_and_slow_header_connections_are_closed(limited):
    address, _ = limited
    with socket.create_connection(address) as idle:
        answer, took = read_until_closed(idle, 5)
        assert answer.startswith(b"HTTP/1.1 408 ") and b"request_timeout" in answer and took < 3
    with socket.create_connection(address) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        for header in (b"Host: x\r\n", b"X-A: 1\r\n", b"X-B: 2\r\n", b"X-C: 3\r\n", b"X-D: 4\r\n"):
            time.sleep(0.3)
            try:
                slow.sendall(header)
            except OSError:
                break
        answer, took = read_until_closed(slow, 5)
        assert answer.startswith(b"HTTP/1.1 408 ")


def test_garbage_instead_of_http_is_a_400_in_the_error_shape(limited):
    address, _ = limited
    with socket.create_connection(address) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello to a plain port\r\n\r\n")
        answer, _ = read_until_closed(sock, 5)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and json.loads(body)["error"]["code"] == "bad_request"


def test_kept_alive_idle_connection_is_closed(limited):
    address, _ = limited
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer, took = read_until_closed(sock, 5)
        assert answer.startswith(b"HTTP/1.1 200 ") and 0.5 < took < 3


@pytest.mark.parametrize("trickle", [False, True])
def test_slow_body_is_cut_off_with_408(limited, trickle):
    address, key = limited
    head = upload_head("/api/v1/validations", 100_000, key).replace("\n", "\r\n").encode() + b"\r\n"
    with socket.create_connection(address) as sock:
        sock.sendall(head + b"--b\r\n")
        started = time.monotonic()
        while trickle and time.monotonic() - started < 4:  # a byte every 0.2 s: never idle, never done
            try:
                sock.sendall(b"x")
            except OSError:
                break
            time.sleep(0.2)
        answer, _ = read_until_closed(sock, 5)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"request_timeout" in answer and time.monotonic() - started < 3


def test_a_large_body_at_a_fair_rate_passes(limited):
    """1 MiB in 1.5 s (past body_timeout = 1 s, but above min_body_rate): not cut off."""
    address, key = limited

    def body() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.p7s"\r\n\r\n'
        for _ in range(16):
            time.sleep(0.1)
            yield b"x" * 65536
        yield b"\r\n--b--\r\n"

    with httpx.Client(base_url=f"http://{address[0]}:{address[1]}", timeout=30) as c:
        resp = c.post("/api/v1/validations", content=body(), headers={
            "Authorization": f"Bearer {key}", "Content-Type": "multipart/form-data; boundary=b"})
    assert resp.status_code == 200 and resp.json()["indication"] == "TOTAL_FAILED"


def test_held_connections_do_not_hold_the_server(limited):
    address, _ = limited
    held = [socket.create_connection(address) for _ in range(6)]
    try:
        time.sleep(0.2)
        answer = raw_request(f"http://{address[0]}:{address[1]}", "GET /healthz HTTP/1.1\nHost: x\n")
        assert answer.startswith(b"HTTP/1.1 503 ")  # limit_concurrency
        time.sleep(1.5)  # the header timeout closes the held ones
        answer = raw_request(f"http://{address[0]}:{address[1]}", "GET /healthz HTTP/1.1\nHost: x\n")
        assert answer.startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in held:
            sock.close()


def test_endless_headers_are_refused(limited):
    address, _ = limited
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Endless: ")
        try:
            for _ in range(64):  # up to 4 MiB of one header line
                sock.sendall(b"a" * 65536)
        except OSError:
            pass  # closed on us: as it should
        answer, _ = read_until_closed(sock, 5)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]


def test_connection_with_an_unread_body_is_closed_after_the_answer(limited):
    address, _ = limited
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc")
        started = time.monotonic()
        for _ in range(15):  # a byte every 0.2 s of a body nobody reads: the keep-alive timer never runs
            try:
                sock.sendall(b"x")
            except OSError:
                break
            time.sleep(0.2)
        answer, _ = read_until_closed(sock, 5)
        assert answer.startswith(b"HTTP/1.1 200 ") and time.monotonic() - started < 2.5


def test_fair_kept_alive_and_pipelined_requests_still_work(limited):
    address, key = limited
    one = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() + b"\r\nX-Pad: " + \
        b"p" * 30_000 + b"\r\n\r\n"
    with socket.create_connection(address) as sock:
        sock.sendall(one + big + one)  # pipelined, one of them with 30 kB of headers
        answer, _ = read_until_closed(sock, 5)  # closed by the keep-alive timeout after the third
    assert answer.count(b"HTTP/1.1 200 ") == 3, answer[:300]
