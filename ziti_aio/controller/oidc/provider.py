"""The OIDC provider's OAuth 2.0 mechanics, on authlib's framework-free authorization server.

authlib runs the grants (authorization code with PKCE S256, refresh token), introspection,
revocation and end-session; this module gives it the registered clients, the pending
authorization requests, the single-use codes, the refresh-token families and the tokens,
which are the controller's own JWTs bound to an API session (docs/oidc.md §3).

Everything here is synchronous (authlib's hooks are synchronous): what needs a model write — ending an
API session when a refresh token is reused or a token is revoked, storing a session certificate signed for
a CSR, recording the refresh token a login may use next — is queued in :attr:`OidcProvider.to_revoke`,
:attr:`OidcProvider.certs_to_store` and :attr:`OidcProvider.rotations` and done by the route after authlib
answered, before the answer goes out. A refresh-token family is its API session: the session holds the
SHA-256 of the one refresh token that may still be used (``oidcRefreshHash``), so the family is replicated
with it and every cluster member, and a restarted controller, can refresh it (docs/oidc.md §3).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, OAuth2Request, TokenMixin
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint

from ziti_aio.common.errors import ValidationError
from ziti_aio.common.ids import new_id
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.mfa import is_partial
from ziti_aio.controller.model.session_certs import fingerprints_of, session_certificate
from ziti_aio.controller.oidc.token_exchange import GRANT_TYPE as TOKEN_EXCHANGE
from ziti_aio.controller.oidc.token_exchange import TokenExchangeGrant
from ziti_aio.controller.store.commands import Command, Put
from ziti_aio.pki import tokens

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ziti_aio.controller.model.access import Access
    from ziti_aio.controller.model.model import Entity
    from ziti_aio.pki.ca import CertAuthority

CLIENT_IDS = ("openziti", "native")
"""OpenZiti's native (public, PKCE-only) clients; libziti uses ``openziti``."""
REDIRECT_PATH = "/auth/callback"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SCOPES = ("openid", "offline_access")
GRANT_TYPES = ("authorization_code", "refresh_token", TOKEN_EXCHANGE)
REFRESH_LIFETIME_S = 24 * 3600
ID_TOKEN_LIFETIME_S = 3600
CODE_LIFETIME_S = 60
AUTH_REQUEST_LIFETIME_S = 5 * 60
REFRESH_HASH = "oidcRefreshHash"
"""The API session's field holding the SHA-256 (hex) of its one usable refresh token; never shown."""
MAX_PENDING = 10_000
"""Bound on pending authorization requests and codes (the oldest are forgotten first)."""


def refresh_hash(token: str) -> str:
    """What is stored of a refresh token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def loopback_redirect(uri: str) -> bool:
    """A registered redirect URI: ``http://`` on a loopback host, any port, path ``/auth/callback``."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and parts.path == REDIRECT_PATH \
        and not parts.fragment and not parts.username


class NativeClient(ClientMixin):  # type: ignore[misc]
    """A public client: no secret, code + refresh grants, loopback redirects, PKCE required."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.client_metadata: dict[str, Any] = {"post_logout_redirect_uris": []}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in (scope or "openid").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return loopback_redirect(redirect_uri)

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An HTTP request as authlib reads it: query and form merged (form wins), headers."""

    def __init__(self, method: str, uri: str, headers: Mapping[str, str], args: Mapping[str, str],
                 form: Mapping[str, str]) -> None:
        super().__init__(method, uri, headers=dict(headers))
        self._args = dict(args)
        self._form = dict(form)
        self.payload = BasicOAuth2Payload({**self._args, **self._form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class AuthRequest:
    """An authorization request waiting for its login (``authRequestID``)."""

    id: str
    params: dict[str, str]
    uri: str
    created: float = field(default_factory=time.time)
    api_session_id: str | None = None
    session_cert: str | None = None
    # A CSR (PEM) that waits for the TOTP code of a partially authenticated login (docs/oidc.md §7).
    csr: str | None = None


@dataclass
class Grantee:
    """Who a code or refresh token was issued to."""

    api_session: Entity
    nonce: str | None = None
    session_cert: str | None = None

    def get_user_id(self) -> str:
        return str(self.api_session["identityId"])


@dataclass
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    api_session_id: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    expires: float
    session_cert: str | None = None
    used: bool = False

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class Credential(TokenMixin):  # type: ignore[misc]
    """A verified access or refresh token, for the refresh grant, introspection and revocation."""

    def __init__(self, claims: dict[str, Any], live: bool) -> None:
        self.claims = claims
        self.live = live

    def check_client(self, client: ClientMixin) -> bool:
        return bool(self.claims.get("client_id") == client.get_client_id())

    def get_scope(self) -> str:
        return str(self.claims.get("scope", ""))

    def get_expires_in(self) -> int:
        return int(self.claims["exp"] - self.claims["iat"])

    def is_expired(self) -> bool:
        return bool(self.claims["exp"] <= time.time())

    def is_revoked(self) -> bool:
        return not self.live

    def get_client_id(self) -> str:
        return str(self.claims.get("client_id", ""))


class S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE is required on every authorization request, with method S256 only."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - authlib's class attribute

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required")
        super().validate_code_challenge(grant, redirect_uri)


class OidcProvider(AuthorizationServer):  # type: ignore[misc]
    """authlib's authorization server over the controller's logins (:class:`Access`): access tokens
    live as long as an idle API session (the controller's session timeout, 30 min by default)."""

    def __init__(self, access: Access, signer_ca: CertAuthority, trust_domain: str) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.access = access
        self.model = access.model
        self.signer = access.signer
        self.access_lifetime_s = access.session_timeout_s
        self.signer_ca = signer_ca
        self.trust_domain = trust_domain
        self.clients = {cid: NativeClient(cid) for cid in CLIENT_IDS}
        self.auth_requests: dict[str, AuthRequest] = {}
        self.codes: dict[str, Code] = {}
        self.rotations: dict[str, str] = {}
        """API session id → the hash of the refresh token just issued for it and not stored yet: it is the
        family's usable one from the moment it is made (a second use of the old one meanwhile is a reuse)."""
        self.certs_to_store: list[Put] = []
        """Session certificates signed for a CSR and not stored yet (docs/oidc.md §6a)."""
        self.to_revoke: set[str] = set()
        """API sessions to end (refresh token reuse, replayed code, revocation, end-session)."""
        self.register_token_generator("default", self._tokens)
        self.register_grant(_CodeGrant, [S256Only(required=True)])
        self.register_grant(_RefreshGrant)
        self.register_grant(TokenExchangeGrant)
        self.register_endpoint(_Introspection)
        self.register_endpoint(_Revocation)
        self.register_endpoint(_EndSession)

    # --- authlib's hooks ------------------------------------------------------------------

    def query_client(self, client_id: str) -> NativeClient | None:
        return self.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Tokens are self-contained JWTs; the refresh family is updated when they are made."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request  # the routes build a FormRequest themselves

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: nothing listens."""

    # --- authorization requests -------------------------------------------------------------

    def pending(self, request_id: str | None) -> AuthRequest | None:
        """A pending authorization request that has not expired."""
        found = self.auth_requests.get(request_id or "")
        if found is not None and time.time() - found.created > AUTH_REQUEST_LIFETIME_S:
            del self.auth_requests[found.id]
            return None
        return found

    def start(self, params: dict[str, str], uri: str) -> AuthRequest:
        """Remember a validated authorization request until its login."""
        _bounded(self.auth_requests)
        found = AuthRequest(new_id(), params, uri)
        self.auth_requests[found.id] = found
        return found

    # --- tokens -------------------------------------------------------------------------------

    def _tokens(self, grant_type: str, client: NativeClient, user: Grantee | None = None, scope: str | None = None,
                expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        assert user is not None
        api_session = user.api_session
        scope = scope or "openid"
        fingerprints = self.fingerprints(api_session)

        def sign(kind: str, lifetime_s: int, extra: dict[str, Any]) -> str:
            return self.signer.oidc_token(kind, new_id(), api_session["identityId"], api_session["id"],
                                          lifetime_s=lifetime_s, fingerprints=fingerprints, scope=scope,
                                          extra=extra)

        token: dict[str, Any] = {
            "token_type": "Bearer", "expires_in": self.access_lifetime_s, "scope": scope,
            "access_token": sign(tokens.ACCESS, self.access_lifetime_s, {"client_id": client.client_id}),
        }
        if include_refresh_token:
            token["refresh_token"] = sign(tokens.REFRESH, REFRESH_LIFETIME_S, {"client_id": client.client_id})
            self.rotations[api_session["id"]] = refresh_hash(token["refresh_token"])
        if grant_type == "authorization_code" and user.session_cert:
            token["session_cert"] = user.session_cert
        if "openid" in scope.split():
            token["id_token"] = sign(tokens.ID_TOKEN, ID_TOKEN_LIFETIME_S, {
                "aud": client.client_id, "azp": client.client_id, **({"nonce": user.nonce} if user.nonce else {})})
        return token

    def fingerprints(self, api_session: Entity) -> list[str]:
        """The client certificates (SHA-1) a token of this API session is bound to (``z_cfs``): the one it
        logged in with, and its session certificates (stored, or signed a moment ago and not stored yet)."""
        auth = self.model.maybe(Kind.AUTHENTICATORS, api_session.get("authenticatorId"))
        fingerprint = auth.get("fingerprint") if auth is not None and auth.get("method") == "cert" else None
        login = [fingerprint] if isinstance(fingerprint, str) else []
        return login + fingerprints_of(self.model, api_session) \
            + [p.data["fingerprint"] for p in self._queued_certs(api_session["id"])]

    def _queued_certs(self, api_session_id: str) -> list[Put]:
        return [p for p in self.certs_to_store if p.data["apiSessionId"] == api_session_id]

    def issue_session_cert(self, api_session: Entity, csr_pem: str, *, field: str = "csrPem") -> str:
        """Sign a CSR as a session certificate of this API session (controller/model/session_certs.py, the
        client API's too), valid as long as a refresh token, queued for :meth:`store_issued`. Returns the
        certificate followed by the CA chain (PEM). A bad CSR raises :class:`ValidationError`."""
        identity = self.model.get(Kind.IDENTITIES, api_session["identityId"])
        put, cert, chain = session_certificate(
            self.model, self.signer_ca, self.trust_domain, identity, api_session, csr_pem,
            timedelta(seconds=REFRESH_LIFETIME_S), field=field, any_subject=True,
            pending=len(self._queued_certs(api_session["id"])))
        self.certs_to_store.append(put)
        return str(cert["certificate"]) + chain

    def form_session_cert(self, form: Mapping[str, str], api_session: Entity) -> str | None:
        """A token request's ``csr_pem`` (refresh or token exchange) signed before its tokens are made, so they
        are bound to it; a bad CSR is ``invalid_request`` and queues nothing."""
        pem = form.get("csr_pem")
        if not pem:
            return None
        try:
            return self.issue_session_cert(api_session, pem, field="csr_pem")
        except ValidationError as exc:
            raise InvalidRequestError(f"csr_pem: {exc.message}") from exc

    async def store_issued(self) -> None:
        """Store the queued session certificates and refresh-token rotations in one command (those of API
        sessions that ended meanwhile are dropped). A rotation stays queued, and so decides which refresh
        token is usable, until its write is done; then it leaves the queue whatever the outcome (a write
        that failed answered an error, so its tokens never went out)."""
        if not self.certs_to_store and not self.rotations:
            return
        puts, self.certs_to_store = self.certs_to_store, []
        rotations = dict(self.rotations)

        def build() -> Command | None:
            live = [p for p in puts if self.model.maybe(Kind.API_SESSIONS, p.data["apiSessionId"]) is not None]
            for asid, digest in rotations.items():
                api_session = self.model.maybe(Kind.API_SESSIONS, asid)
                if api_session is not None and api_session.get(REFRESH_HASH) != digest:
                    live.append(Put(Kind.API_SESSIONS, {**api_session, REFRESH_HASH: digest}))
            return Command("oidc", "OIDC tokens issued", tuple(live)) if live else None

        try:
            await self.model.transact(build)
        finally:
            for asid, digest in rotations.items():
                if self.rotations.get(asid) == digest:
                    del self.rotations[asid]

    def grantee(self, credential: Credential) -> Grantee | None:
        """Whom a refresh or exchange with ``credential`` issues to: its live API session, touched."""
        api_session = self.live_session(str(credential.claims["z_asid"]))
        if api_session is None:
            return None
        self.access.touch(api_session["id"])
        return Grantee(api_session)

    def live_session(self, api_session_id: str) -> Entity | None:
        """The API session behind a code or token, if it stands and is fully authenticated."""
        api_session = self.access.live_api_session(api_session_id)
        return None if api_session is None or is_partial(api_session) else api_session

    def partial_session(self, api_session_id: str) -> Entity | None:
        """The API session of a login that still waits for its TOTP code."""
        api_session = self.access.live_api_session(api_session_id)
        return api_session if api_session is not None and is_partial(api_session) else None

    def credential(self, token: str, hint: str | None = None) -> Credential | None:
        """A verified access or refresh token of this provider (live or not), or ``None``."""
        kinds = (tokens.REFRESH, tokens.ACCESS) if hint == "refresh_token" else (tokens.ACCESS, tokens.REFRESH)
        for kind in kinds:
            try:
                claims = self.signer.verify_claims(token, kind)
            except tokens.InvalidToken:
                continue
            asid = claims.get("z_asid")
            live = isinstance(asid, str) and self.live_session(asid) is not None
            if kind == tokens.REFRESH and live:
                api_session = self.model.get(Kind.API_SESSIONS, str(asid))
                live = self.rotations.get(str(asid), api_session.get(REFRESH_HASH)) == refresh_hash(token)
            return Credential(claims, live)
        return None


def _bounded(store: dict[str, Any]) -> None:
    while len(store) >= MAX_PENDING:
        del store[next(iter(store))]


class _CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]  # noqa: RUF012 - authlib's class attribute
    server: OidcProvider

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        grantee: Grantee = request.user
        _bounded(self.server.codes)
        self.server.codes[code] = Code(
            code=code, client_id=request.client.get_client_id(), redirect_uri=data["redirect_uri"],
            scope=request.scope, api_session_id=grantee.api_session["id"], nonce=grantee.nonce,
            session_cert=grantee.session_cert,
            code_challenge=data["code_challenge"], code_challenge_method=data["code_challenge_method"],
            expires=time.time() + CODE_LIFETIME_S)

    def query_authorization_code(self, code: str, client: NativeClient) -> Code | None:
        found = self.server.codes.get(code)
        if found is None or found.client_id != client.client_id or found.expires < time.time():
            return None
        if found.used:
            # A replayed code: what was issued for it is revoked (RFC 6749 §4.1.2).
            self.server.to_revoke.add(found.api_session_id)
            return None
        return found

    def delete_authorization_code(self, authorization_code: Code) -> None:
        authorization_code.used = True  # kept until it expires, so a replay is recognised

    def authenticate_user(self, authorization_code: Code) -> Grantee | None:
        api_session = self.server.live_session(authorization_code.api_session_id)
        return None if api_session is None else Grantee(api_session, authorization_code.nonce,
                                                        authorization_code.session_cert)


class _RefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]  # noqa: RUF012 - authlib's class attribute
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: OidcProvider

    def authenticate_refresh_token(self, refresh_token: str) -> Credential | None:
        found = self.server.credential(refresh_token, "refresh_token")
        if found is None or found.claims.get("z_t") != tokens.REFRESH:
            return None
        if not found.live:
            # A rotated-out refresh token used again: the whole family (the API session) ends.
            self.server.to_revoke.add(str(found.claims.get("z_asid")))
            return None
        return found

    def authenticate_user(self, refresh_token: Credential) -> Grantee | None:
        return self.server.grantee(refresh_token)

    def issue_token(self, user: Grantee, refresh_token: Credential) -> dict[str, Any]:
        """The refreshed tokens; a ``csr_pem`` form field asks for a new session certificate, signed first so
        that the new tokens are bound to it (OpenZiti's refresh with CSR, docs/oidc.md §6a)."""
        cert = self.server.form_session_cert(self.request.form, user.api_session)
        token: dict[str, Any] = super().issue_token(user, refresh_token)
        if cert is not None:
            token["session_cert"] = cert
        return token

    def revoke_old_credential(self, refresh_token: Credential) -> None:
        """Rotation: issuing the new refresh token already made the old one unusable."""


class _Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["none"]  # noqa: RUF012 - authlib's class attribute
    server: OidcProvider

    def query_token(self, token_string: str, token_type_hint: str | None) -> Credential | None:
        return self.server.credential(token_string, token_type_hint)

    def check_permission(self, token: Credential, client: NativeClient, request: OAuth2Request) -> bool:
        return bool(token.check_client(client))

    def introspect_token(self, token: Credential) -> dict[str, Any]:
        claims = token.claims
        return {"active": True, "client_id": claims.get("client_id"), "scope": claims.get("scope"),
                "sub": claims["sub"], "aud": claims["aud"], "iss": claims["iss"], "exp": claims["exp"],
                "iat": claims["iat"], "jti": claims["jti"], "token_type": "Bearer",
                "z_t": claims["z_t"], "z_asid": claims.get("z_asid")}


class _Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["none"]  # noqa: RUF012 - authlib's class attribute
    server: OidcProvider

    def query_token(self, token_string: str, token_type_hint: str | None) -> Credential | None:
        found = self.server.credential(token_string, token_type_hint)
        return found if found is not None and found.live else None

    def revoke_token(self, token: Credential, request: OAuth2Request) -> None:
        # Revoking either token of a login ends its API session: every token of it is refused.
        self.server.to_revoke.add(str(token.claims["z_asid"]))


class _EndSession(EndSessionEndpoint):  # type: ignore[misc]
    server: OidcProvider

    def get_server_jwks(self) -> dict[str, Any]:
        return self.server.signer.jwks()

    def get_algorithms(self) -> list[str]:
        return [tokens.ALGORITHM]

    def end_session(self, end_session_request: Any) -> None:
        claims = end_session_request.id_token_claims or {}
        if claims.get("z_t") == tokens.ID_TOKEN and isinstance(claims.get("z_asid"), str):
            self.server.to_revoke.add(claims["z_asid"])
