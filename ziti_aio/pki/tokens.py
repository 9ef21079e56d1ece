"""The claim format of the controller's session tokens: compact ES256 JWTs.

The controller signs two kinds: an API-session token (``typ`` ``api-session``; ``jti`` the API
session, ``sub`` the identity, ``fp`` the client certificate's SHA-1 after a certificate login)
and a service-session token (``typ`` ``session``; ``jti`` the session, ``sub`` the service, and
``apiSessionId``, ``identityId``, ``type`` Dial or Bind). Its OIDC provider signs access and
refresh tokens in OpenZiti's shape (``z_t`` ``a`` or ``r``, ``z_asid`` the API session, ``z_cfs``
the client certificates' SHA-1s; docs/oidc.md §3). Edge routers verify both offline with
the controller's public key; SDKs treat them as opaque. This module is the one definition both
sides use; expiry beyond ``exp``, revocation and caching are theirs.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

AUDIENCE = "openziti"
ALGORITHM = "ES256"
API_SESSION = "api-session"
SESSION = "session"
ACCESS = "a"
REFRESH = "r"
ID_TOKEN = "id"
MAX_TOKEN_CHARS = 8 * 1024
VERIFIED_CACHE_ENTRIES = 4096
"""Tokens whose signature was checked, kept so each request or dial does not pay an ECDSA verify again."""


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


def oidc_claims(issuer: str, kind: str, token_id: str, identity_id: str, api_session_id: str, *,
                issued: int, expires: int, fingerprints: list[str], scope: str) -> dict[str, Any]:
    """The claims of an OIDC access (``a``), refresh (``r``) or ID (``id``) token of an API session."""
    return {"iss": issuer, "aud": [AUDIENCE], "sub": identity_id, "jti": token_id, "z_t": kind,
            "z_asid": api_session_id, "z_cfs": fingerprints, "scope": scope, "iat": issued, "nbf": issued,
            "exp": expires}


def token_type(claims: dict[str, Any]) -> object:
    """``typ`` of a session token, ``z_t`` of an OIDC token."""
    return claims["z_t"] if "z_t" in claims else claims.get("typ")


def peek_type(token: object) -> object:
    """The type an unverified token says it is (to choose how to verify it), or ``None``."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    return _peek(token)


@functools.lru_cache(maxsize=VERIFIED_CACHE_ENTRIES)
def _peek(token: str) -> object:
    # Every authenticated request peeks before it verifies: PyJWT's parse (~0.1 ms) once per token.
    try:
        return token_type(jwt.decode(token, options={"verify_signature": False}))
    except jwt.PyJWTError:
        return None


def encode(claims: dict[str, Any], key: ec.EllipticCurvePrivateKey, *, kid: str | None = None) -> str:
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid} if kid else None)


def decode(token: object, key: ec.EllipticCurvePublicKey, *, issuer: str, typ: str) -> dict[str, Any]:
    """The claims of a ``typ`` token signed by ``key`` for ``issuer``, or :class:`InvalidToken`."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("not a token")
    try:
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=issuer,
                                            options={"require": ["jti", "sub"]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if token_type(claims) != typ or not isinstance(claims.get("jti"), str) or not isinstance(claims.get("sub"), str):
        raise InvalidToken(f"not a {typ} token")
    return claims


class VerifiedTokens:
    """:func:`decode` with a bounded memory of tokens already verified (oldest forgotten first).

    Only the signature and claims check is remembered: ``exp`` is checked again on every use, and
    revocation and sliding expiry stay the caller's.
    """

    def __init__(self, key: ec.EllipticCurvePublicKey, issuer: str, *,
                 max_entries: int = VERIFIED_CACHE_ENTRIES) -> None:
        self._key = key
        self._issuer = issuer
        self._max_entries = max_entries
        self._verified: dict[tuple[str, str], dict[str, Any]] = {}

    def decode(self, token: object, typ: str) -> dict[str, Any]:
        """The claims of a valid ``typ`` token, or :class:`InvalidToken`."""
        key = (token, typ) if isinstance(token, str) else None
        cached = self._verified.get(key) if key is not None else None
        if cached is not None:
            if "exp" not in cached or cached["exp"] > time.time():
                return cached
            del self._verified[(str(token), typ)]
        claims = decode(token, self._key, issuer=self._issuer, typ=typ)
        if len(self._verified) >= self._max_entries:
            del self._verified[next(iter(self._verified))]
        self._verified[(str(token), typ)] = claims
        return claims
