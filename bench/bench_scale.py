"""The exchange at several rates, on SQLite and on PostgreSQL, with 1 and 3 `gateway serve` instances.

A hub stand-in, gateway A (1 or 3 processes sharing one database and one storage folder; letters
submitted round-robin, as a load balancer would) and gateway B (1 process). Letters of 100 KiB go
A -> hub -> B; a letter counts when B's "delivered" acknowledgement reached A. At each paced rate:
the delivered rate (letters over first-queued to last-delivered) and the submit-to-delivered p50/p99;
then a burst (as fast as the EDMS can submit) for the sustained maximum. On PostgreSQL each gateway
has its own database, and pg_stat_database gives its transactions and SQL execution time per letter.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime
from itertools import cycle
from pathlib import Path

import httpx
from report import QUICK, Panel, Section, percentile, table
from timing import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from demo import ORGS, free_port, send_letter, wait_until  # noqa: E402
from test_exchange_support import GatewaySpec, make_pki  # noqa: E402

from gateway.config import load_config  # noqa: E402
from gateway.store.apikeys import create_key  # noqa: E402
from gateway.store.db import open_database  # noqa: E402
from gateway.store.partners import upsert_partner  # noqa: E402

LETTER_BYTES = 100 * 1024
RATES = [10.0] if QUICK else [10.0, 25.0]
SECONDS = 4.0 if QUICK else 6.0
BURST = 30 if QUICK else 60
PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DONE = ("delivered", "accepted", "registered")
HUB = """
import sys, uvicorn
from pathlib import Path
from gateway.soap.sev_hub import SevHub, create_app
hub = SevHub(Path(sys.argv[1]), open_registration=True)  # the gateways register by calling
uvicorn.run(create_app(hub), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", lifespan="off")
"""


def _pg_connect(dbname: str | None = None):
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(PG)
    return psycopg.connect(host=u.host, port=u.port or 5432, dbname=dbname or u.database, user=u.username,
                           autocommit=True, connect_timeout=5)


def _pg_stats(dbname: str) -> tuple[int, float]:
    """(committed transactions, ms spent executing statements) of one database so far."""
    with _pg_connect() as conn:
        commits, active = conn.execute(
            "SELECT xact_commit + xact_rollback, active_time FROM pg_stat_database WHERE datname = %s",
            (dbname,)).fetchone()
    return int(commits), float(active)


class ScaleCluster:
    """Hub + gateway A (`instances` processes) + gateway B, on SQLite or PostgreSQL."""

    def __init__(self, folder: Path, backend: str, instances: int) -> None:
        self.folder, self.backend, self.instances = folder, backend, instances
        self.procs: list[subprocess.Popen] = []
        #: role ("hub", "A", "B") -> its processes, for CPU time per letter
        self.roles: dict[str, list[subprocess.Popen]] = {"hub": [], "A": [], "B": []}
        self.clients: dict[str, list[httpx.Client]] = {}
        self.databases: dict[str, str] = {}
        self._stack = ExitStack()

    def __enter__(self) -> ScaleCluster:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, role: str, args: list[str], log_name: str) -> None:
        log = self._stack.enter_context((self.folder / log_name).open("ab"))
        proc = subprocess.Popen(args, stdout=log, stderr=log, cwd=self.folder)
        self.procs.append(proc)
        self.roles[role].append(proc)

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each role's processes."""
        return {role: sum(cpu_seconds(p.pid) for p in procs) for role, procs in self.roles.items()}

    def _db_url(self, name: str) -> str | None:
        if self.backend == "sqlite":
            return None
        db = f"gw_bench_{uuid.uuid4().hex[:10]}_{name.lower()}"
        with _pg_connect() as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        self.databases[name] = db
        base = PG.rsplit("/", 1)[0]
        return f"{base}/{db}"

    def _start(self) -> None:
        hub_port = free_port()
        self._spawn("hub", [sys.executable, "-c", HUB, str(self.folder / "hub"), str(hub_port)], "hub.log")
        hub_url = f"http://127.0.0.1:{hub_port}/csp/dirbus/bus.esb.IntegrationService.cls"
        wait_until(lambda: httpx.get(hub_url + "?wsdl").status_code == 200, what="the hub")
        root, seals = make_pki(self.folder / "pki", list(ORGS))
        for name, (org, edrpou, sys_id) in ORGS.items():
            spec = GatewaySpec(org, edrpou, sys_id, self.folder / name, hub_url, root, seals[name],
                               db_url=self._db_url(name))
            conf = spec.write_config()
            db = open_database(load_config(conf))  # migrates, before any instance starts
            with db.session() as s:
                _, key = create_key(s, "edms")
                for other, (o_org, o_edrpou, o_sys) in ORGS.items():
                    if other != name:
                        upsert_partner(s, edrpou=o_edrpou, name=o_org, sev_system_id=o_sys)
            db.dispose()
            self.clients[name] = []
            for i in range(self.instances if name == "A" else 1):
                port = free_port()
                args = ["-m", "gateway", "serve", "--config", str(conf), "--port", str(port)]
                self._spawn(name, [sys.executable, *args], f"gateway-{name}{i}.log")
                client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                      headers={"Authorization": f"Bearer {key}"})
                self.clients[name].append(client)
                wait_until(lambda c=client: c.get("/api/v1/incoming").status_code == 200,
                           what=f"gateway {name}{i}")

    def close(self) -> None:
        for clients in self.clients.values():
            for client in clients:
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
        if self.databases:
            with _pg_connect() as conn:
                for db in self.databases.values():
                    conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _wait_all(client: httpx.Client, ids: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        items = client.get("/api/v1/outgoing", params={"limit": 500}).json()["items"]
        done = sum(1 for i in items if i["id"] in ids and i["status"] in DONE)
        if done == len(ids):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {done}/{len(ids)} letters delivered")
        time.sleep(0.5)


def _timeline(client: httpx.Client, letter_id: str) -> tuple[datetime, datetime]:
    history = client.get(f"/api/v1/outgoing/{letter_id}").json()["history"]
    queued = datetime.fromisoformat(history[0]["at"])
    delivered = next(datetime.fromisoformat(h["at"]) for h in history if h["status"] in DONE)
    return queued, delivered


def _received(client: httpx.Client) -> list[str]:
    """The reg_number of every letter B received (one entry per stored letter)."""
    out: list[str] = []
    while True:
        items = client.get("/api/v1/incoming", params={"limit": 500, "offset": len(out)}).json()["items"]
        out += [i["reg_number"] for i in items]
        if len(items) < 500:
            return out


def _phase(cluster: ScaleCluster, tag: str, rate: float | None) -> dict[str, float]:
    """Submit letters at `rate` per second for SECONDS (None: BURST letters at once); the results."""
    clients = cluster.clients["A"]
    body = os.urandom(LETTER_BYTES)
    n = BURST if rate is None else int(rate * SECONDS)
    stats_before = {name: _pg_stats(db) for name, db in cluster.databases.items()}
    cpu_before = cluster.cpu()
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        futures = []
        for i, client in zip(range(n), cycle(clients), strict=False):
            if rate is not None:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            futures.append(pool.submit(send_letter, client, f"{tag}/{i}", [(f"scan{i}.pdf", body)]))
        ids = [f.result() for f in futures]
    _wait_all(clients[0], set(ids), timeout=300)
    cpu = {role: (t - cpu_before[role]) * 1000 / n for role, t in cluster.cpu().items()}
    times = [_timeline(clients[0], i) for i in ids]
    span = (max(d for _, d in times) - min(q for q, _ in times)).total_seconds()
    lat = [(d - q).total_seconds() for q, d in times]
    result = {"letters": n, "rate": n / span, "p50": percentile(lat, 50), "p99": percentile(lat, 99),
              **{f"cpu {role}": ms for role, ms in cpu.items()}}
    if cluster.databases:
        time.sleep(1.5)  # the servers report their statistics to pg_stat_database about once a second
        for name, db in cluster.databases.items():
            commits, active = _pg_stats(db)
            result[f"xacts {name}"] = (commits - stats_before[name][0]) / n
            result[f"sql ms {name}"] = (active - stats_before[name][1]) / n
    return result


SETUPS = [("SQLite, 1 instance", "sqlite", 1), ("PostgreSQL, 1 instance", "postgresql", 1),
          ("PostgreSQL, 3 instances of A", "postgresql", 3)]
Results = dict[str, list[tuple[str, dict[str, float]]]]


def run() -> Section:
    results: Results = {}
    lines: list[str] = []
    integrity: list[str] = []
    for label, backend, instances in SETUPS:
        with tempfile.TemporaryDirectory(prefix="gw-bench-scale-") as tmp, \
                ScaleCluster(Path(tmp), backend, instances) as cluster:
            rows = []
            for rate in [*RATES, None]:
                name = "burst" if rate is None else f"{rate:g}/s"
                rows.append((name, _phase(cluster, f"{backend}{instances}-{name}", rate)))
            results[label] = rows
            sent = sum(int(r["letters"]) for _, r in rows)
            received = _received(cluster.clients["B"][0])
        duplicates = len(received) - len(set(received))
        integrity.append(f"{label}: {sent} letters sent, {len(set(received))} distinct letters received "
                         f"by B, {duplicates} duplicates")
        for name, r in rows:
            db = ""
            if "xacts A" in r:
                db = (f"; database per letter: A {r['xacts A']:.1f} transactions, {r['sql ms A']:.1f} ms "
                      f"SQL, B {r['xacts B']:.1f} transactions, {r['sql ms B']:.1f} ms SQL")
            lines.append(f"{label}, {name}: {r['letters']} letters, {r['rate']:.1f} letters/s delivered, "
                         f"p50 {r['p50']:.2f} s, p99 {r['p99']:.2f} s; CPU per letter: A {r['cpu A']:.0f} "
                         f"ms, B {r['cpu B']:.0f} ms, hub {r['cpu hub']:.0f} ms{db}")
    lines += integrity
    return Section(lines, _markdown(results, integrity), [_panel(results)], _goals(results))


def _goals(results: Results) -> list[list[str]]:
    burst = {label: dict(phases)["burst"] for label, phases in results.items()}
    one, three = burst["PostgreSQL, 1 instance"], burst["PostgreSQL, 3 instances of A"]
    capacity = {label: 2000 / r["cpu A"] for label, r in burst.items()}
    c = capacity["PostgreSQL, 1 instance"]
    sql = one["sql ms A"]
    return [
        [">= 50 letters/s per 2-core instance",
         "end to end on this shared machine (hub, A, B, PostgreSQL and the load on the same 2 cores), "
         "burst: " + ", ".join(f"{label} {r['rate']:.1f}/s" for label, r in burst.items())
         + "; the sender's CPU per letter in the burst gives a 2-core instance of its own: "
         + ", ".join(f"{label} {capacity[label]:.0f}/s ({r['cpu A']:.0f} ms)" for label, r in burst.items()),
         f"CPU budget: {'met' if max(capacity.values()) >= 50 else 'NOT met'}; end to end here: not shown "
         "(2 shared cores)"],
        ["near-linear to 3 instances on one PostgreSQL",
         f"3 instances on the same 2 cores: burst {three['rate']:.1f}/s vs {one['rate']:.1f}/s with one "
         f"(no cores added); sender CPU per letter {three['cpu A']:.0f} vs {one['cpu A']:.0f} ms and "
         f"database transactions per letter {three['xacts A']:.1f} vs {one['xacts A']:.1f} (three pollers). "
         f"Computed: N instances with 2 cores each deliver min(N x {c:.0f}, D x 1000 / {sql:.1f}) letters/s "
         f"on a database with D cores ({sql:.1f} ms of SQL per sent letter, an upper bound)",
         "not measurable on 2 cores; linear while N x " + f"{c:.0f} x {sql:.1f} ms < D x 1000 ms"],
    ]


def _markdown(results: Results, integrity: list[str]) -> str:
    rows = []
    for label, phases in results.items():
        for name, r in phases:
            db = ("-", "-")
            if "xacts A" in r:
                db = tuple(f"{r[f'xacts {g}']:.1f} / {r[f'sql ms {g}']:.1f} ms" for g in "AB")
            cpu = f"{r['cpu A']:.0f} / {r['cpu B']:.0f} / {r['cpu hub']:.0f} ms"
            rows.append([label, name, str(int(r["letters"])), f"{r['rate']:.1f}", f"{r['p50']:.2f} s",
                         f"{r['p99']:.2f} s", cpu, *db])
    pg = [r for label, phases in results.items() if label.startswith("PostgreSQL, 1") for _, r in phases]
    cost = ""
    if pg:
        xa = sum(r["xacts A"] + r["xacts B"] for r in pg) / len(pg)
        ms = sum(r["sql ms A"] + r["sql ms B"] for r in pg) / len(pg)
        cost = (
            f"**Per-letter database cost** (PostgreSQL, one instance each, mean over the phases; sender A "
            f"plus recipient B): {xa:.1f} transactions and {ms:.1f} ms of statement execution "
            "(pg_stat_database: xact_commit + xact_rollback, active_time). Both include the idle hub "
            "polling and lease renewals during the span, and active_time includes waiting for a core on "
            "this loaded machine, so both are upper bounds. To scale to N instances: the database must "
            f"supply N x (letters/s per instance) x {ms:.1f} ms of execution per second (one PostgreSQL core "
            f"gives 1000 ms/s, about {1000 / ms:.0f} letters/s per core at this cost) and "
            f"N x (letters/s) x {xa:.1f} transactions per second, each a few round trips (BEGIN, "
            "statements, COMMIT). Near-linear scaling holds while that is well under the database "
            "server's cores.\n"
        )
    return (
        f"Letters of {LETTER_BYTES // 1024} KiB, A -> hub -> B, paced for {SECONDS:g} s per rate, then "
        f"a burst of {BURST}. All processes (hub, A's instances, B, PostgreSQL, the load generator) "
        "share this machine's cores: the goal (>= 50 letters/s per 2-core instance) is for a gateway "
        "with the cores to itself. The 3-instance run starts A three times on one configuration (one "
        "database, one storage folder) behind a round-robin client; the schema exists before they start "
        "(their start-up migrations, serialised by an advisory lock, find nothing to do), "
        "and every instance runs the sending workers while one at a time holds the hub-polling lease. "
        "B's incoming letters "
        "are counted after each run (the list below the table). "
        "With 2 cores, three instances add no cores, so that run shows correctness and the overhead "
        "of sharing, not the scaling; the per-letter database cost is what the scaling is computed "
        "from.\n\n"
        + table(["setup", "rate asked", "letters", "letters/s delivered", "p50", "p99",
                 "CPU per letter: A / B / hub", "A: transactions / SQL ms per letter", "B: same"], rows)
        + "\n" + "".join(f"- {line}\n" for line in integrity) + "\n" + cost
    )


def _panel(results: Results) -> Panel:
    series = {}
    for label, phases in results.items():
        paced = [r for name, r in phases if name != "burst"]
        series[f"{label} p50"] = [(r["rate"], r["p50"]) for r in paced]
        series[f"{label} p99"] = [(r["rate"], r["p99"]) for r in paced]
    return Panel("Exchange: latency vs delivered rate", "letters/s delivered", "submit-to-delivered (s)",
                 series)


if __name__ == "__main__":
    print("\n".join(run().lines))
