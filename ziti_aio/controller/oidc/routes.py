"""The OIDC provider's HTTP endpoints at ``/oidc`` on the client API's listener (docs/oidc.md §2).

authorize → login (certificate or password) → callback → token, as libziti 1.x runs it: every
step answers a redirect whose ``Location`` the client reads itself. The OAuth answers
(token, introspection, revocation, errors) are authlib's; the login endpoints answer as
OpenZiti does (a redirect, or an error envelope).
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749.errors import OAuth2Error
from quart import Blueprint, Response, request

from ziti_aio.common import api_paths
from ziti_aio.common.errors import InvalidAuth, NotFoundError, ValidationError
from ziti_aio.controller.api.app import bearer_token, read_json, session_token
from ziti_aio.controller.api.common_routes import peer_fingerprint
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.access import Caller
from ziti_aio.controller.model.mfa import code_of, is_partial
from ziti_aio.controller.oidc.provider import GRANT_TYPES, SCOPES, FormRequest, Grantee, OidcProvider
from ziti_aio.pki import tokens
from ziti_aio.pki.csr import load_csr

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ziti_aio.controller.api.app import ApiContext
    from ziti_aio.controller.model.model import Entity

LOGIN_PATH = f"{api_paths.OIDC}/login/username"
CERT_LOGIN_PATH = f"{api_paths.OIDC}/login/cert"
CALLBACK_PATH = f"{api_paths.OIDC}/authorize/callback"


def _answer(result: tuple[int, Any, list[tuple[str, str]]] | None) -> Response:
    if result is None:
        return Response(json.dumps({}), status=200, content_type="application/json")
    status, body, headers = result
    text = body if isinstance(body, str) else json.dumps(body)
    response = Response(text, status=status, headers=dict(headers))
    if not isinstance(body, str):
        response.headers["Content-Type"] = "application/json"
    response.headers["Cache-Control"] = "no-store"
    return response


def _to_callback(request_id: str) -> Response:
    return Response("", status=302, headers={"Location": f"{CALLBACK_PATH}?{urlencode({'id': request_id})}"})


def _totp_queries(request_id: str) -> list[dict[str, Any]]:
    """OpenZiti's auth query for a TOTP code inside the OIDC flow (docs/sdk-1x.md §2.1)."""
    return [{"id": request_id, "typeId": "TOTP", "provider": "ziti", "format": "numeric", "httpMethod": "POST",
             "httpUrl": "./oidc/login/totp", "minLength": 6, "maxLength": 8, "isTotpEnrolled": True}]


def _oauth_error(error: OAuth2Error) -> Response:
    return _answer(error(None))


async def _form_request() -> FormRequest:
    form = await request.form if request.mimetype == "application/x-www-form-urlencoded" else {}
    return FormRequest(request.method, request.url, dict(request.headers), request.args, form)


async def _login_payload() -> tuple[dict[str, Any], str | None]:
    """The login body (JSON or form) and the authorization request id it names: the body's ``id``
    first, then the query's ``authRequestID``, then its ``id`` (as OpenZiti parses it)."""
    body: dict[str, Any] = {}
    if request.mimetype == "application/x-www-form-urlencoded":
        body = dict(await request.form)
    elif await request.get_data():
        parsed = await read_json()
        body = parsed if isinstance(parsed, dict) else {}
    ident = body.get("id") or body.get("authRequestID") or request.args.get("authRequestID") \
        or request.args.get("id")
    return body, ident if isinstance(ident, str) else None


def _session_csr(pem: object) -> str | None:
    """A login's ``csrPem``, checked (signature included) before the login is tried."""
    if pem is None:
        return None
    if not isinstance(pem, str):
        raise ValidationError("must be a PEM certificate signing request", field="csrPem")
    if not load_csr(pem).is_signature_valid:
        raise ValidationError("the CSR signature does not verify", field="csrPem")
    return pem


def oidc_blueprint(ctx: ApiContext) -> Blueprint:
    """The ``/oidc`` endpoints, over a provider that signs session certificates with the identity signer."""
    exchange = ctx.enrollment_exchange
    provider = OidcProvider(ctx.access, exchange.signer_ca, exchange.trust_domain)
    bp = Blueprint("oidc", __name__)

    def url(path: str) -> str:
        return ctx.base_url + api_paths.OIDC + path

    async def revoke_queued() -> None:
        while provider.to_revoke:
            asid = provider.to_revoke.pop()
            provider.rotations.pop(asid, None)
            with contextlib.suppress(NotFoundError):
                await ctx.access.logout(asid, actor="oidc")

    @bp.get("/.well-known/openid-configuration")
    async def discovery() -> Response:
        return _answer((200, {
            "issuer": ctx.access.signer.issuer,
            "authorization_endpoint": url("/authorize"), "token_endpoint": url("/oauth/token"),
            "introspection_endpoint": url("/oauth/introspect"), "revocation_endpoint": url("/oauth/revoke"),
            "end_session_endpoint": url("/end_session"), "jwks_uri": url("/keys"),
            "scopes_supported": list(SCOPES), "response_types_supported": ["code"],
            "grant_types_supported": list(GRANT_TYPES),
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": [tokens.ALGORITHM],
            "token_endpoint_auth_methods_supported": ["none"], "code_challenge_methods_supported": ["S256"],
            "introspection_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
        }, []))

    @bp.get("/keys")
    async def keys() -> Response:
        return _answer((200, ctx.access.signer.jwks(), []))

    @bp.route("/authorize", methods=["GET", "POST"])
    async def authorize() -> Response:
        """Validate the request (client, loopback redirect, scope, PKCE S256) and send the client to log in:
        to the certificate login if it presented a certificate, else to the password login (as OpenZiti)."""
        req = await _form_request()
        try:
            provider.get_consent_grant(req)
        except OAuth2Error as exc:
            return _oauth_error(exc)
        pending = provider.start(dict(req.payload.data), req.uri)
        login = CERT_LOGIN_PATH if peer_fingerprint() else LOGIN_PATH
        return Response("", status=302, headers={"Location": f"{login}?authRequestID={pending.id}"})

    async def _logged_in(ident: str | None, login: Callable[[], Awaitable[tuple[Entity, str]]],
                         csr: str | None = None) -> Response:
        pending = provider.pending(ident)
        if pending is None or pending.api_session_id is not None:
            raise InvalidAuth("no authorization request with that id is waiting for a login")
        api_session, _ = await login()
        pending.api_session_id = api_session["id"]
        if is_partial(api_session):
            # The code comes to /login/totp; until then no code, token or certificate is issued.
            pending.csr = csr
            return _answer((200, {"authQueries": _totp_queries(pending.id)}, []))
        if csr is not None:
            pending.session_cert = provider.issue_session_cert(api_session, csr)
            await provider.store_issued()
        return _to_callback(pending.id)

    @bp.post("/login/ext-jwt")
    async def login_ext_jwt() -> Response:
        """An external JWT (``Authorization: Bearer``) authenticates the pending request, checked as
        ``POST /authenticate?method=ext-jwt`` checks it (docs/external-jwt.md); a ``csrPem`` asks for a
        session certificate (an identity without a certificate of its own can then reach routers)."""
        body, ident = await _login_payload()
        token = bearer_token(request.headers)
        csr = _session_csr(body.get("csrPem"))
        return await _logged_in(ident, lambda: ctx.access.login_ext_jwt(token, body, ip=request.remote_addr or ""),
                                csr)

    @bp.post("/login/totp")
    async def login_totp() -> Response:
        """The TOTP (or recovery) code of a login that is waiting for it (docs/sdk-1x.md §2.1)."""
        body, ident = await _login_payload()
        pending = provider.pending(ident)
        api_session = provider.partial_session(pending.api_session_id) if pending is not None and \
            pending.api_session_id is not None else None
        if pending is None or api_session is None:
            raise InvalidAuth("no authorization request with that id is waiting for a TOTP code")
        identity = ctx.model.get(Kind.IDENTITIES, api_session["identityId"])
        await ctx.access.mfa.authenticate(Caller(identity, api_session, ""), code_of(body))
        if pending.csr is not None:
            pending.session_cert = provider.issue_session_cert(api_session, pending.csr)
            pending.csr = None
            await provider.store_issued()
        return _to_callback(pending.id)

    @bp.post("/login/cert")
    async def login_cert() -> Response:
        """The TLS client certificate authenticates the pending request."""
        body, ident = await _login_payload()
        fingerprint = peer_fingerprint()
        return await _logged_in(ident, lambda: ctx.access.login_cert(fingerprint, body, ip=request.remote_addr or ""))

    @bp.post("/login/password")
    @bp.post("/login/username")
    async def login_password() -> Response:
        """``username`` and ``password`` (JSON or form) authenticate the pending request (``username`` is
        where authorize sends a browser, as OpenZiti); a ``csrPem`` asks for a session certificate."""
        body, ident = await _login_payload()
        csr = _session_csr(body.get("csrPem"))
        return await _logged_in(ident, lambda: ctx.access.login_password(body, ip=request.remote_addr or ""), csr)

    @bp.get("/login/auth-queries")
    async def auth_queries() -> Response:
        """The secondary factors a pending request still needs: its TOTP code, if its login is partial."""
        _, ident = await _login_payload()
        pending = provider.pending(ident)
        if pending is None:
            raise InvalidAuth("no pending authorization request with that id")
        waiting = pending.api_session_id is not None and provider.partial_session(pending.api_session_id)
        return _answer((200, {"authQueries": _totp_queries(pending.id) if waiting else []}, []))

    @bp.get("/authorize/callback")
    async def callback() -> Response:
        """Issue the single-use code to the redirect URI of a logged-in request."""
        pending = provider.pending(request.args.get("id"))
        if pending is None or pending.api_session_id is None:
            raise InvalidAuth("the authorization request is unknown, expired or not logged in")
        if provider.partial_session(pending.api_session_id) is not None:
            raise InvalidAuth("the login of this authorization request waits for its TOTP code")
        del provider.auth_requests[pending.id]
        api_session = provider.live_session(pending.api_session_id)
        if api_session is None:
            raise InvalidAuth("the login of this authorization request has ended")
        req = FormRequest("GET", pending.uri, {}, pending.params, {})
        grantee = Grantee(api_session, pending.params.get("nonce"), pending.session_cert)
        try:
            grant = provider.get_authorization_grant(req)
        except OAuth2Error as exc:
            return _oauth_error(exc)
        return _answer(provider.create_authorization_response(req, grant_user=grantee, grant=grant))

    @bp.post("/oauth/token")
    async def token() -> Response:
        """``authorization_code`` (with the PKCE verifier), ``refresh_token`` (rotated) or token exchange."""
        answer = provider.create_token_response(await _form_request())
        await provider.store_issued()
        await revoke_queued()
        return _answer(answer)

    @bp.post("/oauth/introspect")
    async def introspect() -> Response:
        return _answer(provider.create_endpoint_response("introspection", await _form_request()))

    @bp.post("/oauth/revoke")
    async def revoke() -> Response:
        """Revoking an access or refresh token ends its login: every token of it is refused at once."""
        answer = provider.create_endpoint_response("revocation", await _form_request())
        await revoke_queued()
        return _answer(answer)

    @bp.route("/end_session", methods=["GET", "POST"])
    async def end_session() -> Response:
        """RP-initiated logout by ``id_token_hint``, or by the caller's own access token."""
        answer = provider.create_endpoint_response("end_session", await _form_request())
        bearer = session_token(request.headers)
        if bearer:
            found = provider.credential(bearer)
            if found is not None and found.claims.get("z_t") == tokens.ACCESS:
                provider.to_revoke.add(str(found.claims["z_asid"]))
        await revoke_queued()
        return _answer(answer)

    return bp
