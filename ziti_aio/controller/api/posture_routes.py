"""Posture on both APIs: SDKs' posture responses (client), the check types and an identity's posture
data and refused requests (management). Posture checks themselves are a generic collection
(``/posture-checks``, :mod:`ziti_aio.controller.model.posture_checks`); docs/posture.md."""

from __future__ import annotations

from quart import Blueprint, Response, request

from ziti_aio.common.errors import NotFoundError
from ziti_aio.controller.api.app import ApiContext, caller, read_json
from ziti_aio.controller.api.envelope import ok
from ziti_aio.controller.api.listing import Filterable, page
from ziti_aio.controller.api.permissions import require
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.posture_checks import posture_check_types

TYPE_FILTERS = Filterable.of("name")


def posture_client_blueprint(ctx: ApiContext) -> Blueprint:
    """``POST /posture-response`` and ``/posture-response-bulk``: always for the caller's own API session."""
    bp = Blueprint("posture_client", __name__)

    async def _respond(bulk: bool) -> Response:
        found = caller(ctx)
        services = await ctx.access.posture.respond(found.api_session, await read_json(), bulk=bulk)
        # The schema declares 201 for one response and 200 for a bulk.
        return ok({"services": services}, status=200 if bulk else 201)

    @bp.post("/posture-response")
    async def posture_response() -> Response:
        return await _respond(bulk=False)

    @bp.post("/posture-response-bulk")
    async def posture_response_bulk() -> Response:
        return await _respond(bulk=True)

    return bp


def posture_management_blueprint(ctx: ApiContext) -> Blueprint:
    """Check types, and an identity's posture data and posture-refused session requests."""
    bp = Blueprint("posture_management", __name__)

    @bp.get("/posture-check-types")
    async def list_types() -> Response:
        require(caller(ctx), Kind.POSTURE_CHECKS, "read")
        items, meta = page(posture_check_types(), request.args, TYPE_FILTERS)
        return ok(items, meta)

    @bp.get("/posture-check-types/<ident>")
    async def get_type(ident: str) -> Response:
        require(caller(ctx), Kind.POSTURE_CHECKS, "read")
        for item in posture_check_types():
            if item["id"] == ident:
                return ok(item)
        raise NotFoundError("posture-check-types", ident)

    @bp.get("/identities/<ident>/posture-data")
    async def posture_data(ident: str) -> Response:
        require(caller(ctx), Kind.IDENTITIES, "read")
        ctx.model.get(Kind.IDENTITIES, ident)
        return ok(ctx.access.posture.posture_data(ident))

    @bp.get("/identities/<ident>/failed-service-requests")
    async def failed_service_requests(ident: str) -> Response:
        require(caller(ctx), Kind.IDENTITIES, "read")
        ctx.model.get(Kind.IDENTITIES, ident)
        return ok(ctx.access.posture.failed_service_requests(ident))

    return bp
