"""Gateways initialised at the same time on one shared PKI folder: one root, every seal kept."""

from __future__ import annotations

import subprocess
import sys

import yaml
from conftest import free_port

from gateway.config import load_config
from gateway.pki.dev import load_dev_pki
from gateway.signing.certificates import load_certificates, registry_codes

BODIES = [("Odesa City Council", "26597691"), ("Kherson City Council", "04059243"),
          ("Mykolaiv City Council", "04056612")]


def test_concurrent_init_on_one_pki(tmp_path):
    procs = [
        subprocess.Popen([sys.executable, "-m", "gateway", "init", str(tmp_path / edrpou),
                          "--pki", str(tmp_path / "pki"), "--port", str(free_port()),
                          "--name", name, "--edrpou", edrpou],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, edrpou in BODIES
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    pki = load_dev_pki(tmp_path / "pki")
    root = load_certificates(pki.root_cert)[0]
    certomancer = yaml.safe_load(pki.config_file.read_text(encoding="utf-8"))
    certs = certomancer["pki-architectures"]["dev"]["certs"]
    serials = [spec["serial"] for spec in certs.values()]
    assert len(serials) == len(set(serials))  # every certificate of the CA has its own serial
    for name, edrpou in BODIES:
        cfg = load_config(tmp_path / edrpou / "gateway.toml")
        anchors = load_certificates(cfg.resolve("trust"))
        assert [a.sha256 for a in anchors] == [root.sha256]
        seal = load_certificates(cfg.resolve("keys/seal.pem"))[0]
        assert registry_codes(seal) == (edrpou, None) and name in seal.subject.human_friendly
        if edrpou != pki.edrpou:  # the PKI's owner uses the template's own seal
            assert f"seal-{edrpou}" in certs
