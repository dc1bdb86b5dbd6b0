"""Bearer API keys: every endpoint but /healthz needs `Authorization: Bearer <key>`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.api.errors import ApiError
from gateway.store.apikeys import authenticate

_bearer = HTTPBearer(auto_error=False, description="an API key made with `gateway apikey create`")


@dataclass(frozen=True)
class Caller:
    key_id: int
    name: str


def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(401, "unauthorized", "missing bearer API key (Authorization: Bearer <key>)", challenge)
    ctx = request.app.state.gateway
    with ctx.db.session() as s:
        row = authenticate(s, credentials.credentials)
        if row is None:
            raise ApiError(401, "unauthorized", "invalid or revoked API key", challenge)
        return Caller(row.id, row.name)


#: the parameter type of an endpoint that needs a valid key
ApiCaller = Annotated[Caller, Depends(require_api_key)]
