"""POST /api/v1/signatures: sign uploaded files with the organization's seal."""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from gateway.api.auth import Caller, EdmsCaller
from gateway.api.errors import ApiError
from gateway.api.uploads import content_disposition, save_uploads
from gateway.errors import GatewayError
from gateway.store.audit import append as audit

router = APIRouter(prefix="/api/v1/signatures", tags=["signatures"])
MEDIA_TYPES = {
    ".p7s": "application/pkcs7-signature",
    ".p7m": "application/pkcs7-mime",
    ".pdf": "application/pdf",
    ".xml": "application/xml",
    ".asice": "application/vnd.etsi.asic-e+zip",
    ".asics": "application/vnd.etsi.asic-s+zip",
}


@router.post(
    "",
    summary="Sign files with the organization's seal; returns the signed file",
    response_class=Response,
    responses={
        200: {
            "content": {media: {} for media in (*MEDIA_TYPES.values(), "application/zip",
                                                  "application/octet-stream")},
            "description": "the signed file (a ZIP when several files give several outputs)",
        }
    },
)
def post_signature(
    request: Request,
    caller: EdmsCaller,
    file: Annotated[list[UploadFile], File(description="the file(s) to sign")],
    format: Annotated[
        str,
        Form(
            description="cades, cades-attached, xades, xades-enveloped, pades, "
            "asice-cades, asice-xades, asics-cades"
        ),
    ] = "cades",
    level: Annotated[str | None, Form(description="B-B, B-T, B-LT or B-LTA (default: [signing])")] = None,
) -> Response:
    from gateway.signing.formats import SignRequest, sign_files

    ctx = request.app.state.gateway
    if ctx.seal is None:
        raise ApiError(503, "unavailable", "no seal is configured ([signing] key)")
    req = SignRequest(
        level=(level or ctx.seal.level).upper(),
        tsa_url=ctx.seal.tsa_url or None,
        trust_roots=ctx.anchors.roots(),
    )
    with tempfile.TemporaryDirectory(prefix="gateway-sign-") as tmp:
        folder = Path(tmp)
        inputs = save_uploads(file, folder / "in")
        out = folder / "out"
        out.mkdir()
        try:
            seal = ctx.seal.current()  # one look at the keys registry for the whole request
            written = sign_files(format, seal.key, inputs, req, output=out)
        except GatewayError as exc:
            raise ApiError(422, "signing_failed", str(exc)) from None
        record_seal_use(ctx, caller, inputs, format, req.level, seal)
        if len(written) == 1:
            path = written[0]
            return Response(
                path.read_bytes(),
                media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                headers={"Content-Disposition": content_disposition(path.name)},
            )
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in written:
                zf.write(path, path.name)
        return Response(
            buf.getvalue(),
            media_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="signed.zip"'},
        )



def record_seal_use(ctx: Any, caller: Caller, inputs: list[Path], fmt: str, level: str, seal: Any) -> None:
    """One audit entry per use of the seal: who, when, which documents (SHA-256), which format, and
    the certificate of `seal`, the seal that signed them."""
    documents = [{"name": p.name, "sha256": _sha256(p)} for p in inputs]
    certificate = hashlib.sha256(seal.certificate_der).hexdigest()
    with ctx.db.session() as s:
        audit(s, caller.actor, "seal.use", "api:/api/v1/signatures",
              {"format": fmt, "level": level, "documents": documents, "certificate_sha256": certificate})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
