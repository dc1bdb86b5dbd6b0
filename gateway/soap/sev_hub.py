"""`gateway sev-hub`: a stand-in for the SEV OVV hub's IntegrationService (tests, demos, onboarding).

It serves the operations of `schemas/sev-integration.wsdl` at
`/csp/dirbus/bus.esb.IntegrationService.cls` (WSDL at `?wsdl`) with the real service's behaviour,
in exactly one wire dialect (`sev2` by default, or `wcf`; see `sev_dialect`): a request in the
other is a Client fault, so a client speaking the wrong one is caught.

- identity: every call carries `identity{SystemId, Password}`. With a `--systems` file (TOML,
  `[[system]] id = "...", password = "..." | password_env = "...", org_id = "..."`) only those
  systems may call; without one a system registers on first use with the password it presents
  (trust on first use) and later calls must present the same password. A system's organization
  comes from the file, else from the FromOrgId of its first upload. A wrong password is a SOAP
  Client fault.
- upload: `OpenUploadingSession` (MessageInfo, UPPERCASE hex SHA-256, optional signature) opens a
  session with `MaxPartSize`; `UploadMessageChunk` appends chunks (at most MaxPartSize each) until
  `TransferredBytesCount == MessageSize`; the hub then checks the hash: a match makes the session
  `Processed` and queues the message, a mismatch makes it `Failed` with an Error. Re-opening an
  unfinished upload of the same MessageId (same size and hash) returns the same session, so a
  client may resume; after a Failed upload the MessageId may be sent again; once a message is
  queued its MessageId is taken (DUPLICATE_MESSAGE).
- routing: by ToSysId when it names a registered system (even one registered after the upload),
  else to every system of ToOrgId.
- download: `GetInputMessages(identity, сount)` lists the caller's pending messages;
  `OpenDownloadingSession`, `DownloadMessageChunk(fromPosition, count)`, `GetMessageValidationInfo`
  (Hash) and `EndProcessingDownloadedMessage(sessionInfo{Status=Delivered})`; a message is offered
  again and again until that last call, which also turns the sender's upload session `Delivered`.
- errors inside SessionInfo/Error{Code, Text}: see `ErrorCode`.
- state in `--data DIR` (SQLite + files), so a restarted hub loses nothing.
- fault injection (`Faults`) for tests: HTTP 503 every Nth request, chunk answers lost after the
  chunk was stored (HTTP 504, or the connection broken mid-answer), corrupted upload or download
  chunks, oversized download chunks, a validation answer without a hash or with a wrong one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading
import time
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.errors import ConfigError
from gateway.soap import soapxml
from gateway.soap.sev_dialect import SEV2, Dialect
from gateway.soap.sev_hub_store import HubSession, HubStore

log = logging.getLogger(__name__)

SERVICE_PATH = "/csp/dirbus/bus.esb.IntegrationService.cls"
DEFAULT_MAX_PART_SIZE = 2_500_000
DEFAULT_MAX_MESSAGE_SIZE = 200 * 1024 * 1024
#: a chunk's base64 must stay under libxml2's 10 MB text-node cap (the parser keeps huge_tree off)
MAX_PART_SIZE_LIMIT = 7_000_000
PUBLISHED_LOCATION = "https://sev21.dir.gov.ua/csp/dirbus/bus.esb.IntegrationService.cls"


class ErrorCode(IntEnum):
    """SessionInfo/Error/Code values of the stand-in (the real hub's codes are not published)."""

    BAD_REQUEST = 10
    UNKNOWN_SESSION = 11
    SESSION_CLOSED = 12
    CHUNK_TOO_LARGE = 13
    HASH_MISMATCH = 14
    DUPLICATE_MESSAGE = 15
    UNKNOWN_MESSAGE = 16
    MESSAGE_TOO_LARGE = 17
    WRONG_SENDER = 18
    INCOMPLETE = 19


class AuthError(Exception):
    pass


@dataclass
class Faults:
    """Fault injection for tests (0 = off)."""

    unavailable_every: int = 0  # every Nth POST is answered 503 without being processed
    lose_upload_answer_every: int = 0  # every Nth UploadMessageChunk is stored, then answered 504
    drop_upload_answer: bool = False  # ... and instead of the 504 the connection breaks mid-answer
    corrupt_downloads: bool = False  # flip a bit in the first byte of every downloaded chunk
    #: ... of the downloads of these MessageIds only
    corrupt_messages: frozenset[str] = frozenset()
    corrupt_uploads: bool = False  # flip a bit in the first byte of every uploaded chunk
    oversized_chunks: bool = False  # DownloadMessageChunk answers three times the bytes asked for
    omit_hash: bool = False  # GetMessageValidationInfo answers without a Hash
    wrong_hash: bool = False  # ... with the SHA-256 of other data
    #: seconds the answer to an upload's last chunk is held back (the message is already queued):
    #: a sender killed meanwhile never learns that its upload completed
    completion_delay: float = 0.0
    _posts: int = field(default=0, repr=False)
    _uploads: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take_unavailable(self) -> bool:
        with self._lock:
            self._posts += 1
            return bool(self.unavailable_every) and self._posts % self.unavailable_every == 0

    def take_lost_upload(self) -> bool:
        with self._lock:
            self._uploads += 1
            return bool(self.lose_upload_answer_every) and self._uploads % self.lose_upload_answer_every == 0


@dataclass
class LoginLimiter:
    """Failed identity checks per system: after `limit` failures within `window` seconds the
    system is refused without a check until the window has passed."""

    limit: int = 5
    window: float = 60.0
    _failures: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _recent(self, system_id: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(system_id, []) if now - t < self.window]
        if times:
            self._failures[system_id] = times
        else:
            self._failures.pop(system_id, None)
        return times

    def blocked(self, system_id: str) -> bool:
        with self._lock:
            return len(self._recent(system_id, time.monotonic())) >= self.limit

    def failed(self, system_id: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._failures[system_id] = [*self._recent(system_id, now), now]
            if len(self._failures) > 10_000:  # bounded memory under a flood of invented ids
                self._failures.pop(next(iter(self._failures)))


class LostAnswer(Exception):
    """Raised after an operation took effect, to answer as if the reply got lost on the way."""


class SevHub:
    """The service's behaviour, independent of HTTP (see the module docstring)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        max_part_size: int = DEFAULT_MAX_PART_SIZE,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        open_registration: bool = False,
        accept_duplicates: bool = False,
        faults: Faults | None = None,
        dialect: Dialect = SEV2,
        public_url: str = "",
    ) -> None:
        if not 1 <= max_part_size <= MAX_PART_SIZE_LIMIT:
            raise ConfigError(f"MaxPartSize must be between 1 and {MAX_PART_SIZE_LIMIT} bytes")
        self.store = HubStore(data_dir)
        self.max_part_size = max_part_size
        self.max_message_size = max_message_size
        self.open_registration = open_registration
        #: behave like a hub that stores a second upload of a MessageId instead of refusing it
        self.accept_duplicates = accept_duplicates
        self.faults = faults or Faults()
        self.logins = LoginLimiter()
        #: the only wire form this hub answers (a request in another is a Client fault)
        self.dialect = dialect
        #: base URL of the service in its WSDL (else the address the connection came in on, never the
        #: Host header, which the caller chooses)
        self.public_url = public_url.rstrip("/")

    def load_systems(self, path: Path) -> int:
        """Register the systems of a TOML file; returns how many."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read the systems file {path}: {exc}") from None
        systems = data.get("system", [])
        for entry in systems:
            password = entry.get("password")
            if password is None and entry.get("password_env"):
                password = os.environ.get(entry["password_env"])
            if not entry.get("id") or not password:
                raise ConfigError(f"{path}: every [[system]] needs id and password (or password_env)")
            self.store.register_system(str(entry["id"]), str(password), entry.get("org_id"))
        return len(systems)

    # ------------------------------------------------------------------ dispatch

    def handle(self, operation: str, parts: dict[str, Any]) -> bytes:
        """Run one operation; returns the response envelope. Raises AuthError, SoapRequestError."""
        check_operation(operation)
        return self.run(operation, self.authenticate(parts), parts)

    def known_identity(self, parts: dict[str, Any]) -> str | None:
        """The caller's SystemId when its identity was verified before (cheap), else None."""
        identity = soapxml.record(parts.get("identity"))
        system_id = identity.get("SystemId") or ""
        ok = system_id and self.store.is_verified(system_id, identity.get("Password") or "")
        return system_id if ok else None

    def authenticate(self, parts: dict[str, Any]) -> str:
        """The caller's SystemId; AuthError for an unknown system, a wrong password, or a system
        with too many recent failures (refused without checking: PBKDF2 is not free)."""
        identity = soapxml.record(parts.get("identity"))
        system_id = identity.get("SystemId") or ""
        if not system_id:
            raise AuthError("identity: unknown system or wrong password")
        if self.logins.blocked(system_id):
            raise AuthError("identity: too many failed attempts, try again later")
        if not self.store.check_identity(
            system_id, identity.get("Password") or "", register_unknown=self.open_registration
        ):
            self.logins.failed(system_id)
            raise AuthError("identity: unknown system or wrong password")
        return system_id

    def run(self, operation: str, system_id: str, parts: dict[str, Any]) -> bytes:
        """One operation of an authenticated caller."""
        check_operation(operation)
        return soapxml.response(operation, _OPERATIONS[operation](self, system_id, parts), self.dialect)

    # ------------------------------------------------------------------ upload

    def open_uploading_session(self, system_id: str, parts: dict[str, Any]) -> list[tuple[str, Any]]:
        info = soapxml.record(parts.get("messageInfo"))
        message_id = info.get("MessageId") or ""
        size = soapxml.as_int(info.get("Size"))
        digest = soapxml.text(parts.get("hash")) or ""
        if not message_id or size <= 0 or not digest or not info.get("ToOrgId"):
            return _error_session(ErrorCode.BAD_REQUEST, "MessageId, Size, ToOrgId and hash are required")
        if size > self.max_message_size:
            return _error_session(
                ErrorCode.MESSAGE_TOO_LARGE, f"message of {size} bytes exceeds {self.max_message_size}"
            )
        if info.get("FromSysId") and info["FromSysId"] != system_id:
            return _error_session(ErrorCode.WRONG_SENDER, "FromSysId is not the calling system")
        org = self.store.system_org(system_id)
        if org and info.get("FromOrgId") and info["FromOrgId"] != org:
            return _error_session(
                ErrorCode.WRONG_SENDER, "FromOrgId is not the calling system's organization"
            )
        if not org:
            # an organization is never learned from traffic, except in the demo mode of open
            # registration, and then only one no registered system belongs to
            claimable = self.open_registration and info.get("FromOrgId")
            if not claimable or not self.store.claim_unregistered_org(system_id, info["FromOrgId"]):
                return _error_session(
                    ErrorCode.WRONG_SENDER, "the calling system is not registered to FromOrgId"
                )
        existing = self.store.open_upload_for(system_id, message_id)
        if existing is not None and existing.size == size and existing.hash == digest:
            return self._session_info(existing)
        if not self.accept_duplicates and (existing is not None or self.store.message_exists(message_id)):
            return _error_session(ErrorCode.DUPLICATE_MESSAGE, f"message {message_id} already exists")
        signature = soapxml.as_bytes(soapxml.text(parts.get("signature")))
        session = self.store.new_session(
            type="Upload",
            system_id=system_id,
            message_id=message_id,
            size=size,
            hash=digest,
            signature=signature or None,
            info=info,
        )
        log.info("upload session %s opened for %s (%d bytes)", session.session_id, message_id, size)
        return self._session_info(session)

    def upload_message_chunk(self, system_id: str, parts: dict[str, Any]) -> list[tuple[str, Any]]:
        chunk = soapxml.as_bytes(soapxml.text(parts.get("messageChunk")))
        with self.store.lock:  # one chunk at a time: the session is read and extended atomically
            session = self._own_session(system_id, parts, "Upload")
            if isinstance(session, list):
                return session
            if session.status not in ("Opened", "InProgress"):
                return self._session_info(
                    session, ErrorCode.SESSION_CLOSED, f"the session is {session.status}"
                )
            if not chunk:
                return self._session_info(session, ErrorCode.BAD_REQUEST, "empty chunk")
            if len(chunk) > self.max_part_size or session.transferred + len(chunk) > session.size:
                return self._session_info(
                    session,
                    ErrorCode.CHUNK_TOO_LARGE,
                    "the chunk exceeds MaxPartSize or the announced MessageSize",
                )
            if self.faults.corrupt_uploads:
                chunk = bytes([chunk[0] ^ 1]) + chunk[1:]
            if self.store.append_chunk(session, chunk) == session.size:
                self._complete_upload(session)
            done = self.store.session(session.session_id)
        assert done is not None
        if self.faults.take_lost_upload():
            raise LostAnswer
        return self._session_info(done)

    def _complete_upload(self, session: HubSession) -> None:
        digest = _sha256_file(self.store.part_path(session.session_id))
        if digest != session.hash:
            self.store.update_session(
                session.session_id,
                status="Failed",
                error_code=int(ErrorCode.HASH_MISMATCH),
                error_text=f"hash mismatch: received data hashes to {digest}",
            )
            log.warning("upload session %s failed: hash mismatch", session.session_id)
            return
        session.transferred = session.size
        if not self.store.store_message(session, keep_copy=self.accept_duplicates):
            self.store.update_session(
                session.session_id,
                status="Failed",
                error_code=int(ErrorCode.DUPLICATE_MESSAGE),
                error_text=f"message {session.message_id} already exists",
            )
            log.warning("upload session %s failed: its MessageId was taken meanwhile", session.session_id)
            return
        log.info(
            "message %s queued for %s/%s",
            session.message_id,
            session.info.get("ToOrgId"),
            session.info.get("ToSysId"),
        )

    # ------------------------------------------------------------------ download

    def get_input_messages(self, system_id: str, parts: dict[str, Any]) -> dict[str, Any]:
        wanted = soapxml.as_int(soapxml.text(parts.get("сount")) or soapxml.text(parts.get("count")), 100)
        rows = self.store.pending_for(system_id, self.store.system_org(system_id), max(1, min(wanted, 1000)))
        infos = []
        for row in rows:
            info = json.loads(row["info"])
            infos.append(
                (
                    "MessageInfo",
                    [
                        ("CreationDate", row["created"]),
                        ("Creator", info.get("Creator") or "Sed"),
                        ("Format", info.get("Format") or "Plain"),
                        ("FromOrgId", info.get("FromOrgId")),
                        ("FromSysId", row["from_sys_id"]),
                        ("MessageId", row["message_id"]),
                        ("SessionId", row["upload_session"]),
                        ("Size", row["size"]),
                        ("ToOrgId", row["to_org_id"]),
                        ("ToSysId", row["to_sys_id"]),
                        ("Type", info.get("Type") or "Document"),
                    ],
                )
            )
        return infos  # type: ignore[return-value]

    def open_downloading_session(self, system_id: str, parts: dict[str, Any]) -> list[tuple[str, Any]]:
        message_id = soapxml.text(parts.get("messageId")) or ""
        row = self.store.message_for(message_id, system_id, self.store.system_org(system_id))
        if row is None:
            return _error_session(ErrorCode.UNKNOWN_MESSAGE, f"no message {message_id} for this system")
        session = self.store.new_session(
            type="Download",
            system_id=system_id,
            message_id=message_id,
            size=row["size"],
            hash=row["hash"],
            info={"upload_session": row["upload_session"]},
        )
        return self._session_info(session)

    def download_message_chunk(self, system_id: str, parts: dict[str, Any]) -> list[tuple[str, Any]]:
        session = self._own_session(system_id, parts, "Download")
        if isinstance(session, list):
            return [("Session", session)]
        start = soapxml.as_int(soapxml.text(parts.get("fromPosition")))
        count = min(soapxml.as_int(soapxml.text(parts.get("count")), self.max_part_size), self.max_part_size)
        if start < 0 or count <= 0 or start >= session.size:
            return [
                (
                    "Session",
                    self._session_info(session, ErrorCode.BAD_REQUEST, "fromPosition/count out of range"),
                )
            ]
        with open(self.store.message_path(session.info["upload_session"]), "rb") as fh:
            fh.seek(start)
            chunk = fh.read(count)
        damaged = self.faults.corrupt_downloads or session.message_id in self.faults.corrupt_messages
        if damaged and chunk:
            chunk = bytes([chunk[0] ^ 1]) + chunk[1:]
        if self.faults.oversized_chunks:
            chunk *= 3
        transferred = max(session.transferred, start + len(chunk))
        status = session.status if session.status == "Delivered" else "InProgress"
        self.store.update_session(session.session_id, transferred=transferred, status=status)
        session.transferred, session.status = transferred, status
        return [("MessageChunk", chunk), ("Session", self._session_info(session))]

    def get_message_validation_info(self, system_id: str, parts: dict[str, Any]) -> list[tuple[str, Any]]:
        session = self._own_session(system_id, parts, None)
        if isinstance(session, list):
            return [("Session", session)]
        digest = session.hash
        if self.faults.wrong_hash:
            digest = hashlib.sha256(digest.encode()).hexdigest().upper()
        return [
            *([] if self.faults.omit_hash else [("Hash", digest)]),
            ("Session", self._session_info(session)),
            ("Signature", session.signature),
        ]

    def get_session_info(self, system_id: str, parts: dict[str, Any]) -> list[tuple[str, Any]]:
        session = self._own_session(system_id, parts, None)
        return session if isinstance(session, list) else self._session_info(session)

    def end_processing_downloaded_message(
        self, system_id: str, parts: dict[str, Any]
    ) -> list[tuple[str, Any]]:
        info = soapxml.record(parts.get("sessionInfo"))
        session = self._own_session(system_id, {"sessionId": info.get("SessionId")}, "Download")
        if isinstance(session, list):
            return session
        if info.get("Status") != "Delivered":
            return self._session_info(session)  # the message stays pending
        if session.transferred < session.size:
            return self._session_info(
                session, ErrorCode.INCOMPLETE, "the message was not downloaded completely"
            )
        self.store.mark_delivered(session.message_id, session.session_id)
        session.status = "Delivered"
        log.info("message %s delivered to %s", session.message_id, system_id)
        return self._session_info(session)

    # ------------------------------------------------------------------ helpers

    def _own_session(self, system_id: str, parts: dict[str, Any], kind: str | None) -> HubSession | list:
        raw = parts.get("sessionId")
        session_id = soapxml.as_int(raw if isinstance(raw, str | None) else soapxml.text(raw))
        session = self.store.session(session_id) if session_id else None
        if session is None or session.system_id != system_id or (kind and session.type != kind):
            return _error_session(ErrorCode.UNKNOWN_SESSION, f"no session {session_id} for this system")
        return session

    def _session_info(self, s: HubSession, code: int | None = None, text: str | None = None) -> list:
        if code is None and s.error_code is not None:
            code, text = s.error_code, s.error_text
        error = [("Code", int(code)), ("Text", text)] if code is not None else None
        return [
            ("Error", error),
            ("MaxPartSize", self.max_part_size),
            ("MessageId", s.message_id),
            ("MessageSize", s.size),
            ("SessionId", s.session_id),
            ("Status", s.status),
            ("TransferredBytesCount", s.transferred),
            ("Type", s.type),
        ]


def check_operation(operation: str) -> None:
    if operation not in _OPERATIONS:
        raise soapxml.SoapRequestError(f"unknown operation {operation!r}")


def _error_session(code: int, text: str) -> list:
    return [("Error", [("Code", int(code)), ("Text", text)])]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest().upper()


_OPERATIONS = {
    "OpenUploadingSession": SevHub.open_uploading_session,
    "UploadMessageChunk": SevHub.upload_message_chunk,
    "GetInputMessages": SevHub.get_input_messages,
    "OpenDownloadingSession": SevHub.open_downloading_session,
    "DownloadMessageChunk": SevHub.download_message_chunk,
    "GetMessageValidationInfo": SevHub.get_message_validation_info,
    "GetSessionInfo": SevHub.get_session_info,
    "EndProcessingDownloadedMessage": SevHub.end_processing_downloaded_message,
}


# ---------------------------------------------------------------------- HTTP


class _BrokenAnswer:
    """An answer that promises 4096 bytes, sends a few and breaks the connection (fault injection)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/xml; charset=utf-8"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"<?xml version='1.0'?><SOAP-ENV:Env", "more_body": True}
        )
        raise ConnectionAbortedError("fault injection: connection dropped in the middle of an answer")


def wsdl_text(location: str, dialect: Dialect = SEV2) -> str:
    return dialect.wsdl.read_text(encoding="utf-8").replace(PUBLISHED_LOCATION, location)


def create_app(hub: SevHub) -> Starlette:
    """The ASGI application serving the hub at SERVICE_PATH."""
    xml = "text/xml; charset=utf-8"
    limit = hub.max_part_size * 2 + 1024 * 1024  # a base64 chunk plus the envelope

    async def get(request: Request) -> Response:
        if "wsdl" not in {k.lower() for k in request.query_params}:
            return Response("append ?wsdl for the service description\n", media_type="text/plain")
        if hub.public_url:
            base = hub.public_url
        else:
            host, port = request.scope.get("server") or ("127.0.0.1", 80)
            base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        return Response(wsdl_text(base + SERVICE_PATH, hub.dialect), media_type=xml)

    async def post(request: Request) -> Response:
        if hub.faults.take_unavailable():
            return Response("<html><body>503 Service Unavailable</body></html>", 503, media_type="text/html")
        body = bytearray()
        async for piece in request.stream():
            body += piece
            if len(body) > limit:
                return Response(soapxml.fault("Client", "request too large"), 413, media_type=xml)
        try:
            operation, parts = soapxml.parse_request(
                bytes(body), hub.dialect, request.headers.get("soapaction", "")
            )
            check_operation(operation)
            system_id = hub.known_identity(parts)
            if system_id is None:  # a password to check (PBKDF2): off the event loop
                system_id = await run_in_threadpool(hub.authenticate, parts)
            # in the event loop: every operation is short (one lock, one SQLite transaction, at most
            # one fsync); a hop to a worker thread per call would cost more CPU than it saves
            answer = hub.run(operation, system_id, parts)
            if hub.faults.completion_delay and operation == "UploadMessageChunk" and b">Processed<" in answer:
                await asyncio.sleep(hub.faults.completion_delay)
        except soapxml.SoapRequestError as exc:
            return Response(soapxml.fault("Client", str(exc)), 500, media_type=xml)
        except AuthError as exc:
            return Response(soapxml.fault("Client", str(exc)), 500, media_type=xml)
        except LostAnswer:
            if hub.faults.drop_upload_answer:
                return _BrokenAnswer()  # type: ignore[return-value]
            return Response("<html><body>504 Gateway Time-out</body></html>", 504, media_type="text/html")
        return Response(answer, 200, media_type=xml)

    async def health(request: Request) -> Response:
        return Response(datetime.now(UTC).isoformat(), media_type="text/plain")

    return Starlette(
        routes=[
            Route(SERVICE_PATH, get, methods=["GET"]),
            Route(SERVICE_PATH, post, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


class HubServer:
    """The hub served by uvicorn in a background thread (tests, demos): `with HubServer(dir) as s: s.url`."""

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", port: int = 0, **hub_options: Any) -> None:
        self.hub = SevHub(data_dir, **hub_options)
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{SERVICE_PATH}"

    def start(self) -> HubServer:
        import time

        import uvicorn

        from gateway.netutil import listen_tcp

        sock = listen_tcp(self.host, self.port, backlog=128)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(create_app(self.hub), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the SEV hub stand-in did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            assert self._thread is not None
            self._thread.join(timeout=10)
            self._server = None
        self.hub.store.close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
