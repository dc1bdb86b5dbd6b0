"""Alerts by e-mail ([console] smtp_*, mail_*): a background thread of `gateway serve` that looks
at the alerts every mail_check_seconds and mails, in Ukrainian, those that are new or were last
mailed more than mail_repeat_hours ago. Mail failures are logged and retried at the next check."""

from __future__ import annotations

import logging
import os
import smtplib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from gateway.config import Config
from gateway.console.alerts import Alert, collect
from gateway.console.i18n import translator
from gateway.exchange.workers import Workers
from gateway.store.db import Database

log = logging.getLogger(__name__)


def _line(alert: Alert, _: Callable[[str], str]) -> str:
    text = f"[{_(alert.severity)}] {_(alert.kind)}: {_(alert.subject) if alert.count else alert.subject}"
    if alert.detail:
        text += f": {alert.detail}"
    if alert.count:
        text += f" ({alert.count})"
    if alert.due:
        text += f", {alert.due:%Y-%m-%d}"
    return text


class AlertMailer:
    def __init__(self, cfg: Config, db: Database, seal: Callable[[], Any],
                 workers: Callable[[], Workers | None] = lambda: None) -> None:
        self.cfg, self.db, self.seal, self.workers = cfg, db, seal, workers
        self._mailed: dict[tuple[str, str], datetime] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def configured(self) -> bool:
        c = self.cfg.console
        return bool(c.smtp_host and c.mail_to)

    def due(self, now: datetime) -> list[Alert]:
        """The current alerts not mailed within mail_repeat_hours (forgets alerts that ended)."""
        alerts = collect(self.cfg, self.db, self.seal(), now=now, workers=self.workers())
        repeat = timedelta(hours=self.cfg.console.mail_repeat_hours)
        current = {(a.kind, a.subject) for a in alerts}
        self._mailed = {k: v for k, v in self._mailed.items() if k in current}
        never = datetime.min.replace(tzinfo=UTC)
        return [a for a in alerts if now - self._mailed.get((a.kind, a.subject), never) >= repeat]

    def run_once(self, now: datetime | None = None) -> int:
        """Mail the due alerts in one message; returns how many were mailed."""
        now = now or datetime.now(UTC)
        due = self.due(now)
        if not due:
            return 0
        c = self.cfg.console
        _ = translator("uk")
        msg = EmailMessage()
        msg["Subject"] = f"{_('Signature gateway')} {self.cfg.organization.name}: {len(due)} " \
                         f"{_('Alerts').lower()}"
        msg["From"] = c.mail_from or f"gateway@{c.smtp_host}"
        msg["To"] = ", ".join(c.mail_to)
        msg.set_content("\n".join(_line(a, _) for a in due) + "\n")
        with smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=30) as smtp:
            if c.smtp_starttls:
                smtp.starttls()
            if c.smtp_user:
                password = os.environ.get(c.smtp_password_env, "") if c.smtp_password_env else ""
                smtp.login(c.smtp_user, password)
            smtp.send_message(msg)
        for a in due:
            self._mailed[(a.kind, a.subject)] = now
        return len(due)

    def start(self) -> AlertMailer:
        self._thread = threading.Thread(target=self._loop, name="alert-mailer", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("alert mail not sent (%s); retried at the next check", exc)
            self._stop.wait(self.cfg.console.mail_check_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
