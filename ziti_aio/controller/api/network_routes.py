"""Live data-plane state in the management API: terminators (stored and router-created), circuits, links.

``/edge/management/v1/circuits`` lists circuits with ``path.nodes`` as router ids and ``path.links``
as link ids (empty for one router); ``/fabric/v1/circuits`` shows them as references, as fabric.yml
declares.
``DELETE .../circuits/{id}`` closes a circuit on its routers. ``.../links`` lists router links as
OpenZiti's fabric API does (``sourceRouter``/``destRouter`` refs, ``state``, ``cost``,
``staticCost``, ``down``, latencies in ns); ``PATCH .../links/{id}`` takes ``down`` and
``staticCost``; ``DELETE .../links/{id}`` has the routers close the link and dial again.
"""

from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING, Any

from quart import Blueprint, Response, request

from ziti_aio.common.errors import NotFoundError, ValidationError
from ziti_aio.controller.api.app import ApiContext, caller, read_json
from ziti_aio.controller.api.envelope import empty, ok
from ziti_aio.controller.api.fabric_routes import fabric_terminator
from ziti_aio.controller.api.listing import Filterable, filterable, page
from ziti_aio.controller.api.permissions import METHOD_ACTION, require
from ziti_aio.controller.api.render import Renderer
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.views import links, ref
from ziti_aio.controller.network.links import MAX_STATIC_COST, ReportedLink

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity
    from ziti_aio.controller.network.network import Network

CIRCUIT_FIELDS = Filterable.of("serviceId", "clientId", "terminatorId", "sessionId", "apiSessionId")
LINK_FIELDS = Filterable.of("sourceRouterId", "destRouterId", "state", "cost", "staticCost", "down")


def render_circuit(ctx: ApiContext, network: Network, circuit_id: str) -> dict[str, Any]:
    circuit = network.circuits.get(circuit_id)
    if circuit is None:
        raise NotFoundError("circuits", circuit_id)
    terminator = network.terminators.get(circuit.terminator_id)
    service = ctx.model.maybe(Kind.SERVICES, circuit.service_id)
    return {
        **circuit.entity(), "_links": links("circuits", circuit.id),
        "service": ref(Kind.SERVICES, service), "clientId": circuit.client_id,
        "path": {"nodes": list(circuit.nodes), "links": list(circuit.links)},
        "terminator": {"id": circuit.terminator_id, "_links": links(Kind.TERMINATORS, circuit.terminator_id),
                       "entity": Kind.TERMINATORS, "name": circuit.terminator_id} if terminator else None,
    }


def router_ref(ctx: ApiContext, router_id: str) -> dict[str, Any]:
    """A fabric reference to a router (by id alone when it is no longer stored)."""
    found = ref("routers", ctx.model.maybe(Kind.EDGE_ROUTERS, router_id))
    return found or {"id": router_id, "name": router_id, "entity": "routers", "_links": links("routers", router_id)}


def render_link(ctx: ApiContext, link: ReportedLink) -> dict[str, Any]:
    def ns(ms: float | None) -> int | None:
        return None if ms is None else round(ms * 1_000_000)

    return {**link.entity(), "_links": links("links", link.id), "sourceRouter": router_ref(ctx, link.src),
            "destRouter": router_ref(ctx, link.dst), "sourceLatency": ns(link.src_latency_ms),
            "destLatency": ns(link.dst_latency_ms), "protocol": "tls", "iteration": 1}


def link_update(body: Any) -> dict[str, Any]:
    """``down`` (bool) and ``staticCost`` (int) from a PATCH body; anything else is refused."""
    if not isinstance(body, dict) or not body or set(body) - {"down", "staticCost"}:
        raise ValidationError("a link update takes only down and staticCost", field="body")
    down, cost = body.get("down"), body.get("staticCost")
    if down is not None and not isinstance(down, bool):
        raise ValidationError("down must be true or false", field="down", value=down)
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int) or not 0 <= cost <= MAX_STATIC_COST):
        raise ValidationError(f"staticCost must be an integer in [0, {MAX_STATIC_COST}]", field="staticCost",
                              value=cost)
    return {"down": down, "static_cost": cost}


def network_blueprint(ctx: ApiContext, name: str) -> Blueprint:
    """Routes for terminators and circuits (register before the generic management routes); under the
    fabric prefix (``name == "fabric"``) terminators, circuits and links take fabric.yml's shapes."""
    bp = Blueprint(name, __name__)
    network = ctx.network
    assert network is not None

    def shown(e: Entity) -> dict[str, Any]:
        rendered = Renderer(ctx.model, router_state=ctx.router_state).render(Kind.TERMINATORS, e)
        return fabric_terminator(rendered) if name == "fabric" else rendered

    def circuit_shown(circuit_id: str) -> dict[str, Any]:
        rendered = render_circuit(ctx, network, circuit_id)
        if name == "fabric":
            # fabric.yml's path holds references: routers and links by id, name and link.
            nodes = [router_ref(ctx, r) for r in rendered["path"]["nodes"]]
            hops = [{"id": lk, "name": lk, "entity": "links", "_links": links("links", lk)}
                    for lk in rendered["path"]["links"]]
            rendered["path"] = {"nodes": nodes, "links": hops}
        return rendered

    def link_shown(link: ReportedLink) -> dict[str, Any]:
        rendered = render_link(ctx, link)
        if name == "fabric":
            # fabric.yml's latencies are plain integers: OpenZiti shows 0 until one is measured.
            for key in ("sourceLatency", "destLatency"):
                rendered[key] = rendered[key] or 0
        return rendered

    def authorize(name: str) -> None:
        require(caller(ctx), Kind.TERMINATORS if name == Kind.TERMINATORS else "ops", METHOD_ACTION[request.method])

    def terminators() -> dict[str, Entity]:
        live = (t.entity() for t in network.terminators)
        return {e["id"]: e for e in chain(ctx.model.all(Kind.TERMINATORS), live)}

    @bp.get("/terminators")
    async def list_terminators() -> Response:
        authorize(Kind.TERMINATORS)
        items, meta = page(terminators().values(), request.args, filterable(Kind.TERMINATORS))
        return ok([shown(e) for e in items], meta)

    @bp.get("/terminators/<ident>")
    async def get_terminator(ident: str) -> Response:
        authorize(Kind.TERMINATORS)
        found = terminators().get(ident)
        if found is None:
            raise NotFoundError(Kind.TERMINATORS, ident)
        return ok(shown(found))

    @bp.get("/circuits")
    async def list_circuits() -> Response:
        authorize("circuits")
        items, meta = page((c.entity() for c in network.circuits.all()), request.args, CIRCUIT_FIELDS)
        return ok([circuit_shown(e["id"]) for e in items], meta)

    @bp.get("/circuits/<ident>")
    async def get_circuit(ident: str) -> Response:
        authorize("circuits")
        return ok(circuit_shown(ident))

    @bp.delete("/circuits/<ident>")
    async def delete_circuit(ident: str) -> Response:
        authorize("circuits")
        if network.close_circuit(ident, "closed by an administrator") is None:
            raise NotFoundError("circuits", ident)
        return empty()

    @bp.get("/links")
    async def list_links() -> Response:
        authorize("links")
        items, meta = page((link.entity() for link in network.links), request.args, LINK_FIELDS)
        return ok([link_shown(found) for e in items if (found := network.links.get(e["id"]))], meta)

    @bp.get("/links/<ident>")
    async def get_link(ident: str) -> Response:
        authorize("links")
        found = network.links.get(ident)
        if found is None:
            raise NotFoundError("links", ident)
        return ok(link_shown(found))

    @bp.delete("/links/<ident>")
    async def delete_link(ident: str) -> Response:
        authorize("links")
        # As OpenZiti, the answer is empty whether the link was known or not.
        network.fault_link(ident, "deleted by an administrator")
        return empty()

    @bp.patch("/links/<ident>")
    async def patch_link(ident: str) -> Response:
        authorize("links")
        update = link_update(await read_json())
        return ok(link_shown(network.update_link(ident, **update)))

    return bp
