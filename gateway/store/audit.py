"""The append-only, hash-chained audit log.

Each entry's `hash` is the SHA-256 of its id, time, actor, action, object, details and the hash of
the entry before it (`prev_hash`; 64 zeros for the first). Editing an entry changes its hash;
removing or reordering entries breaks the link from the next entry or the id sequence. Cutting
entries off the end is caught against a head hash noted elsewhere (`gateway audit verify --head`).

Appends are serialized: on SQLite every transaction holds the writer lock from its start
(gateway.store.db), on PostgreSQL a transaction-scoped advisory lock is taken first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.store.models import AuditEntry, utcnow

GENESIS = "0" * 64
_PG_LOCK = 120702


def canonical_details(details: dict[str, Any] | None) -> str:
    return json.dumps(details or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def entry_hash(ident: int, at: datetime, actor: str, action: str, obj: str, details: str, prev: str) -> str:
    material = json.dumps([ident, at.isoformat(timespec="microseconds"), actor, action, obj, details, prev],
                          ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def append(session: Session, actor: str, action: str, obj: str = "",
           details: dict[str, Any] | None = None) -> AuditEntry:
    """Add one entry in the caller's transaction (so the entry and the change commit together)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    newest = select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    last = session.execute(newest).first()
    ident, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = utcnow()
    actor, action, obj, body = actor[:300], action[:64], obj[:500], canonical_details(details)
    row = AuditEntry(id=ident, at=at, actor=actor, action=action, object=obj, details=body,
                     prev_hash=prev, hash=entry_hash(ident, at, actor, action, obj, body, prev))
    session.add(row)
    session.flush()
    return row


def entries(session: Session, *, action: str | None = None, limit: int | None = None,
            newest_first: bool = False) -> list[AuditEntry]:
    q = select(AuditEntry)
    if action:
        q = q.where(AuditEntry.action.startswith(action))
    q = q.order_by(AuditEntry.id.desc() if newest_first else AuditEntry.id)
    if limit:
        q = q.limit(limit)
    return list(session.scalars(q))


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@dataclass(frozen=True)
class Problem:
    entry_id: int
    message: str


@dataclass(frozen=True)
class Verification:
    entries: int
    head: str
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _chain(rows: Iterator[AuditEntry]) -> Iterator[Problem]:
    expected_id, prev = 1, GENESIS
    for row in rows:
        if row.id != expected_id:
            yield Problem(row.id, f"entry {row.id} follows entry {expected_id - 1}: "
                                  f"{'entries removed' if row.id > expected_id else 'out of order'}")
        if row.prev_hash != prev:
            yield Problem(row.id, f"entry {row.id} does not link to the entry before it "
                                  "(an entry was removed, inserted or reordered)")
        actual = entry_hash(row.id, row.at, row.actor, row.action, row.object, row.details, row.prev_hash)
        if actual != row.hash:
            yield Problem(row.id, f"entry {row.id} was changed after it was written (hash mismatch)")
        expected_id, prev = row.id + 1, row.hash


def verify(session: Session, *, head: str | None = None) -> Verification:
    """Check the whole chain in id order; `head`, if given, must be the hash of an entry in it
    (one noted earlier): its absence means entries were cut off the end."""
    rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    problems = list(_chain(iter(rows)))
    if head and not any(r.hash == head.lower() for r in rows):
        problems.append(Problem(rows[-1].id if rows else 0, f"the noted head {head[:16]}… is not in the log "
                                                            "(entries were cut off the end)"))
    return Verification(len(rows), rows[-1].hash if rows else GENESIS, problems)
