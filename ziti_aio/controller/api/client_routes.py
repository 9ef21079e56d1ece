"""Edge Client API (``/edge/client/v1``): what SDKs and tunnelers call."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from quart import Blueprint, Response, request

from ziti_aio.common.errors import NotFoundError, NotImplementedHere, ValidationError
from ziti_aio.controller.api.app import ApiContext, caller, read_json
from ziti_aio.controller.api.common_routes import add_common_routes
from ziti_aio.controller.api.envelope import empty, json_response, ok
from ziti_aio.controller.api.informational_routes import CLIENT_API
from ziti_aio.controller.api.listing import Filterable, filterable, page
from ziti_aio.controller.api.render import Renderer
from ziti_aio.controller.api.server import PEER_CERT_DER
from ziti_aio.controller.api.session_cert_routes import add_session_cert_routes
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.external_jwt_signers import client_detail
from ziti_aio.controller.model.views import edge_router_common
from ziti_aio.pki.enrollment_jwt import enrollment_jwks

if TYPE_CHECKING:
    from ziti_aio.controller.model.access import Caller
    from ziti_aio.controller.model.model import Entity

MAX_CSR_BYTES = 64 * 1024
CLIENT_TERMINATOR_FIELDS = frozenset({"id", "createdAt", "updatedAt", "tags", "_links", "serviceId", "service",
                                      "routerId", "identity"})
CLIENT_TERMINATOR_FILTERS = Filterable.of("identity", aliases={"serviceId": "service", "routerId": "router"})


def _renderer(ctx: ApiContext, found: Caller) -> Renderer:
    return Renderer(ctx.model, router_state=ctx.router_state, caller_identity_id=found.identity["id"],
                    config_type_ids=found.api_session.get("configTypes") or [],
                    posture_queries=partial(ctx.access.posture.service_queries, found.api_session))


def client_blueprint(ctx: ApiContext) -> Blueprint:
    bp = Blueprint("client", __name__)

    def _own_session(found: Caller, ident: str) -> Entity:
        """The caller's session ``ident``; another identity's is not there (404)."""
        session = ctx.model.maybe(Kind.SESSIONS, ident)
        if session is None or session["identityId"] != found.identity["id"]:
            raise NotFoundError("session", ident)
        return session

    add_common_routes(bp, ctx, CLIENT_API)
    add_session_cert_routes(bp, ctx)

    async def _enroll(method: str) -> Response:
        token = request.args.get("token")
        if method == "ott":
            data = await request.get_data()
            if len(data) > MAX_CSR_BYTES:
                raise ValidationError("the CSR is too large", field="csr")
            chain = await ctx.enrollment_exchange.enroll_ott(token, data)
            if "application/x-pem-file" in request.headers.get("accept", "") \
                    and "application/json" not in request.headers.get("accept", ""):
                return Response(chain, content_type="application/x-pem-file")
            return ok({"cert": chain})
        if method == "updb":
            await ctx.enrollment_exchange.enroll_updb(token, await read_json())
            return empty()
        if method == "ottca":
            await ctx.enrollment_exchange.enroll_ottca(token, PEER_CERT_DER.get())
            return empty()
        if method == "erott":
            return ok(await ctx.enrollment_exchange.enroll_router(token, await read_json()))
        raise ValidationError("method must be ott, ottca, updb or erott", field="method", value=method)

    @bp.post("/enroll")
    async def enroll() -> Response:
        return await _enroll(request.args.get("method", ""))

    @bp.post("/enroll/<method>")
    async def enroll_method(method: str) -> Response:
        return await _enroll(method)

    @bp.post("/enroll/extend/router")
    async def extend_router() -> Response:
        """New certificates for an enrolled router, which presents its current client certificate."""
        return ok(await ctx.enrollment_exchange.extend_router(PEER_CERT_DER.get(), await read_json()))

    @bp.get("/enroll/jwks")
    async def enrollment_jwks_route() -> Response:
        """The key enrollment JWTs are signed with, as a bare JWKS (no envelope, as OpenZiti)."""
        return json_response(enrollment_jwks(ctx.server_cert) if ctx.server_cert else {"keys": []})

    @bp.get("/protocols")
    async def protocols() -> Response:
        return ok({"https": {"address": urlsplit(ctx.base_url).netloc}})

    @bp.get("/current-identity/edge-routers")
    async def my_edge_routers() -> Response:
        found = caller(ctx)
        routers = ctx.model.pick(Kind.EDGE_ROUTERS, ctx.model.policy.identity_edge_routers(found.identity["id"]))
        items, meta = page(routers, request.args, filterable(Kind.EDGE_ROUTERS))
        renderer = _renderer(ctx, found)
        return ok([renderer.render(Kind.EDGE_ROUTERS, r) for r in items], meta)

    @bp.get("/current-api-session/service-updates")
    async def service_updates() -> Response:
        caller(ctx)
        return ok({"lastChangeAt": ctx.model.last_change_at})

    @bp.get("/services")
    async def services() -> Response:
        found = caller(ctx)
        visible = ctx.model.policy.service_permissions(found.identity["id"])
        items, meta = page(ctx.model.pick(Kind.SERVICES, visible), request.args, filterable(Kind.SERVICES))
        renderer = _renderer(ctx, found)
        return ok([renderer.render(Kind.SERVICES, s) for s in items], meta)

    @bp.get("/services/<ident>")
    async def service(ident: str) -> Response:
        found = caller(ctx)
        if ident not in ctx.model.policy.service_permissions(found.identity["id"]):
            raise NotFoundError("service", ident)
        return ok(_renderer(ctx, found).render(Kind.SERVICES, ctx.model.get(Kind.SERVICES, ident)))

    @bp.put("/services/<ident>")
    @bp.patch("/services/<ident>")
    @bp.delete("/services/<ident>")
    async def change_service(ident: str) -> Response:
        """client.yml declares these, OpenZiti's controller never implemented them: 501, as it answers."""
        caller(ctx)
        raise NotImplementedHere(f"{request.method} of a service is not part of the client API; use the "
                                 "management API")

    @bp.get("/services/<ident>/edge-routers")
    async def service_edge_routers(ident: str) -> Response:
        """The routers the caller may use for ``ident`` (libziti 1.x asks on every bind: docs/sdk-1x.md)."""
        found = caller(ctx)
        if ident not in ctx.model.policy.service_permissions(found.identity["id"]):
            raise NotFoundError("service", ident)
        routers = ctx.model.session_routers(found.identity["id"], ident)
        items, meta = page(routers, request.args, filterable(Kind.EDGE_ROUTERS))
        renderer = _renderer(ctx, found)
        return ok({"edgeRouters": [edge_router_common(renderer, r) for r in items]}, meta)

    @bp.get("/services/<ident>/terminators")
    async def service_terminators(ident: str) -> Response:
        """The terminators of a service the caller may use (``terminatorClientDetail``: no address, no router
        details)."""
        found = caller(ctx)
        if ident not in ctx.model.policy.service_permissions(found.identity["id"]):
            raise NotFoundError("service", ident)
        terminators = ctx.model.referencing(Kind.TERMINATORS, "service", ident)
        # Filters and sorts see only the fields shown: a filter on the address would reveal it.
        items, meta = page(terminators, request.args, CLIENT_TERMINATOR_FILTERS)
        renderer = _renderer(ctx, found)
        return ok([{k: v for k, v in renderer.render(Kind.TERMINATORS, t).items() if k in CLIENT_TERMINATOR_FIELDS}
                   for t in items], meta)

    @bp.get("/external-jwt-signers")
    async def external_jwt_signers() -> Response:
        """The enabled signers a login page may offer, asked before login (docs/external-jwt.md)."""
        items, meta = page(ctx.access.ext_jwt.enabled_signers(), request.args, Filterable.of("name"))
        return ok([client_detail(s) for s in items], meta)

    @bp.post("/sessions")
    async def create_session() -> Response:
        found = caller(ctx)
        session = await ctx.access.create_session(found, await read_json())
        # The caller's own session: its token is answered in the clear (listings redact it).
        return ok({**_renderer(ctx, found).render(Kind.SESSIONS, session), "token": session["token"]}, status=201)

    @bp.get("/sessions")
    async def my_sessions() -> Response:
        found = caller(ctx)
        mine = ctx.model.where(Kind.SESSIONS, apiSessionId=found.api_session["id"])
        items, meta = page(mine, request.args, filterable(Kind.SESSIONS))
        renderer = _renderer(ctx, found)
        return ok([{**renderer.render(Kind.SESSIONS, s), "token": s["token"]} for s in items], meta)

    @bp.get("/sessions/<ident>")
    async def my_session(ident: str) -> Response:
        """One of the caller's sessions, token included (libziti re-reads its routers: docs/sdk-1x.md §4.4)."""
        found = caller(ctx)
        session = _own_session(found, ident)
        return ok({**_renderer(ctx, found).render(Kind.SESSIONS, session), "token": session["token"]})

    @bp.delete("/sessions/<ident>")
    async def delete_session(ident: str) -> Response:
        found = caller(ctx)
        _own_session(found, ident)
        await ctx.crud.delete(Kind.SESSIONS, ident, actor=found.identity["id"])
        return empty()

    return bp
