"""Shared fixtures: a development PKI whose CRL/OCSP/TSA services really run on localhost."""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.pki.dev import DevPki, create_dev_pki
from gateway.pki.services import start_pki_services
from gateway.signing.validation.fetchpolicy import FetchPolicy

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevPki]:
    """One development PKI per test process, with its services started (each xdist worker its own)."""
    pki = create_dev_pki(
        tmp_path_factory.mktemp("dev-pki"), name="Mykolaiv City Council", edrpou="04056612", port=free_port()
    )
    services = start_pki_services(pki)
    yield pki
    services.stop()


# The PKI answers on loopback, which validation refuses to fetch from unless it is allowed.


def dev_pki_fetch(pki: DevPki) -> FetchPolicy:
    """A fetch policy that lets in-process validations reach the development PKI's OCSP/CRL."""
    return FetchPolicy.from_items([f"127.0.0.1:{pki.port}"])


def dev_pki_env(pki: DevPki) -> dict[str, str]:
    """The environment for a `gateway` subprocess that validates against the development PKI."""
    return {**os.environ, "GATEWAY_TRUST__FETCH_ALLOW": f"127.0.0.1:{pki.port}"}


@pytest.fixture
def http_spy():
    """(url, hits): a local HTTP server recording every request, for the tests that prove
    nothing is fetched (XXE, external DTDs, attackers' URLs)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY x "pwned">')

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
