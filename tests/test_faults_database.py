"""PostgreSQL unreachable for 10 s (a TCP proxy in front of it taken down and brought back) while
letters flow both ways: the API answers 503 with Retry-After, /healthz reports the database, the
workers pause and resume, and nothing is lost or sent twice. The gateway keeps its document
bodies in the database as well ([storage] backend = "database")."""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from test_crash_duplicates import hub_counts
from test_crash_exchange import A, B
from test_exchange_support import GatewaySpec, make_pki, wait_for
from test_faults_support import TcpProxy
from test_scale_support import Deployment
from test_store_support import pg_schema_url, pg_unreachable_reason, serve_app

from gateway.soap.sev_hub import SERVICE_PATH, SevHub, create_app
from gateway.store.db import make_engine

OUTAGE = 10.0


@pytest.mark.slow
def test_database_away_for_ten_seconds(tmp_path):
    if reason := pg_unreachable_reason():
        pytest.fail(reason)  # PostgreSQL is part of the test set-up (README, CI)
    root, seals = make_pki(tmp_path / "pki", ["A", "B"])
    with ExitStack() as stack:
        hub = SevHub(tmp_path / "hub", max_part_size=8 * 1024)
        hub_url = stack.enter_context(serve_app(create_app(hub))) + SERVICE_PATH
        real = make_url(stack.enter_context(pg_schema_url()))
        proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
        stack.callback(proxy.close)
        proxy.up()
        url = real.set(port=proxy.port).render_as_string(hide_password=False)
        a_spec = GatewaySpec(A[0], A[1], A[2], tmp_path / "a", hub_url, root, seals["A"], url)
        b_spec = GatewaySpec(B[0], B[1], B[2], tmp_path / "b", hub_url, root, seals["B"])
        a_conf, b_conf = a_spec.write_config(), b_spec.write_config()
        # A keeps its bodies in the database too (a small deployment without a shared folder)
        settings = a_conf.read_text(encoding="utf-8")
        settings = settings.replace('dir = "storage"\n', 'dir = "storage"\nbackend = "database"\n')
        a_conf.write_text(settings, encoding="utf-8")
        for spec in (a_spec, b_spec):
            hub.store.register_system(spec.system_id, os.environ[spec.password_env], spec.edrpou)
        a = Deployment(a_conf, B, 1, "a")
        b = Deployment(b_conf, A, 1, "b")
        stack.callback(a.stop)
        stack.callback(b.stop)
        a.start()
        b.start()
        gw = a.instances[0]

        out = [a.submit(B[1], os.urandom(20 * 1024), n) for n in range(10)]
        back = [b.submit(A[1], os.urandom(20 * 1024), n) for n in range(3)]
        proxy.down()
        t0 = time.monotonic()
        back += [b.submit(A[1], os.urandom(20 * 1024), n) for n in range(3, 6)]  # waiting at the hub

        meta = {"to_edrpou": B[1], "reg_number": "1", "reg_date": "2026-11-25", "title": "t"}
        refused = gw.client.post(
            "/api/v1/outgoing",
            data={"metadata": json.dumps(meta)},
            files=[("file", ("x.pdf", b"%PDF-1.4 x", "application/pdf"))],
        )
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"].isdigit()
        assert refused.json()["error"]["code"] == "database_unavailable"
        listing = gw.client.get("/api/v1/outgoing")
        assert listing.status_code == 503 and "Retry-After" in listing.headers
        health = gw.client.get("/healthz")
        assert health.status_code == 503 and health.json()["checks"]["database"].startswith("error")
        assert gw.alive
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - t0)))
        proxy.up()

        wait_for(lambda: gw.client.get("/healthz").status_code == 200, timeout=30, what="healthy again")
        out += [a.submit(B[1], os.urandom(20 * 1024), n) for n in range(10, 13)]
        for dep, letters in ((a, out), (b, back)):
            for letter in letters:
                wait_for(
                    lambda dep=dep, letter=letter: dep.status(letter["id"]) == "accepted",
                    timeout=90,
                    interval=0.3,
                    what=f"letter {letter['msg_id']} accepted",
                )
        messages, copies, uploads = hub_counts(hub)
        assert copies == 0 and messages == uploads == (len(out) + len(back)) * 3
        assert sorted(b.incoming_msg_ids()) == sorted(x["msg_id"] for x in out)
        assert sorted(a.incoming_msg_ids()) == sorted(x["msg_id"] for x in back)
        assert gw.client.get("/healthz").json()["checks"]["sev"] == "ok"
        assert gw.alive  # the same process all along: it paused, it did not die
        engine = make_engine(real.render_as_string(hide_password=False))
        try:
            with engine.connect() as conn:
                bodies = conn.execute(text("SELECT COUNT(*) FROM stored_bodies")).scalar()
        finally:
            engine.dispose()
        assert bodies >= len(out) * 3  # each letter's file, signature and message at least
