"""The API description for the EDMS: /openapi.json and /docs, behind the same bearer key as the API.

Every endpoint but /healthz is authenticated, the description included. /docs carries the spec
inline (a data: URL), so the Swagger UI page needs no second, unauthenticated request for it.
"""

from __future__ import annotations

import base64
import json

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.api.auth import ApiCaller


def install_docs(app: FastAPI) -> None:
    """Serve the OpenAPI description and its Swagger UI page to callers with a valid key.
    (The app must be built with `openapi_url=None, docs_url=None, redoc_url=None`.)"""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json(_caller: ApiCaller) -> JSONResponse:
        return JSONResponse(app.openapi())  # built once, cached by FastAPI

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(_caller: ApiCaller) -> HTMLResponse:
        inline = base64.b64encode(json.dumps(app.openapi()).encode()).decode()
        return get_swagger_ui_html(openapi_url=f"data:application/json;base64,{inline}", title=app.title)
