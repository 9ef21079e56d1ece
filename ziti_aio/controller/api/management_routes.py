"""Edge Management API (``/edge/management/v1``): CRUD, relation lists and operations.

Routes parse the request, check the caller, call one operation of the model
(:class:`~ziti_aio.controller.model.crud.Crud`) and render the answer; they build no commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint, Response, request

from ziti_aio.common.errors import NotFoundError, ValidationError
from ziti_aio.controller.api.app import ApiContext, caller, read_json
from ziti_aio.controller.api.common_routes import add_common_routes
from ziti_aio.controller.api.envelope import created, empty, ok
from ziti_aio.controller.api.informational_routes import MANAGEMENT_API
from ziti_aio.controller.api.listing import Filterable, filterable, page
from ziti_aio.controller.api.permissions import METHOD_ACTION, check_grant, require
from ziti_aio.controller.api.relations import RELATIONS
from ziti_aio.controller.api.render import Renderer
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model import fields
from ziti_aio.controller.model.disabling import MAX_DISABLE_MINUTES
from ziti_aio.controller.model.fields import parse_time, timestamp
from ziti_aio.controller.model.records import RECORDS
from ziti_aio.controller.model.views import identity_service_configs, policy_advice

if TYPE_CHECKING:
    from ziti_aio.controller.model.access import Caller
    from ziti_aio.controller.model.model import Entity

ATTRIBUTE_LISTS = {
    "identity-role-attributes": Kind.IDENTITIES,
    "service-role-attributes": Kind.SERVICES,
    "edge-router-role-attributes": Kind.EDGE_ROUTERS,
    "posture-check-role-attributes": Kind.POSTURE_CHECKS,
}
TRANSIT_ROUTERS = "transit-routers"
DONE = {"read": "read", "create": "created", "update": "updated", "delete": "deleted"}


def collection(name: str) -> Kind:
    """The kind a collection path names; 404 for anything the generic routes do not serve."""
    try:
        kind = Kind(name)
    except ValueError:
        kind = None
    if kind is None or not RECORDS[kind].operations:
        raise NotFoundError(message=f"no such collection: {name}")
    return kind


def is_transit_router(router: Entity) -> bool:
    return (router.get("tags") or {}).get("transitRouter") is True


def management_blueprint(ctx: ApiContext) -> Blueprint:
    bp = Blueprint("management", __name__)
    add_common_routes(bp, ctx, MANAGEMENT_API)

    def authorize(name: str) -> Caller:
        """The caller, allowed this request's action on collection ``name``."""
        found = caller(ctx)
        require(found, name, METHOD_ACTION[request.method])
        return found

    def operation(kind: Kind, action: str) -> Caller:
        """The caller of a generic route, when ``kind`` allows ``action`` (404 otherwise)."""
        found = authorize(kind)
        if action not in RECORDS[kind].operations:
            raise NotFoundError(message=f"{kind} cannot be {DONE[action]}")
        return found

    def renderer() -> Renderer:
        return Renderer(ctx.model, router_state=ctx.router_state)

    def transit_routers() -> list[Entity]:
        return [r for r in ctx.model.all(Kind.EDGE_ROUTERS) if is_transit_router(r)]

    def transit_router(ident: str) -> Entity:
        router = ctx.model.maybe(Kind.EDGE_ROUTERS, ident)
        if router is None or not is_transit_router(router):
            raise NotFoundError(TRANSIT_ROUTERS, ident)
        return router

    @bp.get("/transit-routers")
    async def list_transit_routers() -> Response:
        authorize(Kind.EDGE_ROUTERS)
        items, meta = page(transit_routers(), request.args, filterable(Kind.EDGE_ROUTERS))
        r = renderer()
        return ok([r.render(Kind.EDGE_ROUTERS, e) for e in items], meta)

    @bp.get("/transit-routers/<ident>")
    async def get_transit_router(ident: str) -> Response:
        authorize(Kind.EDGE_ROUTERS)
        return ok(renderer().render(Kind.EDGE_ROUTERS, transit_router(ident)))

    @bp.delete("/transit-routers/<ident>")
    async def delete_transit_router(ident: str) -> Response:
        found = authorize(Kind.EDGE_ROUTERS)
        transit_router(ident)
        await ctx.crud.delete(Kind.EDGE_ROUTERS, ident, actor=found.identity["id"])
        return empty()

    @bp.post("/transit-routers")
    async def create_transit_router() -> Response:
        found = authorize(Kind.EDGE_ROUTERS)
        body = await read_json()
        if not isinstance(body, dict):
            raise ValidationError("the request body must be a JSON object", field="body")
        tags = fields.tags("tags", body.get("tags"))
        body = {**body, "isTunnelerEnabled": False, "tags": {**tags, "transitRouter": True}}
        ident = await ctx.crud.create(Kind.EDGE_ROUTERS, body, actor=found.identity["id"])
        return created(ident, TRANSIT_ROUTERS)

    @bp.get("/<name>")
    async def list_entities(name: str) -> Response:
        if name in ATTRIBUTE_LISTS:
            authorize(name)
            attrs = sorted({a for e in ctx.model.all(ATTRIBUTE_LISTS[name]) for a in e.get("roleAttributes", ())})
            items, meta = page(({"id": a, "name": a, "createdAt": "", "updatedAt": ""} for a in attrs),
                               request.args, Filterable.of())
            return ok([i["name"] for i in items], meta)
        kind = collection(name)
        operation(kind, "read")
        items, meta = page(ctx.model.all(kind), request.args, filterable(kind))
        r = renderer()
        return ok([r.render(kind, e) for e in items], meta)

    @bp.get("/<name>/<ident>")
    async def get_entity(name: str, ident: str) -> Response:
        kind = collection(name)
        operation(kind, "read")
        return ok(renderer().render(kind, ctx.model.get(kind, ident)))

    @bp.post("/<name>")
    async def create_entity(name: str) -> Response:
        kind = collection(name)
        found = operation(kind, "create")
        body = await read_json()
        if kind == Kind.IDENTITIES:
            check_grant(found, body)
        return created(await ctx.crud.create(kind, body, actor=found.identity["id"]), kind)

    async def _update(name: str, ident: str, partial: bool) -> Response:
        kind = collection(name)
        found = operation(kind, "update")
        body = await read_json()
        if kind == Kind.IDENTITIES:
            check_grant(found, body)
        await ctx.crud.update(kind, ident, body, partial=partial, actor=found.identity["id"])
        return empty()

    @bp.put("/<name>/<ident>")
    async def put_entity(name: str, ident: str) -> Response:
        return await _update(name, ident, partial=False)

    @bp.patch("/<name>/<ident>")
    async def patch_entity(name: str, ident: str) -> Response:
        return await _update(name, ident, partial=True)

    @bp.delete("/<name>/<ident>")
    async def delete_entity(name: str, ident: str) -> Response:
        kind = collection(name)
        found = operation(kind, "delete")
        await ctx.crud.delete(kind, ident, actor=found.identity["id"])
        return empty()

    @bp.get("/<name>/<ident>/<relation>")
    async def list_related(name: str, ident: str, relation: str) -> Response:
        kind = collection(name)
        operation(kind, "read")
        target = RELATIONS.get((kind, relation))
        if target is None:
            raise NotFoundError(message=f"no such relation: {kind}/{relation}")
        target_kind, ids_of = target
        ctx.model.get(kind, ident)
        related = ctx.model.pick(target_kind, ids_of(ctx.model, ident))
        items, meta = page(related, request.args, filterable(target_kind))
        r = renderer()
        return ok([r.render(target_kind, e) for e in items], meta)

    @bp.post("/edge-routers/<ident>/re-enroll")
    async def re_enroll_router(ident: str) -> Response:
        found = authorize(Kind.EDGE_ROUTERS)
        await ctx.crud.re_enroll_router(ident, actor=found.identity["id"])
        return empty()

    @bp.post("/identities/<ident>/disable")
    async def disable_identity(ident: str) -> Response:
        found = caller(ctx)
        require(found, Kind.IDENTITIES, "update")
        body: Any = await read_json()
        minutes = body.get("durationMinutes") if isinstance(body, dict) else None
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 <= minutes <= MAX_DISABLE_MINUTES:
            raise ValidationError(f"must be a whole number of minutes from 0 (until enabled) to {MAX_DISABLE_MINUTES}",
                                  field="durationMinutes", value=minutes)
        await ctx.crud.disable_identity(ident, minutes, actor=found.identity["id"])
        return empty()

    @bp.post("/identities/<ident>/enable")
    async def enable_identity(ident: str) -> Response:
        found = caller(ctx)
        require(found, Kind.IDENTITIES, "update")
        await ctx.crud.enable_identity(ident, actor=found.identity["id"])
        return empty()

    @bp.get("/identities/<ident>/policy-advice/<service_id>")
    async def get_policy_advice(ident: str, service_id: str) -> Response:
        authorize(Kind.SERVICES)
        identity, service = ctx.model.get(Kind.IDENTITIES, ident), ctx.model.get(Kind.SERVICES, service_id)
        # OpenZiti's advice leaves posture out; ours adds each granting policy's checks (docs/posture.md §5).
        return ok({**policy_advice(renderer(), identity, service),
                   "posturePolicies": ctx.access.posture.advice(ident, service_id)})

    @bp.get("/identities/<ident>/service-configs")
    async def list_service_configs(ident: str) -> Response:
        authorize(Kind.IDENTITIES)
        return ok(identity_service_configs(renderer(), ctx.model.get(Kind.IDENTITIES, ident)))

    @bp.post("/identities/<ident>/service-configs")
    async def assign_service_configs(ident: str) -> Response:
        found = caller(ctx)
        require(found, Kind.IDENTITIES, "update")
        await ctx.crud.assign_service_configs(ident, await read_json(), actor=found.identity["id"])
        return empty()

    @bp.delete("/identities/<ident>/service-configs")
    async def remove_service_configs(ident: str) -> Response:
        found = caller(ctx)
        require(found, Kind.IDENTITIES, "update")
        await ctx.crud.remove_service_configs(ident, await read_json(), actor=found.identity["id"])
        return empty()

    @bp.post("/cas/<ident>/verify")
    async def verify_ca(ident: str) -> Response:
        found = caller(ctx)
        require(found, Kind.CAS, "update")
        ca = await ctx.crud.verify_ca(ident, await request.get_data(), actor=found.identity["id"])
        ctx.trust_ca(ca["certPem"])
        return empty()

    @bp.post("/enrollments/<ident>/refresh")
    async def refresh_enrollment(ident: str) -> Response:
        found = authorize(Kind.ENROLLMENTS)
        body: Any = await read_json()
        expires = body.get("expiresAt") if isinstance(body, dict) else None
        if not isinstance(expires, str):
            raise ValidationError("is required", field="expiresAt")
        when = parse_time(timestamp("expiresAt", expires))
        await ctx.crud.refresh_enrollment(ident, when, actor=found.identity["id"])
        return empty()

    return bp
