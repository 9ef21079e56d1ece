"""OpenZiti's JSON envelopes: ``{data, meta}`` for success, ``{error, meta}`` for failure."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from quart import Response

from ziti_aio.controller.model.views import links

if TYPE_CHECKING:
    from ziti_aio.common.errors import ZitiError

API_VERSION_META = {"apiVersion": "0.0.1", "apiEnrollmentVersion": "0.0.1"}
JSON = "application/json"


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":"))
    return Response(body, status=status, content_type=JSON, headers=headers)


def ok(data: Any, meta: dict[str, Any] | None = None, status: int = 200) -> Response:
    return json_response({"data": data, "meta": meta or {}}, status)


def empty() -> Response:
    """What update, patch and delete answer (never an empty body: libziti needs JSON)."""
    return ok({})


def created(ident: str, kind: str) -> Response:
    return ok({"id": ident, "_links": links(kind, ident)}, status=201)


def error_payload(exc: ZitiError, request_id: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": exc.code,
        "message": exc.message,
        "args": {"urlVars": {}},
        "data": None,
        "requestId": request_id,
    }
    if exc.cause is not None:
        error["cause"] = exc.cause
        error["causeMessage"] = exc.cause.get("reason", exc.cause.get("message", ""))
    return {"error": error, "meta": dict(API_VERSION_META)}


def error_response(exc: ZitiError, request_id: str | None = None) -> Response:
    return json_response(error_payload(exc, request_id), exc.http_status, exc.headers or None)
