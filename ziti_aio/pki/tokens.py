"""The claim format of the controller's session tokens: compact ES256 JWTs.

The controller signs two kinds: an API-session token (``typ`` ``api-session``; ``jti`` the API
session, ``sub`` the identity, ``fp`` the client certificate's SHA-1 after a certificate login)
and a service-session token (``typ`` ``session``; ``jti`` the session, ``sub`` the service, and
``apiSessionId``, ``identityId``, ``type`` Dial or Bind). Edge routers verify both offline with
the controller's public key; SDKs treat them as opaque. This module is the one definition both
sides use; expiry beyond ``exp``, revocation and caching are theirs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

AUDIENCE = "openziti"
ALGORITHM = "ES256"
API_SESSION = "api-session"
SESSION = "session"
MAX_TOKEN_CHARS = 8 * 1024


class InvalidToken(ValueError):
    """A token that is not one of ours: bad signature, audience, issuer, type or claims."""


def api_session_claims(issuer: str, api_session_id: str, identity_id: str, *, issued: int, expires: int,
                       fingerprint: str | None = None) -> dict[str, Any]:
    """The claims of an API-session token."""
    claims: dict[str, Any] = {"iss": issuer, "aud": AUDIENCE, "sub": identity_id, "jti": api_session_id,
                              "typ": API_SESSION, "iat": issued, "exp": expires}
    if fingerprint is not None:
        claims["fp"] = fingerprint
    return claims


def session_claims(issuer: str, session_id: str, service_id: str, *, api_session_id: str, identity_id: str,
                   session_type: str, issued: int) -> dict[str, Any]:
    """The claims of a service-session token (``session_type`` is ``Dial`` or ``Bind``)."""
    return {"iss": issuer, "aud": AUDIENCE, "sub": service_id, "jti": session_id, "typ": SESSION,
            "apiSessionId": api_session_id, "identityId": identity_id, "type": session_type, "iat": issued}


def encode(claims: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def decode(token: object, key: ec.EllipticCurvePublicKey, *, issuer: str, typ: str) -> dict[str, Any]:
    """The claims of a ``typ`` token signed by ``key`` for ``issuer``, or :class:`InvalidToken`."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("not a token")
    try:
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=issuer,
                                            options={"require": ["jti", "sub"]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if claims.get("typ") != typ or not isinstance(claims.get("jti"), str) or not isinstance(claims.get("sub"), str):
        raise InvalidToken(f"not a {typ} token")
    return claims
