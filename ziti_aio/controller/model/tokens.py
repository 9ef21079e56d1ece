"""Compact ES256 JWTs for API sessions and service sessions.

Edge routers can verify these offline with the controller's signing public key; the
SDK treats them as opaque ``zt-session`` values. Validity beyond the signature (sliding
expiry, revocation) is the model's business.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ziti_aio.common.errors import AuthError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

AUDIENCE = "openziti"
API_SESSION_TOKEN_LIFETIME_S = 24 * 3600
MAX_TOKEN_BYTES = 8 * 1024


@dataclass(frozen=True)
class TokenSigner:
    """Signs and verifies the controller's session tokens."""

    key: ec.EllipticCurvePrivateKey
    issuer: str

    def api_session_token(self, api_session_id: str, identity_id: str, *, fingerprint: str | None = None,
                          now: float | None = None) -> str:
        """``fingerprint`` (claim ``fp``) is the client certificate's SHA-1 of a cert login; edge
        routers accept the token only on a TLS connection presenting that certificate."""
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": AUDIENCE, "sub": identity_id, "jti": api_session_id,
            "typ": "api-session", "iat": issued, "exp": issued + API_SESSION_TOKEN_LIFETIME_S,
        }
        if fingerprint is not None:
            claims["fp"] = fingerprint
        return jwt.encode(claims, self.key, algorithm="ES256")

    def public_key_pem(self) -> str:
        """The verification key routers use, as PEM."""
        return self.key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()

    def session_token(self, session: dict[str, Any]) -> str:
        claims = {
            "iss": self.issuer, "aud": AUDIENCE, "sub": session["serviceId"], "jti": session["id"],
            "typ": "session", "apiSessionId": session["apiSessionId"], "identityId": session["identityId"],
            "type": session["type"], "iat": int(time.time()),
        }
        return jwt.encode(claims, self.key, algorithm="ES256")

    def verify(self, token: str, typ: str) -> dict[str, Any]:
        """The claims of a token this controller signed, or :class:`AuthError`."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
            raise AuthError()
        try:
            claims = jwt.decode(
                token, self.key.public_key(), algorithms=["ES256"], audience=AUDIENCE, issuer=self.issuer,
                options={"require": ["jti", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError() from exc
        if claims.get("typ") != typ:
            raise AuthError()
        return claims
