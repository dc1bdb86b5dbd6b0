"""Shared fixtures: a development PKI whose CRL/OCSP/TSA services really run on localhost."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.pki.dev import DevPki, create_dev_pki
from gateway.pki.services import start_pki_services

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
