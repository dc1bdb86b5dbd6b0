"""Alerts: letters stuck in the outbox count as zombies, and alerts are mailed (in Ukrainian) to a
local SMTP sink (aiosmtpd) when they appear and again after mail_repeat_hours, not in between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from conftest import free_port
from console_support import write_gateway
from sqlalchemy import update

from gateway.config import load_config
from gateway.console.alerts import collect
from gateway.console.mailer import AlertMailer
from gateway.exchange.outbox import NewFile, queue_letter
from gateway.store.db import open_database
from gateway.store.models import Outgoing


class Sink:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's protocol
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=default)))
        return "250 OK"


@pytest.fixture
def sink():
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def test_stuck_letters_are_mailed_then_repeated(dev_pki, tmp_path, sink):
    handler, port = sink
    path = write_gateway(dev_pki, tmp_path, extra=(
        f'[console]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nmail_from = "gateway@mkrada.gov.ua"\n'
        'mail_to = ["security@mkrada.gov.ua"]\nmail_repeat_hours = 24.0\n'))
    cfg = load_config(path)
    db = open_database(cfg)
    with db.session() as s:
        row, _ = queue_letter(s, meta={"to_edrpou": "26597691"}, files=[NewFile("a.txt", None, "0" * 64, 1)],
                              channel="sev", to_name="Одеса", api_key_id=None, idempotency_key=None)
        letter = row.id
    now = datetime.now(UTC)
    assert not [a for a in collect(cfg, db, None, now=now) if a.kind == "stuck_letters"]
    with db.session() as s:
        s.execute(update(Outgoing).where(Outgoing.id == letter).values(updated_at=now - timedelta(hours=3)))
    stuck = [a for a in collect(cfg, db, None, now=now) if a.kind == "stuck_letters"]
    assert stuck and stuck[0].count == 1

    mailer = AlertMailer(cfg, db, lambda: None)
    assert mailer.configured
    assert mailer.run_once(now) == 1
    rcpt, msg = handler.messages[0]
    assert rcpt == ["security@mkrada.gov.ua"] and "сповіщення" in msg["Subject"]
    assert "листи, що застрягли" in msg.get_content() and "(1)" in msg.get_content()
    assert mailer.run_once(now + timedelta(hours=1)) == 0  # not again within the repeat interval
    assert mailer.run_once(now + timedelta(hours=25)) == 1  # repeated while it lasts
    assert len(handler.messages) == 2
    db.dispose()
