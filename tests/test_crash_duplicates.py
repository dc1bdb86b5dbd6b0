"""Exactly once without help from the hub: the stand-in stores a second upload of a MessageId
(as an independent hub did) and the sending gateway is killed (-9) at random points while 40
letters and their acknowledgements travel. At the end: every letter at the hub once, every
acknowledgement once, every letter received once and accepted; nothing lost."""

from __future__ import annotations

import os
import random
import time
from contextlib import ExitStack

import pytest
from test_crash_exchange import A, B, post_letter, started
from test_exchange_support import GatewaySpec, letter_status, make_pki, wait_for
from test_store_support import serve_app

from gateway.soap.sev_hub import SERVICE_PATH, Faults, SevHub, create_app

LETTERS = 40
KILLS = 3


def hub_counts(hub: SevHub) -> tuple[int, int, int]:
    """(messages queued, duplicate copies stored, uploads completed)."""
    with hub.store.transaction() as db:
        messages = db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        copies = db.execute("SELECT COUNT(*) FROM copies").fetchone()[0]
        uploads = db.execute(
            "SELECT COUNT(*) FROM sessions WHERE type = 'Upload' AND status IN ('Processed', 'Delivered')"
        ).fetchone()[0]
    return messages, copies, uploads


@pytest.mark.slow
def test_sender_killed_at_random_points_against_a_hub_that_stores_duplicates(tmp_path):
    rnd = random.Random(int.from_bytes(os.urandom(4)))
    root, seals = make_pki(tmp_path / "pki", ["A", "B"])
    with ExitStack() as stack:
        # small chunks: every letter takes several calls, so a kill lands inside uploads
        # and the answer to a completing chunk comes late: kills land between the hub completing an
        # upload and the gateway learning it (the window in which a re-upload makes a duplicate)
        hub = SevHub(
            tmp_path / "hub",
            max_part_size=4 * 1024,
            accept_duplicates=True,
            faults=Faults(completion_delay=0.25),
        )
        hub_url = stack.enter_context(serve_app(create_app(hub))) + SERVICE_PATH
        a_spec = GatewaySpec(A[0], A[1], A[2], tmp_path / "a", hub_url, root, seals["A"])
        b_spec = GatewaySpec(B[0], B[1], B[2], tmp_path / "b", hub_url, root, seals["B"])
        a_spec.write_config(), b_spec.write_config()
        for spec in (a_spec, b_spec):
            hub.store.register_system(spec.system_id, os.environ[spec.password_env], spec.edrpou)
        a = stack.enter_context(started(a_spec, B))
        b = stack.enter_context(started(b_spec, A))
        letters = [post_letter(a, os.urandom(16 * 1024)) for _ in range(LETTERS)]
        for n in range(KILLS):
            time.sleep(rnd.uniform(0.2, 1.0))
            a.kill9()
            a.start()
            if n == 1:
                b.kill9()  # the acknowledgements' sender too
                b.start()
        for letter in letters:
            wait_for(
                lambda letter=letter: letter_status(a.client, letter["id"]) == "accepted",
                timeout=120,
                what=f"letter {letter['msg_id']} accepted",
            )
        messages, copies, uploads = hub_counts(hub)
        assert copies == 0, "a message reached the hub twice"
        assert messages == uploads == LETTERS * 3  # each letter, its delivered and accepted acks
        items = b.client.get("/api/v1/incoming", params={"limit": 500}).json()["items"]
        assert sorted(i["msg_id"] for i in items) == sorted(x["msg_id"] for x in letters)
        for letter in letters:
            view = a.client.get(f"/api/v1/outgoing/{letter['id']}").json()
            assert sorted(x["type"] for x in view["acknowledgements"]) == ["accepted", "delivered"]
