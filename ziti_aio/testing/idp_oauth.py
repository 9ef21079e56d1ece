"""The test issuer's authorization endpoint and token endpoint: authorization code with PKCE, on authlib.

The authorization endpoint asks nobody: it approves :attr:`IdpGrants.approve` (a subject) at once, or
answers ``access_denied`` to the redirect URI when that is ``None`` — what a person at a real
provider's login page would do. The token endpoint checks the code (single use, same client and
redirect URI) and the PKCE verifier with authlib's own grant, and issues an access token (audience:
the issuer's audience) and an ID token (audience: the client id), signed as :meth:`TestIdp.token`.
Clients are public and native (loopback redirect to ``/auth/callback``, as ``ziti-aio login
--ext-jwt-signer`` listens on: docs/external-jwt.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant

from ziti_aio.controller.oidc.provider import FormRequest, NativeClient, S256Only

if TYPE_CHECKING:
    from collections.abc import Callable

CODE_LIFETIME_S = 60


@dataclass
class IdpCode(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    subject: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    expires: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class _Subject:
    sub: str
    nonce: str | None = None

    def get_user_id(self) -> str:
        return self.sub


class IdpGrants(AuthorizationServer):  # type: ignore[misc]
    """authlib's server for the clients in :attr:`client_ids`; ``sign(sub, aud, extra)`` makes a token."""

    def __init__(self, sign: Callable[[str, str, dict[str, Any]], str], audience: str) -> None:
        super().__init__()
        self.sign = sign
        self.audience = audience
        self.client_ids: set[str] = set()
        self.approve: str | None = None
        self.codes: dict[str, IdpCode] = {}
        self.register_token_generator("default", self._tokens)
        self.register_grant(_IdpCodeGrant, [S256Only(required=True)])

    def query_client(self, client_id: str) -> NativeClient | None:
        return NativeClient(client_id) if client_id in self.client_ids else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Tokens are self-contained JWTs: nothing to keep."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: nothing listens."""

    def authorize(self, uri: str, args: dict[str, str]) -> tuple[int, Any, list[tuple[str, str]]]:
        """The answer to ``GET /authorize``: a redirect with a code for :attr:`approve`, or with an error."""
        req = FormRequest("GET", uri, {}, args, {})
        try:
            grant = self.get_authorization_grant(req)
        except OAuth2Error as exc:
            return exc.status_code, dict(exc.get_body()), []
        user = None if self.approve is None else _Subject(self.approve)
        answer: tuple[int, Any, list[tuple[str, str]]] = self.create_authorization_response(req, user, grant)
        return answer

    def token(self, uri: str, form: dict[str, str]) -> tuple[int, Any, list[tuple[str, str]]]:
        """The answer to ``POST /token``."""
        answer: tuple[int, Any, list[tuple[str, str]]] = self.create_token_response(
            FormRequest("POST", uri, {}, {}, form))
        return answer

    def _tokens(self, grant_type: str, client: NativeClient, user: _Subject | None = None, scope: str | None = None,
                expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        assert user is not None
        nonce = user.nonce
        return {"token_type": "Bearer", "expires_in": 300, "scope": scope or "openid",
                "access_token": self.sign(user.sub, self.audience, {"scope": scope or "openid"}),
                "id_token": self.sign(user.sub, client.client_id, {"azp": client.client_id,
                                                                   **({"nonce": nonce} if nonce else {})})}


class _IdpCodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]  # noqa: RUF012 - authlib's class attribute
    server: IdpGrants

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.codes[code] = IdpCode(
            code=code, client_id=request.client.get_client_id(), redirect_uri=data["redirect_uri"],
            scope=request.scope or "openid", subject=request.user.sub, nonce=data.get("nonce"),
            code_challenge=data["code_challenge"], code_challenge_method=data["code_challenge_method"],
            expires=time.time() + CODE_LIFETIME_S)

    def query_authorization_code(self, code: str, client: NativeClient) -> IdpCode | None:
        found = self.server.codes.get(code)
        if found is None or found.client_id != client.client_id or found.expires < time.time():
            return None
        return found

    def delete_authorization_code(self, authorization_code: IdpCode) -> None:
        self.server.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: IdpCode) -> _Subject:
        return _Subject(authorization_code.subject, authorization_code.nonce)
