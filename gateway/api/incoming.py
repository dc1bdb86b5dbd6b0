"""GET /api/v1/incoming…, registration and rejection of received documents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from gateway.api.auth import Decider, LetterReader
from gateway.api.errors import ApiError
from gateway.api.schemas import (
    FileNumber,
    Limit,
    Offset,
    Registration,
    Rejection,
    ResourceId,
    StatusFilter,
)
from gateway.api.uploads import safe_filename
from gateway.exchange.inbox import IncomingStateError, incoming_view, register, reject
from gateway.exchange.incoming_report import combined_report
from gateway.signing.readable import render_pdf
from gateway.store.audit import append as audit
from gateway.store.models import Incoming

router = APIRouter(prefix="/api/v1/incoming", tags=["incoming"])


def _get(s: Any, incoming_id: str) -> Incoming:
    row = s.get(Incoming, incoming_id)
    if row is None:
        raise ApiError(404, "not_found", f"no incoming document {incoming_id}")
    return row


def _view(s: Any, row: Incoming) -> dict[str, Any]:
    return incoming_view(s, row, files_url=f"/api/v1/incoming/{row.id}/files")


@router.get("", summary="Received documents, newest first")
def list_incoming(
    request: Request,
    _caller: LetterReader,
    status: StatusFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    ctx = request.app.state.gateway
    with ctx.db.session() as s:
        q = (
            select(Incoming)
            .options(selectinload(Incoming.files))  # one query for all rows' files, not one per row
            .order_by(Incoming.received_at.desc(), Incoming.id)
            .limit(limit)
            .offset(offset)
        )
        if status:
            q = q.where(Incoming.status == status)
        items = [
            {
                "id": r.id,
                "msg_id": r.msg_id,
                "status": r.status,
                "from_edrpou": r.from_edrpou,
                "from_name": r.from_name,
                "received_at": r.received_at.isoformat(),
                "indication": r.indication,
                "reg_number": (r.meta.get("document") or {}).get("reg_number"),
                "title": (r.meta.get("document") or {}).get("title"),
                "files": len(r.files),
            }
            for r in s.scalars(q)
        ]
    return {"items": items}


@router.get("/{incoming_id}", summary="A received document with the validation reports of its files")
def get_incoming(incoming_id: ResourceId, request: Request, _caller: LetterReader) -> dict[str, Any]:
    with request.app.state.gateway.db.session() as s:
        return _view(s, _get(s, incoming_id))


@router.get(
    "/{incoming_id}/report.pdf",
    summary="The readable validation report of a received document (PDF, for the paper archive)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def get_incoming_report_pdf(
    incoming_id: ResourceId, request: Request, _caller: LetterReader,
    lang: Annotated[str, Query(pattern="^(uk|en)$", description="uk (default) or en")] = "uk",
) -> Response:
    with request.app.state.gateway.db.session() as s:
        report = combined_report(_get(s, incoming_id))
    return Response(render_pdf(report, lang), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{incoming_id}-report.pdf"'})


@router.get(
    "/{incoming_id}/files/{n}",
    summary="The n-th file (from 1) of a received document",
    response_class=FileResponse,
)
def get_incoming_file(
    incoming_id: ResourceId, n: FileNumber, request: Request, _caller: LetterReader
) -> FileResponse:
    ctx = request.app.state.gateway
    with ctx.db.session() as s:
        row = _get(s, incoming_id)
        match = [f for f in row.files if f.n == n]
        if not match:
            raise ApiError(404, "not_found", f"document {incoming_id} has no file {n}")
        f = match[0]
    return FileResponse(ctx.blobs.path(f.sha256), filename=safe_filename(f.name, n),  # a sender's name
                        media_type="application/octet-stream")


@router.get("/{incoming_id}/files/{n}/signature", summary="The detached signature (.p7s) of the n-th file")
def get_incoming_signature(
    incoming_id: ResourceId, n: FileNumber, request: Request, _caller: LetterReader
) -> FileResponse:
    ctx = request.app.state.gateway
    with ctx.db.session() as s:
        row = _get(s, incoming_id)
        match = [f for f in row.files if f.n == n and f.signature_sha256]
        if not match:
            raise ApiError(404, "not_found", f"document {incoming_id} has no signature for file {n}")
        f = match[0]
    return FileResponse(
        ctx.blobs.path(f.signature_sha256), filename=f"{safe_filename(f.name, n)}.p7s",
        media_type="application/pkcs7-signature",
    )


@router.post("/{incoming_id}/registration", summary="Register it; sends the 'registered' acknowledgement")
def post_registration(
    incoming_id: ResourceId, body: Registration, request: Request, caller: Decider
) -> dict[str, Any]:
    ctx = request.app.state.gateway
    with ctx.db.session() as s:
        row = _get(s, incoming_id)
        try:
            register(s, row, body.reg_number, body.reg_date)
        except IncomingStateError as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        audit(s, caller.actor, "incoming.register", f"incoming:{incoming_id}",
              {"reg_number": body.reg_number, "reg_date": str(body.reg_date), "from_edrpou": row.from_edrpou})
        s.flush()
        view = _view(s, row)
    ctx.wake_workers()
    return view


@router.post("/{incoming_id}/rejection", summary="Refuse it; sends the 'rejected' acknowledgement")
def post_rejection(
    incoming_id: ResourceId, body: Rejection, request: Request, caller: Decider
) -> dict[str, Any]:
    ctx = request.app.state.gateway
    with ctx.db.session() as s:
        row = _get(s, incoming_id)
        try:
            reject(s, row, body.reason)
        except IncomingStateError as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        audit(s, caller.actor, "incoming.reject", f"incoming:{incoming_id}",
              {"reason": body.reason, "from_edrpou": row.from_edrpou})
        s.flush()
        view = _view(s, row)
    ctx.wake_workers()
    return view
