"""`gateway init`, `gateway trust` and `gateway serve` as a newcomer uses them, over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import free_port

from gateway.config import load_config
from gateway.pki.trust import list_anchors
from gateway.signing.certificates import load_certificates, registry_codes


def gateway(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def two_gateways(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Two gateways of different bodies sharing one development PKI."""
    base = tmp_path_factory.mktemp("gw")
    port_a, port_b = free_port(), free_port()
    a = gateway("init", str(base / "a"), "--pki", str(base / "pki"), "--port", str(port_a))
    b = gateway("init", str(base / "b"), "--pki", str(base / "pki"), "--port", str(port_b),
                "--name", "Odesa City Council", "--edrpou", "26597691")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    return base / "a" / "gateway.toml", base / "b" / "gateway.toml", base / "pki"


def test_init_writes_a_loadable_config(two_gateways):
    cfg = load_config(two_gateways[0])
    assert cfg.organization.edrpou == "04056612"
    assert cfg.signing.default_level == "B-T" and cfg.signing.tsa_url.startswith("http://127.0.0.1:")
    assert Path(cfg.signing.key).exists() and Path(cfg.signing.key_password_file).exists()
    assert cfg.dev_pki.serve


def test_shared_pki_one_root_and_a_seal_per_body(two_gateways):
    cfg_a, cfg_b = load_config(two_gateways[0]), load_config(two_gateways[1])
    roots_a = {a.fingerprint for a in list_anchors(cfg_a)}
    assert roots_a == {a.fingerprint for a in list_anchors(cfg_b)} and len(roots_a) == 1
    assert cfg_a.signing.key != cfg_b.signing.key
    seal_b = load_certificates(Path(cfg_b.signing.key).with_suffix(".pem"))[0]
    assert registry_codes(seal_b) == ("26597691", None)
    assert "Odesa City Council" in seal_b.subject.human_friendly


def test_init_refuses_to_overwrite(two_gateways):
    again = gateway("init", str(two_gateways[0].parent))
    assert again.returncode == 2 and "exists already" in again.stderr and "Traceback" not in again.stderr


def test_trust_add_list_remove(two_gateways, dev_pki, tmp_path):
    config = tmp_path / "gateway.toml"
    config.write_text(two_gateways[0].read_text())
    (tmp_path / "trust").mkdir()
    added = gateway("trust", "add", str(dev_pki.root_cert), "--config", str(config))
    assert added.returncode == 0 and added.stdout.startswith("added ")
    again = gateway("trust", "add", str(dev_pki.root_cert), "--config", str(config))
    assert "nothing added" in again.stdout
    listed = gateway("trust", "list", "--config", str(config))
    assert "Mykolaiv City Council Development Root CA" in listed.stdout
    fp = added.stdout.split()[1][:12]
    removed = gateway("trust", "remove", fp, "--config", str(config))
    assert removed.returncode == 0, removed.stderr
    assert gateway("trust", "list", "--config", str(config)).stdout.count("Root CA") == 0
    bad = gateway("trust", "add", str(config), "--config", str(config))
    assert bad.returncode == 2 and "not a certificate" in bad.stderr


def test_serve_answers_healthz_and_runs_the_pki(two_gateways, tmp_path):
    cfg = load_config(two_gateways[0])
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(two_gateways[0])],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{cfg.server.port}/healthz"
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = requests.get(url, timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "gateway serve did not start"
                time.sleep(0.2)
        assert answer.status_code == 200
        assert answer.json()["status"] == "ok" and answer.json()["checks"]["database"] == "ok"
        crl = requests.get(f"http://127.0.0.1:{cfg.dev_pki.port}/dev/crls/ca/latest.crl", timeout=10)
        assert crl.status_code == 200
        unauthenticated = requests.get(f"http://127.0.0.1:{cfg.server.port}/api/v1/incoming", timeout=10)
        assert unauthenticated.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)
