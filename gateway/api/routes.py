"""Everything the EDMS API adds to the app: `install(app, cfg)` (one call in `create_app`).

Routers for INTERFACE.md's REST calls under /api/v1, bearer-key auth, the common JSON error shape,
the request size limit, /metrics, and a lifespan that opens the database (migrating it), loads
the seal once and runs the background workers while the app runs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from gateway.api import admin, incoming, offers, outgoing, signatures, validations
from gateway.api.auth import ApiCaller
from gateway.api.context import GatewayContext
from gateway.api.errors import install_error_handlers
from gateway.api.gatekeeper import Gatekeeper
from gateway.api.limits import BodyLimitMiddleware
from gateway.api.metrics import MetricsMiddleware
from gateway.api.public_url import PublicUrlMiddleware, parse_public_url
from gateway.config import Config
from gateway.console.mailer import AlertMailer
from gateway.pki.tl.refresher import start_refresher
from gateway.soap import (
    sev_channel,  # noqa: F401 - registers the "sev" channel with the workers
    trembita_client,  # noqa: F401 - registers the "trembita" worker channel
    trembita_service,
)

log = logging.getLogger(__name__)


def install(app: FastAPI, cfg: Config, *, workers: bool = True) -> None:
    """Add the EDMS API to `app`. With `workers`, the lifespan also starts the background
    workers (when [sev] is enabled)."""
    install_error_handlers(app)
    routers = (outgoing.router, incoming.router, signatures.router, validations.router, offers.router,
               admin.router)
    for router in routers:
        app.include_router(router)
    app.include_router(trembita_service.router)  # its own authentication (X-Road headers, TLS)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    def metrics(request: Request, _caller: ApiCaller) -> Response:
        body, content_type = request.app.state.gateway.metrics.render()
        return Response(body, media_type=content_type)

    server = cfg.server
    app.add_middleware(BodyLimitMiddleware, limit=server.max_request_bytes, timeout=server.body_timeout,
                       min_rate=server.min_body_rate)
    app.add_middleware(Gatekeeper)  # before the limits: no key, no body read at all
    app.add_middleware(_LazyMetricsMiddleware)
    public = parse_public_url(server.public_url) if server.public_url else None  # fails at start-up
    app.add_middleware(PublicUrlMiddleware, public=public)  # outermost: before anything reads Host

    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with previous(a) as state:  # e.g. the development PKI's services, which signing needs
            ctx = GatewayContext.open(cfg)
            a.state.gateway = ctx
            refresher = start_refresher(cfg) if workers else None  # trusted lists
            mailer = AlertMailer(cfg, ctx.db, lambda: ctx.seal, lambda: ctx.workers)
            try:
                ctx.seal = load_seal(cfg, ctx.db)
                if workers:
                    start_workers(ctx)
                    if mailer.configured:
                        mailer.start()
                yield state
            finally:
                mailer.stop()
                if refresher is not None:
                    refresher.stop()
                ctx.close()

    app.router.lifespan_context = lifespan


class _LazyMetricsMiddleware:
    """MetricsMiddleware bound to the context the lifespan creates (middleware is built first)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._inner: MetricsMiddleware | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        ctx = getattr(scope.get("app").state, "gateway", None) if scope["type"] == "http" else None
        if ctx is None:
            await self.app(scope, receive, send)
            return
        if self._inner is None:
            self._inner = MetricsMiddleware(self.app, ctx.metrics)
        await self._inner(scope, receive, send)


def start_workers(ctx: GatewayContext) -> None:
    """Start the workers of every enabled channel (gateway.exchange.workers.register_channel)."""
    from gateway.exchange.workers import Workers, enabled_channels

    cfg = ctx.cfg
    channels = enabled_channels(cfg)
    if not channels:
        return
    ctx.workers = Workers(
        cfg=cfg,
        db=ctx.db,
        blobs=ctx.blobs,
        channels=channels,
        seal=ctx.seal,
        validator=ctx.validate_signature,
        metrics=ctx.metrics,
    )
    ctx.workers.start()


def load_seal(cfg: Config, db: Any) -> Any:
    """The organization's seal: the keys registry's active key, else [signing] key (None when
    neither exists at start-up)."""
    from gateway.api.seal import ActiveSeal, Seal
    from gateway.store.keyregistry import active_key

    with db.session() as s:
        has_registry_key = active_key(s) is not None
    if not cfg.signing.key and not has_registry_key:
        log.warning("no [signing] key and no active registry key: outgoing letters cannot be sealed")
        return None
    return ActiveSeal(cfg, db, Seal.from_config(cfg) if cfg.signing.key else None)
