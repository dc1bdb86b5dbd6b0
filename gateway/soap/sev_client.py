"""Client of the SEV OVV hub's IntegrationService (`schemas/sev-integration.wsdl`).

Public API (the outbox/inbox workers call these):

    client = SevClient.from_config(cfg)            # or SevClient(url, system_id, password, ...)
    result = client.send(raw_xml, MessageInfo.for_message(parsed_message))   # -> SendResult
    for info in client.list_incoming(50):          # -> list[MessageInfo], pending for us
        got = client.download(info.message_id)     # -> DownloadedMessage (.data, hash checked)
        ... store got.data durably (never lose the raw bytes) ...
        client.end_processing(got)                 # only now: the hub stops offering it

- `send` computes the UPPERCASE hex SHA-256, opens an upload session and uploads chunks of the
  hub's MaxPartSize. A lost or failed chunk call is never re-sent blindly: the client asks
  GetSessionInfo and resumes from TransferredBytesCount. `send(..., session_id=N)` resumes an
  upload a previous process left unfinished (`SevTransportError.session_id` names it).
- Every other call is retried on HTTP 5xx, timeouts, connection errors and SOAP Server faults,
  with exponential backoff and full jitter, within `RetryPolicy` (attempts and a time budget).
  A SOAP Client fault (e.g. a wrong password) is not retried.
- Errors the hub reports in SessionInfo/Error raise `SevSessionError(code, text)`; a downloaded
  message whose hash differs from GetMessageValidationInfo raises `SevHashMismatch`.
- The password is only ever put in request bodies, and request bodies are never logged.
- Envelopes are built and read by `sev_wire` in the configured dialect (`[sev] dialect`: `sev2`,
  the default, or `wcf`; see `sev_dialect`); HTTP goes over keep-alive connections (urllib3) of
  the client. Proxy and CA bundle settings of the environment are read once, when it is made.
- An upload is complete when the hub reports no error and all bytes transferred.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.errors import ConfigError, GatewayError
from gateway.soap import sev_wire
from gateway.soap.sev_dialect import SEV2, Dialect, dialect
from gateway.soap.sev_wire import BadAnswer, Fields, SoapFault

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.exchange.message import Message

log = logging.getLogger(__name__)

XML = "text/xml; charset=utf-8"
USER_AGENT = "mykolaiv-gateway"
COUNT = "\u0441ount"  # GetInputMessages' parameter starts with a CYRILLIC "с" in the real service
DEFAULT_MAX_PART_SIZE = 2_500_000
DEFAULT_MAX_MESSAGE_BYTES = 200 * 1024 * 1024
#: the largest chunk moved in one call: its base64 (4/3) stays under libxml2's 10 MB text-node cap,
#: which the hardened parsers keep (a hub announcing a larger MaxPartSize gets smaller chunks)
MAX_CHUNK = 7_000_000
#: the largest answer read from the hub: a MAX_CHUNK chunk in base64 and its envelope; a larger one
#: (a broken or hostile hub) is refused before it is held in memory
MAX_ANSWER_BYTES = MAX_CHUNK * 4 // 3 + 1024 * 1024


class SevError(GatewayError):
    """The hub could not be used for this operation."""


class SevTransportError(SevError):
    """The hub stayed unreachable or kept failing within the retry budget."""

    def __init__(self, message: str, session_id: int | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id


class SevSessionError(SevError):
    """The hub reported an error in SessionInfo/Error (or a session ended Failed)."""

    def __init__(
        self, operation: str, code: int | None, text: str | None, session_id: int | None = None
    ) -> None:
        super().__init__(f"SEV hub: {operation} failed: [{code}] {text or 'no details'}")
        self.code = code
        self.text = text
        self.session_id = session_id


class SevHashMismatch(SevError):
    """A downloaded message does not hash to what the hub says it should."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    budget_seconds: float = 300.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform between 0 and the exponential cap."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass
class MessageInfo:
    """The transport's MessageInfo (what the hub routes by)."""

    message_id: str
    from_org_id: str
    to_org_id: str
    type: str = "Document"  # Notification | Document | DocumentAddition | ReplayDocument | ...
    from_sys_id: str | None = None  # send() always puts this client's SystemId here
    to_sys_id: str | None = None
    size: int = 0  # set by send()
    creation_date: datetime | None = None
    session_id: int = 0
    creator: str = "Sed"
    format: str = "Plain"

    @classmethod
    def for_message(cls, message: Message) -> MessageInfo:
        """The MessageInfo of a parsed 1207 message (ids, routing and type from its Header)."""
        from gateway.exchange.message import MsgType

        h = message.header
        return cls(
            message_id=h.msg_id,
            from_org_id=h.from_org_id,
            to_org_id=h.to_org_id,
            from_sys_id=h.from_sys_id or None,
            to_sys_id=h.to_sys_id or None,
            type=MsgType(h.msg_type).transport_type,
            size=len(message.raw),
        )


@dataclass
class SessionInfo:
    session_id: int
    status: str | None
    type: str | None = None
    message_id: str | None = None
    message_size: int = 0
    transferred: int = 0
    max_part_size: int = 0
    error_code: int | None = None
    error_text: str | None = None


@dataclass
class SendResult:
    message_id: str
    session_id: int
    status: str  # Processed (or Delivered)
    size: int
    hash: str
    resumed_from: int = 0  # bytes the hub already had when this call started
    chunks: int = 0  # UploadMessageChunk calls made (a lost answer is not followed by a re-send)
    retries: int = 0


@dataclass
class DownloadedMessage:
    message_id: str
    session_id: int
    data: bytes
    hash: str
    max_part_size: int = 0
    info: MessageInfo | None = field(default=None, repr=False)


class SevClient:
    def __init__(
        self,
        url: str,
        system_id: str,
        password: str,
        *,
        max_part_size_hint: int = DEFAULT_MAX_PART_SIZE,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        sleep: Any = time.sleep,
        dialect: Dialect = SEV2,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.url = url
        self.max_answer_bytes = max_answer_bytes
        self.dialect = dialect
        self.system_id = system_id
        self._password = password
        self.max_part_size_hint = max_part_size_hint
        self.retry = retry or RetryPolicy()
        self.max_message_bytes = max_message_bytes
        self._sleep = sleep
        self.retries = 0  # retries made over the client's lifetime (for metrics)
        self._http = _connection_pool(url, timeout)
        #: called with (operation, request headers, request body, HTTP status, answer body) after
        #: every exchange (tests)
        self.observers: list[Any] = []

    def __repr__(self) -> str:
        return f"SevClient(url={self.url!r}, system_id={self.system_id!r})"

    @classmethod
    def from_config(cls, cfg: Config, **kwargs: Any) -> SevClient:
        sev = cfg.sev
        if not sev.url or not sev.system_id:
            raise ConfigError("[sev] needs url and system_id")
        if not sev.password_env:
            raise ConfigError("[sev] needs password_env: the environment variable holding the hub password")
        password = os.environ.get(sev.password_env)
        if not password:
            raise ConfigError(f"the SEV hub password variable {sev.password_env} is not set")
        try:
            kwargs.setdefault("dialect", dialect(sev.dialect))
        except ValueError as exc:
            raise ConfigError(f"[sev] dialect: {exc}") from None
        return cls(sev.url, sev.system_id, password, **kwargs)

    # ------------------------------------------------------------------ sending

    def send(
        self,
        raw: bytes,
        info: MessageInfo,
        *,
        session_id: int | None = None,
        on_session: Callable[[int], None] | None = None,
    ) -> SendResult:
        """Upload one message; resumes `session_id` if given and still open.

        `on_session(session_id)` is called with a newly opened session before its first chunk: a
        caller that stores it durably and gives it back as `session_id` after a crash never
        uploads a second copy, even to a hub that would accept one (the hub is asked about the
        session first: complete, resumable, or unknown/failed and so opened afresh).
        """
        if len(raw) == 0:
            raise SevError("refusing to send an empty message")
        digest = hashlib.sha256(raw).hexdigest().upper()
        size = len(raw)
        info.size = size
        info.from_sys_id = self.system_id  # the transport's sender is always this system
        retries_before = self.retries
        session: SessionInfo | None = None
        if session_id:
            session = self._resumable(session_id, info.message_id, size, digest)
            if session is not None and _complete(session, size):
                return SendResult(info.message_id, session_id, session.status or "", size, digest, size)
        if session is None:
            session = self._checked(
                "OpenUploadingSession",
                self._call(
                    "OpenUploadingSession",
                    [("messageInfo", self._info_value(info)), ("hash", digest), ("signature", b"")],
                ),
            )
        sid = session.session_id
        if on_session is not None and sid != session_id:
            on_session(sid)
        part = min(session.max_part_size or self.max_part_size_hint, MAX_CHUNK)
        position = resumed_from = session.transferred
        chunks = failures = 0
        started = time.monotonic()
        while position < size:
            chunks += 1
            try:
                answer = _session(
                    self._once(
                        "UploadMessageChunk",
                        [("sessionId", sid), ("messageChunk", memoryview(raw)[position : position + part])],
                    )
                )
            except Exception as exc:  # noqa: BLE001 - classified just below
                if not _transient(exc):
                    raise self._translate("UploadMessageChunk", exc) from None
                failures += 1
                self._backoff("UploadMessageChunk", exc, failures, started, sid)
                answer = self.session_info(sid)  # the chunk may or may not have arrived: ask
            else:
                failures = 0
                _raise_for_error("UploadMessageChunk", answer)
                if answer.transferred <= position:
                    raise SevSessionError("UploadMessageChunk", None, "the hub accepted no bytes", sid)
            _raise_for_error("UploadMessageChunk", answer)
            if answer.status == "Failed":
                raise SevSessionError("UploadMessageChunk", None, "the hub marked the upload Failed", sid)
            position = answer.transferred
            if answer.max_part_size:
                part = min(answer.max_part_size, MAX_CHUNK)
        # the last chunk's answer normally tells how the upload ended; ask only when it does not
        final = answer if chunks else session
        if not _complete(final, size):
            final = self.session_info(sid)
        _raise_for_error("upload", final)
        if not _complete(final, size):
            raise SevSessionError(
                "upload",
                None,
                f"session {sid} ended {final.status} with {final.transferred}/{size} bytes",
                sid,
            )
        log.info("sent %s (%d bytes, session %s, resumed from %d)", info.message_id, size, sid, resumed_from)
        return SendResult(
            info.message_id,
            sid,
            final.status or "",
            size,
            digest,
            resumed_from,
            chunks,
            self.retries - retries_before,
        )

    def _resumable(self, session_id: int, message_id: str, size: int, digest: str) -> SessionInfo | None:
        """The earlier upload session of this very message (same id, size and hash), else None."""
        try:
            session = self.session_info(session_id)
        except SevSessionError:
            return None  # unknown to the hub (e.g. a different hub): start afresh
        if (session.message_id or "").lower() != message_id.lower() or session.message_size != size:
            return None
        if _complete(session, size):
            return session  # it arrived: whatever else, never upload it again
        if session.status not in ("Opened", "InProgress") or session.error_code or session.error_text:
            return None
        validation = self._call("GetMessageValidationInfo", [("sessionId", session_id)])
        if validation is None or (validation.get("Hash") or "").upper() != digest:
            return None
        return session

    def session_info(self, session_id: int) -> SessionInfo:
        """GetSessionInfo; raises SevSessionError if the hub reports an error without a session."""
        result = _session(self._call("GetSessionInfo", [("sessionId", session_id)]))
        if result.session_id == 0 and result.error_code is not None:
            _raise_for_error("GetSessionInfo", result)
        return result

    # ------------------------------------------------------------------ receiving

    def list_incoming(self, count: int = 100) -> list[MessageInfo]:
        """Messages the hub holds for this system (including ones not yet end-processed)."""
        items = self._call("GetInputMessages", [(COUNT, count)]) or []
        return [_message_info(i) for i in items]

    def download(self, message_id: str) -> DownloadedMessage:
        """Download a whole message in chunks and check its hash; does NOT end processing."""
        session = self._checked(
            "OpenDownloadingSession", self._call("OpenDownloadingSession", [("messageId", message_id)])
        )
        sid, size = session.session_id, session.message_size
        if size <= 0 or size > self.max_message_bytes:
            raise SevError(
                f"message {message_id} has a size of {size} bytes, outside 1..{self.max_message_bytes}"
            )
        part = min(session.max_part_size or self.max_part_size_hint, MAX_CHUNK)
        data = bytearray()
        while len(data) < size:
            answer = (
                self._call(
                    "DownloadMessageChunk",
                    [("sessionId", sid), ("fromPosition", len(data)), ("count", min(part, size - len(data)))],
                )
                or {}
            )
            if answer.get("Session") is not None:
                _raise_for_error("DownloadMessageChunk", _session(answer["Session"]))
            chunk = sev_wire.as_bytes(answer.get("MessageChunk"))
            if not chunk:
                raise SevSessionError("DownloadMessageChunk", None, "the hub returned no data", sid)
            data += chunk
        if len(data) != size:
            raise SevHashMismatch(f"message {message_id}: received {len(data)} bytes, expected {size}")
        validation = self._call("GetMessageValidationInfo", [("sessionId", sid)]) or {}
        if validation.get("Session") is not None:
            _raise_for_error("GetMessageValidationInfo", _session(validation["Session"]))
        expected = (validation.get("Hash") or "").strip().upper()
        mine = hashlib.sha256(data).hexdigest().upper()
        if expected != mine:
            raise SevHashMismatch(
                f"message {message_id}: the hub says SHA-256 {expected or '(none)'}, "
                f"the data received hashes to {mine}"
            )
        return DownloadedMessage(message_id, sid, bytes(data), mine, part)

    def end_processing(self, message: DownloadedMessage) -> SessionInfo:
        """Tell the hub the message is safely stored; it will not be offered again."""
        value = [
            ("MaxPartSize", message.max_part_size or None),
            ("MessageId", message.message_id),
            ("MessageSize", len(message.data)),
            ("SessionId", message.session_id),
            ("Status", "Delivered"),
            ("TransferredBytesCount", len(message.data)),
            ("Type", "Download"),
        ]
        return self._checked(
            "EndProcessingDownloadedMessage",
            self._call("EndProcessingDownloadedMessage", [("sessionInfo", value)]),
        )

    # ------------------------------------------------------------------ plumbing

    def _identity(self) -> Fields:
        return [("Password", self._password), ("SystemId", self.system_id)]

    def _once(self, operation: str, params: Fields) -> Any:
        """One request and its answer's Result (see sev_wire.answer)."""
        body = sev_wire.request(operation, [("identity", self._identity()), *params], self.dialect)
        headers = {
            "User-Agent": USER_AGENT,
            "Content-Type": XML,
            "SOAPAction": self.dialect.soap_action(operation),
        }
        response = self._http.request("POST", self.url, body=body, headers=headers, preload_content=False)
        try:
            content = response.read(self.max_answer_bytes + 1)
            if len(content) > self.max_answer_bytes:
                response.close()  # the rest is never read, so the connection is not reused
                raise SevError(
                    f"the hub's answer to {operation} is larger than {self.max_answer_bytes} bytes"
                )
        finally:
            response.release_conn()
        for observe in self.observers:
            observe(operation, headers, body, response.status, content)
        return sev_wire.answer(operation, response.status, content)

    def _call(self, operation: str, params: Fields) -> Any:
        """One idempotent operation with retries on transient failures."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return self._once(operation, params)
            except Exception as exc:  # noqa: BLE001 - classified just below
                if not _transient(exc):
                    raise self._translate(operation, exc) from None
                attempt += 1
                self._backoff(operation, exc, attempt, started, None)

    def _backoff(
        self, operation: str, exc: Exception, attempt: int, started: float, session_id: int | None
    ) -> None:
        elapsed = time.monotonic() - started
        if attempt >= self.retry.attempts or elapsed >= self.retry.budget_seconds:
            raise SevTransportError(
                f"SEV hub: {operation} failed after {attempt} attempts: {_describe(exc)}", session_id
            ) from None
        delay = self.retry.delay(attempt)
        log.warning("SEV hub: %s: %s; retry %d in %.1fs", operation, _describe(exc), attempt, delay)
        self.retries += 1
        self._sleep(delay)

    def _translate(self, operation: str, exc: Exception) -> SevError:
        return SevError(f"SEV hub: {operation} refused: {_describe(exc)}")

    def _checked(self, operation: str, value: Any) -> SessionInfo:
        session = _session(value)
        _raise_for_error(operation, session)
        if not session.session_id:
            raise SevSessionError(operation, None, "the hub returned no session", None)
        return session

    @staticmethod
    def _info_value(info: MessageInfo) -> Fields:
        return [
            ("CreationDate", info.creation_date or datetime.now(UTC).replace(microsecond=0)),
            ("Creator", info.creator),
            ("Format", info.format),
            ("FromOrgId", info.from_org_id),
            ("FromSysId", info.from_sys_id),
            ("MessageId", info.message_id),
            ("SessionId", info.session_id),
            ("Size", info.size),
            ("ToOrgId", info.to_org_id),
            ("ToSysId", info.to_sys_id),
            ("Type", info.type),
        ]


def _connection_pool(url: str, timeout: float) -> Any:
    """Keep-alive HTTP(S) connections to the hub (urllib3, no automatic retries: the client decides
    what may be repeated). The environment's proxy (HTTPS_PROXY, NO_PROXY, ...) and CA bundle
    (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE; else certifi's) are read once, here."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    import certifi
    import urllib3

    parts = urlsplit(url)
    proxy = None if proxy_bypass(parts.hostname or "") else getproxies().get(parts.scheme)
    options: dict[str, Any] = {
        "maxsize": 2,
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        "retries": False,
        "ca_certs": os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or certifi.where(),
    }
    return urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)


def _transient(exc: Exception) -> bool:
    from urllib3 import exceptions as ux

    if isinstance(exc, ux.LocationValueError):  # a malformed [sev] url: no use retrying
        return False
    if isinstance(exc, ux.HTTPError | OSError):  # refused, reset, timed out, broken mid-answer, TLS
        return True
    if isinstance(exc, BadAnswer):  # e.g. a proxy's error page instead of SOAP
        return exc.status >= 500
    if isinstance(exc, SoapFault):
        return "client" not in (exc.code or "").lower()
    return False


def _describe(exc: Exception) -> str:
    if isinstance(exc, BadAnswer):
        return str(exc)
    if isinstance(exc, SoapFault):
        return f"SOAP fault {exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _session(value: Any) -> SessionInfo:
    if not value:
        return SessionInfo(session_id=0, status=None)
    error = value.get("Error")
    return SessionInfo(
        session_id=sev_wire.as_int(value.get("SessionId")),
        status=value.get("Status"),
        type=value.get("Type"),
        message_id=value.get("MessageId"),
        message_size=sev_wire.as_int(value.get("MessageSize")),
        transferred=sev_wire.as_int(value.get("TransferredBytesCount")),
        max_part_size=sev_wire.as_int(value.get("MaxPartSize")),
        error_code=sev_wire.as_int(error["Code"]) if error and error.get("Code") else None,
        error_text=error.get("Text") if error else None,
    )


def _complete(session: SessionInfo, size: int) -> bool:
    """An upload is complete when the hub reports no error and all bytes transferred (what the
    reference clients check; the status names of a hub are not relied on)."""
    return (
        session.error_code is None
        and not session.error_text
        and session.status != "Failed"
        and session.transferred == size
    )


def _raise_for_error(operation: str, session: SessionInfo) -> None:
    if session.error_code is not None or session.error_text:
        raise SevSessionError(operation, session.error_code, session.error_text, session.session_id or None)


def _message_info(value: Any) -> MessageInfo:
    return MessageInfo(
        message_id=value.get("MessageId") or "",
        from_org_id=value.get("FromOrgId") or "",
        to_org_id=value.get("ToOrgId") or "",
        type=value.get("Type") or "Document",
        from_sys_id=value.get("FromSysId"),
        to_sys_id=value.get("ToSysId"),
        size=sev_wire.as_int(value.get("Size")),
        creation_date=sev_wire.as_datetime(value.get("CreationDate")),
        session_id=sev_wire.as_int(value.get("SessionId")),
        creator=value.get("Creator") or "Sed",
        format=value.get("Format") or "Plain",
    )
