"""A TSA that is down, then hangs, then is slow (a TCP proxy in front of the development PKI's
TSA): a letter sealed at B-T waits for each try within the TSA time-out, is tried again, is never
lost or failed, and leaves with a timestamp once the TSA answers."""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack
from urllib.parse import urlsplit

import httpx
import pytest
from asn1crypto import cms
from test_crash_exchange import A, B
from test_exchange_support import GatewaySpec, letter_status, make_pki, wait_for
from test_faults_support import TcpProxy
from test_store_support import serve_app

from gateway.api.app import create_app
from gateway.config import load_config
from gateway.signing.tsa import TSA_TIMEOUT_SECONDS
from gateway.soap.sev_hub import SERVICE_PATH, SevHub
from gateway.soap.sev_hub import create_app as create_hub_app
from gateway.store.apikeys import create_key
from gateway.store.blobs import BlobStore
from gateway.store.db import open_database
from gateway.store.models import Outgoing, OutgoingFile
from gateway.store.partners import upsert_partner


@pytest.mark.slow
def test_tsa_down_hanging_and_slow_the_letter_waits_and_leaves_timestamped(tmp_path, dev_pki):
    root, seals = make_pki(tmp_path / "pki", ["A"])
    tsa = urlsplit(dev_pki.tsa_url)
    with ExitStack() as stack:
        proxy = TcpProxy(tsa.hostname or "127.0.0.1", tsa.port or 80)
        stack.callback(proxy.close)
        hub = SevHub(tmp_path / "hub", open_registration=True)
        hub_url = stack.enter_context(serve_app(create_hub_app(hub))) + SERVICE_PATH
        tsa_url = f"http://127.0.0.1:{proxy.port}{tsa.path}"
        spec = GatewaySpec(A[0], A[1], A[2], tmp_path / "a", hub_url, root, seals["A"], tsa_url=tsa_url)
        cfg = load_config(spec.write_config())
        db = open_database(cfg)
        stack.callback(db.dispose)
        with db.session() as s:
            _, key = create_key(s, "edms")
            upsert_partner(s, edrpou=B[1], name=B[0], sev_system_id=B[2])
        base = stack.enter_context(serve_app(create_app(cfg)))
        client = stack.enter_context(
            httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {key}"})
        )

        def row() -> tuple[str, int, str | None, str | None]:
            with db.session() as s:
                r = s.get_one(Outgoing, ident)
                return r.status, r.attempts, r.lease_owner, r.last_error

        meta = {"to_edrpou": B[1], "reg_number": "1", "reg_date": "2026-11-25", "title": "Лист"}
        resp = client.post(
            "/api/v1/outgoing",
            data={"metadata": json.dumps(meta, ensure_ascii=False)},
            files=[("file", ("a.pdf", os.urandom(30_000), "application/pdf"))],
        )
        assert resp.status_code == 202, resp.text
        ident = resp.json()["id"]

        # 1. the TSA is down: the try fails at once and the letter waits for the next one
        wait_for(lambda: row()[1] == 1 and row()[2] is None, timeout=30, what="first try done")
        status, _, _, error = row()
        assert status == "queued" and "TSA" in (error or ""), error

        # 2. the TSA hangs: the next try waits no longer than the TSA time-out
        proxy.hang()
        wait_for(lambda: row()[1] == 2, timeout=30, what="second try started")
        started = time.monotonic()
        wait_for(lambda: row()[2] is None, timeout=TSA_TIMEOUT_SECONDS + 30, what="try over")
        waited = time.monotonic() - started
        status, _, _, error = row()
        assert status == "queued" and "TSA" in (error or ""), error
        assert TSA_TIMEOUT_SECONDS - 2 < waited < TSA_TIMEOUT_SECONDS + 10, waited

        # 3. the TSA answers, slowly: the letter is sealed with a timestamp and sent, once
        proxy.delay = 1.0
        proxy.up()
        wait_for(lambda: letter_status(client, ident) == "sent", timeout=60, what="sent with the TSA back")
        with db.session() as s:
            q = s.query(OutgoingFile.signature_sha256).filter(OutgoingFile.outgoing_id == ident)
            sig_sha = q.scalar()
        signature = BlobStore(cfg.resolve(cfg.storage.dir)).get(sig_sha)
        signer = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
        unsigned = [a["type"].native for a in signer["unsigned_attrs"]]
        assert "signature_time_stamp_token" in unsigned
        with hub.store.transaction() as hdb:
            assert hdb.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 1
