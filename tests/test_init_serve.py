"""`gateway init` and `gateway serve` as a newcomer uses them, over real HTTP (trust: test_trust.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from asn1crypto import crl, x509
from asn1crypto import ocsp as asn1_ocsp
from conftest import free_port
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from cryptography.x509 import load_pem_x509_certificate
from cryptography.x509.ocsp import OCSPRequestBuilder

from gateway.config import load_config
from gateway.pki.init import init_gateway
from gateway.pki.trust import list_anchors
from gateway.signing.certificates import load_certificates, registry_codes


def gateway(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def two_gateways(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Two gateways of different bodies sharing one development PKI (made in-process: the CLI's
    `init` is exercised by test_init_refuses_to_overwrite and test_init_shared_pki)."""
    base = tmp_path_factory.mktemp("gw")
    a = init_gateway(base / "a", name="Mykolaiv City Council", edrpou="04056612", port=free_port(),
                     pki_dir=base / "pki", pki_port=free_port())
    b = init_gateway(base / "b", name="Odesa City Council", edrpou="26597691", port=free_port(),
                     pki_dir=base / "pki")
    return a, b, base / "pki"


def test_init_writes_a_loadable_config(two_gateways):
    cfg = load_config(two_gateways[0])
    folder = two_gateways[0].parent
    assert cfg.organization.edrpou == "04056612"
    assert str(uuid.UUID(cfg.organization.system_id)).upper() == cfg.organization.system_id
    assert cfg.signing.default_level == "B-T" and cfg.signing.tsa_url.startswith("http://127.0.0.1:")
    assert cfg.database.url == f"sqlite:///{folder / 'gateway.db'}"
    assert cfg.trust.revocation == "online" and cfg.dev_pki.serve
    # the seal and its own random password live in the gateway's folder, readable by the owner only
    key, password_file = cfg.resolve(cfg.signing.key), cfg.resolve(cfg.signing.key_password_file)
    assert key.parent == password_file.parent == folder / "keys"
    assert password_file.stat().st_mode & 0o077 == 0 and key.stat().st_mode & 0o077 == 0
    assert password_file.read_bytes().strip() != (two_gateways[2] / "password.txt").read_bytes().strip()
    _key, seal, chain = pkcs12.load_key_and_certificates(key.read_bytes(), password_file.read_bytes().strip())
    assert seal is not None and len(chain) == 2
    assert registry_codes(x509.Certificate.load(seal.public_bytes(Encoding.DER))) == ("04056612", None)


def test_shared_pki_one_root_and_a_seal_per_body(two_gateways):
    cfg_a, cfg_b = load_config(two_gateways[0]), load_config(two_gateways[1])
    roots_a = {a.fingerprint for a in list_anchors(cfg_a)}
    assert roots_a == {a.fingerprint for a in list_anchors(cfg_b)} and len(roots_a) == 1
    seal_a = load_certificates(cfg_a.resolve(cfg_a.signing.key).with_suffix(".pem"))[0]
    seal_b = load_certificates(cfg_b.resolve(cfg_b.signing.key).with_suffix(".pem"))[0]
    assert seal_a.issuer == seal_b.issuer and seal_a.public_key.dump() != seal_b.public_key.dump()
    assert registry_codes(seal_a) == ("04056612", None)
    assert registry_codes(seal_b) == ("26597691", None)
    assert "Odesa City Council" in seal_b.subject.human_friendly


def test_init_refuses_to_overwrite(two_gateways):
    again = gateway("init", str(two_gateways[0].parent))
    assert again.returncode == 2 and "exists already" in again.stderr and "Traceback" not in again.stderr


def start_serve(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(config), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_healthz(proc: subprocess.Popen[str], port: int) -> requests.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            # the listening socket queues requests while the app starts: a slow answer is fine
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=60)
        except requests.ConnectionError:
            assert proc.poll() is None, f"gateway serve ended: {proc.stdout.read() if proc.stdout else ''}"
            assert time.monotonic() < deadline, "gateway serve did not start"
            time.sleep(0.2)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def ocsp_status(url: str, cert_pem: Path, issuer_pem: Path) -> str:
    """The status an OCSP responder gives (request built with cryptography, answer read with
    asn1crypto: certomancer writes fractional seconds, which cryptography's parser refuses)."""
    cert = load_pem_x509_certificate(cert_pem.read_bytes())
    issuer = load_pem_x509_certificate(issuer_pem.read_bytes())
    request = OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    answer = requests.post(url, data=request.public_bytes(Encoding.DER), timeout=10,
                           headers={"Content-Type": "application/ocsp-request"})
    parsed = asn1_ocsp.OCSPResponse.load(answer.content)
    assert parsed["response_status"].native == "successful"
    single = parsed.basic_ocsp_response["tbs_response_data"]["responses"][0]
    assert single["cert_id"]["serial_number"].native == cert.serial_number
    return single["cert_status"].name


def test_two_gateways_serve_and_share_the_pki_services(two_gateways):
    """Both gateways start; the second finds the shared PKI port served and goes on; the services
    know the seal `gateway init` added for the second body after the first started."""
    config_a, config_b, pki_dir = two_gateways
    cfg_a, cfg_b = load_config(config_a), load_config(config_b)
    assert cfg_a.dev_pki.port == cfg_b.dev_pki.port
    a = start_serve(config_a)
    try:
        health_a = wait_healthz(a, cfg_a.server.port)
        b = start_serve(config_b)
        try:
            health_b = wait_healthz(b, cfg_b.server.port)
            assert health_a.status_code == health_b.status_code == 200
            assert health_a.json()["status"] == "ok" and health_a.json()["version"]
            assert health_a.json()["checks"]["database"] == "ok"
            assert health_a.json()["checks"]["seal"] == "loaded"
            assert health_a.json()["checks"]["dev_pki"] == "served"
            assert health_b.json()["checks"]["dev_pki"] == "shared"
            api = f"http://127.0.0.1:{cfg_a.server.port}/api/v1/incoming"
            assert requests.get(api, timeout=10).status_code == 401  # /healthz alone needs no key
        finally:
            stop(b)
        seal_b = cfg_b.resolve(cfg_b.signing.key).with_suffix(".pem")
        pki = f"http://127.0.0.1:{cfg_a.dev_pki.port}/dev"
        assert ocsp_status(f"{pki}/ocsp/ca", seal_b, pki_dir / "ca.pem") == "good"
        assert ocsp_status(f"{pki}/ocsp/ca", pki_dir / "revoked.pem", pki_dir / "ca.pem") == \
            "revoked"
        listed = crl.CertificateList.load(requests.get(f"{pki}/crls/ca/latest.crl", timeout=10).content)
        assert [r["user_certificate"].native for r in listed["tbs_cert_list"]["revoked_certificates"]] == \
            [load_certificates(pki_dir / "revoked.pem")[0].serial_number]
    finally:
        stop(a)


def test_serve_start_up_failures_are_one_line(two_gateways, tmp_path):
    config = two_gateways[1]
    wrong = tmp_path / "wrong-password.txt"
    wrong.write_text("not the password\n")
    out = gateway("serve", "--config", str(config), "--port", "0",
                  env={"GATEWAY_SIGNING__KEY_PASSWORD_FILE": str(wrong)})
    assert out.returncode == 2 and "Traceback" not in out.stderr + out.stdout
    key = load_config(config).resolve("keys/seal.p12")
    expected = f"gateway: error: cannot open {key}: wrong password or not a PKCS#12 file"
    assert out.stderr.strip().splitlines() == [expected]
    out = gateway("serve", "--config", str(config), "--port", "0",
                  env={"GATEWAY_DEV_PKI__DIR": str(tmp_path / "no-pki")})
    assert out.returncode == 2
    missing = tmp_path / "no-pki"
    assert out.stderr.splitlines() == [f"gateway: error: {missing}: not a development PKI (no pki.json)"]
    with socket.socket() as busy:  # the gateway's own port held by another program
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        out = gateway("serve", "--config", str(config), "--port", str(busy.getsockname()[1]))
    assert out.returncode == 2 and "Address already in use" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
