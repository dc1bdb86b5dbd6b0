"""Leases on work rows (letters to send, acknowledgements to send) and the retry budget.

A worker claims rows by setting a lease (`lease_owner`, `lease_until`) in one short transaction
(SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL; on SQLite every transaction holds the writer lock
from its start). Each step ends by moving the status on under the same lease. A process killed at
any point leaves a lease behind: it expires, or at start-up the leases of dead processes on this
host are released (`release_dead_leases`), and the step is redone.

Polling a channel is leased too (`PollLease`, one row per channel): of several instances sharing
the database one polls at a time and renews its lease while it does; when it dies (on any host)
the lease expires and another instance takes over. Expiry is the general mechanism; releasing
the leases of dead processes on this host at start-up only makes a restart take over sooner.
Lease times are the instances' clocks: keep them in step (NTP), well within the lease length.
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from gateway.store.db import Database
from gateway.store.models import Acknowledgement, Outgoing, PollLease, utcnow


@dataclass
class WorkerSettings:
    lease_seconds: float = 120.0
    retry_budget: int = 8
    backoff_base: float = 2.0
    backoff_max: float = 300.0
    batch: int = 4
    sender_threads: int = 3
    idle_seconds: float = 1.0
    poll_seconds: float = 5.0
    #: how long a channel's poll lease lasts without renewal (another instance takes over after)
    poll_lease_seconds: float = 30.0
    #: how often documents left INDETERMINATE are validated again
    revalidate_seconds: float = 600.0


def lease_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_here(owner: str) -> bool:
    """True when the lease owner is a process on this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    return not _pid_alive(int(pid))


def release_dead_leases(db: Database) -> int:
    """Free the leases (work rows and channel polling) of processes on this host that no longer
    run (after kill -9). Leases of processes on other hosts are left to expire."""
    freed = 0
    with db.session() as s:
        for model in (Outgoing, Acknowledgement):
            owners = s.scalars(select(model.lease_owner).where(model.lease_owner.is_not(None)).distinct())
            for owner in [o for o in owners if _dead_here(o)]:
                freed += s.execute(
                    update(model).where(model.lease_owner == owner).values(lease_owner=None, lease_until=None)
                ).rowcount
        pollers = s.scalars(select(PollLease.owner).where(PollLease.owner.is_not(None)).distinct())
        for owner in [o for o in pollers if _dead_here(o)]:
            freed += s.execute(
                update(PollLease).where(PollLease.owner == owner).values(owner=None, lease_until=None)
            ).rowcount
    return freed


class ChannelPolling:
    """The poll leases of one instance: `hold(channel)` takes or renews the channel's lease.

    A lease taken or renewed less than a third of its length ago is not renewed again (no database
    transaction): the poller asks for it before every message, and a commit per message was a
    noticeable part of the cost of receiving one. At least two thirds of the lease remain."""

    def __init__(self, db: Database, owner: str, seconds: float) -> None:
        self.db, self.owner, self.seconds = db, owner, seconds
        #: channel -> time.monotonic() of this instance's last successful take or renewal
        self._renewed: dict[str, float] = {}

    def hold(self, channel: str) -> bool:
        """True when this instance polls `channel` for at least the next 2/3 of `seconds`."""
        started = time.monotonic()
        last = self._renewed.get(channel)
        if last is not None and started - last < self.seconds / 3:
            return True
        held = self._take(channel)
        if held:
            self._renewed[channel] = started
        else:
            self._renewed.pop(channel, None)
        return held

    def _take(self, channel: str) -> bool:
        """Take or renew the lease in the database (lease until now + `seconds`)."""
        now = utcnow()
        until = now + timedelta(seconds=self.seconds)
        with self.db.session() as s:
            # one UPDATE decides: a concurrent taker waits for the row lock and then no longer matches
            taken = s.execute(
                update(PollLease)
                .where(
                    PollLease.channel == channel,
                    or_(
                        PollLease.owner == self.owner,
                        PollLease.owner.is_(None),
                        PollLease.lease_until < now,
                    ),
                )
                .values(owner=self.owner, lease_until=until)
            ).rowcount
            if taken or s.get(PollLease, channel) is not None:
                return bool(taken)
        try:
            with self.db.session() as s:
                s.add(PollLease(channel=channel, owner=self.owner, lease_until=until))
        except IntegrityError:
            return False  # another instance made the row first: it polls
        return True

    def release(self, channel: str) -> None:
        """Let another instance take over now (on a clean stop)."""
        self._renewed.pop(channel, None)
        with self.db.session() as s:
            s.execute(
                update(PollLease)
                .where(PollLease.channel == channel, PollLease.owner == self.owner)
                .values(owner=None, lease_until=None)
            )

    def holder(self, channel: str) -> str | None:
        """The owner of an unexpired lease on `channel`, if any."""
        with self.db.session() as s:
            row = s.get(PollLease, channel)
        if row is None or row.owner is None or row.lease_until is None or row.lease_until < utcnow():
            return None
        return row.owner


class Leases:
    """This worker's leases (one owner id per process and Workers)."""

    def __init__(self, db: Database, settings: WorkerSettings) -> None:
        self.db = db
        self.settings = settings
        self.owner = lease_owner_id()

    def claim(
        self, model: type[Outgoing] | type[Acknowledgement], statuses: tuple[str, ...], extra: Any = None
    ) -> list[Any]:
        with self.db.session() as s:
            return self.claim_in(s, model, statuses, extra)

    def claim_in(
        self, s: Any, model: type[Outgoing] | type[Acknowledgement], statuses: tuple[str, ...], extra: Any
    ) -> list[Any]:
        """Lease up to `batch` due rows of `model` within the session's transaction."""
        now = utcnow()
        q = (
            select(model.id)
            .where(
                model.status.in_(statuses),
                model.next_attempt_at <= now,
                or_(model.lease_until.is_(None), model.lease_until < now),
            )
            .order_by(model.next_attempt_at)
            .limit(self.settings.batch)
        )
        if extra is not None:
            q = q.where(extra)
        if not self.db.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        ids = list(s.scalars(q))
        if ids:
            s.execute(
                update(model)
                .where(model.id.in_(ids))
                .values(
                    lease_owner=self.owner,
                    lease_until=now + timedelta(seconds=self.settings.lease_seconds),
                )
            )
        return ids

    def held(self, s: Any, model: type, ident: Any) -> Any:
        """The row, locked, if this worker still holds its lease; else None. A letter's files
        are loaded only when the step reads them."""
        options = [lazyload(model.files)] if model is Outgoing else []
        row = s.get(model, ident, with_for_update=not self.db.is_sqlite, options=options)
        return row if row is not None and row.lease_owner == self.owner else None

    def mine(self, model: type, ident: Any) -> Any:
        """A WHERE clause: the row `ident`, while this worker holds its lease."""
        return (model.id == ident) & (model.lease_owner == self.owner)

    def release(self, model: type, ident: Any) -> None:
        """Give the row back (its step is redone, by any instance) if this worker still holds it."""
        with self.db.session() as s:
            s.execute(update(model).where(self.mine(model, ident)).values(lease_owner=None, lease_until=None))

    def retry_later(
        self, model: type, ident: Any, error: str, *, fail: Callable[[Any, Any, str], None]
    ) -> None:
        """Release the row for a later attempt with backoff and jitter, or `fail` it after the budget."""
        with self.db.session() as s:
            row = self.held(s, model, ident)
            if row is None:
                return
            row.last_error = error[:2000]
            row.lease_owner = row.lease_until = None
            if row.attempts >= self.settings.retry_budget:
                fail(s, row, error)
                return
            delay = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** max(0, row.attempts - 1))
            row.next_attempt_at = utcnow() + timedelta(seconds=delay * random.uniform(0.5, 1.0))
