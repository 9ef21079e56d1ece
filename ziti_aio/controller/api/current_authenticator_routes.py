"""``/current-identity/authenticators``: an identity's own authenticators, on both APIs.

List and read them, change the own password (the current one must be given), and extend a certificate the
network issued: ``extend`` signs a CSR into a new certificate kept beside the old one, ``extend-verify``
(the new certificate shown back) makes it the authenticator's and drops the old (docs/edge-api.md,
"Authenticators").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio
from cryptography.hazmat.primitives.serialization import Encoding
from quart import Blueprint, Response, request

from ziti_aio.common.errors import AuthError, InvalidAuth, NotFoundError, ValidationError
from ziti_aio.controller.api.app import ApiContext, caller, read_json
from ziti_aio.controller.api.envelope import empty, ok
from ziti_aio.controller.api.listing import filterable, page
from ziti_aio.controller.api.render import Renderer
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.authenticator_actions import network_cert_authenticator
from ziti_aio.controller.model.passwords import check_password

if TYPE_CHECKING:
    from ziti_aio.controller.model.access import Caller
    from ziti_aio.controller.model.model import Entity

# What an identity may change on its own password authenticator.
OWN_UPDB_FIELDS = frozenset({"username", "password", "tags", "currentPassword"})


def add_current_authenticator_routes(bp: Blueprint, ctx: ApiContext) -> None:
    """Register the routes on ``bp`` (the client or management blueprint)."""

    def own(found: Caller, ident: str) -> Entity:
        auth = ctx.model.maybe(Kind.AUTHENTICATORS, ident)
        if auth is None or auth["identityId"] != found.identity["id"]:
            raise NotFoundError("authenticator", ident)
        return auth

    @bp.get("/current-identity/authenticators")
    async def list_own() -> Response:
        found = caller(ctx)
        mine = ctx.model.where(Kind.AUTHENTICATORS, identityId=found.identity["id"])
        items, meta = page(mine, request.args, filterable(Kind.AUTHENTICATORS))
        renderer = Renderer(ctx.model)
        return ok([renderer.render(Kind.AUTHENTICATORS, a) for a in items], meta)

    @bp.get("/current-identity/authenticators/<ident>")
    async def get_own(ident: str) -> Response:
        found = caller(ctx)
        return ok(Renderer(ctx.model).render(Kind.AUTHENTICATORS, own(found, ident)))

    async def change_own(ident: str, partial: bool) -> Response:
        found = caller(ctx)
        auth = own(found, ident)
        body: Any = await read_json()
        if not isinstance(body, dict):
            raise ValidationError("the request body must be a JSON object", field="body")
        if auth["method"] != "updb":
            raise ValidationError("only a password authenticator can be changed here", field="id", value=ident)
        unknown = set(body) - OWN_UPDB_FIELDS
        if unknown:
            raise ValidationError(f"may not set {', '.join(sorted(unknown))}", field="body")
        current = body.get("currentPassword")
        if not isinstance(current, str) or not await trio.to_thread.run_sync(
                check_password, auth.get("passwordHash") or "", current):
            raise InvalidAuth("the current password is wrong")
        update = {k: v for k, v in body.items() if k != "currentPassword" and not (partial and v is None)}
        if not partial:
            update = {"method": "updb", "identityId": auth["identityId"], **update}
        await ctx.crud.update(Kind.AUTHENTICATORS, ident, update, partial=partial, actor=found.identity["id"])
        return empty()

    @bp.put("/current-identity/authenticators/<ident>")
    async def put_own(ident: str) -> Response:
        return await change_own(ident, partial=False)

    @bp.patch("/current-identity/authenticators/<ident>")
    async def patch_own(ident: str) -> Response:
        return await change_own(ident, partial=True)

    def extendable(found: Caller, ident: str) -> Entity:
        """The caller's network-issued certificate authenticator, if this API session logged in with it."""
        auth = network_cert_authenticator(ctx.model, ident, found.identity["id"])
        if found.api_session.get("authenticatorId") != ident:
            raise AuthError("the API session was not authenticated with this certificate")
        return auth

    @bp.post("/current-identity/authenticators/<ident>/extend")
    async def extend(ident: str) -> Response:
        found = caller(ctx)
        auth = extendable(found, ident)
        body: Any = await read_json()
        csr = body.get("clientCertCsr") if isinstance(body, dict) else None
        if not isinstance(csr, str):
            raise ValidationError("is required (a PEM CSR)", field="clientCertCsr")
        exchange = ctx.enrollment_exchange
        chain = await ctx.crud.extend_authenticator(auth, csr, exchange.signer_ca, exchange.trust_domain)
        ca = b"".join(c.public_bytes(Encoding.PEM) for c in exchange.signer_ca.certs).decode()
        return ok({"clientCert": chain, "ca": ca})

    @bp.post("/current-identity/authenticators/<ident>/extend-verify")
    async def extend_verify(ident: str) -> Response:
        found = caller(ctx)
        auth = extendable(found, ident)
        body: Any = await read_json()
        await ctx.crud.verify_extension(auth, body.get("clientCert") if isinstance(body, dict) else None)
        return empty()
