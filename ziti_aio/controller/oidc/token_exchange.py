"""RFC 8693 token exchange at ``/oidc/oauth/token``, as OpenZiti answers it (docs/oidc.md §3a).

authlib has no token-exchange grant, so this is one on its grant framework (client authentication,
the token generator, the error answers): the subject token is one of this provider's own access or
refresh tokens, still live; an access token exchanges for an access token, a refresh token for an
access token or (the default) a new access + refresh token, which rotates the refresh family as the
refresh grant does. ID tokens and foreign tokens are refused. A ``csr_pem`` form field gets a session
certificate, as on a refresh (docs/oidc.md §6a).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import BaseGrant
from authlib.oauth2.rfc6749.grants.base import TokenEndpointMixin
from authlib.oauth2.rfc6749.util import scope_to_list

from ziti_aio.pki import tokens

if TYPE_CHECKING:
    from ziti_aio.controller.oidc.provider import OidcProvider

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
REFRESH_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:refresh_token"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
_KIND = {ACCESS_TOKEN_TYPE: tokens.ACCESS, REFRESH_TOKEN_TYPE: tokens.REFRESH}
_ISSUABLE = {ACCESS_TOKEN_TYPE: (ACCESS_TOKEN_TYPE,), REFRESH_TOKEN_TYPE: (ACCESS_TOKEN_TYPE, REFRESH_TOKEN_TYPE)}
_AUDIENCES = frozenset({tokens.AUDIENCE, "native"})
"""The audiences a client may ask for (OpenZiti's own and its legacy native client's)."""
_SCOPES = frozenset({"openid", "offline_access"})


def _type_name(token_type: str) -> str:
    return token_type.rsplit(":", 1)[-1]


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    GRANT_TYPE = GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]  # noqa: RUF012 - authlib's class attribute
    server: OidcProvider

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(GRANT_TYPE):
            raise UnauthorizedClientError(f"The client is not authorized to use 'grant_type={GRANT_TYPE}'")
        form = self.request.form
        subject, subject_type = form.get("subject_token"), form.get("subject_token_type") or ""
        if not subject or not subject_type:
            raise InvalidRequestError("subject_token and subject_token_type are required")
        requested = form.get("requested_token_type") or REFRESH_TOKEN_TYPE
        if subject_type == ID_TOKEN_TYPE:
            raise InvalidRequestError("exchanging id_token for any token type is not supported")
        if subject_type not in _ISSUABLE:
            raise InvalidRequestError(f"exchange subject type ({subject_type}) is not supported")
        if requested not in _ISSUABLE[subject_type]:
            raise InvalidRequestError(f"exchanging {_type_name(subject_type)} for {_type_name(requested)} "
                                      "is not supported")
        for audience in form.get("audience", "").split():
            if audience not in _AUDIENCES:
                raise InvalidRequestError(f"invalid audience requested [{audience}]")
        scope = self.request.payload.scope
        if scope and not set(scope_to_list(scope)) <= _SCOPES:
            raise InvalidScopeError(f"invalid scope requested [{scope}]")
        found = self.server.credential(subject, "refresh_token" if subject_type == REFRESH_TOKEN_TYPE else None)
        if found is None or found.claims.get("z_t") != _KIND[subject_type]:
            raise InvalidGrantError("the subject token is invalid or expired")
        if not found.live:
            if subject_type == REFRESH_TOKEN_TYPE:
                # A rotated-out refresh token used again: the family ends, as with the refresh grant.
                self.server.to_revoke.add(str(found.claims.get("z_asid")))
            raise InvalidGrantError("the subject token is revoked")
        self.request.client = client
        self.request.credential = found
        self.request.requested_token_type = requested

    def create_token_response(self) -> tuple[int, dict[str, Any], Any]:
        credential = self.request.credential
        user = self.server.grantee(credential)
        if user is None:
            raise InvalidGrantError("the subject token's session has ended")
        requested = self.request.requested_token_type
        cert = self.server.form_session_cert(self.request.form, user.api_session)
        token: dict[str, Any] = self.generate_token(
            user=user, scope=self.request.payload.scope or credential.get_scope() or "openid",
            include_refresh_token=requested == REFRESH_TOKEN_TYPE)
        token["issued_token_type"] = requested
        if cert is not None:
            token["session_cert"] = cert
        self.request.user = user
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER
