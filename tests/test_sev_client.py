"""The IntegrationService client against the hub stand-in with injected faults: retries and resume."""

from __future__ import annotations

import logging
import os
import socket

import pytest

from gateway.config import Config
from gateway.errors import ConfigError
from gateway.exchange.message import MsgType, parse_message
from gateway.soap.sev_client import MessageInfo, RetryPolicy, SevClient, SevTransportError
from gateway.soap.sev_hub import Faults, HubServer

FAST = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05, budget_seconds=20)


def info(message_id: str) -> MessageInfo:
    return MessageInfo(message_id, from_org_id="04056612", to_org_id="37472062", to_sys_id="sys-b")


def pair(server: HubServer, retry: RetryPolicy = FAST) -> tuple[SevClient, SevClient]:
    a = SevClient(server.url, "sys-a", "secret-a", retry=retry)
    b = SevClient(server.url, "sys-b", "secret-b", retry=retry)
    return a, b


def test_http_503s_are_retried_with_backoff(tmp_path):
    faults = Faults(unavailable_every=3)
    with HubServer(tmp_path / "hub", open_registration=True, max_part_size=300_000, faults=faults) as server:
        a, b = pair(server)
        b.list_incoming()
        raw = os.urandom(1_000_000)
        sent = a.send(raw, info("through-503s"))
        assert sent.retries > 0 and sent.status == "Processed"
        (offered,) = b.list_incoming()
        got = b.download(offered.message_id)
        assert got.data == raw
        b.end_processing(got)
        assert a.retries + b.retries >= faults._posts // 3 - 1  # every refused call was retried


def test_lost_chunk_answers_resume_from_transferred_bytes_without_doubling(tmp_path):
    with HubServer(
        tmp_path / "hub",
        open_registration=True, max_part_size=250_000, faults=Faults(lose_upload_answer_every=2)
    ) as server:
        a, b = pair(server)
        b.list_incoming()
        raw = os.urandom(1_000_000)
        sent = a.send(raw, info("lossy"))
        assert sent.retries >= 1
        assert sent.chunks == 4  # each chunk was sent once: the client asked where to resume
        got = b.download("lossy")
        assert got.data == raw


def test_an_interrupted_upload_resumes_in_a_later_call(tmp_path):
    with HubServer(
        tmp_path / "hub",
        open_registration=True, max_part_size=200_000, faults=Faults(lose_upload_answer_every=3)
    ) as server:
        impatient = SevClient(server.url, "sys-a", "secret-a", retry=RetryPolicy(attempts=1))
        SevClient(server.url, "sys-b", "secret-b").list_incoming()
        raw = os.urandom(1_000_000)
        with pytest.raises(SevTransportError) as err:
            impatient.send(raw, info("resumable"))
        assert err.value.session_id
        server.hub.faults.lose_upload_answer_every = 0
        later = SevClient(server.url, "sys-a", "secret-a", retry=FAST)
        sent = later.send(raw, info("resumable"), session_id=err.value.session_id)
        assert sent.session_id == err.value.session_id
        assert sent.resumed_from == 600_000 and sent.chunks == 2
        # asking again is harmless: the finished session is recognised
        assert later.send(raw, info("resumable"), session_id=sent.session_id).status == "Processed"
        # a session of other content is never resumed: a fresh upload of a new message is made
        other = later.send(raw[::-1], info("other"), session_id=sent.session_id)
        assert other.session_id != sent.session_id and other.resumed_from == 0
        got = SevClient(server.url, "sys-b", "secret-b").download("resumable")
        assert got.data == raw


def test_reopening_an_unfinished_upload_continues_it(tmp_path):
    """A client that lost its session id re-opens with the same MessageId and hash and resumes."""
    with HubServer(
        tmp_path / "hub",
        open_registration=True, max_part_size=100_000, faults=Faults(lose_upload_answer_every=4)
    ) as server:
        SevClient(server.url, "sys-b", "secret-b").list_incoming()
        raw = os.urandom(500_000)
        with pytest.raises(SevTransportError):
            SevClient(server.url, "sys-a", "secret-a", retry=RetryPolicy(attempts=1)).send(
                raw, info("reopen")
            )
        server.hub.faults.lose_upload_answer_every = 0
        sent = SevClient(server.url, "sys-a", "secret-a", retry=FAST).send(raw, info("reopen"))
        assert sent.resumed_from == 400_000


def test_an_unreachable_hub_exhausts_the_retry_budget():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    delays: list[float] = []
    c = SevClient(
        f"http://127.0.0.1:{port}/csp/dirbus/bus.esb.IntegrationService.cls",
        "sys",
        "pw",
        retry=RetryPolicy(attempts=4, base_delay=0.2, max_delay=1.0),
        sleep=delays.append,
    )
    with pytest.raises(SevTransportError, match="after 4 attempts"):
        c.list_incoming()
    assert len(delays) == 3
    caps = [0.2, 0.4, 0.8]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps, strict=True))  # full jitter under the cap


def test_the_password_is_never_logged(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with HubServer(tmp_path / "hub", open_registration=True, faults=Faults(unavailable_every=3)) as server:
        a, b = pair(server)
        b.list_incoming()
        a.send(b"<Header>x</Header>", info("quiet"))
        assert "secret-a" not in repr(a)
    assert caplog.records  # retries were logged...
    assert "secret-a" not in caplog.text and "secret-b" not in caplog.text  # ...without the password


def test_from_config_reads_the_password_from_the_environment(monkeypatch):
    cfg = Config()
    cfg.sev.url, cfg.sev.system_id, cfg.sev.password_env = "http://127.0.0.1:9/x", "sys", "TEST_SEV_PW"
    monkeypatch.delenv("TEST_SEV_PW", raising=False)
    with pytest.raises(ConfigError, match="TEST_SEV_PW"):
        SevClient.from_config(cfg)
    monkeypatch.setenv("TEST_SEV_PW", "pw")
    assert SevClient.from_config(cfg).system_id == "sys"


def test_message_info_comes_from_the_1207_header():
    from pathlib import Path

    sample = Path(__file__).resolve().parents[1].parent / "shared" / "sev-reference" / "samples" / "ds09.xml"
    if not sample.exists():
        pytest.skip("../shared/sev-reference absent")
    msg = parse_message(sample.read_bytes())
    mi = MessageInfo.for_message(msg)
    assert msg.header.msg_type == MsgType.REPLY and mi.type == "ReplayDocument"
    assert (mi.message_id, mi.from_org_id, mi.to_org_id, mi.to_sys_id) == (
        "738a8974-780e-4168-9f8b-1ab95c7507bf",
        "37472062",
        "7879990908",
        "99999999",
    )
    assert mi.size == len(msg.raw)


def test_an_upload_resumes_across_a_hub_restart(tmp_path):
    raw = os.urandom(700_000)
    with HubServer(
        tmp_path / "hub",
        open_registration=True, max_part_size=200_000, faults=Faults(lose_upload_answer_every=2)
    ) as first:
        SevClient(first.url, "sys-b", "secret-b").list_incoming()
        with pytest.raises(SevTransportError) as err:
            SevClient(first.url, "sys-a", "secret-a", retry=RetryPolicy(attempts=1)).send(
                raw, info("restart")
            )
    with HubServer(tmp_path / "hub", open_registration=True, max_part_size=200_000) as second:
        sent = SevClient(second.url, "sys-a", "secret-a", retry=FAST).send(
            raw, info("restart"), session_id=err.value.session_id
        )
        assert sent.resumed_from == 400_000
        assert SevClient(second.url, "sys-b", "secret-b").download("restart").data == raw


def test_connections_broken_mid_answer_are_survived(tmp_path):
    faults = Faults(lose_upload_answer_every=2, drop_upload_answer=True)
    with HubServer(tmp_path / "hub", open_registration=True, max_part_size=250_000, faults=faults) as server:
        a, b = pair(server)
        b.list_incoming()
        raw = os.urandom(1_000_000)
        sent = a.send(raw, info("dropped"))
        assert sent.retries == 2 and sent.chunks == 4
        assert b.download("dropped").data == raw
