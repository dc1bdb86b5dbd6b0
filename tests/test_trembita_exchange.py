"""Two gateways deliver to each other over Трембіта on loopback (each one's service standing in for
the other's security server): letters both ways, the "delivered" acknowledgement in the answer,
acceptance, registration and rejection flowing back as deliverMessage calls, a partner outage
(retries, then success), over plain HTTP and over HTTPS with client certificates."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from contextlib import ExitStack

import httpx
import pytest
from test_exchange_support import letter_status, wait_for
from test_store_support import database_url
from test_trembita_support import Side, free_port, make_tls_pki, running_gateway, write_config

from gateway.netutil import listen_tcp
from gateway.pki.dev import organization_seal

A = ("Миколаївська міська рада", "04056612")
B = ("Одеська обласна адміністрація", "37472062")


def send(client: httpx.Client, to: tuple[str, str], reg_number: str, body: bytes) -> str:
    meta = {
        "to_edrpou": to[1],
        "to_name": to[0],
        "reg_number": reg_number,
        "reg_date": "2026-11-25",
        "title": f"Лист {reg_number}",
        "purpose_type": 1,
        "author": {"name": "Сєнкевич Олександр Федорович", "post": "міський голова"},
    }
    resp = client.post(
        "/api/v1/outgoing",
        data={"metadata": json.dumps(meta, ensure_ascii=False)},
        files=[("file", ("лист.pdf", body, "application/pdf"))],
        headers={"Idempotency-Key": reg_number},
    )
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def _tls(ca, cert) -> ssl.SSLContext:
    """A client TLS context trusting `ca`, presenting `cert` (certificate, key) when given."""
    context = ssl.create_default_context(cafile=str(ca))
    if cert:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


def _sides(tmp_path, dev_pki, tls: bool):
    seal_a = organization_seal(dev_pki, name=A[0], edrpou=A[1])[0]
    seal_b = organization_seal(dev_pki, name=B[0], edrpou=B[1])[0]
    a = Side(A[0], A[1], tmp_path / "a", seal_a)
    b = Side(B[0], B[1], tmp_path / "b", seal_b)
    ca = None
    if tls:
        ca, certs = make_tls_pki(tmp_path / "tls", ["a", "b"])
        a.tls, a.tls_port = certs["a"], free_port()
        b.tls, b.tls_port = certs["b"], free_port()
    return a, b, ca


@pytest.mark.parametrize(
    ("tls", "backend"),
    [(False, "sqlite"), (True, "sqlite"), (False, "postgresql")],
    ids=["http", "https", "http-pg"],
)
def test_letters_both_ways_with_acknowledgements(tmp_path, dev_pki, tls, backend):
    a, b, ca = _sides(tmp_path, dev_pki, tls)
    with ExitStack() as stack:
        if backend == "sqlite":
            urls = ["", ""]
        else:
            urls = [stack.enter_context(database_url(backend, tmp_path / n)) for n in ("a", "b")]
        conf_a = write_config(a, b, dev_pki, tls_ca=ca, db_url=urls[0])
        conf_b = write_config(b, a, dev_pki, tls_ca=ca, db_url=urls[1])
        ga = stack.enter_context(running_gateway(a, b, conf_a))
        gb = stack.enter_context(running_gateway(b, a, conf_b))
        body = b"%PDF-1.4 letter " + bytes(range(256)) * 200
        first, second = send(ga, B, "01-01/1", body), send(ga, B, "01-01/2", b"%PDF-1.4 second")
        back = send(gb, A, "B-7", b"%PDF-1.4 from B")

        wait_for(
            lambda: letter_status(ga, first) == "accepted" and letter_status(ga, second) == "accepted",
            timeout=90,
            what="A's letters accepted by B",
        )
        wait_for(lambda: letter_status(gb, back) == "accepted", timeout=90, what="B's letter accepted by A")
        items = gb.get("/api/v1/incoming").json()["items"]
        assert len(items) == 2
        by_number = {i["reg_number"]: i for i in items}
        doc = gb.get(f"/api/v1/incoming/{by_number['01-01/1']['id']}").json()
        assert (
            doc["from_edrpou"] == A[1]
            and doc["indication"] == "TOTAL_PASSED"
            and doc["channel"] == "trembita"
        )
        assert gb.get(doc["files"][0]["url"]).content == body

        assert (
            gb.post(
                f"/api/v1/incoming/{doc['id']}/registration",
                json={"reg_number": "вх-77", "reg_date": "2026-11-26"},
            ).status_code
            == 200
        )
        assert (
            gb.post(
                f"/api/v1/incoming/{by_number['01-01/2']['id']}/rejection", json={"reason": "не за адресою"}
            ).status_code
            == 200
        )
        wait_for(lambda: letter_status(ga, first) == "registered", timeout=60, what="registered")
        wait_for(lambda: letter_status(ga, second) == "rejected", timeout=60, what="rejected")

        letter = ga.get(f"/api/v1/outgoing/{first}").json()
        history = [h["status"] for h in letter["history"]]
        assert history[:3] == ["queued", "signed", "sending"] and history[-1] == "registered"
        assert "delivered" in history
        acks = {x["type"]: x for x in letter["acknowledgements"]}
        assert {"delivered", "accepted", "registered"} <= set(acks)
        assert acks["registered"]["reg_number"] == "вх-77"
        # the "delivered" acknowledgement came in the answer and again as a call: kept once
        assert [x["type"] for x in letter["acknowledgements"]].count("delivered") == 1
        rejected = ga.get(f"/api/v1/outgoing/{second}").json()
        assert rejected["acknowledgements"][-1]["reason"] == "не за адресою"
        # nothing stored twice on either side
        assert len(gb.get("/api/v1/incoming").json()["items"]) == 2
        assert len(ga.get("/api/v1/incoming").json()["items"]) == 1


def test_partner_outage_retries_then_delivers(tmp_path, dev_pki):
    a, b, _ = _sides(tmp_path, dev_pki, tls=False)
    conf_a, conf_b = write_config(a, b, dev_pki), write_config(b, a, dev_pki)
    port = b.sock.getsockname()[1]
    b.sock.close()  # B is down: its port refuses connections
    with running_gateway(a, b, conf_a) as ga:
        letter = send(ga, B, "01-02/1", b"%PDF-1.4 during the outage")
        wait_for(
            lambda: ga.get(f"/api/v1/outgoing/{letter}").json()["attempts"] >= 3, timeout=30, what="retries"
        )
        view = ga.get(f"/api/v1/outgoing/{letter}").json()
        assert view["status"] == "sending" and "Connection refused" in view["last_error"]
        checks = ga.get("/healthz").json()["checks"]
        assert checks["trembita"].startswith(f"failing: {B[1]}: ")
        assert "Connection refused" in checks["trembita"]
        assert checks["sev"] == "disabled"
        b.sock = listen_tcp("127.0.0.1", port)
        with running_gateway(b, a, conf_b) as gb:
            wait_for(
                lambda: letter_status(ga, letter) == "accepted", timeout=90, what="delivered after the outage"
            )
            assert ga.get("/healthz").json()["checks"]["trembita"] == "ok"
            assert len(gb.get("/api/v1/incoming").json()["items"]) == 1
            view = ga.get(f"/api/v1/outgoing/{letter}").json()
            assert view["last_error"] is None and view["attempts"] >= 3
            assert [h["status"] for h in view["history"]].count("delivered") == 1


def test_a_partner_refusing_our_calls_shows_in_the_letter_and_in_healthz(tmp_path, dev_pki):
    """B answers every call of A with a fault (A is not in B's directory): A's letter keeps failing,
    its last error and /healthz name the fault; the SEV-only side reports Трембіта disabled."""
    a, b, _ = _sides(tmp_path, dev_pki, tls=False)
    stranger = Side("Інша рада", "21560766", tmp_path / "c", a.seal_p12)
    conf_a, conf_b = write_config(a, b, dev_pki), write_config(b, stranger, dev_pki)
    with running_gateway(b, stranger, conf_b) as gb, running_gateway(a, b, conf_a) as ga:
        assert gb.get("/healthz").json()["checks"]["trembita"] == "ok"  # nothing sent yet
        letter = send(ga, B, "01-03/1", b"%PDF-1.4 refused")
        wait_for(
            lambda: ga.get(f"/api/v1/outgoing/{letter}").json()["attempts"] >= 2, timeout=60, what="retries"
        )
        view = ga.get(f"/api/v1/outgoing/{letter}").json()
        assert view["status"] == "sending"
        assert "answered Client.UnknownClient" in view["last_error"] and B[1] in view["last_error"]
        health = ga.get("/healthz").json()
        assert health["checks"]["trembita"].startswith(f"failing: {B[1]}: ")
        assert "Client.UnknownClient" in health["checks"]["trembita"]
        assert gb.get("/api/v1/incoming").json()["items"] == []
    stranger.sock.close()


def test_https_listener_requires_a_client_certificate(tmp_path, dev_pki):
    a, b, ca = _sides(tmp_path, dev_pki, tls=True)
    _, strangers = make_tls_pki(tmp_path / "other-ca", ["intruder"])
    conf = write_config(b, a, dev_pki, tls_ca=ca)
    # behind a TLS proxy: absolute URLs say https, yet the plain-HTTP socket is still not the listener
    conf.write_text(conf.read_text("utf-8").replace(b.url, "https://gateway-b.example.gov.ua"), "utf-8")
    with running_gateway(b, a, conf):
        # with the HTTPS listener on, the plain-HTTP path refuses calls (the WSDL stays readable)
        plain = httpx.post(b.url + "/soap/trembita", content=b"<x/>", timeout=10)
        assert plain.status_code == 500 and b"Client.TlsRequired" in plain.content
        assert httpx.get(b.url + "/soap/trembita?wsdl", timeout=10).status_code == 200
        wsdl = f"https://127.0.0.1:{b.tls_port}/soap/trembita?wsdl"
        # no client certificate, or one of another CA: refused in the TLS handshake
        for cert in (None, strangers["intruder"]):
            with pytest.raises(httpx.TransportError):
                httpx.get(wsdl, verify=_tls(ca, cert), timeout=10)
        with httpx.Client(verify=_tls(ca, a.tls), timeout=10) as ok:
            assert ok.get(wsdl).status_code == 200
            # only the Трембіта path is served there
            assert ok.get(f"https://127.0.0.1:{b.tls_port}/api/v1/incoming").status_code == 404
            assert ok.get(f"https://127.0.0.1:{b.tls_port}/healthz").status_code == 404


def test_gateway_serve_runs_the_https_listener(tmp_path):
    """`gateway serve` with `[trembita] listen`: the HTTPS listener answers a caller with a client
    certificate, the plain path refuses calls, and SIGTERM stops both listeners."""
    ca, certs = make_tls_pki(tmp_path / "tls", ["gw", "ss"])
    port, tls_port = free_port(), free_port()
    conf = tmp_path / "gateway.toml"
    conf.write_text(
        f"""
[server]
port = {port}
[trembita]
enabled = true
subsystem = "SEV1207"
security_server_url = "https://127.0.0.1:9/"
tls_cert = "{certs["gw"][0]}"
tls_key = "{certs["gw"][1]}"
server_ca = "{ca}"
client_ca = "{ca}"
listen = "127.0.0.1:{tls_port}"
""",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        lines = []
        while "Трембіта HTTPS listener" not in "".join(lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        with httpx.Client(verify=_tls(ca, certs["ss"]), timeout=10) as ss:
            wsdl = wait_for(
                lambda: _get(ss, f"https://127.0.0.1:{tls_port}/soap/trembita?wsdl"), what="the listener"
            )
            assert b"deliverMessage" in wsdl.content
        plain = wait_for(lambda: _post(f"http://127.0.0.1:{port}/soap/trembita"), what="the main listener")
        assert plain.status_code == 500 and b"Client.TlsRequired" in plain.content
    finally:
        proc.terminate()
        # uvicorn stops gracefully, then re-raises the SIGTERM it caught
        assert proc.wait(timeout=30) in (0, -15)


def _get(client: httpx.Client, url: str) -> httpx.Response | None:
    """The answer once the gateway has started (503 before)."""
    try:
        got = client.get(url)
    except httpx.TransportError:
        return None
    assert got.status_code in (200, 503), got.text
    return got if got.status_code == 200 else None


def _post(url: str) -> httpx.Response | None:
    try:
        return httpx.post(url, content=b"<x/>", timeout=10)
    except httpx.TransportError:
        return None
