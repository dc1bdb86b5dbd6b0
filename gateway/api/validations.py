"""POST /api/v1/validations: the validation report of an uploaded signed file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile

from gateway.api.auth import ApiCaller
from gateway.api.errors import ApiError
from gateway.api.uploads import save_upload, save_uploads

router = APIRouter(prefix="/api/v1/validations", tags=["signatures"])


@router.post("", summary="Validate a signed file (CAdES, PAdES, XAdES, ASiC)")
def post_validation(
    request: Request,
    _caller: ApiCaller,
    file: Annotated[UploadFile, File(description="the signed file")],
    detached: Annotated[
        list[UploadFile] | None, File(description="signed contents of a detached signature")
    ] = None,
) -> dict[str, Any]:
    from gateway.signing.validation.detached import InputTooLarge
    from gateway.signing.validation.engine import validate

    ctx = request.app.state.gateway
    with tempfile.TemporaryDirectory(prefix="gateway-validation-") as tmp:
        folder = Path(tmp)
        signed = save_upload(file, folder, 0)
        saved = save_uploads(detached or [], folder)
        contents = {p.name: p for p in saved}
        policy = ctx.policy(contents)
        policy.source_name = signed.name
        try:
            return validate(signed, policy).to_dict()
        except InputTooLarge as exc:
            raise ApiError(413, "payload_too_large", str(exc)) from None
