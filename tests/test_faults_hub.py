"""The hub answering 503 to every fifth call and, for a while, hanging (a TCP proxy in front of it
holds everything back), while letters flow both ways and the sending gateway is killed (-9) and
started again: every letter at the hub once, received once, accepted; nothing lost."""

from __future__ import annotations

import os
import threading
import time
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest
from test_crash_duplicates import hub_counts
from test_crash_exchange import A, B
from test_exchange_support import GatewaySpec, make_pki, wait_for
from test_faults_support import TcpProxy
from test_scale_support import Deployment, explain_extra
from test_store_support import serve_app

from gateway.soap.sev_hub import SERVICE_PATH, Faults, SevHub, create_app

OUT, BACK = 30, 10
HANG = 8.0


@pytest.mark.slow
def test_hub_unavailable_and_hanging_while_senders_are_killed(tmp_path):
    root, seals = make_pki(tmp_path / "pki", ["A", "B"])
    with ExitStack() as stack:
        hub = SevHub(
            tmp_path / "hub",
            max_part_size=4 * 1024,
            accept_duplicates=True,  # a second upload would show as a copy
            faults=Faults(unavailable_every=5, completion_delay=0.1),
        )
        real = urlsplit(stack.enter_context(serve_app(create_app(hub))))
        proxy = TcpProxy(real.hostname or "127.0.0.1", real.port or 80)
        stack.callback(proxy.close)
        proxy.up()
        hub_url = f"http://127.0.0.1:{proxy.port}{SERVICE_PATH}"
        a_spec = GatewaySpec(A[0], A[1], A[2], tmp_path / "a", hub_url, root, seals["A"])
        b_spec = GatewaySpec(B[0], B[1], B[2], tmp_path / "b", hub_url, root, seals["B"])
        a_conf, b_conf = a_spec.write_config(), b_spec.write_config()
        for spec in (a_spec, b_spec):
            hub.store.register_system(spec.system_id, os.environ[spec.password_env], spec.edrpou)
        a = Deployment(a_conf, B, 1, "a")
        b = Deployment(b_conf, A, 1, "b")
        stack.callback(a.stop)
        stack.callback(b.stop)
        a.start()
        b.start()

        def trouble() -> None:
            rnd = a.rnd
            for n in range(3):
                time.sleep(rnd.uniform(1.0, 3.0))
                a.instances[0].kill9()
                a.instances[0].start(wait=False)
                if n == 1:  # the hub hangs for a while: calls in flight wait, new ones too
                    proxy.hang()
                    time.sleep(HANG)
                    proxy.up()

        troublemaker = threading.Thread(target=trouble, daemon=True)
        troublemaker.start()
        out = [a.submit(B[1], os.urandom(12 * 1024), n) for n in range(OUT)]
        back = [b.submit(A[1], os.urandom(12 * 1024), n) for n in range(BACK)]
        troublemaker.join(60)
        assert not troublemaker.is_alive()
        if not a.instances[0].alive:
            a.instances[0].start()
        for dep, letters in ((a, out), (b, back)):
            for letter in letters:
                wait_for(
                    lambda dep=dep, letter=letter: dep.status(letter["id"]) == "accepted",
                    timeout=120,
                    interval=0.3,
                    what=f"letter {letter['msg_id']} accepted",
                )
        messages, copies, uploads = hub_counts(hub)
        assert copies == 0, "a message reached the hub twice"
        dbs = [f"sqlite:///{tmp_path / n / 'gateway.db'}" for n in "ab"]
        assert messages == uploads == (OUT + BACK) * 3, explain_extra(hub, dbs)
        assert sorted(b.incoming_msg_ids()) == sorted(x["msg_id"] for x in out)
        assert sorted(a.incoming_msg_ids()) == sorted(x["msg_id"] for x in back)
