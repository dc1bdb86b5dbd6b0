"""The API description for the EDMS: /openapi.json and /docs, behind the same bearer key as the API.

Every endpoint but /healthz is authenticated, the description included. /docs carries the spec
inline (a data: URL), so the Swagger UI page needs no second, unauthenticated request for it.

FastAPI describes only the answers a route declares, and its 422 in a shape this API never sends;
`declare_errors` adds the error answers every authenticated operation can give (missing key, body
too large or too slow, bad input, unknown id, conflict, no database or seal), all in the one
error shape of gateway.api.errors, so that clients (and schemathesis) can rely on the document.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.api.auth import ApiCaller


def install_docs(app: FastAPI) -> None:
    """Serve the OpenAPI description and its Swagger UI page to callers with a valid key.
    (The app must be built with `openapi_url=None, docs_url=None, redoc_url=None`.)"""

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json(_caller: ApiCaller) -> JSONResponse:
        return JSONResponse(app.openapi())  # built once, cached by FastAPI

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(_caller: ApiCaller) -> HTMLResponse:
        inline = base64.b64encode(json.dumps(app.openapi()).encode()).decode()
        return get_swagger_ui_html(openapi_url=f"data:application/json;base64,{inline}", title=app.title)


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
