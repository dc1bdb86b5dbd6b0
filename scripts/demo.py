"""`make demo`: a SEV hub stand-in and two gateways on this machine exchange letters end to end.

Each gateway runs in its own process with its own folder (gateway.toml, SQLite database, blob
store, seal). The demo sends a letter from A to B through the hub, shows its status history as
B's EDMS registers it, then a second letter that B rejects; then a third letter goes over Трембіта,
service to service on loopback (each gateway's /soap/trembita stands in for the other's security
server), and B's "delivered", "accepted" and "registered" acknowledgements come back the same way.
`Cluster` is reused by `bench/bench_exchange.py` (without Трембіта).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_exchange_support import GatewaySpec, make_pki  # noqa: E402

from gateway.config import load_config  # noqa: E402
from gateway.store.apikeys import create_key  # noqa: E402
from gateway.store.db import open_database  # noqa: E402
from gateway.store.partners import upsert_partner  # noqa: E402

ORGS = {
    "A": ("Миколаївська міська рада", "04056612", "sys-a"),
    "B": ("Миколаївська обласна державна адміністрація", "37472062", "sys-b"),
}
#: the X-Road instance and subsystem of both gateways in the demo
XROAD_INSTANCE, XROAD_SUBSYSTEM = "SEVDEIR-TEST", "SEV1207"
#: the hub stand-in on a port uvicorn binds itself (its sockets get TCP_NODELAY)
HUB = """
import sys, uvicorn
from pathlib import Path
from gateway.soap.sev_hub import SevHub, create_app
hub = SevHub(Path(sys.argv[1]), max_part_size=int(sys.argv[3]))
hub.load_systems(Path(sys.argv[4]))  # systems and their organizations, registered explicitly
uvicorn.run(create_app(hub), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", lifespan="off")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except httpx.TransportError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


class Cluster:
    """Hub + gateways A and B, each a child process; `clients` holds an API client per gateway."""

    def __init__(self, folder: Path, *, max_part_size: int = 2_500_000, trembita: bool = False) -> None:
        self.folder = folder
        self.max_part_size = max_part_size
        #: also exchange over Трембіта: each gateway's service is the other's "security server"
        self.trembita = trembita
        self.procs: list[subprocess.Popen] = []
        self.clients: dict[str, httpx.Client] = {}
        self._stack = ExitStack()

    def __enter__(self) -> Cluster:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        log = (self.folder / log_name).open("ab")
        self._stack.callback(log.close)
        proc = subprocess.Popen(args, stdout=log, stderr=log, env=os.environ.copy(), cwd=self.folder)
        self.procs.append(proc)
        return proc

    def _start(self) -> None:
        hub_port = free_port()
        hub_url = f"http://127.0.0.1:{hub_port}/csp/dirbus/bus.esb.IntegrationService.cls"
        root, seals = make_pki(self.folder / "pki", list(ORGS))
        specs = {
            name: GatewaySpec(org, edrpou, sys_id, self.folder / name, hub_url, root, seals[name])
            for name, (org, edrpou, sys_id) in ORGS.items()
        }
        confs = {name: spec.write_config() for name, spec in specs.items()}  # hub passwords: environment
        ports = {name: free_port() for name in ORGS}
        if self.trembita:
            for name, conf in confs.items():
                (other,) = set(ORGS) - {name}
                with conf.open("a", encoding="utf-8") as f:
                    f.write(trembita_section(ORGS[name][1], ports[other]))
        systems = self.folder / "hub-systems.toml"
        systems.write_text(
            "".join(
                f'[[system]]\nid = "{spec.system_id}"\npassword_env = "{spec.password_env}"\n'
                f'org_id = "{spec.edrpou}"\n'
                for spec in specs.values()
            ),
            encoding="utf-8",
        )
        hub_args = [str(self.folder / "hub"), str(hub_port), str(self.max_part_size), str(systems)]
        self._spawn([sys.executable, "-c", HUB, *hub_args], "hub.log")
        wait_until(lambda: httpx.get(hub_url + "?wsdl").status_code == 200, what="the hub")
        for name, conf in confs.items():
            db = open_database(load_config(conf))
            with db.session() as s:
                _, key = create_key(s, "edms")
                for other, (o_org, o_edrpou, o_sys) in ORGS.items():
                    if other != name:
                        # letters go through the hub unless the EDMS asks for Трембіта ("channel")
                        xroad = (
                            {"xroad_client": xroad_client(o_edrpou), "xroad_service": xroad_service(o_edrpou)}
                            if self.trembita
                            else {}
                        )
                        upsert_partner(s, edrpou=o_edrpou, name=o_org, sev_system_id=o_sys, **xroad)
            db.dispose()
            port = ports[name]
            self._spawn(
                [sys.executable, "-m", "gateway", "serve", "--config", str(conf), "--port", str(port)],
                f"gateway-{name}.log",
            )
            client = httpx.Client(
                base_url=f"http://127.0.0.1:{port}", timeout=60, headers={"Authorization": f"Bearer {key}"}
            )
            self.clients[name] = client
            wait_until(lambda c=client: c.get("/api/v1/incoming").status_code == 200, what=f"gateway {name}")

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._stack.close()


def xroad_client(edrpou: str) -> str:
    """A gateway's X-Road client subsystem in the demo."""
    return f"{XROAD_INSTANCE}/GOV/{edrpou}/{XROAD_SUBSYSTEM}"


def xroad_service(edrpou: str) -> str:
    return f"{xroad_client(edrpou)}/deliverMessage/v1"


def trembita_section(edrpou: str, partner_port: int) -> str:
    """[trembita] of a gateway whose partner's service (and WSDL) is on `partner_port`."""
    partner = f"http://127.0.0.1:{partner_port}/soap/trembita"
    return f"""
[trembita]
enabled = true
instance = "{XROAD_INSTANCE}"
member_class = "GOV"
member_code = "{edrpou}"
subsystem = "{XROAD_SUBSYSTEM}"
security_server_url = "{partner}"
wsdl = "{partner}?wsdl"
timeout = 20.0
"""


def send_letter(client: httpx.Client, reg_number: str, files: list[tuple[str, bytes]], **extra: Any) -> str:
    org, edrpou, _ = ORGS["B"]
    meta = {
        "to_edrpou": edrpou,
        "reg_number": reg_number,
        "reg_date": time.strftime("%Y-%m-%d"),
        "title": f"Лист {reg_number}",
        "purpose_type": 1,
        "author": {"name": "Сєнкевич Олександр Федорович", "post": "міський голова"},
        **extra,
    }
    resp = client.post(
        "/api/v1/outgoing",
        data={"metadata": json.dumps(meta, ensure_ascii=False)},
        files=[("file", (name, data)) for name, data in files],
        headers={"Idempotency-Key": reg_number},
    )
    resp.raise_for_status()
    return resp.json()["id"]


def status(client: httpx.Client, letter_id: str) -> str:
    return client.get(f"/api/v1/outgoing/{letter_id}").json()["status"]


def show(client: httpx.Client, letter_id: str) -> None:
    letter = client.get(f"/api/v1/outgoing/{letter_id}").json()
    route = f"{letter['to_edrpou']} over {letter['channel']}"
    print(f"  letter {letter['reg_number']} → {route}: {letter['status']}")
    for h in letter["history"]:
        print(f"    {h['at'][11:23]}  {h['status']:<10} {h['detail'] or ''}")
    acks = ", ".join(a["type"] for a in letter["acknowledgements"])
    print(f"    acknowledgements received: {acks or 'none'}")


def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="gateway-demo-") as tmp,
        Cluster(Path(tmp), trembita=True) as cluster,
    ):
        a, b = cluster.clients["A"], cluster.clients["B"]
        print("hub and gateways A (city council) and B (regional administration) are running")
        first = send_letter(a, "01-17/101", [("лист.txt", "Про співпрацю".encode()), ("додаток.txt", b"42")])
        second = send_letter(a, "01-17/102", [("запит.txt", "Запит".encode())])
        print("A's EDMS queued two letters; waiting for B's acceptance …")
        wait_until(
            lambda: status(a, first) == "accepted" and status(a, second) == "accepted", what="acceptance"
        )
        inbox = {i["reg_number"]: i for i in b.get("/api/v1/incoming").json()["items"]}
        for item in inbox.values():
            doc = b.get(f"/api/v1/incoming/{item['id']}").json()
            who = item["from_edrpou"]
            print(f"  B received {item['reg_number']} from {who}: seal check {doc['indication']}")
        b.post(
            f"/api/v1/incoming/{inbox['01-17/101']['id']}/registration",
            json={"reg_number": "вх-2024/7", "reg_date": time.strftime("%Y-%m-%d")},
        ).raise_for_status()
        b.post(
            f"/api/v1/incoming/{inbox['01-17/102']['id']}/rejection",
            json={"reason": "надіслано не за адресою"},
        ).raise_for_status()
        wait_until(
            lambda: status(a, first) == "registered" and status(a, second) == "rejected",
            what="registration and rejection",
        )
        show(a, first)
        show(a, second)

        print("A's EDMS sends a third letter over Трембіта, straight to B's service …")
        body = "Запит через Трембіту".encode()
        third = send_letter(a, "01-17/103", [("запит.txt", body)], channel="trembita")
        wait_until(lambda: status(a, third) == "accepted", what="acceptance over Трембіта")
        item = next(i for i in b.get("/api/v1/incoming").json()["items"] if i["reg_number"] == "01-17/103")
        doc = b.get(f"/api/v1/incoming/{item['id']}").json()
        print(f"  B received {item['reg_number']} over {doc['channel']}: seal check {doc['indication']}")
        b.post(
            f"/api/v1/incoming/{item['id']}/registration",
            json={"reg_number": "вх-2024/8", "reg_date": time.strftime("%Y-%m-%d")},
        ).raise_for_status()
        wait_until(lambda: status(a, third) == "registered", what="registration over Трембіта")
        show(a, third)
        print(f"  A's Трембіта channel: {a.get('/healthz').json()['checks']['trembita']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
