"""The Management API's operations beyond the generic collections (docs/edge-api.md, "Management API extras").

Fabric-shaped ``/routers`` and ``/database`` (the same operations as ``/fabric/v1``'s), ``identity-types``,
``summary``, a session's ``route-path``, a CA's enrollment JWT, identity tracing, administrators'
revocations, transit-router updates, and authenticator re-enroll / request-extend.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from quart import Blueprint, Response, request

from ziti_aio.common.errors import NotFoundError, ValidationError
from ziti_aio.controller.api.app import ApiContext, caller, read_json
from ziti_aio.controller.api.controller_settings_routes import add_controller_settings_routes
from ziti_aio.controller.api.envelope import created, ok
from ziti_aio.controller.api.fabric_routes import (
    add_database_routes,
    add_router_routes,
    management_router,
    update_router,
)
from ziti_aio.controller.api.listing import Filterable, page
from ziti_aio.controller.api.management_routes import TRANSIT_ROUTERS, is_transit_router
from ziti_aio.controller.api.permissions import METHOD_ACTION, require
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.fields import format_time, parse_time, timestamp
from ziti_aio.controller.model.views import links

if TYPE_CHECKING:
    from ziti_aio.controller.api.database import DatabaseOps
    from ziti_aio.controller.model.access import Caller

# The identity types an identity may have here (OpenZiti 2.x keeps only Default and Router; the three
# older ones are still accepted on create, so they are listed too).
IDENTITY_TYPES = ("Default", "Device", "Router", "Service", "User")
# How long a trace may run at most.
MAX_TRACE = timedelta(days=1)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: Any) -> timedelta:
    """A Go duration as OpenZiti's trace spec takes it (``90s``, ``5m``, ``1h30m``)."""
    parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)(ms|s|m|h))+", text) if isinstance(text, str) else None
    if parts is None:
        raise ValidationError("must be a duration such as 30s, 5m or 1h", field="duration", value=text)
    seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text))
    if not 0 < seconds <= MAX_TRACE.total_seconds():
        raise ValidationError("must be more than 0 and at most 24h", field="duration", value=text)
    return timedelta(seconds=seconds)


def _identity_type(ctx: ApiContext, name: str) -> dict[str, Any]:
    return {"id": name, "name": name, "createdAt": ctx.started_at, "updatedAt": ctx.started_at, "tags": {},
            "_links": links("identity-types", name)}


def management_actions_blueprint(ctx: ApiContext, database: DatabaseOps) -> Blueprint:
    bp = Blueprint("management_actions", __name__)
    add_router_routes(bp, ctx, management_router)
    add_database_routes(bp, ctx, database)
    add_controller_settings_routes(bp, ctx)

    def authorize(collection: str, action: str | None = None) -> Caller:
        found = caller(ctx)
        require(found, collection, action or METHOD_ACTION[request.method])
        return found

    @bp.get("/identity-types")
    async def identity_types() -> Response:
        authorize(Kind.IDENTITIES)
        items, meta = page([_identity_type(ctx, t) for t in IDENTITY_TYPES], request.args, Filterable.of("name"))
        return ok(items, meta)

    @bp.get("/identity-types/<ident>")
    async def identity_type(ident: str) -> Response:
        authorize(Kind.IDENTITIES)
        if ident not in IDENTITY_TYPES:
            raise NotFoundError("identity-type", ident)
        return ok(_identity_type(ctx, ident))

    @bp.get("/summary")
    async def summary() -> Response:
        """How many entities of each kind are stored (OpenZiti asks for admin rights)."""
        authorize("summary", "read")
        return ok({kind.value: sum(1 for _ in ctx.model.all(kind)) for kind in Kind})

    @bp.get("/sessions/<ident>/route-path")
    async def route_path(ident: str) -> Response:
        """The routers the first circuit of a session runs through (empty while it has none)."""
        authorize(Kind.SESSIONS, "read")
        ctx.model.get(Kind.SESSIONS, ident)
        circuits = [c for c in ctx.network.circuits.all() if c.session_id == ident] if ctx.network else []
        return ok({"routePath": list(circuits[0].nodes) if circuits else []})

    @bp.get("/cas/<ident>/jwt")
    async def ca_jwt(ident: str) -> Response:
        """The CA's enrollment JWT (``em: ca``), as ``application/jwt`` text."""
        authorize(Kind.CAS, "read")
        ctx.model.get(Kind.CAS, ident)
        if ctx.ca_jwt is None:
            raise NotFoundError("cas", ident)
        return Response(ctx.ca_jwt(ident), content_type="application/jwt")

    @bp.put("/identities/<ident>/trace")
    async def trace(ident: str) -> Response:
        authorize(Kind.IDENTITIES, "update")
        ctx.model.get(Kind.IDENTITIES, ident)
        body = await read_json()
        if not isinstance(body, dict):
            raise ValidationError("the request body must be a JSON object", field="body")
        if ctx.network is None:
            raise NotFoundError(message="no such endpoint: tracing needs the controller's network")
        if not body.get("enabled"):
            ctx.network.traces.stop(ident)
            return ok({"enabled": False})
        channels = body.get("channels") or []
        trace_id = body.get("traceId") or ""
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise ValidationError("must be a list of channel names", field="channels", value=channels)
        if not isinstance(trace_id, str) or len(trace_id) > 128:
            raise ValidationError("must be text of at most 128 characters", field="traceId", value=trace_id)
        trace_id, until = ctx.network.traces.start(ident, parse_duration(body.get("duration")), trace_id, channels)
        return ok({"enabled": True, "traceId": trace_id, "until": format_time(until)})

    @bp.post("/revocations")
    async def revoke() -> Response:
        found = authorize(Kind.REVOCATIONS, "create")
        ident = await ctx.crud.revoke(await read_json(), actor=found.identity["id"])
        return created(ident, Kind.REVOCATIONS)

    async def update_transit(ident: str, partial: bool) -> Response:
        router = ctx.model.maybe(Kind.EDGE_ROUTERS, ident)
        if router is None or not is_transit_router(router):
            raise NotFoundError(TRANSIT_ROUTERS, ident)
        return await update_router(ctx, ident, partial)

    @bp.put("/transit-routers/<ident>")
    async def put_transit(ident: str) -> Response:
        return await update_transit(ident, partial=False)

    @bp.patch("/transit-routers/<ident>")
    async def patch_transit(ident: str) -> Response:
        return await update_transit(ident, partial=True)

    @bp.post("/authenticators/<ident>/re-enroll")
    async def re_enroll(ident: str) -> Response:
        """Replace the authenticator with a new enrollment of its method; answers the enrollment."""
        found = authorize(Kind.AUTHENTICATORS, "update")
        body = await read_json()
        expires = body.get("expiresAt") if isinstance(body, dict) else None
        when = parse_time(timestamp("expiresAt", expires)) if expires is not None else None
        if when is None:
            raise ValidationError("is required", field="expiresAt")
        enrollment = await ctx.crud.re_enroll_authenticator(ident, when, actor=found.identity["id"])
        return created(enrollment, Kind.ENROLLMENTS)

    @bp.post("/authenticators/<ident>/request-extend")
    async def request_extend(ident: str) -> Response:
        found = authorize(Kind.AUTHENTICATORS, "update")
        body = await read_json()
        roll = body.get("rollKeys", False) if isinstance(body, dict) else False
        if not isinstance(roll, bool):
            raise ValidationError("must be true or false", field="rollKeys", value=roll)
        await ctx.crud.request_extend(ident, roll, actor=found.identity["id"])
        return ok({})

    return bp
