"""Routes both APIs share: version, CA certs, authenticate, current API session and identity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography import x509
from quart import Blueprint, Response, request

from ziti_aio.common import api_paths
from ziti_aio.common.errors import InvalidAuth, ValidationError
from ziti_aio.controller.api.app import ApiContext, bearer_token, caller, read_json
from ziti_aio.controller.api.current_authenticator_routes import add_current_authenticator_routes
from ziti_aio.controller.api.envelope import empty, ok
from ziti_aio.controller.api.informational_routes import add_informational_routes
from ziti_aio.controller.api.render import Renderer
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.access import Caller, api_session_expiry_fields
from ziti_aio.controller.model.views import ref
from ziti_aio.pki.bundle import fingerprint_sha1

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity


def version_data(ctx: ApiContext) -> dict[str, Any]:
    def api(path: str) -> dict[str, Any]:
        return {"v1": {"path": path, "apiBaseUrls": [ctx.base_url + path]}}

    return {
        "version": ctx.version, "revision": "ziti-aio", "buildDate": "", "runtimeVersion": "python",
        "apiVersions": {
            "edge": api(api_paths.CLIENT), "edge-client": api(api_paths.CLIENT),
            "edge-management": api(api_paths.MANAGEMENT), "edge-oidc": api(api_paths.OIDC),
        },
        # libziti 1.x logs in by OIDC when both this and apiVersions["edge-oidc"] are present (docs/sdk-1x.md §1.2)
        "capabilities": ["OIDC_AUTH", "OIDC_AUTH_WITH_CSR", *(["HA_CONTROLLER"] if ctx.cluster is not None else [])],
    }


def api_session_detail(ctx: ApiContext, found: Caller | None, api_session: Entity, token: str) -> dict[str, Any]:
    """``currentApiSessionDetail``: every field libziti dereferences is present."""
    renderer = Renderer(ctx.model)
    detail = renderer.render(Kind.API_SESSIONS, api_session)
    identity = ctx.model.get(Kind.IDENTITIES, api_session["identityId"])
    detail.update(api_session_expiry_fields(ctx.access, api_session))
    auth = ctx.model.maybe(Kind.AUTHENTICATORS, api_session.get("authenticatorId")) or {}
    # A certificate the network issued can be extended, when an administrator asked or at will (libziti 1.x).
    detail.update(isCertExtendable=auth.get("method") == "cert" and not auth.get("caId"),
                  isCertExtendRequested=auth.get("isExtendRequested", False),
                  isCertKeyRollRequested=auth.get("isKeyRollRequested", False))
    detail.update(
        token=token, identity={**(ref(Kind.IDENTITIES, identity) or {}), "appData": identity.get("appData")},
        improperClientCertChain=False, permissions=sorted(found.permissions()) if found else [],
    )
    return detail


def peer_fingerprint() -> str | None:
    from ziti_aio.controller.api.server import PEER_CERT_DER

    der = PEER_CERT_DER.get()
    if not der:
        return None
    return fingerprint_sha1(x509.load_der_x509_certificate(der))


def add_common_routes(bp: Blueprint, ctx: ApiContext, api: str) -> None:
    """Register the routes both APIs have on ``bp``, the blueprint of ``api`` (``edge-client`` or
    ``edge-management``)."""
    add_informational_routes(bp, ctx, api)
    add_current_authenticator_routes(bp, ctx)

    @bp.get("/")
    @bp.get("/version")
    async def version() -> Response:
        """``/version``, also at the API's root (OpenZiti's ``listRoot``)."""
        return ok(version_data(ctx))

    @bp.get(api_paths.CACERTS)
    async def cacerts() -> Response:
        return Response(ctx.cacerts_body, content_type="application/pkcs7-mime",
                        headers={"Content-Transfer-Encoding": "base64"})

    @bp.post("/authenticate")
    async def authenticate() -> Response:
        method = request.args.get("method", "")
        body = await read_json()
        ip = (request.remote_addr or "")
        if method == "password":
            api_session, token = await ctx.access.login_password(body, ip=ip)
        elif method == "cert":
            api_session, token = await ctx.access.login_cert(peer_fingerprint(), body, ip=ip)
        elif method == "ext-jwt":
            api_session, token = await ctx.access.login_ext_jwt(bearer_token(request.headers), body, ip=ip)
        elif method == "mfa":
            raise InvalidAuth(f"authentication method {method!r} is not enabled")
        else:
            raise ValidationError("method must be password, cert or ext-jwt", field="method", value=method)
        found = ctx.access.resolve(token, allow_partial=True)
        response = ok(api_session_detail(ctx, found, api_session, token))
        response.headers["zt-session"] = token
        return response

    @bp.get("/current-api-session")
    async def current_api_session() -> Response:
        found = caller(ctx, allow_partial=True)
        token = ctx.access.refreshed_token(found)
        response = ok(api_session_detail(ctx, found, found.api_session, token))
        response.headers["zt-session"] = token
        return response

    @bp.delete("/current-api-session")
    async def logout() -> Response:
        found = caller(ctx, allow_partial=True)
        await ctx.access.logout(found.api_session["id"], actor=found.identity["id"])
        return empty()

    @bp.get("/current-identity")
    async def current_identity() -> Response:
        found = caller(ctx)
        return ok(Renderer(ctx.model).render(Kind.IDENTITIES, found.identity))
