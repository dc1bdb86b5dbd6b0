"""GET /healthz: liveness and readiness, the one endpoint that needs no API key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from gateway import __version__
from gateway.console.alerts import collect
from gateway.exchange.workers import channel_health

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="liveness and readiness")
def healthz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    ctx = getattr(request.app.state, "gateway", None)
    if ctx is None:
        checks["database"] = "not open"
    else:
        try:
            with ctx.db.session() as s:
                s.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised: this is the health probe
            checks["database"] = f"error: {type(exc).__name__}"
        checks["seal"] = "loaded" if ctx.seal is not None else "not loaded"
        checks["workers"] = "running" if ctx.workers is not None else "off"
        alerts = collect(ctx.cfg, ctx.db, ctx.seal, workers=ctx.workers)
        checks["alerts"] = ", ".join(sorted({a.kind for a in alerts})) if alerts else "none"
        checks["sev"] = channel_health(ctx.cfg, ctx.workers, "sev")
        checks["trembita"] = channel_health(ctx.cfg, ctx.workers, "trembita")
    services = getattr(request.app.state, "dev_pki", None)
    if services is not None:
        checks["dev_pki"] = "served" if services.running_here else "shared"
    ok = checks.get("database") == "ok"
    # alerts (expiring certificates, no trust anchor, failed deliveries, a channel down) degrade the
    # status but keep 200: the gateway still serves, an operator must act
    healthy = ok and checks.get("alerts", "none") == "none"
    body = {"status": "ok" if healthy else "degraded", "version": __version__, "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)
