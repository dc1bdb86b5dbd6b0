"""Durable state of the `gateway sev-hub` stand-in: one SQLite file plus message bodies on disk.

Layout of the data directory: `hub.sqlite3` (systems, sessions, messages), `parts/<session>.part`
(uploads in progress) and `messages/<session>.xml` (complete messages, named by the upload session).
Every change is committed before the hub answers, so a hub killed at any point (kill -9) and
restarted loses nothing. Being a stand-in (tests, demos, benchmarks), it is not made safe against a
power cut: SQLite runs WAL with synchronous=NORMAL and chunks are not fsync'd. Both survive the
death of the process (written to the operating system before the hub answers) and save the
fsyncs that were most of the stand-in's time per message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS systems (
    system_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL, org_id TEXT);
CREATE TABLE IF NOT EXISTS sessions (
    session_id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, system_id TEXT NOT NULL,
    message_id TEXT NOT NULL, size INTEGER NOT NULL, transferred INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL, hash TEXT, signature BLOB, error_code INTEGER, error_text TEXT,
    info TEXT, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS copies (
    upload_session INTEGER PRIMARY KEY, message_id TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY, upload_session INTEGER NOT NULL, from_sys_id TEXT NOT NULL,
    to_org_id TEXT NOT NULL, to_sys_id TEXT, size INTEGER NOT NULL,
    hash TEXT NOT NULL, info TEXT NOT NULL, created TEXT NOT NULL, delivered TEXT);
"""
_PBKDF2_ROUNDS = 60_000


@dataclass
class HubSession:
    session_id: int
    type: str  # Upload | Download
    system_id: str
    message_id: str
    size: int
    transferred: int
    status: str  # Opened | InProgress | Processed | Failed | Delivered
    hash: str | None
    signature: bytes | None
    error_code: int | None
    error_text: str | None
    info: dict
    created: str


class HubStore:
    """Thread-safe access to the hub's state (one lock; the stand-in favours simplicity)."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(data_dir)
        for folder in (self.dir, self.dir / "parts", self.dir / "messages"):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)  # other people's mail: folders 0700, files 0600
        database = self.dir / "hub.sqlite3"
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))  # SQLite's WAL files follow its mode
        database.chmod(0o600)
        self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
        self._db.executescript(_SCHEMA)
        self.lock = threading.RLock()
        self._verified: set[bytes] = set()

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ---------------------------------------------------------------- systems

    def register_system(self, system_id: str, password: str, org_id: str | None = None) -> None:
        """Add or replace a system (the `--systems` file, tests)."""
        hashed = _hash_password(password)
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO systems VALUES (?, ?, ?)", (system_id, hashed, org_id))
            self._verified.clear()

    def _register_new(self, system_id: str, password: str) -> bool:
        """Open registration: add a system without an organization unless it exists already."""
        hashed = _hash_password(password)
        with self.transaction() as db:
            return db.execute(
                "INSERT OR IGNORE INTO systems VALUES (?, ?, NULL)", (system_id, hashed)
            ).rowcount == 1

    def is_verified(self, system_id: str, password: str) -> bool:
        """True if this identity was verified before (no PBKDF2: cheap enough for the event loop)."""
        with self.lock:
            return _token(system_id, password) in self._verified

    def check_identity(self, system_id: str, password: str, *, register_unknown: bool) -> bool:
        """True if the password is the system's; an unknown system is registered if allowed.
        The PBKDF2 runs outside the store's lock (it takes tens of milliseconds)."""
        token = _token(system_id, password)
        with self.lock:
            if token in self._verified:
                return True
            row = self._db.execute(
                "SELECT password_hash FROM systems WHERE system_id = ?", (system_id,)
            ).fetchone()
        if row is None:
            if not register_unknown:
                return False
            ok = self._register_new(system_id, password)  # False: another won the race for the id
        else:
            ok = _verify_password(password, row["password_hash"])
        if ok:
            with self.lock:
                self._verified.add(token)
        return ok

    def system_org(self, system_id: str) -> str | None:
        with self.lock:
            row = self._db.execute("SELECT org_id FROM systems WHERE system_id = ?", (system_id,)).fetchone()
        return row["org_id"] if row else None

    def claim_unregistered_org(self, system_id: str, org_id: str) -> bool:
        """Open registration (demos): a system without an organization takes `org_id` if no
        system is registered to it yet. False when the organization is someone else's."""
        with self.transaction() as db:
            taken = db.execute(
                "SELECT 1 FROM systems WHERE org_id = ? AND system_id != ?", (org_id, system_id)
            ).fetchone()
            if taken:
                return False
            db.execute(
                "UPDATE systems SET org_id = ? WHERE system_id = ? AND org_id IS NULL", (org_id, system_id)
            )
            return True

    # ---------------------------------------------------------------- sessions

    def new_session(
        self,
        *,
        type: str,
        system_id: str,
        message_id: str,
        size: int,
        hash: str | None = None,
        signature: bytes | None = None,
        info: dict | None = None,
        transferred: int = 0,
    ) -> HubSession:
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO sessions (type, system_id, message_id, size, transferred, status, hash,"
                " signature, info, created) VALUES (?, ?, ?, ?, ?, 'Opened', ?, ?, ?, ?)",
                (
                    type,
                    system_id,
                    message_id,
                    size,
                    transferred,
                    hash,
                    signature,
                    json.dumps(info or {}),
                    _now(),
                ),
            )
            session_id = int(cur.lastrowid or 0)
        found = self.session(session_id)
        assert found is not None
        return found

    def session(self, session_id: int) -> HubSession | None:
        with self.lock:
            row = self._db.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        return _session(row) if row else None

    def open_upload_for(self, system_id: str, message_id: str) -> HubSession | None:
        with self.lock:
            row = self._db.execute(
                "SELECT * FROM sessions WHERE type = 'Upload' AND system_id = ? AND message_id = ?"
                " AND status IN ('Opened', 'InProgress') ORDER BY session_id DESC LIMIT 1",
                (system_id, message_id),
            ).fetchone()
        return _session(row) if row else None

    def update_session(self, session_id: int, **values: object) -> None:
        cols = ", ".join(f"{k} = ?" for k in values)
        with self.transaction() as db:
            db.execute(
                f"UPDATE sessions SET {cols} WHERE session_id = ?",  # noqa: S608 - fixed column names
                (*values.values(), session_id),
            )

    def part_path(self, session_id: int) -> Path:
        return self.dir / "parts" / f"{session_id}.part"

    def message_path(self, upload_session: int) -> Path:
        return self.dir / "messages" / f"{upload_session}.xml"

    def append_chunk(self, session: HubSession, chunk: bytes) -> int:
        """Append (before the hub answers; not fsync'd, see the module docstring); returns the new
        transferred count."""
        path = self.part_path(session.session_id)
        with os.fdopen(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600), "ab") as fh:
            fh.truncate(session.transferred)  # a chunk whose answer was lost is never doubled
            fh.seek(session.transferred)
            fh.write(chunk)
        transferred = session.transferred + len(chunk)
        self.update_session(session.session_id, transferred=transferred, status="InProgress")
        return transferred

    # ---------------------------------------------------------------- messages

    def message_exists(self, message_id: str) -> bool:
        with self.lock:
            return (
                self._db.execute("SELECT 1 FROM messages WHERE message_id = ?", (message_id,)).fetchone()
                is not None
            )

    def store_message(self, session: HubSession, *, keep_copy: bool = False) -> bool:
        """Move a completed upload into the recipient's queue (one transaction + one rename).

        False, and nothing queued, when the MessageId was queued meanwhile (two systems racing
        one id); with `keep_copy` such a second upload is kept as a copy instead (a hub that
        stores duplicates: the `copies` table) and counts as processed."""
        os.replace(self.part_path(session.session_id), self.message_path(session.session_id))
        info = session.info
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM messages WHERE message_id = ?", (session.message_id,)).fetchone():
                if not keep_copy:
                    return False
                db.execute(
                    "INSERT INTO copies VALUES (?, ?, ?)", (session.session_id, session.message_id, _now())
                )
                db.execute(
                    "UPDATE sessions SET status = 'Processed' WHERE session_id = ?", (session.session_id,)
                )
                return True
            db.execute(
                "INSERT INTO messages (message_id, upload_session, from_sys_id, to_org_id, to_sys_id,"
                " size, hash, info, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session.message_id,
                    session.session_id,
                    session.system_id,
                    info.get("ToOrgId") or "",
                    info.get("ToSysId") or None,
                    session.size,
                    session.hash,
                    json.dumps(info),
                    _now(),
                ),
            )
            db.execute("UPDATE sessions SET status = 'Processed' WHERE session_id = ?", (session.session_id,))
        return True

    def copies_of(self, message_id: str) -> int:
        """How many completed uploads of `message_id` the hub holds (1 = no duplicate)."""
        with self.lock:
            row = self._db.execute(
                "SELECT (SELECT COUNT(*) FROM messages WHERE message_id = :id)"
                " + (SELECT COUNT(*) FROM copies WHERE message_id = :id)",
                {"id": message_id},
            ).fetchone()
        return int(row[0])

    # A message is for the system its ToSysId names; when ToSysId names no registered system (e.g.
    # the SEV's own id), for every system of the ToOrgId organization. Decided when read, so a
    # recipient that registers after the upload still finds its messages.
    _FOR_SYSTEM = (
        "(to_sys_id = :sys OR (to_org_id = :org AND (to_sys_id IS NULL"
        " OR to_sys_id NOT IN (SELECT system_id FROM systems))))"
    )

    def pending_for(self, system_id: str, org_id: str | None, limit: int) -> list[sqlite3.Row]:
        """Undelivered messages for a system, oldest first."""
        with self.lock:
            return self._db.execute(
                f"SELECT * FROM messages WHERE delivered IS NULL AND {self._FOR_SYSTEM}"  # noqa: S608
                " ORDER BY created, upload_session LIMIT :limit",
                {"sys": system_id, "org": org_id or "\0", "limit": limit},
            ).fetchall()

    def message_for(self, message_id: str, system_id: str, org_id: str | None) -> sqlite3.Row | None:
        """The message if it is addressed to this system (delivered or not)."""
        with self.lock:
            return self._db.execute(
                f"SELECT * FROM messages WHERE message_id = :id AND {self._FOR_SYSTEM}",  # noqa: S608
                {"id": message_id, "sys": system_id, "org": org_id or "\0"},
            ).fetchone()

    def mark_delivered(self, message_id: str, download_session: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE messages SET delivered = ? WHERE message_id = ?", (_now(), message_id))
            db.execute("UPDATE sessions SET status = 'Delivered' WHERE session_id = ?", (download_session,))
            # the sender's upload session shows the delivery too (GetSessionInfo on it)
            db.execute(
                "UPDATE sessions SET status = 'Delivered' WHERE session_id ="
                " (SELECT upload_session FROM messages WHERE message_id = ?)",
                (message_id,),
            )


def _session(row: sqlite3.Row) -> HubSession:
    data = dict(row)
    data["info"] = json.loads(data["info"] or "{}")
    return HubSession(**data)


def _token(system_id: str, password: str) -> bytes:
    return hashlib.sha256(f"{system_id}\0{password}".encode()).digest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PBKDF2_ROUNDS)
    return f"pbkdf2-sha256${_PBKDF2_ROUNDS}${salt.hex()}${digest.hex()}"


def _verify_password(password: str, stored: str) -> bool:
    _, rounds, salt, digest = stored.split("$")
    mine = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds))
    return hmac.compare_digest(mine.hex(), digest)
