"""The Fabric API's own operations (``/fabric/v1``), beside the circuits, links and terminator reads
:mod:`~ziti_aio.controller.api.network_routes` serves under both prefixes.

A fabric router is an edge or transit router seen through the fabric shape, a fabric service an
edge service; terminators are written through the same model operations as the management API's.
Database snapshots, the data-integrity check and inspections are described in docs/fabric.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint, Response, request

from ziti_aio.common.errors import ValidationError
from ziti_aio.controller.api.app import ApiContext, caller, read_json
from ziti_aio.controller.api.cluster_routes import add_cluster_routes
from ziti_aio.controller.api.envelope import created, empty, json_response, ok
from ziti_aio.controller.api.listing import filterable, page
from ziti_aio.controller.api.permissions import METHOD_ACTION, require
from ziti_aio.controller.api.render import Renderer
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model import fields
from ziti_aio.controller.model.views import links

if TYPE_CHECKING:
    from collections.abc import Callable

    from ziti_aio.controller.api.database import DatabaseOps
    from ziti_aio.controller.model.access import Caller
    from ziti_aio.controller.model.model import Entity

ROUTERS = "routers"
# What a fabric router body may set (routerCreate / routerUpdate), with the value a PUT without it
# sets; the rest of an edge router (role attributes, tunneler, app data) is not the fabric's to change.
ROUTER_DEFAULTS: dict[str, Any] = {"cost": 0, "noTraversal": False, "disabled": False, "tags": {},
                                   "ctrlChanListeners": {}}
ROUTER_FIELDS = frozenset({"name", *ROUTER_DEFAULTS})
# fabric.yml bounds a router's cost to 16 bits (the management API allows more).
MAX_FABRIC_ROUTER_COST = 65535
SERVICE_DEFAULTS: dict[str, Any] = {"terminatorStrategy": "smartrouting", "maxIdleTimeMillis": 0, "tags": {}}
SERVICE_FIELDS = frozenset({"name", *SERVICE_DEFAULTS})


def _base(e: Entity, collection: str) -> dict[str, Any]:
    return {"id": e["id"], "createdAt": e["createdAt"], "updatedAt": e["updatedAt"], "tags": e.get("tags") or {},
            "_links": links(collection, e["id"])}


def render_router(ctx: ApiContext, e: Entity) -> dict[str, Any]:
    """An edge or transit router in the fabric ``routerDetail`` shape."""
    state = ctx.router_state(e["id"])
    shown = {**_base(e, ROUTERS), "name": e["name"], "fingerprint": e.get("fingerprint") or "",
             "connected": bool(state.get("isOnline")), "cost": e["cost"], "noTraversal": e["noTraversal"],
             "disabled": e.get("disabled", False), "ctrlChanListeners": e.get("ctrlChanListeners") or {},
             "listenerAddresses": [], "interfaces": []}
    if state.get("versionInfo"):
        shown["versionInfo"] = state["versionInfo"]
    return shown


def render_service(e: Entity) -> dict[str, Any]:
    """An edge service in the fabric ``serviceDetail`` shape."""
    return {**_base(e, Kind.SERVICES), "name": e["name"], "terminatorStrategy": e["terminatorStrategy"],
            "maxIdleTimeMillis": e.get("maxIdleTimeMillis", 0)}


def fabric_terminator(shown: dict[str, Any]) -> dict[str, Any]:
    """A rendered terminator in the fabric ``terminatorDetail`` shape: the hosting identity is ``hostId``."""
    return {**shown, "hostId": shown.get("identity") or "", "instanceId": ""}


def terminator_body(body: Any) -> Any:
    """A fabric terminator body as the model takes it: ``hostId`` names the hosting identity; instance
    ids (several terminators of one host told apart) are not kept, so a body may not set one."""
    if not isinstance(body, dict):
        return body
    if body.get("instanceId") or body.get("instanceSecret"):
        raise ValidationError("terminator instance ids are not supported", field="instanceId",
                              value=body.get("instanceId"))
    out = {k: v for k, v in body.items() if k not in ("instanceId", "instanceSecret", "hostId")}
    if body.get("hostId"):
        out["identity"] = body["hostId"]
    return out


def _object(body: Any, allowed: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object", field="body")
    unknown = set(body) - allowed
    if unknown:
        raise ValidationError(f"a fabric {what} body does not take {', '.join(sorted(unknown))}", field="body")
    return body


def replacing(body: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """A PUT body as a partial update of the fabric's fields only: ``name`` is required, the other
    fabric fields it leaves out go back to their defaults, fields the fabric does not show stay."""
    if "name" not in body:
        raise ValidationError("name is required", field="name")
    return {**defaults, **body}


def router_body(body: Any, stored: Entity | None) -> dict[str, Any]:
    """A fabric router create/update body as an edge router body.

    Routers join by enrolling, so a body may only repeat the fingerprint already known (an update
    as OpenZiti's CLI sends it), never set one. A create's ``id`` is not kept: ids are the
    controller's to choose, and the answer gives the new one (docs/fabric.md).
    """
    body = _object(body, ROUTER_FIELDS | {"id", "fingerprint"}, "router")
    known = (stored or {}).get("fingerprint") or ""
    given = body.get("fingerprint")
    if given not in (None, "", known):
        raise ValidationError("a router's fingerprint comes from its enrollment and cannot be set",
                              field="fingerprint", value=given)
    cost = body.get("cost")
    if isinstance(cost, int) and not isinstance(cost, bool) and not 0 <= cost <= MAX_FABRIC_ROUTER_COST:
        raise ValidationError(f"cost must be an integer in [0, {MAX_FABRIC_ROUTER_COST}]", field="cost", value=cost)
    if stored is not None and body.get("id") not in (None, stored["id"]):
        raise ValidationError("a router's id cannot change", field="id", value=body["id"])
    return {k: v for k, v in body.items() if k in ROUTER_FIELDS and not (k == "disabled" and v is None)}


def fabric_blueprint(ctx: ApiContext, database: DatabaseOps) -> Blueprint:
    """Routes only the fabric API has (register before :func:`network_blueprint`'s)."""
    bp = Blueprint("fabric_only", __name__)
    add_router_routes(bp, ctx, render_router)
    add_database_routes(bp, ctx, database)

    def authorize(collection: str) -> Caller:
        found = caller(ctx)
        require(found, collection, METHOD_ACTION[request.method])
        return found

    def terminators_of(field: str, ident: str) -> Response:
        rows = [t for t in ctx.model.all(Kind.TERMINATORS) if t.get(field) == ident]
        if ctx.network is not None:
            rows += [e for t in ctx.network.terminators if (e := t.entity()).get(field) == ident]
        items, meta = page(rows, request.args, filterable(Kind.TERMINATORS))
        r = Renderer(ctx.model, router_state=ctx.router_state)
        return ok([fabric_terminator(r.render(Kind.TERMINATORS, e)) for e in items], meta)

    @bp.get("/routers/<ident>/terminators")
    async def router_terminators(ident: str) -> Response:
        authorize(Kind.TERMINATORS)
        ctx.model.get(Kind.EDGE_ROUTERS, ident)
        return terminators_of("router", ident)

    # --- services ---------------------------------------------------------------------------

    @bp.get("/services")
    async def list_services() -> Response:
        authorize(Kind.SERVICES)
        items, meta = page(ctx.model.all(Kind.SERVICES), request.args, filterable(Kind.SERVICES))
        return ok([render_service(e) for e in items], meta)

    @bp.get("/services/<ident>")
    async def get_service(ident: str) -> Response:
        authorize(Kind.SERVICES)
        return ok(render_service(ctx.model.get(Kind.SERVICES, ident)))

    @bp.post("/services")
    async def create_service() -> Response:
        found = authorize(Kind.SERVICES)
        body = _object(await read_json(), SERVICE_FIELDS, "service")
        return created(await ctx.crud.create(Kind.SERVICES, body, actor=found.identity["id"]), Kind.SERVICES)

    async def update_service(ident: str, partial: bool) -> Response:
        found = authorize(Kind.SERVICES)
        body = _object(await read_json(), SERVICE_FIELDS, "service")
        if not partial:
            body = replacing(body, SERVICE_DEFAULTS)
        await ctx.crud.update(Kind.SERVICES, ident, body, partial=True, actor=found.identity["id"])
        return empty()

    @bp.put("/services/<ident>")
    async def put_service(ident: str) -> Response:
        return await update_service(ident, partial=False)

    @bp.patch("/services/<ident>")
    async def patch_service(ident: str) -> Response:
        return await update_service(ident, partial=True)

    @bp.delete("/services/<ident>")
    async def delete_service(ident: str) -> Response:
        found = authorize(Kind.SERVICES)
        await ctx.crud.delete(Kind.SERVICES, ident, actor=found.identity["id"])
        return empty()

    @bp.get("/services/<ident>/terminators")
    async def service_terminators(ident: str) -> Response:
        authorize(Kind.TERMINATORS)
        ctx.model.get(Kind.SERVICES, ident)
        return terminators_of("service", ident)

    # --- terminators (writes; reads are network_routes') ------------------------------------

    @bp.post("/terminators")
    async def create_terminator() -> Response:
        found = authorize(Kind.TERMINATORS)
        ident = await ctx.crud.create(Kind.TERMINATORS, terminator_body(await read_json()),
                                      actor=found.identity["id"])
        return created(ident, Kind.TERMINATORS)

    async def update_terminator(ident: str, partial: bool) -> Response:
        found = authorize(Kind.TERMINATORS)
        await ctx.crud.update(Kind.TERMINATORS, ident, terminator_body(await read_json()), partial=partial,
                              actor=found.identity["id"])
        return empty()

    @bp.put("/terminators/<ident>")
    async def put_terminator(ident: str) -> Response:
        return await update_terminator(ident, partial=False)

    @bp.patch("/terminators/<ident>")
    async def patch_terminator(ident: str) -> Response:
        return await update_terminator(ident, partial=True)

    @bp.delete("/terminators/<ident>")
    async def delete_terminator(ident: str) -> Response:
        found = authorize(Kind.TERMINATORS)
        await ctx.crud.delete(Kind.TERMINATORS, ident, actor=found.identity["id"])
        return empty()

    # --- inspections and the database -------------------------------------------------------

    @bp.post("/inspections")
    async def inspect() -> Response:
        authorize("inspections")
        body = _object(await read_json(), frozenset({"appRegex", "requestedValues"}), "inspect")
        if not isinstance(body.get("appRegex"), str) or not isinstance(body.get("requestedValues"), list):
            raise ValidationError("an inspect request needs appRegex (text) and requestedValues (a list)",
                                  field="body")
        # No controller or router of ours offers inspectable values yet: nothing matches (docs/fabric.md).
        return json_response({"success": True, "errors": [], "values": []})

    add_cluster_routes(bp, ctx, authorize)

    return bp


async def update_router(ctx: ApiContext, ident: str, partial: bool) -> Response:
    """PUT or PATCH of a router through the fabric shape (``/routers``, management ``/transit-routers``)."""
    found = caller(ctx)
    require(found, Kind.EDGE_ROUTERS, METHOD_ACTION[request.method])
    stored = ctx.model.get(Kind.EDGE_ROUTERS, ident)
    body = router_body(await read_json(), stored)
    if not partial:
        body = replacing(body, ROUTER_DEFAULTS)
    if "tags" in body and (stored.get("tags") or {}).get("transitRouter") is True:
        body["tags"] = {**fields.tags("tags", body["tags"]), "transitRouter": True}
    await ctx.crud.update(Kind.EDGE_ROUTERS, ident, body, partial=True, actor=found.identity["id"])
    return empty()


def management_router(ctx: ApiContext, e: Entity) -> dict[str, Any]:
    """A router in the management API's ``routerDetail`` shape: the fabric one, its enrollment state and
    whether it is online."""
    shown = render_router(ctx, e)
    shown.pop("versionInfo", None)
    shown.pop("listenerAddresses", None)
    return {**shown, "isOnline": shown.pop("connected"), "isVerified": bool(e.get("isVerified"))}


def add_router_routes(bp: Blueprint, ctx: ApiContext, shape: Callable[[ApiContext, Entity], dict[str, Any]]) -> None:
    """``/routers`` in the fabric shape (``render_router``) or the management API's (``management_router``)."""

    def authorize(collection: str) -> Caller:
        found = caller(ctx)
        require(found, collection, METHOD_ACTION[request.method])
        return found

    @bp.get("/routers")
    async def list_routers() -> Response:
        authorize(Kind.EDGE_ROUTERS)
        items, meta = page(ctx.model.all(Kind.EDGE_ROUTERS), request.args, filterable(Kind.EDGE_ROUTERS))
        return ok([shape(ctx, e) for e in items], meta)

    @bp.get("/routers/<ident>")
    async def get_router(ident: str) -> Response:
        authorize(Kind.EDGE_ROUTERS)
        return ok(shape(ctx, ctx.model.get(Kind.EDGE_ROUTERS, ident)))

    @bp.post("/routers")
    async def create_router() -> Response:
        found = authorize(Kind.EDGE_ROUTERS)
        body = router_body(await read_json(), None)
        tags = fields.tags("tags", body.get("tags"))
        body = {**body, "isTunnelerEnabled": False, "tags": {**tags, "transitRouter": True}}
        return created(await ctx.crud.create(Kind.EDGE_ROUTERS, body, actor=found.identity["id"]), ROUTERS)

    @bp.put("/routers/<ident>")
    async def put_router(ident: str) -> Response:
        return await update_router(ctx, ident, partial=False)

    @bp.patch("/routers/<ident>")
    async def patch_router(ident: str) -> Response:
        return await update_router(ctx, ident, partial=True)

    @bp.delete("/routers/<ident>")
    async def delete_router(ident: str) -> Response:
        found = authorize(Kind.EDGE_ROUTERS)
        await ctx.crud.delete(Kind.EDGE_ROUTERS, ident, actor=found.identity["id"])
        return empty()


def add_database_routes(bp: Blueprint, ctx: ApiContext, database: DatabaseOps) -> None:
    """``/database`` snapshots and integrity checks (docs/fabric.md), on the fabric and management APIs."""

    def authorize() -> None:
        require(caller(ctx), "database", METHOD_ACTION[request.method])

    @bp.post("/database")
    async def snapshot() -> Response:
        authorize()
        await database.snapshot(None)
        return empty()

    @bp.post("/database/snapshot")
    async def snapshot_with_path() -> Response:
        authorize()
        body = _object(await read_json() or {}, frozenset({"path"}), "snapshot")
        return ok({"path": str(await database.snapshot(body.get("path")))})

    @bp.post("/database/check-data-integrity")
    async def check_integrity() -> Response:
        authorize()
        await database.check(fix=False)
        return ok({}, status=202)

    @bp.post("/database/fix-data-integrity")
    async def fix_integrity() -> Response:
        authorize()
        await database.check(fix=True)
        return ok({}, status=202)

    @bp.get("/database/data-integrity-results")
    async def integrity_results() -> Response:
        authorize()
        return ok(database.results())
