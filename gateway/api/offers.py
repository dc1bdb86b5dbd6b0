"""GET /api/v1/exchange/offers: messages a channel keeps offering that could not be taken
(failing, or set aside after [sev] max_offer_attempts tries); POST …/retry gives one a new chance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gateway.api.auth import OperatorCaller, OpsReader
from gateway.api.errors import ApiError
from gateway.exchange.offers import offers_view

router = APIRouter(prefix="/api/v1/exchange", tags=["exchange"])


@router.get("/offers", summary="Messages the hub keeps offering that could not be taken")
def list_offers(request: Request, _caller: OpsReader) -> dict[str, Any]:
    return {"items": offers_view(request.app.state.gateway.db)}


@router.post("/offers/{channel}/{message_id}/retry", summary="Try a set-aside message again")
def retry_offer(request: Request, _caller: OperatorCaller, channel: str, message_id: str) -> dict[str, Any]:
    workers = request.app.state.gateway.workers
    if workers is None or not workers.offers.retry(channel, message_id):
        raise ApiError(404, "not_found", f"no failing message {message_id} on {channel}")
    return {"channel": channel, "message_id": message_id, "status": "pending"}
