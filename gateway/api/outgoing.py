"""POST/GET /api/v1/outgoing: queue letters (idempotent by Idempotency-Key) and follow them."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.api.auth import Caller, EdmsCaller, LetterReader, OperatorCaller
from gateway.api.errors import ApiError, _describe
from gateway.api.schemas import Limit, Line, Offset, OutgoingMetadata, ResourceId, StatusFilter
from gateway.api.uploads import safe_filename, safe_media_type
from gateway.config import Config
from gateway.exchange.channels import configured_channels
from gateway.exchange.edrpou import EdrpouError
from gateway.exchange.edrpou import validate as validate_edrpou
from gateway.exchange.outbox import IdempotencyConflict, NewFile, letter_view, queue_letter, requeue
from gateway.store.audit import append as audit
from gateway.store.models import Incoming, Outgoing, Partner

router = APIRouter(prefix="/api/v1/outgoing", tags=["outgoing"])
MAX_FILES = 100


def _metadata(text: str, cfg: Config) -> OutgoingMetadata:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(422, "invalid_metadata", f"metadata is not JSON: {exc.msg}") from None
    except RecursionError:  # e.g. arrays nested 100000 deep
        raise ApiError(422, "invalid_metadata", "metadata is nested too deep") from None
    except ValueError as exc:  # e.g. a 5000-digit integer (Python's int conversion limit)
        raise ApiError(422, "invalid_metadata", f"metadata is not JSON a letter can have: {exc}") from None
    try:
        meta = OutgoingMetadata.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(422, "invalid_metadata", "metadata: " + _describe(exc.errors())) from None
    except RecursionError:
        raise ApiError(422, "invalid_metadata", "metadata: nesting too deep") from None
    try:
        validate_edrpou(meta.to_edrpou, check_digit=cfg.organization.edrpou_check_digit)
    except EdrpouError as exc:
        raise ApiError(422, "invalid_metadata", f"metadata: to_edrpou: {exc} "
                       "([organization] edrpou_check_digit = false accepts test codes)") from None
    return meta


def _check_channel(cfg: Config, channel: str) -> None:
    """Refuse at the door a letter for a channel this gateway does not run (it could never leave)."""
    if channel not in configured_channels(cfg):
        raise ApiError(422, "channel_disabled",
                       f"channel {channel!r} is not enabled on this gateway ([{channel}] enabled = false)")


@router.post(
    "",
    status_code=202,
    summary="Queue a letter for sending",
    responses={202: {"description": "queued (or the earlier letter of this Idempotency-Key)"}},
)
def post_outgoing(
    request: Request,
    caller: EdmsCaller,
    metadata: Annotated[str, Form(description="JSON: to_edrpou, reg_number, reg_date, title, ...")],
    file: Annotated[list[UploadFile], File(description="the letter's files (repeat the field)")],
    idempotency_key: Annotated[Line | None, Header(max_length=200)] = None,
) -> JSONResponse:
    ctx = request.app.state.gateway
    meta = _metadata(metadata, ctx.cfg)
    if meta.channel:
        _check_channel(ctx.cfg, meta.channel)
    if not file:
        raise ApiError(422, "invalid_request", "at least one file is required")
    if len(file) > MAX_FILES:
        raise ApiError(422, "invalid_request", f"at most {MAX_FILES} files per letter")
    stored = []
    for n, upload in enumerate(file, start=1):
        name = safe_filename(upload.filename, n)
        sha, size = ctx.blobs.put_file(upload.file)
        if size == 0:
            raise ApiError(422, "invalid_request", f"file {n} ({name}) is empty")
        stored.append(NewFile(name, safe_media_type(upload.content_type), sha, size))
    meta_dict = meta.model_dump(mode="json", exclude_none=True)
    for attempt in (1, 2):  # a concurrent request with the same key may win the insert
        try:
            with ctx.db.session() as s:
                partner = s.scalar(select(Partner).where(Partner.edrpou == meta.to_edrpou))
                to_name = meta.to_name or (partner.name if partner else None)
                if not to_name:
                    raise ApiError(
                        422,
                        "invalid_metadata",
                        "to_name is required for a recipient not in the partners directory",
                    )
                meta_dict["to_name"] = to_name
                if meta.reply_to and s.get(Incoming, meta.reply_to) is None:
                    raise ApiError(422, "invalid_metadata", f"reply_to: no incoming document {meta.reply_to}")
                channel = meta.channel or (partner.channel if partner else "sev")
                _check_channel(ctx.cfg, channel)
                row, created = queue_letter(
                    s,
                    meta=meta_dict,
                    files=stored,
                    channel=channel,
                    to_name=to_name,
                    api_key_id=caller.key_id,
                    idempotency_key=idempotency_key,
                )
                body = {"id": row.id, "status": row.status, "msg_id": row.msg_id}
            break
        except IdempotencyConflict:
            raise ApiError(
                409, "idempotency_conflict", "this Idempotency-Key was already used for a different request"
            ) from None
        except IntegrityError:
            if attempt == 2 or not idempotency_key:
                raise
    if created:
        ctx.wake_workers()
    headers = {"Location": f"/api/v1/outgoing/{body['id']}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=202, headers=headers)


@router.get("", summary="List outgoing letters")
def list_outgoing(
    request: Request,
    caller: LetterReader,
    status: StatusFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    ctx = request.app.state.gateway
    with ctx.db.session() as s:
        q = select(Outgoing).order_by(Outgoing.created_at.desc(), Outgoing.id).limit(limit).offset(offset)
        if status:
            q = q.where(Outgoing.status == status)
        if not caller.sees_all_letters:
            q = q.where(Outgoing.api_key_id == caller.key_id)
        items = [
            {
                "id": r.id,
                "status": r.status,
                "to_edrpou": r.to_edrpou,
                "reg_number": r.meta.get("reg_number"),
                "created_at": r.created_at.isoformat(),
                "updated_at": r.updated_at.isoformat(),
            }
            for r in s.scalars(q)
        ]
    return {"items": items}


@router.get("/{letter_id}", summary="Status, history and acknowledgements of a letter")
def get_outgoing(letter_id: ResourceId, request: Request, caller: LetterReader) -> dict[str, Any]:
    ctx = request.app.state.gateway
    with ctx.db.session() as s:
        return letter_view(s, _visible(s, letter_id, caller))


def _visible(s: Any, letter_id: str, caller: Caller) -> Outgoing:
    """The letter, if it exists and the caller may see it (an edms key: only its own letters)."""
    row = s.get(Outgoing, letter_id)
    if row is None or not (caller.sees_all_letters or row.api_key_id == caller.key_id):
        raise ApiError(404, "not_found", f"no outgoing letter {letter_id}")
    return row


@router.post("/{letter_id}/requeue", summary="Give a failed letter a fresh retry budget")
def requeue_outgoing(letter_id: ResourceId, request: Request, caller: OperatorCaller) -> dict[str, Any]:
    ctx = request.app.state.gateway
    with ctx.db.session() as s:
        row = _visible(s, letter_id, caller)
        if requeue(s, letter_id, f"re-queued by {caller.actor}") is None:
            raise ApiError(409, "conflict", f"only a failed letter can be re-queued (it is {row.status})")
        audit(s, caller.actor, "letter.requeue", f"outgoing:{letter_id}", {"to_edrpou": row.to_edrpou})
        view = letter_view(s, row)
    ctx.wake_workers()
    return view
