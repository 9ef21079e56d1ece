"""Edge Management API (``/edge/management/v1``): CRUD, relation lists and operations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint, Response, request

from ziti_aio.common.errors import NotFoundError, ValidationError
from ziti_aio.controller.api.app import ApiContext, caller, read_json
from ziti_aio.controller.api.common_routes import add_common_routes
from ziti_aio.controller.api.envelope import created, empty, ok
from ziti_aio.controller.api.listing import page
from ziti_aio.controller.api.permissions import METHOD_ACTION, check_grant, require
from ziti_aio.controller.api.relations import RELATIONS
from ziti_aio.controller.api.render import Renderer
from ziti_aio.controller.model import fields
from ziti_aio.controller.model.cas import verify_command
from ziti_aio.controller.model.fields import now_text, parse_time, timestamp
from ziti_aio.controller.model.model import revocation, session_revocation
from ziti_aio.controller.model.specs import SPECS
from ziti_aio.controller.store.commands import Change, Command, Delete, Put

if TYPE_CHECKING:
    from ziti_aio.controller.model.access import Caller

READ_ONLY_KINDS = ("api-sessions", "sessions", "revocations")
ATTRIBUTE_LISTS = {
    "identity-role-attributes": "identities",
    "service-role-attributes": "services",
    "edge-router-role-attributes": "edge-routers",
}


def management_blueprint(ctx: ApiContext) -> Blueprint:
    bp = Blueprint("management", __name__)
    add_common_routes(bp, ctx)

    def authorize(kind: str) -> Caller:
        if kind not in SPECS and kind not in READ_ONLY_KINDS and kind not in ATTRIBUTE_LISTS:
            raise NotFoundError(message=f"no such collection: {kind}")
        found = caller(ctx)
        require(found, kind, METHOD_ACTION[request.method])
        return found

    def renderer() -> Renderer:
        return Renderer(ctx.model, router_state=ctx.router_state)

    def transit_routers() -> list[dict[str, Any]]:
        return [r for r in ctx.model.all("edge-routers") if (r.get("tags") or {}).get("transitRouter") is True]

    @bp.get("/transit-routers")
    async def list_transit_routers() -> Response:
        authorize("edge-routers")
        items, meta = page("edge-routers", transit_routers(), request.args)
        r = renderer()
        return ok([r.render("edge-routers", e) for e in items], meta)

    @bp.get("/transit-routers/<ident>")
    async def get_transit_router(ident: str) -> Response:
        authorize("edge-routers")
        router = next((r for r in transit_routers() if r["id"] == ident), None)
        if router is None:
            raise NotFoundError("transit-routers", ident)
        return ok(renderer().render("edge-routers", router))

    @bp.delete("/transit-routers/<ident>")
    async def delete_transit_router(ident: str) -> Response:
        found = authorize("edge-routers")
        if not any(r["id"] == ident for r in transit_routers()):
            raise NotFoundError("transit-routers", ident)
        await ctx.model.transact(lambda: ctx.crud.build_delete("edge-routers", ident, actor=found.identity["id"]))
        return empty()

    @bp.post("/transit-routers")
    async def create_transit_router() -> Response:
        found = authorize("edge-routers")
        body = await read_json()
        if not isinstance(body, dict):
            raise ValidationError("the request body must be a JSON object", field="body")
        tags = fields.tags("tags", body.get("tags"))
        body = {**body, "isTunnelerEnabled": False, "tags": {**tags, "transitRouter": True}}
        new_id: dict[str, str] = {}

        def build() -> Command:
            command, ident = ctx.crud.build_create("edge-routers", body, actor=found.identity["id"])
            new_id["id"] = ident
            return command

        await ctx.model.transact(build)
        return created(new_id["id"], "transit-routers")

    @bp.get("/<kind>")
    async def list_entities(kind: str) -> Response:
        authorize(kind)
        if kind in ATTRIBUTE_LISTS:
            attrs = sorted({a for e in ctx.model.all(ATTRIBUTE_LISTS[kind]) for a in e.get("roleAttributes", ())})
            items, meta = page(kind, ({"id": a, "name": a, "createdAt": "", "updatedAt": ""} for a in attrs),
                               request.args)
            return ok([i["name"] for i in items], meta)
        items, meta = page(kind, ctx.model.all(kind), request.args)
        r = renderer()
        return ok([r.render(kind, e) for e in items], meta)

    @bp.get("/<kind>/<ident>")
    async def get_entity(kind: str, ident: str) -> Response:
        authorize(kind)
        return ok(renderer().render(kind, ctx.model.get(kind, ident)))

    @bp.post("/<kind>")
    async def create_entity(kind: str) -> Response:
        found = authorize(kind)
        if kind not in SPECS:
            raise NotFoundError(message=f"{kind} cannot be created")
        body = await read_json()
        if kind == "identities":
            check_grant(found, body)
        new_id: dict[str, str] = {}

        def build() -> Command:
            command, ident = ctx.crud.build_create(kind, body, actor=found.identity["id"])
            new_id["id"] = ident
            return command

        await ctx.model.transact(build)
        return created(new_id["id"], kind)

    async def _update(kind: str, ident: str, partial: bool) -> Response:
        found = authorize(kind)
        if kind not in SPECS:
            raise NotFoundError(message=f"{kind} cannot be updated")
        body = await read_json()
        if kind == "identities":
            check_grant(found, body)
        await ctx.model.transact(
            lambda: ctx.crud.build_update(kind, ident, body, partial=partial, actor=found.identity["id"]))
        return empty()

    @bp.put("/<kind>/<ident>")
    async def put_entity(kind: str, ident: str) -> Response:
        return await _update(kind, ident, partial=False)

    @bp.patch("/<kind>/<ident>")
    async def patch_entity(kind: str, ident: str) -> Response:
        return await _update(kind, ident, partial=True)

    @bp.delete("/<kind>/<ident>")
    async def delete_entity(kind: str, ident: str) -> Response:
        found = authorize(kind)
        actor = found.identity["id"]

        def build() -> Command:
            if kind == "api-sessions":
                changes: list[Change] = [Delete(kind, ident), revocation(ident, "API_SESSION")]
                ctx.model.get(kind, ident)
                for s in ctx.model.where("sessions", apiSessionId=ident):
                    changes += session_revocation(s)
                return Command(actor, f"delete api session {ident}", tuple(changes))
            if kind == "sessions":
                return Command(actor, f"delete session {ident}", tuple(session_revocation(ctx.model.get(kind, ident))))
            if kind not in SPECS:
                raise NotFoundError(message=f"{kind} cannot be deleted")
            return ctx.crud.build_delete(kind, ident, actor=actor)

        await ctx.model.transact(build)
        return empty()

    @bp.get("/<kind>/<ident>/<relation>")
    async def list_related(kind: str, ident: str, relation: str) -> Response:
        authorize(kind)
        target = RELATIONS.get((kind, relation))
        if target is None:
            raise NotFoundError(message=f"no such relation: {kind}/{relation}")
        target_kind, ids_of = target
        ctx.model.get(kind, ident)
        table = ctx.model.entities[target_kind]
        items, meta = page(target_kind, (table[i] for i in ids_of(ctx.model, ident) if i in table), request.args)
        r = renderer()
        return ok([r.render(target_kind, e) for e in items], meta)

    @bp.post("/edge-routers/<ident>/re-enroll")
    async def re_enroll_router(ident: str) -> Response:
        found = authorize("edge-routers")
        router = ctx.model.get("edge-routers", ident)
        enroller = ctx.crud.hooks["edge-routers"].enroller  # type: ignore[attr-defined]

        def build() -> Command:
            changes: list[Change] = [Delete("enrollments", e["id"])
                                     for e in ctx.model.where("enrollments", edgeRouterId=ident)]
            changes.append(Put("enrollments", enroller.new("erott", edge_router_id=ident)))
            changes.append(Put("edge-routers", {**router, "isVerified": False, "fingerprint": None,
                                                "certPem": None, "updatedAt": now_text()}))
            return Command(found.identity["id"], f"re-enroll edge router {ident}", tuple(changes))

        await ctx.model.transact(build)
        return empty()

    @bp.post("/cas/<ident>/verify")
    async def verify_ca(ident: str) -> Response:
        found = caller(ctx)
        require(found, "cas", "update")
        pem = await request.get_data()
        await ctx.model.transact(lambda: verify_command(ctx.model, ident, pem, actor=found.identity["id"]))
        ctx.trust_ca(ctx.model.get("cas", ident)["certPem"])
        return empty()

    @bp.post("/enrollments/<ident>/refresh")
    async def refresh_enrollment(ident: str) -> Response:
        found = authorize("enrollments")
        body: Any = await read_json()
        expires = body.get("expiresAt") if isinstance(body, dict) else None
        if not isinstance(expires, str):
            raise ValidationError("is required", field="expiresAt")
        when = parse_time(timestamp("expiresAt", expires))
        enrollment = ctx.model.get("enrollments", ident)
        enroller = ctx.crud.hooks["enrollments"].enroller  # type: ignore[attr-defined]

        def build() -> Command:
            fresh = enroller.new(enrollment["method"], identity_id=enrollment.get("identityId"),
                                 edge_router_id=enrollment.get("edgeRouterId"), username=enrollment.get("username"),
                                 ca_id=enrollment.get("caId"), expires_at=when)
            fresh.update(id=ident, createdAt=enrollment["createdAt"])
            return Command(found.identity["id"], f"refresh enrollment {ident}", (Put("enrollments", fresh),))

        await ctx.model.transact(build)
        return empty()

    return bp
