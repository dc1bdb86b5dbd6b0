"""The development PKI's services: shared within a process and across gateways, never a port
that serves something else."""

from __future__ import annotations

import dataclasses
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from conftest import free_port

from gateway.errors import GatewayError
from gateway.pki.dev import DevPki
from gateway.pki.services import serves_this_pki, start_pki_services


def moved(pki: DevPki, port: int) -> DevPki:
    base = f"http://127.0.0.1:{port}"
    return dataclasses.replace(
        pki, port=port, base_url=base, tsa_url=pki.tsa_url.replace(pki.base_url, base),
        ocsp_url=pki.ocsp_url.replace(pki.base_url, base), crl_url=pki.crl_url.replace(pki.base_url, base),
    )


def test_the_fixture_port_is_this_pki(dev_pki):
    assert serves_this_pki(dev_pki)
    other = dataclasses.replace(dev_pki, ca_cert=dev_pki.root_cert)  # another CA's key: not ours
    assert not serves_this_pki(other)


def test_starting_twice_in_one_process_shares_one_server(dev_pki):
    pki = moved(dev_pki, free_port())
    first, second = start_pki_services(pki), start_pki_services(pki)
    try:
        assert first.running_here and second.running_here
        first.stop()
        assert serves_this_pki(pki)  # still served: the second handle holds it
    finally:
        second.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(pki.crl_url, timeout=5)


def test_an_app_starting_the_fixture_pki_leaves_the_fixture_running(dev_pki):
    shared = start_pki_services(dataclasses.replace(dev_pki))  # e.g. create_app with [dev_pki] serve
    try:
        assert shared.running_here  # the fixture's own server, reference counted
    finally:
        shared.stop()
    assert serves_this_pki(dev_pki), "stopping a shared handle must not stop the fixture's server"


class _NotAPki(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *_args: object) -> None:
        pass


def test_a_port_held_by_another_program_is_a_clear_error(dev_pki):
    other = ThreadingHTTPServer(("127.0.0.1", 0), _NotAPki)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        pki = moved(dev_pki, other.server_address[1])
        with pytest.raises(GatewayError, match=f"port {pki.port} is in use by a program not serving the PKI"):
            start_pki_services(pki)
    finally:
        other.shutdown()
        other.server_close()


def test_a_sharing_gateway_takes_over_when_the_serving_one_stops(dev_pki):
    """Another process's PKI server (a plain werkzeug server here) serves the port; when it goes
    away, the sharing side starts serving the PKI itself."""
    from werkzeug.serving import make_server

    from gateway.pki.services import _ReloadingAnimator

    pki = moved(dev_pki, free_port())
    other = make_server("127.0.0.1", pki.port, _ReloadingAnimator(pki), threaded=True)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    services = start_pki_services(pki, takeover_interval=0.2)
    try:
        assert services.mode == "shared"
        other.shutdown()
        other.server_close()
        deadline = time.monotonic() + 30
        while not services.running_here:
            assert time.monotonic() < deadline, "the sharing side never took over"
            time.sleep(0.1)
        assert serves_this_pki(pki)
    finally:
        services.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(pki.crl_url, timeout=5)
