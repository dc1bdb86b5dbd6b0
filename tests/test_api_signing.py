"""POST /api/v1/signatures and /api/v1/validations over real HTTP with the development PKI's seal;
openssl is the second implementation that checks the signature."""

from __future__ import annotations

import shutil

import httpx
import pytest
from second_opinion import openssl_cms_verify
from test_store_support import serve_app

from gateway.config import load_config
from gateway.store.apikeys import create_key
from gateway.store.db import open_database


@pytest.fixture
def signing_api(dev_pki, tmp_path):
    from gateway.api.app import create_app

    cfg = load_config(
        env={
            "GATEWAY_DATABASE__URL": f"sqlite:///{tmp_path / 'gw.db'}",
            "GATEWAY_STORAGE__DIR": str(tmp_path / "blobs"),
            "GATEWAY_SIGNING__KEY": str(dev_pki.seal_p12),
            "GATEWAY_SIGNING__KEY_PASSWORD_FILE": str(dev_pki.password_file),
            "GATEWAY_SIGNING__TSA_URL": dev_pki.tsa_url,
            "GATEWAY_TRUST__ANCHORS": str(dev_pki.root_cert),
            "GATEWAY_TRUST__FETCH_ALLOW": f"127.0.0.1:{dev_pki.port}",
        }
    )
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
    db.dispose()
    app = create_app(cfg, workers=False)
    with (
        serve_app(app) as base,
        httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {key}"}) as client,
    ):
        yield client


def test_sign_then_validate_detached_cades(signing_api, dev_pki, tmp_path):
    content = "Рішення сесії №12".encode() * 100
    resp = signing_api.post(
        "/api/v1/signatures",
        data={"format": "cades"},
        files=[("file", ("рішення.txt", content, "text/plain"))],
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pkcs7-signature"
    (tmp_path / "doc.txt").write_bytes(content)
    (tmp_path / "doc.p7s").write_bytes(resp.content)
    if shutil.which("openssl"):
        out = openssl_cms_verify(tmp_path / "doc.p7s", dev_pki.root_cert, tmp_path / "doc.txt")
        assert out.returncode == 0, out.stderr
    report = signing_api.post(
        "/api/v1/validations",
        files=[("file", ("doc.p7s", resp.content)), ("detached", ("рішення.txt", content))],
    ).json()
    sig = report["signatures"][0]
    assert report["indication"] == "TOTAL_PASSED", report
    assert sig["format"] == "CAdES-BASELINE-T" and sig["intact"] and sig["signer"]["edrpou"] == dev_pki.edrpou
    tampered = signing_api.post(
        "/api/v1/validations",
        files=[("file", ("doc.p7s", resp.content)), ("detached", ("рішення.txt", content + b"!"))],
    ).json()
    assert tampered["indication"] == "TOTAL_FAILED" and tampered["signatures"][0]["intact"] is False


def test_signing_errors_are_clear(signing_api):
    resp = signing_api.post(
        "/api/v1/signatures", data={"format": "no-such"}, files=[("file", ("a.txt", b"x"))]
    )
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "signing_failed"
    assert "unknown format" in resp.json()["error"]["message"]
    resp = signing_api.post("/api/v1/signatures", data={"format": "pades"}, files=[("file", ("a.txt", b"x"))])
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "signing_failed"
    garbage = signing_api.post("/api/v1/validations", files=[("file", ("x.p7s", b"not a signature"))]).json()
    assert garbage["indication"] == "TOTAL_FAILED" and garbage["subindication"] == "FORMAT_FAILURE"


def test_trust_anchor_added_while_running_takes_effect(dev_pki, tmp_path):
    """`gateway trust add` on a running gateway: the next validation uses the new anchor."""
    from gateway.api.app import create_app
    from gateway.pki.trust import add_anchors

    (tmp_path / "trust").mkdir()
    config = tmp_path / "gateway.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "gw.db"}"\n[storage]\ndir = "blobs"\n'
                      '[trust]\nanchors = ["trust"]\n', encoding="utf-8")
    cfg = load_config(config)
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
    db.dispose()
    doc = "Розпорядження".encode()
    signed = cades_b_b(dev_pki, doc)
    with (
        serve_app(create_app(cfg, workers=False)) as base,
        httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {key}"}) as client,
    ):
        def verdict() -> str:
            files = [("file", ("d.p7s", signed)), ("detached", ("d.txt", doc))]
            return client.post("/api/v1/validations", files=files).json()["indication"]

        assert verdict() == "INDETERMINATE"
        add_anchors(load_config(config), dev_pki.root_cert)
        assert verdict() == "TOTAL_PASSED"


def cades_b_b(dev_pki, doc: bytes) -> bytes:
    from gateway.signing.cades import CadesOptions, sign_cades_bytes
    from gateway.signing.keys import load_signing_key

    key = load_signing_key(str(dev_pki.seal_p12), dev_pki.password())
    return sign_cades_bytes(key, doc, CadesOptions(level="B-B"))
