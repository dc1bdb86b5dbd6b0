"""Bearer API keys and their roles: every endpoint but /healthz needs `Authorization: Bearer <key>`,
and each route declares which roles may call it (`RoleCheck`).

Roles (INTERFACE.md, issue 11): `edms` submits letters, seals and validates, and sees only the
letters it submitted unless the key was given `all_letters`; `operator` re-queues and decides on
messages; `officer` runs /api/v1/admin (keys, trust, partners, users, API keys); `auditor` reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from gateway.api.errors import ApiError
from gateway.store.apikeys import ROLES, authenticate
from gateway.store.db import Database

_bearer = HTTPBearer(auto_error=False, description="an API key made with `gateway apikey create`")


@dataclass(frozen=True)
class Caller:
    key_id: int
    name: str
    role: str = "edms"
    all_letters: bool = False

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"apikey:{self.key_id}:{self.name}"

    @property
    def sees_all_letters(self) -> bool:
        return self.role != "edms" or self.all_letters


#: request-state entry where the gatekeeper leaves (key, Caller) for the key it admitted
CALLER_STATE = "gateway_api_caller"


def lookup_caller(db: Database, key: str) -> Caller | None:
    """The caller an API key stands for, or None for an unknown or revoked key (one query)."""
    with db.session() as s:
        row = authenticate(s, key)
        return None if row is None else Caller(row.id, row.name, row.role, row.all_letters)


async def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    """The request's caller. A key the gatekeeper admitted in this same request is not looked up
    again; otherwise the database decides (in a worker thread: the query blocks)."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(401, "unauthorized", "missing bearer API key (Authorization: Bearer <key>)", challenge)
    key = credentials.credentials
    admitted = request.scope.get("state", {}).get(CALLER_STATE)
    if admitted is not None and admitted[0] == key:
        return admitted[1]
    caller = await run_in_threadpool(lookup_caller, request.app.state.gateway.db, key)
    if caller is None:
        raise ApiError(401, "unauthorized", "invalid or revoked API key", challenge)
    return caller


class RoleCheck:
    """A dependency that admits valid keys of the given roles (403 for other roles).
    `roles` is public: tests/test_roles.py reads every route's decision from it."""

    def __init__(self, *roles: str) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise ValueError(f"unknown roles {sorted(unknown)}")
        self.roles = frozenset(roles)

    async def __call__(self, caller: Annotated[Caller, Depends(require_api_key)]) -> Caller:
        if caller.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            raise ApiError(403, "forbidden", f"an API key with the role {caller.role!r} may not do this "
                                             f"(needs {allowed})")
        return caller


#: any valid key, whatever its role (validation, metrics, the API description)
ApiCaller = Annotated[Caller, Depends(RoleCheck(*ROLES))]
#: submits letters and seals documents: the records system
EdmsCaller = Annotated[Caller, Depends(RoleCheck("edms"))]
#: reads letters and received documents
LetterReader = Annotated[Caller, Depends(RoleCheck("edms", "operator", "auditor"))]
#: registers or refuses received documents
Decider = Annotated[Caller, Depends(RoleCheck("edms", "operator"))]
#: reads the exchange's own state (messages the hub keeps offering)
OpsReader = Annotated[Caller, Depends(RoleCheck("operator", "auditor", "officer"))]
#: re-queues failed letters and retries set-aside messages
OperatorCaller = Annotated[Caller, Depends(RoleCheck("operator"))]
#: keys, trust, partners, users, API keys
OfficerCaller = Annotated[Caller, Depends(RoleCheck("officer"))]
#: reads the audit log and the officer's registries
AuditReader = Annotated[Caller, Depends(RoleCheck("officer", "auditor"))]
