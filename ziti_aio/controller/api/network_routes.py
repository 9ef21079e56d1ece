"""Live data-plane state in the management API: terminators (stored and router-created) and circuits.

``/edge/management/v1/circuits`` and ``/fabric/v1/circuits`` list circuits as OpenZiti's fabric
API does: ``path.nodes`` are router ids, ``path.links`` link ids (empty for one router).
``DELETE .../circuits/{id}`` closes a circuit on its routers.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from quart import Blueprint, Response, request

from ziti_aio.common.errors import NotFoundError
from ziti_aio.controller.api.app import ApiContext, caller
from ziti_aio.controller.api.envelope import empty, ok
from ziti_aio.controller.api.listing import page
from ziti_aio.controller.api.permissions import METHOD_ACTION, require
from ziti_aio.controller.api.render import Renderer, links, ref
from ziti_aio.controller.model.model import Entity
from ziti_aio.controller.network.network import Network

CIRCUIT_FIELDS = ("serviceId", "clientId", "terminatorId")


def render_circuit(ctx: ApiContext, network: Network, circuit_id: str) -> dict[str, Any]:
    circuit = network.circuits.get(circuit_id)
    if circuit is None:
        raise NotFoundError("circuits", circuit_id)
    terminator = network.terminators.get(circuit.terminator_id)
    service = ctx.model.maybe("services", circuit.service_id)
    return {
        **circuit.entity(), "_links": links("circuits", circuit.id),
        "service": ref("services", service), "clientId": circuit.client_id,
        "path": {"nodes": list(circuit.nodes), "links": list(circuit.links)},
        "terminator": {"id": circuit.terminator_id, "_links": links("terminators", circuit.terminator_id),
                       "entity": "terminators", "name": circuit.terminator_id} if terminator else None,
    }


def network_blueprint(ctx: ApiContext, name: str) -> Blueprint:
    """Routes for terminators and circuits (register before the generic management routes)."""
    bp = Blueprint(name, __name__)
    network = ctx.network
    assert network is not None

    def authorize(kind: str) -> None:
        require(caller(ctx), "terminators" if kind == "terminators" else "ops", METHOD_ACTION[request.method])

    def terminators() -> dict[str, Entity]:
        live = (t.entity() for t in network.terminators)
        return {e["id"]: e for e in chain(ctx.model.all("terminators"), live)}

    @bp.get("/terminators")
    async def list_terminators() -> Response:
        authorize("terminators")
        items, meta = page("terminators", terminators().values(), request.args)
        r = Renderer(ctx.model, router_state=ctx.router_state)
        return ok([r.render("terminators", e) for e in items], meta)

    @bp.get("/terminators/<ident>")
    async def get_terminator(ident: str) -> Response:
        authorize("terminators")
        found = terminators().get(ident)
        if found is None:
            raise NotFoundError("terminators", ident)
        return ok(Renderer(ctx.model, router_state=ctx.router_state).render("terminators", found))

    @bp.get("/circuits")
    async def list_circuits() -> Response:
        authorize("circuits")
        items, meta = page("circuits", (c.entity() for c in network.circuits.all()), request.args)
        return ok([render_circuit(ctx, network, e["id"]) for e in items], meta)

    @bp.get("/circuits/<ident>")
    async def get_circuit(ident: str) -> Response:
        authorize("circuits")
        return ok(render_circuit(ctx, network, ident))

    @bp.delete("/circuits/<ident>")
    async def delete_circuit(ident: str) -> Response:
        authorize("circuits")
        if network.close_circuit(ident, "closed by an administrator") is None:
            raise NotFoundError("circuits", ident)
        return empty()

    return bp
