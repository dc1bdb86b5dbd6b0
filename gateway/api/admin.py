"""/api/v1/admin/…: the security officer's operations for API keys with the `officer` role
(keys registry, trust anchors, partners, console users, API keys), and read access to them and to
the audit log for `auditor` keys. Every change is written to the audit log."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.auth import AuditReader, Caller, OfficerCaller
from gateway.api.errors import ApiError
from gateway.errors import GatewayError
from gateway.exchange import edrpou
from gateway.pki import trustops
from gateway.pki.trust import list_anchors
from gateway.signing.certificates import name_text
from gateway.signing.pkcs11 import list_tokens
from gateway.store import apikeys, keyregistry, partners, users
from gateway.store.audit import append as audit
from gateway.store.audit import entries, verify
from gateway.store.models import SealKey

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
MAX_UPLOAD = 1024 * 1024


def key_view(row: SealKey) -> dict[str, Any]:
    return {"id": row.id, "label": row.label, "kind": row.kind, "active": row.active,
            "not_after": row.not_after.isoformat() if row.not_after else None,
            "certificate": row.cert_pem, "has_csr": bool(row.csr_pem)}


def _read(upload: UploadFile) -> bytes:
    data = upload.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise ApiError(413, "payload_too_large", "at most 1 MiB")
    return data


def _change(request: Request, caller: Caller, action: str, obj: str, details: dict[str, Any]) -> None:
    with request.app.state.gateway.db.session() as s:
        audit(s, caller.actor, action, obj, details)


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=200)
    algorithm: str = "rsa-3072"


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    role: str
    password: str = Field(min_length=12, max_length=1000)


class NewApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    role: str = "edms"
    all_letters: bool = False


class NewPartner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    edrpou: str = Field(min_length=8, max_length=10)
    name: str = Field(min_length=1, max_length=500)
    channel: str = "sev"
    sev_system_id: str | None = Field(default=None, max_length=100)
    xroad_client: str | None = Field(default=None, max_length=300)
    xroad_service: str | None = Field(default=None, max_length=300)


# --- keys ---------------------------------------------------------------------------------------

@router.get("/keys", summary="The keys registry")
def get_keys(request: Request, _caller: AuditReader) -> dict[str, Any]:
    with request.app.state.gateway.db.session() as s:
        return {"items": [key_view(r) for r in keyregistry.list_keys(s)]}


@router.post("/keys/import", summary="Import a key container (PKCS#12, Key-6.dat, .jks)")
def import_key(request: Request, caller: OfficerCaller, label: Annotated[str, Form(max_length=200)],
               file: Annotated[UploadFile, File()],
               password: Annotated[str | None, Form(max_length=1000)] = None) -> dict[str, Any]:
    ctx = request.app.state.gateway
    data = _read(file)
    try:
        with ctx.db.session() as s:
            row = keyregistry.import_container(s, ctx.cfg, label, data, file.filename or "key.p12",
                                               password.encode() if password else None)
            audit(s, caller.actor, "key.import", f"key:{row.id}", {"label": row.label})
            return key_view(row)
    except GatewayError as exc:
        raise ApiError(422, "invalid_key", str(exc)) from None


@router.post("/keys/generate", summary="Generate a key and its CSR (organization's EDRPOU subject)")
def generate_key(request: Request, caller: OfficerCaller, body: NewKey) -> dict[str, Any]:
    ctx = request.app.state.gateway
    try:
        with ctx.db.session() as s:
            row = keyregistry.generate(s, ctx.cfg, body.label, body.algorithm)
            audit(s, caller.actor, "key.generate", f"key:{row.id}", {"label": row.label,
                                                                      "algorithm": body.algorithm})
            return {**key_view(row), "csr": row.csr_pem}
    except GatewayError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


@router.get("/keys/{key_id}/csr", summary="The CSR of a generated key", response_class=PlainTextResponse)
def get_csr(key_id: int, request: Request, _caller: AuditReader) -> PlainTextResponse:
    with request.app.state.gateway.db.session() as s:
        row = s.get(SealKey, key_id)
        if row is None or not row.csr_pem:
            raise ApiError(404, "not_found", f"no generated key {key_id}")
        return PlainTextResponse(row.csr_pem, media_type="application/pkcs10")


@router.post("/keys/{key_id}/certificate", summary="Attach the certificate issued for a generated key")
def attach_certificate(key_id: int, request: Request, caller: OfficerCaller,
                       file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    ctx = request.app.state.gateway
    data = _read(file)
    try:
        with ctx.db.session() as s:
            row = keyregistry.attach(s, ctx.cfg, key_id, data)
            audit(s, caller.actor, "key.attach", f"key:{row.id}", {"label": row.label})
            return key_view(row)
    except GatewayError as exc:
        raise ApiError(422, "invalid_certificate", str(exc)) from None


@router.post("/keys/{key_id}/activate", summary="Make a key the seal (used from the next signature)")
def activate_key(key_id: int, request: Request, caller: OfficerCaller) -> dict[str, Any]:
    ctx = request.app.state.gateway
    try:
        with ctx.db.session() as s:
            row = keyregistry.get(s, key_id)
            keyregistry.load(ctx.cfg, row).close()
            keyregistry.activate(s, key_id)
            audit(s, caller.actor, "key.activate", f"key:{row.id}", {"label": row.label})
            return key_view(row)
    except GatewayError as exc:
        raise ApiError(409, "conflict", str(exc)) from None


@router.get("/keys/tokens", summary="PKCS#11 tokens present ([keys] pkcs11_module)")
def get_tokens(request: Request, _caller: OfficerCaller) -> dict[str, Any]:
    try:
        tokens = list_tokens(request.app.state.gateway.cfg.keys.pkcs11_module)
        return {"items": [{"slot": t.slot_id, "label": t.label.strip(), "model": t.model.strip(),
                           "manufacturer": t.manufacturer.strip(), "serial": t.serial.strip(),
                           "dstu": t.dstu, "mechanisms": t.mechanisms} for t in tokens]}
    except GatewayError as exc:
        raise ApiError(503, "unavailable", str(exc)) from None


# --- trust --------------------------------------------------------------------------------------

@router.get("/trust", summary="Trust anchors")
def get_trust(request: Request, _caller: AuditReader) -> dict[str, Any]:
    return {"items": [{"fingerprint": a.fingerprint, "subject": name_text(a.certificate.subject),
                       "not_after": a.certificate.not_valid_after.isoformat()}
                      for a in list_anchors(request.app.state.gateway.cfg)]}


@router.post("/trust",
             summary="Add trust anchors (end-entity, expired, revoked, withdrawn: refused unless force)")
def add_trust(request: Request, caller: OfficerCaller, file: Annotated[UploadFile, File()],
              force: Annotated[bool, Form()] = False) -> dict[str, Any]:
    ctx = request.app.state.gateway
    try:
        added = trustops.add(ctx.cfg, _read(file), force=force)
    except GatewayError as exc:
        raise ApiError(422, "refused", str(exc)) from None
    _change(request, caller, "trust.add", "trust", {"added": [a.fingerprint for a in added], "force": force})
    return {"added": [a.fingerprint for a in added]}


@router.delete("/trust/{fingerprint}", summary="Remove trust anchors by fingerprint (never the last)")
def remove_trust(fingerprint: str, request: Request, caller: OfficerCaller) -> dict[str, Any]:
    try:
        removed = trustops.remove(request.app.state.gateway.cfg, fingerprint)
    except GatewayError as exc:
        raise ApiError(409, "refused", str(exc)) from None
    _change(request, caller, "trust.remove", "trust", {"removed": [a.fingerprint for a in removed]})
    return {"removed": [a.fingerprint for a in removed]}


# --- partners -----------------------------------------------------------------------------------

@router.get("/partners", summary="The partners directory")
def get_partners(request: Request, _caller: AuditReader) -> dict[str, Any]:
    with request.app.state.gateway.db.session() as s:
        return {"items": [{"edrpou": p.edrpou, "name": p.name, "channel": p.channel,
                           "sev_system_id": p.sev_system_id, "xroad_client": p.xroad_client,
                           "xroad_service": p.xroad_service} for p in partners.list_partners(s)]}


@router.post("/partners", summary="Add or update a partner (EDRPOU with its check digit)")
def put_partner(request: Request, caller: OfficerCaller, body: NewPartner) -> dict[str, Any]:
    try:
        edrpou.validate(body.edrpou)
        with request.app.state.gateway.db.session() as s:
            partners.upsert_partner(s, **body.model_dump())
            audit(s, caller.actor, "partner.save", f"partner:{body.edrpou}", body.model_dump())
    except (ValueError, GatewayError) as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    return body.model_dump()


@router.delete("/partners/{code}", summary="Remove a partner")
def delete_partner(code: str, request: Request, caller: OfficerCaller) -> dict[str, Any]:
    with request.app.state.gateway.db.session() as s:
        if not partners.remove_partner(s, code):
            raise ApiError(404, "not_found", f"no partner {code}")
        audit(s, caller.actor, "partner.remove", f"partner:{code}", {})
    return {"removed": code}


# --- users, API keys, audit ---------------------------------------------------------------------

@router.get("/users", summary="Console users")
def get_users(request: Request, _caller: AuditReader) -> dict[str, Any]:
    with request.app.state.gateway.db.session() as s:
        return {"items": [{"name": u.name, "role": u.role, "disabled": u.disabled_at is not None}
                          for u in users.list_users(s)]}


@router.post("/users", summary="Add a console user")
def post_user(request: Request, caller: OfficerCaller, body: NewUser) -> dict[str, Any]:
    try:
        with request.app.state.gateway.db.session() as s:
            user = users.create_user(s, body.name, body.role, body.password)
            audit(s, caller.actor, "user.create", f"user:{user.name}", {"role": user.role})
    except users.UserError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    return {"name": body.name, "role": body.role, "disabled": False}


@router.post("/users/{name}/disable", summary="Disable a console user")
def disable_user(name: str, request: Request, caller: OfficerCaller) -> dict[str, Any]:
    try:
        with request.app.state.gateway.db.session() as s:
            users.disable_user(s, name)
            audit(s, caller.actor, "user.disable", f"user:{name}", {})
    except users.UserError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return {"name": name, "disabled": True}


@router.get("/apikeys", summary="API keys (never the keys themselves)")
def get_apikeys(request: Request, _caller: AuditReader) -> dict[str, Any]:
    with request.app.state.gateway.db.session() as s:
        return {"items": [{"id": k.id, "name": k.name, "role": k.role, "prefix": k.prefix,
                           "revoked": k.revoked_at is not None} for k in apikeys.list_keys(s)]}


@router.post("/apikeys", summary="Make an API key; the answer is the only time it is shown")
def post_apikey(request: Request, caller: OfficerCaller, body: NewApiKey) -> dict[str, Any]:
    try:
        with request.app.state.gateway.db.session() as s:
            row, key = apikeys.create_key(s, body.name, body.role, all_letters=body.all_letters)
            audit(s, caller.actor, "apikey.create", f"apikey:{row.id}", body.model_dump())
            return {"id": row.id, "name": row.name, "role": row.role, "key": key}
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


@router.delete("/apikeys/{key_id}", summary="Revoke an API key")
def delete_apikey(key_id: int, request: Request, caller: OfficerCaller) -> dict[str, Any]:
    with request.app.state.gateway.db.session() as s:
        row = apikeys.revoke_key(s, str(key_id))
        if row is None:
            raise ApiError(404, "not_found", f"no active API key {key_id}")
        audit(s, caller.actor, "apikey.revoke", f"apikey:{row.id}", {"name": row.name})
    return {"id": key_id, "revoked": True}


@router.get("/audit", summary="The audit log, newest first")
def get_audit(request: Request, _caller: AuditReader, action: str | None = None,
              limit: int = 100) -> dict[str, Any]:
    with request.app.state.gateway.db.session() as s:
        rows = entries(s, action=action, limit=max(1, min(limit, 1000)), newest_first=True)
        return {"items": [{"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action,
                           "object": r.object, "details": json.loads(r.details), "hash": r.hash}
                          for r in rows]}


@router.get("/audit/verify", summary="Check the audit log's hash chain")
def get_audit_verify(request: Request, _caller: AuditReader) -> dict[str, Any]:
    with request.app.state.gateway.db.session() as s:
        result = verify(s)
    return {"ok": result.ok, "entries": result.entries, "head": result.head,
            "problems": [p.message for p in result.problems]}
