"""The keys registry through `gateway keys`: import a PKCS#12, generate a key with a CSR carrying
the EDRPOU, attach the certificate a CA issued, activate it - and a running gateway seals with
the new key from its next signature, without a restart (checked with openssl), every use audited."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys

import httpx
import pytest
from console_support import issue_for_csr
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from test_keys import SOFTHSM_MODULE, URI, ident, needs_softhsm, softhsm  # noqa: F401 - fixtures
from test_store_support import serve_app

from gateway.cli import main
from gateway.config import load_config
from gateway.store.apikeys import create_key
from gateway.store.db import open_database


@pytest.fixture
def gw(dev_pki, tmp_path):
    path = tmp_path / "gateway.toml"
    path.write_text(
        f'[organization]\nname = "Миколаївська міська рада"\nedrpou = "{dev_pki.edrpou}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "gw.db"}"\n'
        f'[storage]\ndir = "{tmp_path / "blobs"}"\n'
        f'[signing]\nkey = "{dev_pki.seal_p12}"\nkey_password_file = "{dev_pki.password_file}"\n'
        f'[trust]\nanchors = ["{dev_pki.root_cert}"]\nrevocation = "offline"\n', encoding="utf-8")
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_import_generate_attach_activate(gw, dev_pki, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("P12_PW", dev_pki.password().decode())
    code, out, err = run(capsys, "keys", "import", str(dev_pki.seal_ec_p12), "--label", "ec seal",
                         "--password-env", "P12_PW", "--config", str(gw))
    assert code == 0, err
    assert "ec seal\tfile\t-" in out
    monkeypatch.setenv("WRONG_PW", "not it")
    code, _, err = run(capsys, "keys", "import", str(dev_pki.seal_p12), "--label", "bad",
                       "--password-env", "WRONG_PW", "--config", str(gw))
    assert code == 2 and "wrong password" in err and "not it" not in err
    folder = tmp_path / "keys" / "registry"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        assert dev_pki.password() not in f.read_bytes()  # only the sealed form, in the database

    csr_file = tmp_path / "seal.csr"
    code, _, err = run(capsys, "keys", "generate", "--label", "seal 2027", "--out", str(csr_file),
                       "--config", str(gw))
    assert code == 0 and "gateway keys attach 2" in err
    req = subprocess.run(["openssl", "req", "-in", str(csr_file), "-noout", "-verify", "-subject"],
                         capture_output=True, text=True, check=False)
    assert req.returncode == 0, req.stderr
    assert f"NTRUA-{dev_pki.edrpou}" in req.stdout and "UA" in req.stdout
    assert run(capsys, "keys", "activate", "seal 2027", "--config", str(gw))[0] == 2  # no certificate yet
    code, out, _ = run(capsys, "keys", "csr", "2", "--config", str(gw))
    assert out == csr_file.read_text()

    other = x509.load_pem_x509_csr(subprocess.run(
        ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "/dev/null", "-subj", "/CN=x"],
        capture_output=True, check=True).stdout)
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(issue_for_csr(dev_pki, other.public_bytes(Encoding.PEM)))
    code, _, err = run(capsys, "keys", "attach", "2", str(wrong), "--config", str(gw))
    assert code == 2 and "not for this key" in err
    cert = tmp_path / "issued.pem"
    cert.write_bytes(issue_for_csr(dev_pki, csr_file.read_bytes(), days=30))
    code, out, err = run(capsys, "keys", "attach", "2", str(cert), "--config", str(gw))
    assert code == 0, err
    assert "seal 2027\tfile" in out
    code, out, _ = run(capsys, "keys", "list", "--config", str(gw))
    assert "ec seal" in out and "seal 2027" in out and "ACTIVE" not in out

    code, _, _ = run(capsys, "audit", "list", "--config", str(gw))
    code, out, _ = run(capsys, "audit", "verify", "--config", str(gw))
    assert code == 0 and "3 entries, intact" in out  # import, generate, attach (not the refused ones)


def _signer_serial(p7s: bytes, tmp_path) -> str:
    (tmp_path / "s.p7s").write_bytes(p7s)
    out = subprocess.run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in",
                          str(tmp_path / "s.p7s")], capture_output=True, text=True, check=True).stdout
    return out.split("serialNumber:", 1)[1].split()[0]


def test_running_gateway_picks_up_the_activated_key(gw, dev_pki, capsys, monkeypatch, tmp_path):
    from gateway.api.app import create_app

    cfg = load_config(gw)
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
    db.dispose()
    monkeypatch.setenv("P12_PW", dev_pki.password().decode())
    with serve_app(create_app(cfg, workers=False)) as base, \
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        def sign() -> bytes:
            resp = client.post("/api/v1/signatures", data={"format": "cades", "level": "B-B"},
                               files=[("file", ("лист.txt", b"letter body", "text/plain"))])
            assert resp.status_code == 200, resp.text
            return resp.content

        before = _signer_serial(sign(), tmp_path)
        assert run(capsys, "keys", "import", str(dev_pki.seal_ec_p12), "--label", "ec",
                   "--password-env", "P12_PW", "--config", str(gw))[0] == 0
        assert run(capsys, "keys", "activate", "ec", "--config", str(gw))[0] == 0
        signature = sign()
        after = _signer_serial(signature, tmp_path)
        assert after != before
        (tmp_path / "doc.txt").write_bytes(b"letter body")
        (tmp_path / "doc.p7s").write_bytes(signature)
        verify = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
                                 str(tmp_path / "doc.p7s"), "-content", str(tmp_path / "doc.txt"),
                                 "-CAfile", str(dev_pki.root_cert), "-certfile", str(dev_pki.ca_cert),
                                 "-purpose", "any", "-out", os.devnull], capture_output=True, text=True)
        assert verify.returncode == 0, verify.stderr
    code, out, _ = run(capsys, "audit", "list", "--json", "--action", "seal.use", "--config", str(gw))
    uses = [json.loads(line) for line in out.splitlines()]
    assert len(uses) == 2 and uses[0]["actor"].startswith("apikey:")
    assert uses[0]["details"]["format"] == "cades"
    assert uses[0]["details"]["documents"][0]["sha256"] == hashlib.sha256(b"letter body").hexdigest()
    assert uses[0]["details"]["certificate_sha256"] != uses[1]["details"]["certificate_sha256"]


@needs_softhsm
def test_tokens_and_a_pkcs11_key_in_the_registry(softhsm, gw):  # noqa: F811 - imported fixtures
    """`keys tokens` lists the SoftHSM2 token; a key registered by URI stays in the token."""
    env = {**softhsm, "SEAL_PIN": "1234"}

    def cli(*argv):
        return subprocess.run([sys.executable, "-m", "gateway", *argv, "--config", str(gw)],
                              capture_output=True, text=True, env=env, timeout=60)

    tokens = cli("keys", "tokens", "--module", SOFTHSM_MODULE)
    assert tokens.returncode == 0, tokens.stderr
    assert "token 'seal' (SoftHSM project" in tokens.stdout
    imported = cli("keys", "import", URI, "--label", "token seal")
    assert imported.returncode == 0, imported.stderr
    assert "token seal\tpkcs11" in imported.stdout and "CN=seal" not in imported.stderr
    assert cli("keys", "activate", "token seal").returncode == 0
    listed = cli("keys", "list")
    assert "token seal\tpkcs11\tACTIVE" in listed.stdout


def test_admin_api_keys_and_trust_for_an_officer_key(dev_pki, tmp_path):
    """The same operations under /api/v1/admin for an officer's API key, every change audited."""
    from console_support import write_gateway

    from gateway.api.app import create_app

    cfg = load_config(write_gateway(dev_pki, tmp_path))
    db = open_database(cfg)
    with db.session() as s:
        _, officer = create_key(s, "security officer", "officer")
    db.dispose()
    with serve_app(create_app(cfg, workers=False)) as base, \
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {officer}"}, timeout=60) as api:
        resp = api.post("/api/v1/admin/keys/import", data={"label": "ec", "password": dev_pki.password()},
                        files={"file": ("seal-ec.p12", dev_pki.seal_ec_p12.read_bytes())})
        assert resp.status_code == 200, resp.text
        bad = api.post("/api/v1/admin/keys/import", data={"label": "x", "password": "wrong"},
                       files={"file": ("seal.p12", dev_pki.seal_p12.read_bytes())})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_key"
        generated = api.post("/api/v1/admin/keys/generate", json={"label": "new", "algorithm": "ec-p256"})
        generated = generated.json()
        assert api.post(f"/api/v1/admin/keys/{generated['id']}/activate").status_code == 409  # no cert yet
        csr = api.get(f"/api/v1/admin/keys/{generated['id']}/csr").text
        cert = issue_for_csr(dev_pki, csr.encode(), days=400)
        attached = api.post(f"/api/v1/admin/keys/{generated['id']}/certificate",
                            files={"file": ("c.pem", cert)})
        assert attached.status_code == 200 and attached.json()["kind"] == "file"
        assert api.post(f"/api/v1/admin/keys/{generated['id']}/activate").json()["active"] is True
        keys = api.get("/api/v1/admin/keys").json()["items"]
        assert [k["active"] for k in keys] == [False, True]

        ee = api.post("/api/v1/admin/trust", files={"file": ("seal.pem", dev_pki.seal_cert.read_bytes())})
        assert ee.status_code == 422 and "end-entity" in ee.json()["error"]["message"]
        forced = api.post("/api/v1/admin/trust", data={"force": "true"},
                          files={"file": ("seal.pem", dev_pki.seal_cert.read_bytes())})
        assert forced.status_code == 200 and len(forced.json()["added"]) == 1
        assert len(api.get("/api/v1/admin/trust").json()["items"]) == 2
        assert api.delete(f"/api/v1/admin/trust/{forced.json()['added'][0][:16]}").status_code == 200
        (remaining,) = api.get("/api/v1/admin/trust").json()["items"]
        last = api.delete(f"/api/v1/admin/trust/{remaining['fingerprint'][:16]}")
        assert last.status_code == 409 and "last trust anchor" in last.json()["error"]["message"]
        actions = [e["action"] for e in api.get("/api/v1/admin/audit").json()["items"]]
        assert actions == ["trust.remove", "trust.add", "key.activate", "key.attach", "key.generate",
                           "key.import"]  # newest first; refused operations leave no entry
        assert api.get("/api/v1/admin/audit/verify").json()["ok"] is True
