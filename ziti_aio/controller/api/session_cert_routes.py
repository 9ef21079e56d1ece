"""``/current-api-session/certificates`` on the Edge Client API: session-bound certificates
(:mod:`ziti_aio.controller.model.session_certs`); an API session sees and deletes only its own."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from quart import Blueprint, Response, request

from ziti_aio.common.errors import NotFoundError
from ziti_aio.controller.api.app import ApiContext, caller, read_json
from ziti_aio.controller.api.envelope import empty, ok
from ziti_aio.controller.api.listing import filterable, page
from ziti_aio.controller.api.render import Renderer
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.views import links

if TYPE_CHECKING:
    from ziti_aio.controller.model.access import Caller
    from ziti_aio.controller.model.model import Entity

COLLECTION = "current-api-session/certificates"


def add_session_cert_routes(bp: Blueprint, ctx: ApiContext) -> None:
    def own(found: Caller, ident: str) -> Entity:
        cert = ctx.model.maybe(Kind.API_SESSION_CERTIFICATES, ident)
        if cert is None or cert["apiSessionId"] != found.api_session["id"]:
            raise NotFoundError("certificate", ident)
        return cert

    def shown(cert: Entity) -> dict[str, Any]:
        rendered = Renderer(ctx.model).render(Kind.API_SESSION_CERTIFICATES, cert)
        return {**rendered, "_links": links(COLLECTION, cert["id"])}

    @bp.post("/current-api-session/certificates")
    async def create_certificate() -> Response:
        """Sign ``{"csr": PEM}`` into a certificate valid for this API session's idle timeout."""
        found = caller(ctx)
        body: Any = await read_json()
        exchange = ctx.enrollment_exchange
        cert, chain = await ctx.crud.create_session_certificate(
            found.identity, found.api_session, body.get("csr") if isinstance(body, dict) else None,
            exchange.signer_ca, exchange.trust_domain, timedelta(seconds=ctx.access.session_timeout_s))
        return ok({"id": cert["id"], "_links": links(COLLECTION, cert["id"]), "certificate": cert["certificate"],
                   "cas": chain}, status=201)

    @bp.get("/current-api-session/certificates")
    async def list_certificates() -> Response:
        found = caller(ctx)
        mine = ctx.model.where(Kind.API_SESSION_CERTIFICATES, apiSessionId=found.api_session["id"])
        items, meta = page(mine, request.args, filterable(Kind.API_SESSION_CERTIFICATES))
        return ok([shown(c) for c in items], meta)

    @bp.get("/current-api-session/certificates/<ident>")
    async def get_certificate(ident: str) -> Response:
        return ok(shown(own(caller(ctx), ident)))

    @bp.delete("/current-api-session/certificates/<ident>")
    async def delete_certificate(ident: str) -> Response:
        found = caller(ctx)
        await ctx.crud.end_session_certificate(own(found, ident), actor=found.identity["id"])
        return empty()
