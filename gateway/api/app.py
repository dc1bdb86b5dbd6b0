"""The gateway's HTTP application: `create_app(cfg)` assembles every part `gateway serve` runs.

/healthz (unauthenticated), the EDMS REST API with its workers (gateway.api.routes), and, in
development set-ups, the development PKI's CRL/OCSP/TSA services ([dev_pki] serve = true).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from gateway import __version__
from gateway.api import health
from gateway.api.docs import install_docs
from gateway.config import Config
from gateway.console.web import install as install_console
from gateway.signing.validation.engine import load_validators

log = logging.getLogger(__name__)


def create_app(cfg: Config, *, workers: bool = True) -> FastAPI:
    from gateway.api import routes

    load_validators()  # a validator that cannot be imported is a start-up error
    app = FastAPI(
        title="Mykolaiv signature and exchange gateway",
        version=__version__,
        description="REST API for the EDMS: signing, validation, outgoing and incoming SEV OVV letters.",
        lifespan=_dev_pki_lifespan(cfg),
        openapi_url=None,  # served by gateway.api.docs, behind the API key
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(health.router)
    routes.install(app, cfg, workers=workers)
    install_docs(app)
    if cfg.console.enabled:
        install_console(app)
    return app


def _dev_pki_lifespan(cfg: Config) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = None
        if cfg.dev_pki.serve and cfg.dev_pki.dir:
            from gateway.pki.dev import load_dev_pki
            from gateway.pki.services import start_pki_services

            services = start_pki_services(load_dev_pki(cfg.resolve(cfg.dev_pki.dir)))
        app.state.dev_pki = services
        try:
            yield
        finally:
            if services is not None:
                services.stop()

    return lifespan
