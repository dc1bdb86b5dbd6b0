"""Server-side console sessions: the cookie holds a random token, the database its SHA-256, the
user and the session's CSRF token. Disabled users' sessions stop working at once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.store.models import ConsoleSession, User, utcnow


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(session: Session, user: User, minutes: int) -> tuple[str, ConsoleSession]:
    """A new session for `user`; returns the cookie token (never stored) and the row."""
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < utcnow()))
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(token_hash=_digest(token), user_id=user.id, csrf=secrets.token_urlsafe(32),
                         expires_at=utcnow() + timedelta(minutes=minutes))
    session.add(row)
    session.flush()
    return token, row


def lookup(session: Session, token: str | None) -> tuple[ConsoleSession, User] | None:
    """The live session and its (enabled) user for a cookie token, or None."""
    if not token or len(token) > 100:
        return None
    found = session.execute(
        select(ConsoleSession, User).join(User, User.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == _digest(token))
    ).first()
    if found is None:
        return None
    row, user = found
    if row.expires_at < utcnow() or user.disabled_at is not None:
        return None
    return row, user


def close_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _digest(token)))
