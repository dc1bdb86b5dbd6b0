"""API keys for the EDMS. A key is 32 random bytes; only its SHA-256 is stored (a slow password
hash adds nothing for a key of that entropy and would cost every request)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import ApiKey, utcnow

PREFIX = "gwk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


#: what a key may do (gateway.api.auth); `edms` is the records system's key
ROLES = ("edms", "officer", "operator", "auditor")


def create_key(session: Session, name: str, role: str = "edms", *,
               all_letters: bool = False) -> tuple[ApiKey, str]:
    """A new key named `name`; returns the row and the key itself (shown once, never stored).
    An `edms` key sees only the letters it submitted unless `all_letters`."""
    name = name.strip()
    if not name:
        raise ValueError("an API key needs a name")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, prefix=key[: len(PREFIX) + 6], key_hash=hash_key(key), role=role,
                 all_letters=all_letters)
    session.add(row)
    session.flush()
    return row, key


def authenticate(session: Session, key: str) -> ApiKey | None:
    """The active key row for a presented key, or None."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, ident: str) -> ApiKey | None:
    """Revoke by numeric id or by name (all active keys of that name); returns one revoked row."""
    query = select(ApiKey).where(ApiKey.revoked_at.is_(None))
    query = query.where(ApiKey.id == int(ident)) if ident.isdigit() else query.where(ApiKey.name == ident)
    rows = list(session.scalars(query))
    for row in rows:
        row.revoked_at = utcnow()
    return rows[0] if rows else None
