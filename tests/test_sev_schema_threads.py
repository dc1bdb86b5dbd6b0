"""The 1207 schema is built once, at import (start-up, main thread): many threads building and
parsing messages at start-up, in generations that come and go, all succeed. A lazy build by
whichever worker thread came first left every letter failing with xmlSchemaPValAttrNodeValue."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import threading
    from datetime import date

    from gateway.exchange import message as m

    assert isinstance(m._SCHEMA, m.etree.XMLSchema)  # built by the import, before any thread
    errors = []
    h = m.Header(m.MsgType.DOCUMENT, "1A2B3C4D-0000-4000-8000-000000000001", "04056612", "A",
                 "sys-a", "A", "37472062", "B", "sys-b", "B")

    def work(barrier):
        barrier.wait()
        try:
            for _ in range(4):
                raw = m.acknowledge(h, m.AckType.REGISTERED, reg_number="5", reg_date=date(2026, 1, 2))
                assert m.parse_message(raw).acknowledgement.reg_number == "5"
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    for _ in range(3):  # generations of threads: the earlier ones have ended when the next start
        barrier = threading.Barrier(16)
        threads = [threading.Thread(target=work, args=(barrier,)) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print(len(errors))
    for e in errors[:3]:
        print(e)
    """
)


def test_many_threads_at_start_up_all_build_and_parse_messages():
    for _ in range(3):  # a fresh interpreter each time
        out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[0] == "0", out.stdout
