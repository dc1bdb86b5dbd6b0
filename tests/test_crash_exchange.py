"""kill -9 of a gateway in the middle of an upload and of a download: after a restart the letter
arrives exactly once (one incoming document on the recipient, one message at the hub)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from test_exchange_support import GatewaySpec, letter_status, make_pki, wait_for
from test_store_support import BACKENDS, database_url, serve_app

from gateway.config import load_config
from gateway.soap.sev_hub import SERVICE_PATH, SevHub, create_app
from gateway.store.apikeys import create_key
from gateway.store.db import open_database
from gateway.store.partners import upsert_partner

A = ("Міська рада", "04056612", "sys-a")
B = ("Обласна адміністрація", "37472062", "sys-b")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayProcess:
    """A gateway in its own process, so that it can be killed with SIGKILL and started again."""

    def __init__(self, spec: GatewaySpec, partner: tuple[str, str, str]) -> None:
        self.conf = spec.write_config()
        self.port = free_port()
        db = open_database(load_config(self.conf))
        with db.session() as s:
            _, self.key = create_key(s, "edms")
            upsert_partner(s, edrpou=partner[1], name=partner[0], sev_system_id=partner[2])
        db.dispose()
        self.proc: subprocess.Popen | None = None
        self.log = spec.dir / "gateway.log"
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            timeout=30,
            headers={"Authorization": f"Bearer {self.key}"},
        )

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway",
                    "serve",
                    "--config",
                    str(self.conf),
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=log,
                env=os.environ.copy(),
            )
        wait_for(self._up, timeout=30, what="gateway start-up")

    def _up(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
        try:
            return self.client.get("/api/v1/incoming").status_code == 200
        except httpx.TransportError:
            return False

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.client.close()


@contextmanager
def started(spec: GatewaySpec, partner) -> GatewayProcess:
    gw = GatewayProcess(spec, partner)
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


def hub_sessions(hub: SevHub, msg_id: str) -> list[dict]:
    with hub.store.transaction() as db:
        rows = db.execute(
            "SELECT type, status, transferred, size FROM sessions WHERE message_id = ? ORDER BY session_id",
            (msg_id,),
        ).fetchall()
    return [dict(r) for r in rows]


def in_flight(hub: SevHub, msg_id: str, kind: str) -> bool:
    return any(s["type"] == kind and 0 < s["transferred"] < s["size"] for s in hub_sessions(hub, msg_id))


def post_letter(gw: GatewayProcess, body: bytes) -> dict:
    meta = {"to_edrpou": B[1], "reg_number": "01-02/1", "reg_date": "2026-11-25", "title": "Великий лист"}
    resp = gw.client.post(
        "/api/v1/outgoing",
        data={"metadata": json.dumps(meta)},
        files=[("file", ("scan.pdf", body, "application/pdf"))],
    )
    assert resp.status_code == 202, resp.text
    return resp.json()


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_kill9_during_upload_and_download_delivers_exactly_once(tmp_path, backend):
    root, seals = make_pki(tmp_path / "pki", ["A", "B"])
    body = os.urandom(1024 * 1024)
    with ExitStack() as stack:
        hub = SevHub(tmp_path / "hub", open_registration=True, max_part_size=8 * 1024)
        hub_url = stack.enter_context(serve_app(create_app(hub))) + SERVICE_PATH
        urls = [None, None]
        if backend != "sqlite":
            urls = [stack.enter_context(database_url(backend, tmp_path / n)) for n in ("a", "b")]
        a_spec = GatewaySpec(A[0], A[1], A[2], tmp_path / "a", hub_url, root, seals["A"], urls[0])
        b_spec = GatewaySpec(B[0], B[1], B[2], tmp_path / "b", hub_url, root, seals["B"], urls[1])
        a = stack.enter_context(started(a_spec, B))
        b = stack.enter_context(started(b_spec, A))
        b.kill9()  # B is away while A uploads; it will be killed again while downloading

        letter = post_letter(a, body)
        wait_for(
            lambda: in_flight(hub, letter["msg_id"], "Upload"),
            timeout=60,
            interval=0.005,
            what="upload in progress",
        )
        a.kill9()
        assert in_flight(hub, letter["msg_id"], "Upload"), "the upload finished before the kill"
        assert letter_status_offline(a_spec) == "sending"
        a.start()
        wait_for(
            lambda: letter_status(a.client, letter["id"]) == "sent", timeout=60, what="sent after restart"
        )

        b.start()
        wait_for(
            lambda: in_flight(hub, letter["msg_id"], "Download"),
            timeout=60,
            interval=0.005,
            what="download in progress",
        )
        b.kill9()
        b.start()
        wait_for(lambda: letter_status(a.client, letter["id"]) == "accepted", timeout=90, what="accepted")

        items = b.client.get("/api/v1/incoming").json()["items"]
        assert [i["msg_id"] for i in items] == [letter["msg_id"]]  # stored exactly once
        doc = b.client.get(f"/api/v1/incoming/{items[0]['id']}").json()
        assert b.client.get(doc["files"][0]["url"]).content == body
        sessions = hub_sessions(hub, letter["msg_id"])
        completed_uploads = [s for s in sessions if s["type"] == "Upload" and s["transferred"] == s["size"]]
        assert len(completed_uploads) == 1  # the hub got the message once, resumed after the kill
        assert len([s for s in sessions if s["type"] == "Download"]) >= 2  # downloaded again after the kill
        history = [h["status"] for h in a.client.get(f"/api/v1/outgoing/{letter['id']}").json()["history"]]
        assert history.count("sent") == 1 and history.count("delivered") == 1


def letter_status_offline(spec: GatewaySpec) -> str:
    """The letter's status read from the dead gateway's database."""
    from gateway.store.models import Outgoing

    db = open_database(load_config(spec.dir / "gateway.toml"), migrate=False)
    try:
        with db.session() as s:
            return s.query(Outgoing.status).one()[0]
    finally:
        db.dispose()
