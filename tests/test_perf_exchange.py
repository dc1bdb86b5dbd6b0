"""Throughput changes that must not cost safety: the poll lease renewed at most every third of its
length (not once per message), and the hub stand-in's cheaper commits, which still survive kill -9."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import event, select

from gateway.config import load_config
from gateway.exchange.leases import ChannelPolling
from gateway.soap.sev_client import MessageInfo, RetryPolicy, SevClient
from gateway.store.db import open_database
from gateway.store.models import PollLease

FAST = RetryPolicy(attempts=40, base_delay=0.05, max_delay=0.2, budget_seconds=20)


@pytest.fixture
def db(tmp_path):
    conf = tmp_path / "gateway.toml"
    conf.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/g.sqlite3"\n', encoding="utf-8")
    database = open_database(load_config(conf))
    yield database
    database.dispose()


def test_poll_lease_is_renewed_once_per_third_of_its_length_not_per_message(db):
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda _conn: commits.append(1))
    a = ChannelPolling(db, "host-a:101:aaaa", seconds=1.5)
    b = ChannelPolling(db, "host-b:202:bbbb", seconds=1.5)
    assert a.hold("sev") is True
    with db.session() as s:
        first = s.get_one(PollLease, "sev").lease_until
    before = len(commits)
    assert all(a.hold("sev") for _ in range(50))  # 50 messages in one round
    assert len(commits) == before  # no transaction: the lease is fresh
    assert b.hold("sev") is False  # and it is still a's
    time.sleep(0.6)  # more than a third of the lease
    assert a.hold("sev") is True
    with db.session() as s:
        assert s.scalar(select(PollLease.lease_until)) > first  # renewed in the database
    time.sleep(1.7)  # a stopped renewing (died): b takes over, and a, back, sees it is b's
    assert b.hold("sev") is True
    assert a.hold("sev") is False
    b.release("sev")
    assert a.hold("sev") is True


def _start_hub(tmp_path: Path, systems: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "sev-hub", "--listen", "127.0.0.1:0",
         "--data", str(tmp_path / "data"), "--systems", str(systems), "--max-part-size", "4096"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert "registered 2 system(s)" in proc.stdout.readline()
    return proc, proc.stdout.readline().split()[3]


def test_the_stand_in_hub_killed_at_once_after_answering_loses_nothing(tmp_path):
    """kill -9 of the hub right after each upload completes (synchronous=NORMAL, chunks not
    fsync'd): after a restart every message is offered, whole, with the hash it was sent with."""
    systems = tmp_path / "systems.toml"
    systems.write_text(
        '[[system]]\nid = "a"\npassword = "pa"\norg_id = "04056612"\n'
        '[[system]]\nid = "b"\npassword = "pb"\norg_id = "37472062"\n',
        encoding="utf-8",
    )
    sent: dict[str, bytes] = {}
    for round_ in range(3):
        proc, url = _start_hub(tmp_path, systems)
        try:
            for i in range(3):
                raw = b"<Header>" + os.urandom(10_000).hex().encode() + b"</Header>"  # five chunks
                msg_id = f"kill-{round_}-{i}"
                SevClient(url, "a", "pa", retry=FAST).send(raw, MessageInfo(msg_id, "04056612", "37472062"))
                sent[msg_id] = raw
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
    proc, url = _start_hub(tmp_path, systems)
    try:
        b = SevClient(url, "b", "pb", retry=FAST)
        offered = {m.message_id for m in b.list_incoming(100)}
        assert offered == set(sent)
        for msg_id, raw in sent.items():
            got = b.download(msg_id)
            assert got.data == raw and got.hash == hashlib.sha256(raw).hexdigest().upper()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
