"""Console users: argon2id password hashes, roles, lockout after repeated failures."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import User, utcnow

#: the console's roles (API keys add `edms`)
USER_ROLES = ("officer", "operator", "auditor")
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 12

_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters
#: verified against when the user does not exist, so timing does not tell names apart
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class UserError(ValueError):
    """A user operation that cannot be done (bad name, role, password, unknown user)."""


def create_user(session: Session, name: str, role: str, password: str) -> User:
    name = name.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise UserError("a user needs a name (printable, at most 200 characters)")
    if role not in USER_ROLES:
        raise UserError(f"role must be one of {', '.join(USER_ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise UserError(f"user {name!r} exists already")
    user = User(name=name, role=role, password_hash=_hasher.hash(password), failed_logins=0)
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def get_user(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def disable_user(session: Session, name: str) -> User:
    user = get_user(session, name)
    if user is None:
        raise UserError(f"no user {name!r}")
    if user.disabled_at is None:
        user.disabled_at = utcnow()
    return user


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    #: ok | bad_credentials | locked | disabled
    outcome: str


def check_login(session: Session, name: str, password: str) -> LoginResult:
    """Verify a login; counts failures and locks the account for LOCKOUT after MAX_FAILURES."""
    user = get_user(session, name)
    if user is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return LoginResult(None, "bad_credentials")
    now = utcnow()
    if user.disabled_at is not None:
        return LoginResult(user, "disabled")
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(user, "locked")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            return LoginResult(user, "locked")
        return LoginResult(user, "bad_credentials")
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return LoginResult(user, "ok")
