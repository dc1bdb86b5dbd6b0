"""The API description for the EDMS: /openapi.json (behind the API key) and /docs.

/docs works on a network without internet: the page and its Swagger UI 5 assets (from the
`swagger-ui-bundle-v2` package) are served by the gateway under /docs/assets, never from a CDN. The
page itself holds no part of the API description: the person enters an API key, the page fetches
/openapi.json with it and sends it with every "Try it out" request.

The `metadata` part of POST /api/v1/outgoing is a JSON document; the description gives its
schema field by field (`contentSchema` with `contentMediaType: application/json`, OpenAPI 3.1).

FastAPI describes only the answers a route declares, and its 422 in a shape this API never sends;
`declare_errors` adds the error answers every authenticated operation can give (missing key, body
too large or too slow, bad input, unknown id, conflict, no database or seal), all in the one
error shape of gateway.api.errors, so that clients (and schemathesis) can rely on the document.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from gateway.api.auth import ApiCaller
from gateway.api.schemas import OutgoingMetadata

ASSETS = Path(__file__).with_name("docs_assets")

#: what each metadata field means (INTERFACE.md "Outgoing metadata")
METADATA_FIELDS = {
    "to_edrpou": "EDRPOU of the recipient body: 8 ASCII digits with a valid check digit",
    "to_name": "the recipient's name; taken from the partners directory when omitted",
    "reg_number": "the letter's registration number in the EDMS, e.g. 01-15/77",
    "reg_date": "the registration date (YYYY-MM-DD)",
    "kind": "document kind, e.g. лист, розпорядження",
    "title": "the letter's subject (короткий зміст)",
    "annotation": "an annotation shown to the recipient",
    "purpose_type": "1207 purpose: 0 none, 1 for information, 2 for execution, 3 for reply, "
                    "4 for approval, 5 for signature, 6 for consideration",
    "urgent": "true for an urgent letter",
    "confidential": "true for a letter with restricted access",
    "author": "the official who signed the letter: name and post",
    "writer": "the person who prepared the letter: name and post",
    "reply_to": "id of an incoming document this letter answers (GET /api/v1/incoming)",
    "channel": "sev (SEV OVV hub) or trembita; default from the partners directory, else sev",
}
PERSON_FIELDS = {"name": "full name (ПІБ)", "post": "position (посада)"}


def described_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI document with the outgoing metadata described field by field."""
    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema = copy.deepcopy(OutgoingMetadata.model_json_schema(ref_template="#/components/schemas/{model}"))
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in schema.pop("$defs", {}).items():
        if name == "Person":
            for field, text in PERSON_FIELDS.items():
                definition["properties"][field]["description"] = text
        components[name] = definition
    for field, text in METADATA_FIELDS.items():
        schema["properties"][field]["description"] = text
    components["OutgoingMetadata"] = schema
    body = spec["paths"]["/api/v1/outgoing"]["post"]["requestBody"]["content"]["multipart/form-data"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    components[ref]["properties"]["metadata"] = {
        "type": "string", "title": "Metadata", "contentMediaType": "application/json",
        "contentSchema": {"$ref": "#/components/schemas/OutgoingMetadata"},
        "description": "the letter's details as a JSON document (schema OutgoingMetadata)",
    }
    body["encoding"] = {"metadata": {"contentType": "application/json"}}
    return spec


def install_docs(app: FastAPI) -> None:
    """Serve the OpenAPI description to callers with a valid key, and the /docs page with its
    assets. (The app must be built with `openapi_url=None, docs_url=None, redoc_url=None`.)"""
    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if "spec" not in cached:
            cached["spec"] = declare_errors(described_openapi(app))
        return cached["spec"]

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json(_caller: ApiCaller) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        response = HTMLResponse((ASSETS / "docs.html").read_text(encoding="utf-8"))
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "frame-ancestors 'none'")
        return response

    app.mount("/docs/assets/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
              name="swagger-ui")
    app.mount("/docs/assets/gateway", StaticFiles(directory=str(ASSETS)), name="docs-assets")


ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable, machine-readable (e.g. not_found)"},
                "message": {"type": "string", "description": "one line for people"},
            },
        }
    },
}
#: every authenticated operation
COMMON_ERRORS = {
    "400": "malformed request (e.g. '.' or '..' path segments, input the gateway cannot use)",
    "401": "missing, invalid or revoked API key",
    "403": "the API key's role may not do this (e.g. an edms key re-queueing or administering)",
    "422": "the request does not fit this operation (parameters, body, metadata)",
    "503": "a service the operation needs is unavailable (the database, the seal)",
}
#: operations with a request body
BODY_ERRORS = {
    "408": "the body arrived too slowly",
    "413": "the body is larger than [server] max_request_bytes",
}
PATH_ERRORS = {"404": "no such resource"}
STATE_ERRORS = {"409": "the resource is not in a state that allows this"}
STATE_CHANGES = re.compile(r"/(requeue|registration|rejection|retry)$")


def declare_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with the error answers of every authenticated operation declared (in place)."""
    spec.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if not operation.get("security"):
                continue  # /healthz
            errors = dict(COMMON_ERRORS)
            if "requestBody" in operation or method == "post":
                errors.update(BODY_ERRORS)
            if "{" in path:
                errors.update(PATH_ERRORS)
            if STATE_CHANGES.search(path):
                errors.update(STATE_ERRORS)
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses[status] = {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
    spec.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
    spec.get("components", {}).get("schemas", {}).pop("ValidationError", None)
    return spec
