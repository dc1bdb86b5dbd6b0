"""POST /api/v1/validations: the validation report of an uploaded signed file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile

from gateway.api.auth import ApiCaller
from gateway.api.errors import ApiError
from gateway.api.uploads import save_upload, save_uploads
from gateway.signing.detailed import detailed_dict
from gateway.signing.validation.detached import InputTooLarge
from gateway.signing.validation.engine import validate

router = APIRouter(prefix="/api/v1/validations", tags=["signatures"])


@router.post("", summary="Validate a signed file (CAdES, PAdES, XAdES, ASiC)")
def post_validation(
    request: Request,
    _caller: ApiCaller,
    file: Annotated[UploadFile, File(description="the signed file")],
    detached: Annotated[
        list[UploadFile] | None, File(description="signed contents of a detached signature")
    ] = None,
    detail: Annotated[bool, Query(description="add every EN 319 102-1 building-block check (`checks`) "
                                              "and the one that decided (`decided_by`)")] = False,
) -> dict[str, Any]:
    ctx = request.app.state.gateway
    with tempfile.TemporaryDirectory(prefix="gateway-validation-") as tmp:
        folder = Path(tmp)
        signed = save_upload(file, folder, 0)
        saved = save_uploads(detached or [], folder)
        contents = {p.name: p for p in saved}
        policy = ctx.policy(contents)
        policy.source_name = signed.name
        try:
            report = validate(signed, policy)
        except InputTooLarge as exc:
            raise ApiError(413, "payload_too_large", str(exc)) from None
        return detailed_dict(report) if detail else report.to_dict()
