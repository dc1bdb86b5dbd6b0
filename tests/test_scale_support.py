"""Gateway instances as processes for the scale and fault tests (no tests inside): several
`gateway serve` processes on one configuration (one database, one body store), each on its own
port, killed with SIGKILL and started again; letters submitted as a load balancer would (any live
instance, again with the same Idempotency-Key when an instance died under the request)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import text
from test_crash_exchange import free_port
from test_exchange_support import wait_for

from gateway.config import load_config
from gateway.soap.sev_hub import SevHub
from gateway.store.apikeys import create_key
from gateway.store.db import make_engine, open_database
from gateway.store.partners import upsert_partner


class Instance:
    """One `gateway serve` process of a deployment."""

    def __init__(self, conf: Path, key: str, name: str) -> None:
        self.conf, self.name = conf, name
        self.port = free_port()
        self.log = conf.parent / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}", timeout=30, headers={"Authorization": f"Bearer {key}"}
        )
        self.lock = threading.Lock()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait: bool = True) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--config", str(self.conf)]
                + ["--port", str(self.port)],
                stdout=log,
                stderr=log,
                env=os.environ.copy(),
            )
        if wait:
            wait_for(self._up, timeout=60, what=f"{self.name} start-up")

    def _up(self) -> bool:
        assert self.alive, self.log.read_text(errors="replace")[-3000:]
        try:
            return self.client.get("/healthz").status_code in (200, 503)
        except httpx.TransportError:
            return False

    def kill9(self) -> None:
        if self.alive:
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.client.close()


class Deployment:
    """N instances of one gateway (one configuration file)."""

    def __init__(self, conf: Path, partner: tuple[str, str, str], count: int, name: str) -> None:
        db = open_database(load_config(conf))
        with db.session() as s:
            _, self.key = create_key(s, "edms")
            upsert_partner(s, edrpou=partner[1], name=partner[0], sev_system_id=partner[2])
        db.dispose()
        self.instances = [Instance(conf, self.key, f"{name}{n}") for n in range(count)]
        self.rnd = random.Random(int.from_bytes(os.urandom(4)))

    def start(self) -> None:
        for inst in self.instances:
            inst.start(wait=False)
        for inst in self.instances:
            wait_for(inst._up, timeout=90, what=f"{inst.name} start-up")

    def stop(self) -> None:
        for inst in self.instances:
            inst.stop()

    def live(self) -> list[Instance]:
        return [i for i in self.instances if i.alive]

    def request(self, method: str, url: str, **kw) -> httpx.Response:
        """A request through the "load balancer": any live instance; another one when it dies."""
        for _ in range(200):
            live = self.live()
            if live:
                try:
                    resp = self.rnd.choice(live).client.request(method, url, **kw)
                except httpx.TransportError:
                    pass
                else:
                    if resp.status_code not in (502, 503):
                        return resp
            time.sleep(0.1)
        raise AssertionError(f"no instance answered {method} {url}")

    def submit(self, to_edrpou: str, body: bytes, n: int) -> dict:
        meta = {"to_edrpou": to_edrpou, "reg_number": f"01-02/{n}", "reg_date": "2026-11-25"}
        meta["title"] = f"Лист {n}"
        resp = self.request(
            "POST",
            "/api/v1/outgoing",
            data={"metadata": json.dumps(meta, ensure_ascii=False)},
            files=[("file", (f"letter-{n}.pdf", body, "application/pdf"))],
            headers={"Idempotency-Key": f"letter-{n}"},
        )
        assert resp.status_code == 202, resp.text
        return resp.json()

    def status(self, letter_id: str) -> str:
        return self.request("GET", f"/api/v1/outgoing/{letter_id}").json()["status"]

    def incoming_msg_ids(self) -> list[str]:
        items = self.request("GET", "/api/v1/incoming", params={"limit": 500}).json()["items"]
        return [i["msg_id"] for i in items]


def cluster_config(conf: Path, *, poll_lease_seconds: float) -> Path:
    """A GatewaySpec config with a short poll lease (so that an expiry happens within the test)."""
    text = conf.read_text(encoding="utf-8") + f"poll_lease_seconds = {poll_lease_seconds}\n"
    conf.write_text(text, encoding="utf-8")
    return conf


def explain_extra(hub: SevHub, urls: list[str]) -> str:
    """The hub's messages that neither gateway sent as a letter or an acknowledgement."""
    known: dict[str, str] = {}
    for url in urls:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                for (msg_id,) in conn.execute(text("SELECT msg_id FROM outgoing")):
                    known[msg_id] = "letter"
                q = "SELECT msg_id, ack_type, ref_msg_id, direction, status FROM acknowledgements"
                for msg_id, ack_type, ref, direction, status in conn.execute(text(q)):
                    known[msg_id] = f"ack {ack_type} of {ref} ({direction}, {status})"
        finally:
            engine.dispose()
    with hub.store.transaction() as db:
        rows = db.execute("SELECT message_id, from_sys_id, info FROM messages").fetchall()
    extra = [(r[0], r[1], r[2][:300]) for r in rows if r[0] not in known]
    acks_of: dict[str, int] = {}
    for v in known.values():
        if v.startswith("ack"):
            ref = v.split(" of ")[1].split(" ")[0]
            acks_of[ref] = acks_of.get(ref, 0) + 1
    return f"unknown at the hub: {extra}; refs with >2 acks: {[k for k, n in acks_of.items() if n > 2]}"
