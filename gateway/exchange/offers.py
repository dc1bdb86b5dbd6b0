"""Messages a channel keeps offering that cannot be taken (downloaded, hash-checked, stored):
each failed try is counted in `channel_offers`; after `max_attempts` the message is set aside
("zombie"), no longer tried, and listed for operators. A message taken after all is forgotten.

Only failing messages cost database work: the ledger keeps the keys it knows in memory.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from gateway.exchange.message import msg_id_key
from gateway.store.db import Database
from gateway.store.models import ChannelOffer, utcnow

log = logging.getLogger(__name__)


class OfferLedger:
    """The OfferTracker of `gateway.exchange.channels`, kept in the database."""

    def __init__(self, db: Database, max_attempts: int = 5) -> None:
        self.db = db
        self.max_attempts = max(1, max_attempts)
        self._lock = threading.Lock()
        with db.session() as s:
            rows = s.execute(select(ChannelOffer.channel, ChannelOffer.message_id, ChannelOffer.status)).all()
        self._failing = {(c, m) for c, m, _ in rows}
        self._aside = {(c, m) for c, m, status in rows if status == "set_aside"}

    def should_skip(self, channel: str, message_id: str) -> bool:
        with self._lock:
            return (channel, msg_id_key(message_id)) in self._aside

    def failed(self, channel: str, message_id: str, error: str) -> None:
        key = (channel, msg_id_key(message_id))
        aside = False
        for _ in range(2):  # a concurrent first insert of the same key: update it instead
            try:
                with self.db.session() as s:
                    row = s.scalar(
                        select(ChannelOffer).where(
                            ChannelOffer.channel == key[0], ChannelOffer.message_id == key[1]
                        )
                    )
                    if row is None:
                        row = ChannelOffer(channel=key[0], message_id=key[1], attempts=0, status="pending")
                        s.add(row)
                    row.attempts += 1
                    row.last_error = error[:2000]
                    row.last_seen = utcnow()
                    if row.attempts >= self.max_attempts and row.status != "set_aside":
                        row.status = "set_aside"
                        log.warning(
                            "%s message %s set aside after %d failed tries: %s",
                            key[0], key[1], row.attempts, error,
                        )
                    aside = row.status == "set_aside"
                break
            except IntegrityError:
                continue
        with self._lock:
            self._failing.add(key)
            if aside:
                self._aside.add(key)

    def set_aside_count(self, channel: str) -> int:
        with self._lock:
            return sum(1 for c, _ in self._aside if c == channel)

    def taken(self, channel: str, message_id: str) -> None:
        key = (channel, msg_id_key(message_id))
        with self._lock:
            if key not in self._failing:
                return
            self._failing.discard(key)
            self._aside.discard(key)
        with self.db.session() as s:
            s.execute(
                delete(ChannelOffer).where(ChannelOffer.channel == key[0], ChannelOffer.message_id == key[1])
            )

    def retry(self, channel: str, message_id: str) -> bool:
        """An operator's second chance for a set-aside message: tried again from the next poll."""
        key = (channel, msg_id_key(message_id))
        with self.db.session() as s:
            mine = (ChannelOffer.channel == key[0]) & (ChannelOffer.message_id == key[1])
            done = s.execute(delete(ChannelOffer).where(mine)).rowcount
        with self._lock:
            self._failing.discard(key)
            self._aside.discard(key)
        return bool(done)


def offers_view(db: Database) -> list[dict[str, Any]]:
    """Failing and set-aside offers, for operators (most recent first)."""
    with db.session() as s:
        rows = s.scalars(select(ChannelOffer).order_by(ChannelOffer.last_seen.desc()))
        return [
            {
                "channel": r.channel,
                "message_id": r.message_id,
                "status": r.status,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "first_seen": r.first_seen.isoformat(),
                "last_seen": r.last_seen.isoformat(),
            }
            for r in rows
        ]
