"""Authentication at the door: the bearer key is checked before a byte of the body is read.

FastAPI reads and spools a whole multipart body before it runs an endpoint's dependencies, so a
key checked only by a dependency lets anyone without a key fill the temporary folder. This pure
ASGI middleware sits in front of the application: it answers 401 from the request's headers alone
(the body is never received; the connection is closed so the unread body is dropped), and only then
passes the request on to the size and time limits and to FastAPI.

Which paths it guards:
- `OPEN_PATHS` need nothing: the health probe, and the /docs page with its static assets
  (`OPEN_PREFIXES`; the page holds no part of the API description and asks for a key itself);
- `OWN_AUTH_PREFIXES` are applications with an authentication of their own, let through untouched:
  the console (`/console`, login sessions) and the SOAP services (`/soap/`, X-Road callers checked
  against the partner directory). A new part of the app with its own login adds its prefix here;
- everything else (the REST API, /metrics, /openapi.json, unknown paths) needs a valid key.

The endpoint's own `require_api_key` dependency still runs (and decides roles); this is the gate,
not the only check. The caller the gate found is handed on in the request's state (`CALLER_STATE`,
with the key it was found for), so that the dependency does not look the same key up a second time.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.auth import CALLER_STATE, Caller, lookup_caller
from gateway.api.context import GatewayContext
from gateway.api.errors import DATABASE_ERRORS, DATABASE_RETRY_AFTER, send_error

OPEN_PATHS = frozenset({"/healthz", "/docs"})
OPEN_PREFIXES = ("/docs/assets/",)
OWN_AUTH_PREFIXES = ("/console", "/soap/")

_CHALLENGE = (b"www-authenticate", b"Bearer")


def has_own_auth(path: str) -> bool:
    """Whether `path` belongs to a part of the app that authenticates its callers itself."""
    for prefix in OWN_AUTH_PREFIXES:
        if prefix.endswith("/"):
            if path.startswith(prefix):
                return True
        elif path == prefix or path.startswith(prefix + "/"):
            return True
    return False


def bearer_key(scope: Scope) -> str | None:
    """The key of an `Authorization: Bearer <key>` header (None when absent or another scheme)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").strip().partition(" ")
            key = key.strip()
            return key if scheme.lower() == "bearer" and key else None
    return None


class Gatekeeper:
    """401 before the body is read for every guarded path without a valid API key."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if _has_dot_segments(path):
            await send_error(send, 400, "bad_request", "a path may not contain '.' or '..' segments",
                             close=True)
            return
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES) or has_own_auth(path):
            await self.app(scope, receive, send)
            return
        key = bearer_key(scope)
        if key is None:
            await send_error(send, 401, "unauthorized",
                             "missing bearer API key (Authorization: Bearer <key>)",
                             headers=[_CHALLENGE], close=True)
            return
        ctx: GatewayContext | None = getattr(scope["app"].state, "gateway", None)
        try:
            caller: Caller | None = await run_in_threadpool(lookup_caller, ctx.db, key) if ctx else None
        except DATABASE_ERRORS:  # the key cannot be checked now: the caller tries again, nothing lost
            await send_error(send, 503, "database_unavailable",
                             "the database is not reachable; try again later",
                             headers=[(b"retry-after", str(DATABASE_RETRY_AFTER).encode())], close=True)
            return
        if caller is None:
            await send_error(send, 401, "unauthorized", "invalid or revoked API key",
                             headers=[_CHALLENGE], close=True)
            return
        # a new dict: the server's per-request state may be shared with the lifespan's
        scope["state"] = {**scope.get("state", {}), CALLER_STATE: (key, caller)}
        await self.app(scope, receive, send)


def _has_dot_segments(path: str) -> bool:
    return any(segment in (".", "..") for segment in path.split("/"))
