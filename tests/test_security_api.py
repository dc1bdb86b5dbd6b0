"""Security hardening of the HTTP API (issue 11), tried over real sockets as an attacker would."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from test_store_support import serve_app

from gateway.config import load_config
from gateway.store.apikeys import create_key
from gateway.store.db import open_database

SIXTY_MIB = 60 * 1024 * 1024


@pytest.fixture
def gateway(tmp_path):
    """(base_url, api_key, cfg) of a gateway app (SQLite, no workers, SEV enabled for letters)."""
    from gateway.api.app import create_app

    cfg = load_config(env={
        "GATEWAY_DATABASE__URL": f"sqlite:///{tmp_path / 'db' / 'gateway.db'}",
        "GATEWAY_STORAGE__DIR": str(tmp_path / "storage"),
        "GATEWAY_SEV__ENABLED": "true",
        "GATEWAY_SERVER__MAX_REQUEST_BYTES": str(2 * 1024 * 1024),
    })
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
    db.dispose()
    with serve_app(create_app(cfg, workers=False)) as base:
        yield base, key, cfg


def raw_request(base: str, head: str, body: bytes = b"", wait: float = 5.0) -> bytes:
    """Send `head` (and `body`) on a fresh connection; what the server answers within `wait` s."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            pass
        return answer


def upload_head(path: str, length: int, key: str | None = None) -> str:
    auth = f"Authorization: Bearer {key}\n" if key else ""
    return (f"POST {path} HTTP/1.1\nHost: gateway\n{auth}Content-Type: multipart/form-data; boundary=b\n"
            f"Content-Length: {length}\n")


@pytest.mark.parametrize("path", ["/api/v1/outgoing", "/api/v1/validations", "/api/v1/signatures"])
def test_upload_without_key_is_refused_before_the_body_is_read(gateway, path):
    base, _, _ = gateway
    for key in (None, "gwk_wrong"):
        started = time.monotonic()
        answer = raw_request(base, upload_head(path, SIXTY_MIB, key))  # headers only, no body
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
        assert b"connection: close" in answer.lower() and b"www-authenticate: bearer" in answer.lower()
        assert time.monotonic() - started < 3


def test_declared_size_over_the_limit_is_refused_before_the_body_is_read(gateway):
    base, key, _ = gateway
    answer = raw_request(base, upload_head("/api/v1/outgoing", SIXTY_MIB, key))
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def test_parallel_unauthenticated_uploads_are_not_read(gateway):
    """Four 60 MiB uploads at once without a key: each is stopped long before its end."""
    base, _, _ = gateway
    sent = []

    def body():
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
        for _ in range(SIXTY_MIB // 65536):
            sent.append(65536)
            yield b"x" * 65536

    def upload(_n: int) -> int | None:
        with httpx.Client(base_url=base, timeout=10) as anon:
            try:
                return anon.post("/api/v1/outgoing", content=body(),
                                 headers={"Content-Type": "multipart/form-data; boundary=b"}).status_code
            except httpx.TransportError:
                return None  # the server closed the connection on the unread body: just as good

    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(upload, range(4))) <= {401, None}
    assert sum(sent) < 4 * SIXTY_MIB // 4, f"{sum(sent)} bytes were taken before the answer"


def test_open_and_own_auth_paths(gateway):
    base, key, _ = gateway
    with httpx.Client(base_url=base, timeout=10) as anon:
        assert anon.get("/healthz").status_code == 200
        for path in ("/metrics", "/openapi.json", "/docs", "/no-such-thing", "/healthz/x", "/consoles"):
            assert anon.get(path).status_code == 401, path
        # /console has its own (session) authentication: the gate lets it through to the app
        assert anon.get("/console").status_code == 404
        assert anon.get("/console/../api/v1/incoming").status_code in (400, 401)
