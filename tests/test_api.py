"""The EDMS REST API over real HTTP: auth, errors, limits, idempotency, incoming, metrics."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest
from test_store_support import BACKENDS, database_url, serve_app

from gateway.config import load_config
from gateway.store.apikeys import create_key
from gateway.store.db import open_database


@pytest.fixture(params=BACKENDS)
def api(request, tmp_path):
    """(base_url, api_key, cfg) of a gateway app without background workers."""
    from gateway.api.app import create_app

    with database_url(request.param, tmp_path) as url:
        cfg = load_config(
            env={
                "GATEWAY_DATABASE__URL": url,
                "GATEWAY_STORAGE__DIR": str(tmp_path / "blobs"),
                "GATEWAY_SEV__ENABLED": "true",  # letters are refused for a channel that is off
                "GATEWAY_SERVER__MAX_REQUEST_BYTES": str(2 * 1024 * 1024),
            }
        )
        db = open_database(cfg)
        with db.session() as s:
            _, key = create_key(s, "edms")
        db.dispose()
        app = create_app(cfg, workers=False)
        with serve_app(app) as base:
            yield base, key, cfg


META = {
    "to_edrpou": "12345678",
    "to_name": "Рада",
    "reg_number": "01-15/77",
    "reg_date": "2026-11-25",
    "title": "Про тест",
    "purpose_type": 1,
    "author": {"name": "Іваненко Іван Іванович", "post": "голова"},
}


def post_letter(client: httpx.Client, meta=META, files=None, key=None, **headers):
    files = files or [("file", ("лист.txt", b"hello", "text/plain"))]
    return client.post(
        "/api/v1/outgoing",
        data={"metadata": json.dumps(meta, ensure_ascii=False)},
        files=files,
        headers=headers,
    )


def client_for(base, key) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def assert_error(resp: httpx.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body


def test_every_call_needs_a_valid_key(api):
    base, key, _ = api
    with httpx.Client(base_url=base) as anon:
        for method, path in [
            ("GET", "/api/v1/incoming"),
            ("GET", "/api/v1/outgoing/x"),
            ("GET", "/metrics"),
            ("POST", "/api/v1/outgoing"),
            ("POST", "/api/v1/validations"),
        ]:
            resp = anon.request(method, path)
            assert_error(resp, 401, "unauthorized")
            assert resp.headers["www-authenticate"] == "Bearer"
        assert_error(
            anon.get("/api/v1/incoming", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized"
        )
        assert anon.get("/healthz").status_code == 200  # the one call without a key
        assert_error(anon.get("/openapi.json"), 401, "unauthorized")  # the description is behind the key too
        page = anon.get("/docs")  # the page asks for the key; it carries no part of the description
        assert page.status_code == 200 and "/api/v1/" not in page.text
    with client_for(base, key) as c:
        assert "swagger" in c.get("/docs").text.lower()
        paths = c.get("/openapi.json").json()["paths"]
        assert {
            "/api/v1/outgoing",
            "/api/v1/outgoing/{letter_id}",
            "/api/v1/incoming",
            "/api/v1/incoming/{incoming_id}/registration",
            "/api/v1/validations",
        } <= set(paths)


def test_queue_letter_is_idempotent(api):
    base, key, _ = api
    with client_for(base, key) as c:
        first = post_letter(c, **{"Idempotency-Key": "k-1"})
        assert first.status_code == 202, first.text
        body = first.json()
        assert body["status"] == "queued" and first.headers["location"] == f"/api/v1/outgoing/{body['id']}"
        again = post_letter(c, **{"Idempotency-Key": "k-1"})
        assert again.status_code == 202 and again.json()["id"] == body["id"]
        assert again.headers["idempotent-replayed"] == "true"
        other = post_letter(c, meta={**META, "reg_number": "01-15/78"}, **{"Idempotency-Key": "k-1"})
        assert_error(other, 409, "idempotency_conflict")
        fresh = post_letter(c)
        assert fresh.status_code == 202 and fresh.json()["id"] != body["id"]
        letter = c.get(f"/api/v1/outgoing/{body['id']}").json()
        assert letter["status"] == "queued" and letter["msg_id"] == body["msg_id"]
        assert [h["status"] for h in letter["history"]] == ["queued"]
        assert letter["files"][0]["name"] == "лист.txt" and letter["files"][0]["size"] == 5
        assert len(c.get("/api/v1/outgoing").json()["items"]) == 2


@pytest.mark.parametrize(
    "meta, fragment",
    [
        ({**META, "to_edrpou": "123"}, "to_edrpou"),
        ({**META, "purpose_type": 9}, "purpose_type"),
        ({**META, "reg_date": "yesterday"}, "reg_date"),
        ({k: v for k, v in META.items() if k != "to_name"}, "to_name"),
        ({**META, "reply_to": "no-such-document"}, "reply_to"),
        ({**META, "unknown": 1}, "unknown"),
    ],
)
def test_bad_metadata_is_a_clear_422(api, meta, fragment):
    base, key, _ = api
    with client_for(base, key) as c:
        body = assert_error(post_letter(c, meta=meta), 422, "invalid_metadata")
        assert fragment in body["error"]["message"]


def test_malformed_requests_use_the_error_shape(api):
    base, key, _ = api
    with client_for(base, key) as c:
        assert_error(
            c.post("/api/v1/outgoing", data={"metadata": "{not json"}, files=[("file", ("a.txt", b"x"))]),
            422,
            "invalid_metadata",
        )
        assert_error(c.post("/api/v1/outgoing", data={"metadata": json.dumps(META)}), 422, "invalid_request")
        assert_error(c.get("/api/v1/outgoing/nope"), 404, "not_found")
        assert_error(c.get("/api/v1/no-such-route"), 404, "not_found")
        assert_error(
            c.post("/api/v1/incoming/x/registration", json={"reg_number": ""}), 422, "invalid_request"
        )
        assert_error(c.delete("/api/v1/incoming"), 405, "method_not_allowed")


def test_request_size_limit(api):
    base, key, cfg = api
    big = b"x" * (cfg.server.max_request_bytes + 10)
    with client_for(base, key) as c:
        assert_error(post_letter(c, files=[("file", ("big.bin", big))]), 413, "payload_too_large")

        def chunked():  # no Content-Length: the limit is enforced while streaming
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
            for _ in range(40):
                yield b"y" * 65536

        resp = c.post(
            "/api/v1/validations",
            content=chunked(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert_error(resp, 413, "payload_too_large")


def test_metrics_in_prometheus_format(api):
    base, key, _ = api
    with client_for(base, key) as c:
        post_letter(c)
        text = c.get("/metrics").text
    assert 'gateway_documents{direction="outgoing",status="queued"} 1.0' in text
    assert 'gateway_http_requests_total{method="POST",route="/api/v1/outgoing",status="202"}' in text


def test_incoming_registration_and_rejection(api, tmp_path):
    """Documents stored by the inbox are listed, served, registered (once) and rejected."""
    from gateway.exchange import inbox
    from gateway.exchange.message import (
        DocTransfer,
        Document,
        Header,
        SignInfo,
        build_document,
        new_msg_id,
    )
    from gateway.store.blobs import BlobStore

    base, key, cfg = api
    db = open_database(cfg)

    def validator(sig, files):  # revocation data not yet available: INDETERMINATE, not a refusal
        return {"indication": "INDETERMINATE", "subindication": "TRY_LATER", "signatures": []}

    blobs = BlobStore(cfg.resolve(cfg.storage.dir))
    ids = []
    for title in ("A", "B"):
        header = Header(
            msg_type=1,
            msg_id=new_msg_id(),
            from_org_id="87654321",
            from_organization="Відправник",
            from_sys_id="S-A",
            from_system="sed",
            to_org_id="12345678",
            to_organization="Рада",
            to_sys_id="S-B",
            to_system="gw",
            msg_acknow=2,
        )
        raw = build_document(
            header,
            Document(
                idnumber="1",
                reg_number="7/1",
                reg_date=date(2026, 11, 20),
                title=title,
                files=[DocTransfer("1", "a.txt", "txt", b"body")],
            ),
            [SignInfo("1", b"\x30\x00")],
        )
        got = inbox.receive(db, blobs, raw, channel="sev", validator=validator)
        assert not got.duplicate
        again = inbox.receive(db, blobs, raw, channel="sev", validator=validator)
        assert again.duplicate and again.incoming_id == got.incoming_id
        ids.append(got.incoming_id)
    # a malformed document whose header is readable is kept as rejected and answered "rejected"
    broken = raw.replace(header.msg_id.encode(), new_msg_id().encode()).replace(b"RegNumber", b"RegNumbeX")
    bad = inbox.receive(db, blobs, broken, channel="sev", validator=lambda sig, files: {})
    assert bad.kind == "malformed" and bad.status == "rejected"
    assert inbox.receive(db, blobs, broken, channel="sev", validator=lambda sig, files: {}).duplicate
    unreadable = inbox.receive(db, blobs, b"<not-1207/>", channel="sev", validator=validator)
    assert unreadable.kind == "malformed" and unreadable.status == "malformed"  # kept, not answered
    db.dispose()
    with client_for(base, key) as c:
        listed = c.get("/api/v1/incoming", params={"status": "received"}).json()["items"]
        assert sorted(i["id"] for i in listed) == sorted(ids)
        doc = c.get(f"/api/v1/incoming/{ids[0]}").json()
        assert doc["indication"] == "INDETERMINATE"
        assert doc["files"][0]["validation"]["subindication"] == "TRY_LATER"
        assert c.get(doc["files"][0]["url"]).content == b"body"
        assert_error(c.get(f"/api/v1/incoming/{ids[0]}/files/9"), 404, "not_found")
        reg = c.post(
            f"/api/v1/incoming/{ids[0]}/registration", json={"reg_number": "вх-1", "reg_date": "2026-11-25"}
        )
        assert reg.status_code == 200 and reg.json()["status"] == "registered"
        assert_error(c.post(f"/api/v1/incoming/{ids[0]}/rejection", json={"reason": "late"}), 409, "conflict")
        rej = c.post(f"/api/v1/incoming/{ids[1]}/rejection", json={"reason": "не наш адресат"})
        assert rej.json()["status"] == "rejected"
        # delivered (once: the duplicate is not answered twice) + registered / delivered + rejected
        assert [a["ack_type"] for a in reg.json()["acknowledgements_sent"]] == [1, 3]
        assert [a["ack_type"] for a in rej.json()["acknowledgements_sent"]] == [1, 4]
        assert c.get("/api/v1/incoming", params={"status": "received"}).json()["items"] == []
        malformed = c.get(f"/api/v1/incoming/{bad.incoming_id}").json()
        assert malformed["status"] == "rejected" and "RegNumbeX" in malformed["reject_reason"]
        assert [a["ack_type"] for a in malformed["acknowledgements_sent"]] == [4]


STORED_REPORT = {  # the shape the inbox stores for a file (INTERFACE.md report)
    "indication": "INDETERMINATE", "subindication": "TRY_LATER", "container": "CMS",
    "validation_time": "2026-11-29T10:00:00Z",
    "signatures": [{
        "id": "S1", "format": "CAdES-BASELINE-T", "indication": "INDETERMINATE", "subindication": "TRY_LATER",
        "intact": True, "signer": {"subject": "Odesa City Council seal", "issuer": "Test CA", "serial": "0A",
                                   "edrpou": "26597691", "drfo": None},
        "algorithm": {"digest": "sha256", "signature": "rsa"}, "claimed_signing_time": "2026-11-29T09:59:00Z",
        "best_signature_time": "2026-11-29T09:59:01Z", "timestamps": [], "chain": [],
        "signed_objects": ["a.txt"],
        "errors": ["revocation data not available"], "warnings": [],
    }],
}


def test_incoming_report_pdf(api):
    """GET /incoming/{id}/report.pdf: the readable report, read back by poppler's pdftotext."""
    import shutil
    import subprocess

    from gateway.exchange import inbox
    from gateway.exchange.message import DocTransfer, Document, Header, SignInfo, build_document, new_msg_id
    from gateway.store.blobs import BlobStore

    base, key, cfg = api
    db = open_database(cfg)
    header = Header(msg_type=1, msg_id=new_msg_id(), from_org_id="26597691", from_organization="Одеса",
                    from_sys_id="S-A", from_system="sed", to_org_id="12345678", to_organization="Рада",
                    to_sys_id="S-B", to_system="gw", msg_acknow=2)
    raw = build_document(header, Document(idnumber="1", reg_number="7/1", reg_date=date(2026, 11, 20),
                                          title="Звіт", files=[DocTransfer("1", "a.txt", "txt", b"body")]),
                         [SignInfo("1", b"\x30\x00")])
    got = inbox.receive(db, BlobStore(cfg.resolve(cfg.storage.dir)), raw, channel="sev",
                        validator=lambda sig, files: STORED_REPORT)
    db.dispose()
    assert shutil.which("pdftotext"), "poppler-utils is installed by .ci/run"
    with client_for(base, key) as c:
        for lang, words in (("uk", ["Дійсність не встановлено", "повторіть перевірку пізніше", "26597691"]),
                            ("en", ["Validity could not be established", "validate again later"])):
            answer = c.get(f"/api/v1/incoming/{got.incoming_id}/report.pdf", params={"lang": lang})
            assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
            text = subprocess.run(["pdftotext", "-", "-"], input=answer.content, capture_output=True,
                                  check=True).stdout.decode()
            assert all(w in " ".join(text.split()) for w in words), text
        assert_error(c.get(f"/api/v1/incoming/{got.incoming_id}/report.pdf", params={"lang": "de"}), 422,
                     "invalid_request")
        assert_error(c.get("/api/v1/incoming/nope/report.pdf"), 404, "not_found")


def test_validation_detail(api, tmp_path):
    """?detail=true adds the EN 319 102-1 building blocks and the one that decided."""
    from test_xades_support import load_key, make_identity

    from gateway.signing.cades import CadesOptions, sign_cades_bytes

    base, key, _ = api
    signer = load_key(make_identity(tmp_path, "detail"))
    signature = sign_cades_bytes(signer, b"body", CadesOptions(level="B-B"))
    files = {"file": ("a.txt.p7s", signature), "detached": ("a.txt", b"body")}
    with client_for(base, key) as c:
        plain = c.post("/api/v1/validations", files=files).json()
        assert "checks" not in plain["signatures"][0]
        detailed = c.post("/api/v1/validations", params={"detail": "true"}, files=files).json()
    sig = detailed["signatures"][0]
    assert sig["decided_by"] == "XCV"  # no trust anchor for this signer
    assert {c["block"]: c["result"] for c in sig["checks"]}["CV"] == "PASSED"
