"""Two gateways and the SEV hub stand-in over real HTTP: a letter, its delivery, acceptance and
registration; a second letter rejected; on SQLite and (when reachable) PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from test_exchange_support import GatewaySpec, letter_status, wait_for
from test_store_support import BACKENDS, database_url, serve_app

from gateway.config import load_config
from gateway.soap.sev_hub import SERVICE_PATH, SevHub, create_app
from gateway.store.apikeys import create_key
from gateway.store.db import open_database
from gateway.store.partners import upsert_partner

A = ("Міська рада", "04056612", "sys-a")
B = ("Обласна адміністрація", "37472062", "sys-b")


@contextmanager
def running_gateway(spec: GatewaySpec, partner: tuple[str, str, str]):
    """An in-process gateway (uvicorn on a free port) with workers; yields an API client."""
    from gateway.api.app import create_app

    cfg = load_config(spec.write_config())
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
        upsert_partner(s, edrpou=partner[1], name=partner[0], sev_system_id=partner[2])
    db.dispose()
    app = create_app(cfg)
    with (
        serve_app(app) as base,
        httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client,
    ):
        yield client


@pytest.fixture(params=BACKENDS)
def two_gateways(request, tmp_path, dev_pki):
    """Gateways A and B with seals of the development PKI (B-T with its TSA, revocation checked
    online against its CRL/OCSP services), talking through a SEV hub stand-in."""
    from gateway.pki.dev import organization_seal

    seals = {
        "A": organization_seal(dev_pki, name=A[0], edrpou=A[1])[0],
        "B": organization_seal(dev_pki, name=B[0], edrpou=B[1])[0],
    }
    common = {"password_file": dev_pki.password_file, "tsa_url": dev_pki.tsa_url, "revocation": "online",
              "fetch_allow": f"127.0.0.1:{dev_pki.port}"}
    root = dev_pki.root_cert
    with ExitStack() as stack:
        hub_app = create_app(SevHub(tmp_path / "hub", open_registration=True, max_part_size=64 * 1024))
        hub_url = stack.enter_context(serve_app(hub_app)) + SERVICE_PATH
        urls = [
            stack.enter_context(database_url(request.param, tmp_path / n))
            if request.param != "sqlite"
            else None
            for n in ("a", "b")
        ]
        (tmp_path / "a").mkdir(exist_ok=True)
        (tmp_path / "b").mkdir(exist_ok=True)
        a = GatewaySpec(A[0], A[1], A[2], tmp_path / "a", hub_url, root, seals["A"], urls[0], **common)
        b = GatewaySpec(B[0], B[1], B[2], tmp_path / "b", hub_url, root, seals["B"], urls[1], **common)
        yield stack.enter_context(running_gateway(a, B)), stack.enter_context(running_gateway(b, A))


def send(client: httpx.Client, reg_number: str, body: bytes) -> str:
    meta = {
        "to_edrpou": B[1],
        "reg_number": reg_number,
        "reg_date": "2026-11-25",
        "title": f"Лист {reg_number}",
        "purpose_type": 1,
        "author": {"name": "Сєнкевич Олександр Федорович", "post": "міський голова"},
        "writer": {"name": "Петренко Ольга", "post": "діловод"},
    }
    resp = client.post(
        "/api/v1/outgoing",
        data={"metadata": json.dumps(meta, ensure_ascii=False)},
        files=[("file", ("лист.pdf", body, "application/pdf")), ("file", ("додаток.txt", b"1"))],
        headers={"Idempotency-Key": reg_number},
    )
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def test_letter_delivery_acceptance_registration_and_rejection(two_gateways):
    a, b = two_gateways
    body = b"%PDF-1.4 letter " + bytes(range(256)) * 400
    first, second = send(a, "01-01/1", body), send(a, "01-01/2", b"second letter")

    # B receives both, validates the seals (they pass) and acknowledges delivery and acceptance
    wait_for(
        lambda: letter_status(a, first) == "accepted" and letter_status(a, second) == "accepted",
        what="both letters accepted",
    )
    items = wait_for(lambda: b.get("/api/v1/incoming").json()["items"], what="B's inbox")
    assert len(items) == 2
    by_number = {i["reg_number"]: i for i in items}
    doc = b.get(f"/api/v1/incoming/{by_number['01-01/1']['id']}").json()
    assert doc["status"] == "accepted" and doc["from_edrpou"] == A[1] and doc["indication"] == "TOTAL_PASSED"
    assert [f["name"] for f in doc["files"]] == ["лист.pdf", "додаток.txt"]
    sig = doc["files"][0]["validation"]["signatures"][0]
    assert sig["intact"] is True and sig["format"] == "CAdES-BASELINE-T" and sig["signer"]["edrpou"] == A[1]
    assert sig["chain"][0]["revocation"] == "good"
    got = b.get(doc["files"][0]["url"])
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(body).digest()

    # registration on B reaches A as "registered" with B's number; the other is rejected
    assert (
        b.post(
            f"/api/v1/incoming/{doc['id']}/registration",
            json={"reg_number": "вх-77", "reg_date": "2026-11-26"},
        ).status_code
        == 200
    )
    assert (
        b.post(
            f"/api/v1/incoming/{by_number['01-01/2']['id']}/rejection", json={"reason": "не за адресою"}
        ).status_code
        == 200
    )
    wait_for(lambda: letter_status(a, first) == "registered", what="registered")
    wait_for(lambda: letter_status(a, second) == "rejected", what="rejected")

    letter = a.get(f"/api/v1/outgoing/{first}").json()
    flow = ["queued", "signed", "sending", "sent", "delivered", "accepted", "registered"]
    history = [h["status"] for h in letter["history"]]
    # every transition recorded, in order ("sent" may be overtaken by a fast acknowledgement)
    assert history[:3] == flow[:3] and history[-1] == "registered"
    assert history == sorted(history, key=flow.index) and len(set(history)) == len(history)
    acks = {x["type"]: x for x in letter["acknowledgements"]}
    assert {"delivered", "accepted", "registered"} <= set(acks)
    assert acks["registered"]["reg_number"] == "вх-77" and acks["registered"]["reg_date"] == "2026-11-26"
    rejected = a.get(f"/api/v1/outgoing/{second}").json()
    assert rejected["acknowledgements"][-1]["reason"] == "не за адресою"

    # nothing was stored twice, and the acknowledgements B sent all left
    assert len(b.get("/api/v1/incoming").json()["items"]) == 2
    sent = b.get(f"/api/v1/incoming/{doc['id']}").json()["acknowledgements_sent"]
    wait_for(
        lambda: all(
            x["status"] == "sent"
            for x in b.get(f"/api/v1/incoming/{doc['id']}").json()["acknowledgements_sent"]
        ),
        what="acks sent",
    )
    assert [x["ack_type"] for x in sent] == [1, 2, 3]
    metrics = a.get("/metrics").text
    assert "gateway_submit_to_delivered_seconds_count 2.0" in metrics
