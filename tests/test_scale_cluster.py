"""Three `gateway serve` processes on one PostgreSQL database and one shared body folder, letters
flowing both ways through the SEV hub stand-in, instances killed with SIGKILL at random points and
started again (one stays dead: the survivors take its poll lease over when it expires). At the end
nothing is lost and nothing duplicated: every letter at the hub once, received once, accepted."""

from __future__ import annotations

import os
import threading
import time
from contextlib import ExitStack

import pytest
from sqlalchemy import text
from test_crash_duplicates import hub_counts
from test_crash_exchange import A, B
from test_exchange_support import GatewaySpec, make_pki, wait_for
from test_scale_support import Deployment, cluster_config, explain_extra
from test_store_support import pg_schema_url, pg_unreachable_reason, serve_app

from gateway.soap.sev_hub import SERVICE_PATH, Faults, SevHub, create_app
from gateway.store.db import make_engine

OUT = 60  # letters from the three-instance council to the other body
BACK = 30  # letters the other way, received by the three instances
POLL_LEASE = 3.0
MAX_KILLS = 12


def poll_owner(url: str) -> tuple[str | None, bool]:
    """(owner of the SEV poll lease, whether it is unexpired)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT owner, lease_until > now() FROM poll_leases WHERE channel = 'sev'")
            ).first()
    finally:
        engine.dispose()
    return (row[0], bool(row[1])) if row else (None, False)


def _killer(council: Deployment, other: Deployment, stop: threading.Event, kills: list[str]) -> None:
    """Kill a random instance (sometimes the other body's gateway) and start it again, until `stop`."""
    rnd = council.rnd
    while len(kills) < MAX_KILLS and not stop.wait(rnd.uniform(1.0, 3.0)):
        victim = rnd.choice(council.instances + ([other.instances[0]] if rnd.random() < 0.2 else []))
        victim.kill9()
        kills.append(victim.name)
        if not stop.wait(rnd.uniform(0.0, 1.0)):
            victim.start(wait=False)


@pytest.mark.slow
def test_three_instances_on_postgresql_killed_at_random_lose_and_duplicate_nothing(tmp_path):
    if reason := pg_unreachable_reason():
        pytest.fail(reason)  # PostgreSQL is part of the test set-up (README, CI)
    t0 = time.monotonic()
    root, seals = make_pki(tmp_path / "pki", ["A", "B"])
    with ExitStack() as stack:
        # small chunks and a late answer to the last one: kills land inside uploads and in the
        # window in which a second upload would make a duplicate (which the hub would keep)
        hub = SevHub(
            tmp_path / "hub",
            max_part_size=4 * 1024,
            accept_duplicates=True,
            faults=Faults(completion_delay=0.1),
        )
        hub_url = stack.enter_context(serve_app(create_app(hub))) + SERVICE_PATH
        url = stack.enter_context(pg_schema_url())
        a_spec = GatewaySpec(A[0], A[1], A[2], tmp_path / "a", hub_url, root, seals["A"], url)
        b_spec = GatewaySpec(B[0], B[1], B[2], tmp_path / "b", hub_url, root, seals["B"])
        a_conf = cluster_config(a_spec.write_config(), poll_lease_seconds=POLL_LEASE)
        b_conf = b_spec.write_config()
        for spec in (a_spec, b_spec):
            hub.store.register_system(spec.system_id, os.environ[spec.password_env], spec.edrpou)
        council = Deployment(a_conf, B, 3, "a")
        other = Deployment(b_conf, A, 1, "b")
        stack.callback(council.stop)
        stack.callback(other.stop)
        council.start()
        other.start()

        stop, kills = threading.Event(), []
        killer = threading.Thread(target=_killer, args=(council, other, stop, kills), daemon=True)
        killer.start()
        out, back = [], []
        for n in range(max(OUT, BACK)):  # interleaved: both directions at once
            if n < OUT:
                out.append(council.submit(B[1], os.urandom(12 * 1024), n))
            if n < BACK:
                back.append(other.submit(A[1], os.urandom(12 * 1024), n))
        time.sleep(3)
        stop.set()
        killer.join(30)
        for dep in (council, other):
            for inst in dep.instances:
                if not inst.alive:
                    inst.start(wait=False)

        # one instance dies for good: its poll lease (if it held it) is taken over after expiry
        holder, _ = poll_owner(url)
        pid = int(holder.split(":")[1]) if holder else None
        victim = next((i for i in council.instances if i.proc and i.proc.pid == pid), council.instances[0])
        wait_for(lambda: all(i.alive for i in council.instances), timeout=10, what="instances running")
        victim.kill9()
        kills.append(f"{victim.name} (for good)")

        for dep, letters in ((council, out), (other, back)):
            for letter in letters:
                wait_for(
                    lambda dep=dep, letter=letter: dep.status(letter["id"]) == "accepted",
                    timeout=120,
                    interval=0.3,
                    what=f"letter {letter['msg_id']} accepted (kills: {kills})",
                )

        messages, copies, uploads = hub_counts(hub)
        assert copies == 0, "a message reached the hub twice"
        # each letter, its delivered and accepted acknowledgements
        dbs = [url, f"sqlite:///{tmp_path / 'b' / 'gateway.db'}"]
        assert messages == uploads == (OUT + BACK) * 3, explain_extra(hub, dbs)
        received_b = other.incoming_msg_ids()
        assert sorted(received_b) == sorted(x["msg_id"] for x in out)  # each once
        received_a = council.incoming_msg_ids()
        assert sorted(received_a) == sorted(x["msg_id"] for x in back)
        for letter in out[:10] + back[:10]:
            dep = council if letter in out else other
            view = dep.request("GET", f"/api/v1/outgoing/{letter['id']}").json()
            assert sorted(x["type"] for x in view["acknowledgements"]) == ["accepted", "delivered"]
            # "sent" at most once: when the recipient's "delivered" arrives (through the instance that
            # polls) before the sending instance recorded its upload, the letter goes on from "sending"
            assert [h["status"] for h in view["history"]].count("sent") <= 1

        # the instance killed for good may have been the poller: a live one has taken over (or
        # does so once its lease expires); exactly one of the two polls
        live_pids = {str(i.proc.pid) for i in council.live()}

        def live_poller() -> bool:
            owner, fresh = poll_owner(url)
            return fresh and owner is not None and owner.split(":")[1] in live_pids

        wait_for(live_poller, timeout=POLL_LEASE + 15, what="a live instance polling the hub")

        def states() -> list[str]:
            return sorted(i.client.get("/healthz").json()["checks"]["sev"] for i in council.live())

        wait_for(lambda: states() == ["ok", "ok (another instance polls)"], timeout=15, what="one poller")
        assert len(kills) >= 3, kills
        print(f"\n{OUT}+{BACK} letters, kills {kills}, {time.monotonic() - t0:.0f} s")
