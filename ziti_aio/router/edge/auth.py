"""Offline checks of the controller's tokens at the edge: signature, claims and revocations.

The controller's control channel hello reply gives the ES256 public key, the issuer and the
full revocation list; later revocations arrive as deltas. API-session tokens must carry the
``fp`` of the client certificate presented on the TLS connection, and OIDC access tokens (which
libziti 1.x sends in the same hello header, docs/oidc.md §5) must list it in ``z_cfs``; session tokens must name the
hello's API session and have the right type (Dial for Connect, Bind for Bind). The claim
format is :mod:`ziti_aio.pki.tokens`, shared with the controller that signs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ziti_aio.common.errors import AuthError, InvalidSession
from ziti_aio.pki import tokens
from ziti_aio.pki.names import session_spiffe_path
from ziti_aio.router.state.access_model import AccessModel

if TYPE_CHECKING:
    from collections.abc import Iterable

@dataclass(frozen=True)
class ApiSessionClaims:
    """A verified API-session token."""

    api_session_id: str
    identity_id: str
    oidc: bool = False


@dataclass(frozen=True)
class SessionClaims:
    """A verified service session token."""

    session_id: str
    service_id: str
    api_session_id: str
    identity_id: str
    type: str


class TokenVerifier:
    """Verifies tokens against the controller's key and the revocations it pushed."""

    def __init__(self, public_key_pem: str, issuer: str, revoked_api_sessions: Iterable[str] = (),
                 revoked_sessions: Iterable[str] = (), revoked_certs: Iterable[str] = ()) -> None:
        key = load_pem_public_key(public_key_pem.encode())
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise AuthError("the controller's token key is not an EC key")
        self._tokens = tokens.VerifiedTokens(key, issuer)
        self.revoked_api_sessions: set[str] = set(revoked_api_sessions)
        self.revoked_sessions: set[str] = set(revoked_sessions)
        self.revoked_certs: set[str] = set(revoked_certs)

    def revoke(self, api_sessions: Iterable[str], sessions: Iterable[str], certs: Iterable[str] = ()) -> None:
        self.revoked_api_sessions.update(api_sessions)
        self.revoked_sessions.update(sessions)
        self.revoked_certs.update(certs)

    def _claims(self, token: str, typ: str, error: type[AuthError] | type[InvalidSession]) -> dict[str, Any]:
        try:
            return self._tokens.decode(token, typ)
        except tokens.InvalidToken as exc:
            raise error() from exc

    def api_session(self, token: str, fingerprint: str | None,
                    cert: x509.Certificate | None = None) -> ApiSessionClaims:
        """Check a hello's (or UpdateToken's) API-session or OIDC access token against the TLS client
        certificate (its SHA-1 ``fingerprint``): the one the API session logged in with (an OIDC token names
        its certificates in ``z_cfs``), or a session certificate the controller issued to that API session; a
        deleted session certificate (its fingerprint revoked) is refused either way."""
        oidc = tokens.peek_type(token) == tokens.ACCESS
        if oidc:
            claims = self._claims(token, tokens.ACCESS, AuthError)
            api_session_id, bound = claims.get("z_asid"), claims.get("z_cfs")
            bound_here = isinstance(bound, list) and fingerprint in bound
        else:
            claims = self._claims(token, tokens.API_SESSION, AuthError)
            api_session_id, bound_here = claims["jti"], claims.get("fp") == fingerprint
        if not isinstance(api_session_id, str) or api_session_id in self.revoked_api_sessions:
            raise AuthError("the API session was revoked")
        if fingerprint is None or fingerprint in self.revoked_certs \
                or (not bound_here and not self._session_cert_of(cert, claims["sub"], api_session_id)):
            raise AuthError("the API session was not created with this client certificate")
        return ApiSessionClaims(api_session_id, claims["sub"], oidc)

    def _session_cert_of(self, cert: x509.Certificate | None, identity_id: str, api_session_id: str) -> bool:
        """Is ``cert`` (verified by TLS against the network's CA) a session certificate of the token's API
        session? Its SPIFFE id names the identity and the API session (controller/model/session_certs.py; the
        client API's and the OIDC login's alike)."""
        if cert is None:
            return False
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return False
        wanted = "/" + session_spiffe_path(identity_id, api_session_id)
        return any(uri.startswith("spiffe://") and urlsplit(uri).path == wanted
                   for uri in sans.get_values_for_type(x509.UniformResourceIdentifier))

    def session(self, token: str, api_session_id: str, session_type: str) -> SessionClaims:
        """Check a Connect's (Dial) or Bind's (Bind) session token for this API session."""
        claims = self._claims(token, tokens.SESSION, InvalidSession)
        if claims["jti"] in self.revoked_sessions or claims.get("apiSessionId") != api_session_id \
                or api_session_id in self.revoked_api_sessions:
            raise InvalidSession()
        if claims.get("type") != session_type:
            raise InvalidSession(f"a {session_type} session is required")
        identity = claims.get("identityId")
        return SessionClaims(claims["jti"], claims["sub"], api_session_id,
                             identity if isinstance(identity, str) else "", session_type)


class Tokens:
    """The verifier for the controller's current key and revocations: ``None`` until the control
    channel's first hello reply, replaced on every reconnect; and the router model the controller
    streams (docs/router-model.md)."""

    def __init__(self) -> None:
        self.verifier: TokenVerifier | None = None
        self.model = AccessModel()

    def model_allows(self, api_session_id: str, identity_id: str, oidc: bool, service_id: str,
                     session_type: str) -> bool:
        """May a channel of this API session and identity (its hello an OIDC access token) dial or bind
        ``service_id`` with no service session? Decided here, from the router model alone."""
        verifier = self.verifier
        return oidc and verifier is not None and api_session_id not in verifier.revoked_api_sessions \
            and self.model.allows(identity_id, service_id, session_type, api_session_id)
