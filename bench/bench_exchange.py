"""Letters of 100 KiB through the SEV hub stand-in and two gateways (each its own process).

Measures (1) sustained throughput: a burst of letters submitted to A as fast as the EDMS can, until
B's "delivered" acknowledgement has reached A for all of them; (2) submit-to-delivered latency
(p50/p99) at a paced 10 letters/s. Times come from A's status history (queued → delivered).
Goals (issue 5): ≥ 20 letters/s sustained, p99 ≤ 3 s at 10 letters/s.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from demo import Cluster, send_letter  # noqa: E402

LETTER_BYTES = 100 * 1024
BURST = int(os.environ.get("BENCH_EXCHANGE_BURST", "200"))
PACED_RATE = 10.0
PACED_SECONDS = float(os.environ.get("BENCH_EXCHANGE_SECONDS", "20"))
DONE = ("delivered", "accepted", "registered")


def _delivered_count(client, ids: set[str]) -> int:
    items = client.get("/api/v1/outgoing", params={"limit": 500}).json()["items"]
    return sum(1 for i in items if i["id"] in ids and i["status"] in DONE)


def _wait_all(client, ids: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _delivered_count(client, ids) < len(ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {_delivered_count(client, ids)}/{len(ids)} letters delivered")
        time.sleep(1.0)  # times come from the status history: polling often would only load A


def _timeline(client, letter_id: str) -> tuple[datetime, datetime]:
    history = client.get(f"/api/v1/outgoing/{letter_id}").json()["history"]
    queued = datetime.fromisoformat(history[0]["at"])
    delivered = next(datetime.fromisoformat(h["at"]) for h in history if h["status"] in DONE)
    return queued, delivered


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _burst(cluster: Cluster, tag: str) -> list[str]:
    client = cluster.clients["A"]
    body = os.urandom(LETTER_BYTES)
    cpu_before = [_cpu_seconds(p.pid) for p in cluster.procs]
    with ThreadPoolExecutor(4) as pool:
        ids = list(
            pool.map(lambda i: send_letter(client, f"{tag}/{i}", [(f"scan{i}.pdf", body)]), range(BURST))
        )
    _wait_all(client, set(ids), timeout=600)
    cpu = [
        (_cpu_seconds(p.pid) - c) * 1000 / len(ids) for p, c in zip(cluster.procs, cpu_before, strict=True)
    ]
    times = [_timeline(client, i) for i in ids]
    start, end = min(q for q, _ in times), max(d for _, d in times)
    span = (end - start).total_seconds()
    rate = len(ids) / span
    lat = [(d - q).total_seconds() for q, d in times]
    cores = os.cpu_count() or 1
    return [
        f"sustained: {len(ids)} letters of {LETTER_BYTES // 1024} KiB in {span:.1f} s"
        f" = {rate:.1f} letters/s (goal ≥ 20); latency under that load p50 {_percentile(lat, 50):.2f} s,"
        f" p99 {_percentile(lat, 99):.2f} s",
        f"CPU per letter: hub {cpu[0]:.0f} ms, gateway A {cpu[1]:.0f} ms, gateway B {cpu[2]:.0f} ms"
        f" = {sum(cpu):.0f} ms; {cores} cores bound the rate at ~{cores * 1000 / sum(cpu):.0f} letters/s"
        f" (load average now {os.getloadavg()[0]:.1f}: other work shares the cores)",
    ]


def _paced(client, tag: str) -> list[str]:
    body = os.urandom(LETTER_BYTES)
    n = int(PACED_RATE * PACED_SECONDS)
    ids: list[str] = []
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        futures = []
        for i in range(n):
            delay = started + i / PACED_RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(send_letter, client, f"{tag}/{i}", [(f"scan{i}.pdf", body)]))
        ids = [f.result() for f in futures]
    _wait_all(client, set(ids), timeout=300)
    lat = [(d - q).total_seconds() for q, d in (_timeline(client, i) for i in ids)]
    return [
        f"paced {PACED_RATE:.0f} letters/s for {PACED_SECONDS:.0f} s: submit-to-delivered p50 "
        f"{_percentile(lat, 50):.2f} s, p99 {_percentile(lat, 99):.2f} s, max {max(lat):.2f} s "
        f"(goal p99 ≤ 3 s; mean {statistics.mean(lat):.2f} s)"
    ]


def run() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="bench-exchange-") as tmp, Cluster(Path(tmp)) as cluster:
        lines = _paced(cluster.clients["A"], "paced")
        lines += _burst(cluster, "burst")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
