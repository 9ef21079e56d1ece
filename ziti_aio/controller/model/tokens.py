"""The controller's signer of API-session and service-session tokens.

Their claim format is :mod:`ziti_aio.pki.tokens`, shared with the edge routers that verify them
offline; the SDK treats them as opaque ``zt-session`` values. Validity beyond the signature
(sliding expiry, revocation) is the model's business.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import ECAlgorithm

from ziti_aio.common.errors import AuthError
from ziti_aio.pki import tokens

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

API_SESSION_TOKEN_LIFETIME_S = 24 * 3600


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
        return tokens.encode(tokens.api_session_claims(self.issuer, api_session_id, identity_id, issued=issued,
                                                       expires=issued + API_SESSION_TOKEN_LIFETIME_S,
                                                       fingerprint=fingerprint), self.key)

    def public_key_pem(self) -> str:
        """The verification key routers use, as PEM."""
        return self.key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()

    @cached_property
    def kid(self) -> str:
        """The key id OIDC tokens and the JWKS name the signing key by (SHA-256 of its public key)."""
        der = self.key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()

    def jwks(self) -> dict[str, Any]:
        """The public key as a JSON Web Key Set (``GET /oidc/keys``)."""
        jwk: dict[str, Any] = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": tokens.ALGORITHM}]}

    def oidc_token(self, kind: str, token_id: str, identity_id: str, api_session_id: str, *, lifetime_s: int,
                   fingerprints: list[str], scope: str, extra: dict[str, Any] | None = None) -> str:
        """An OIDC access (``a``), refresh (``r``) or ID token (``id``) for an API session."""
        issued = int(time.time())
        claims = tokens.oidc_claims(self.issuer, kind, token_id, identity_id, api_session_id, issued=issued,
                                    expires=issued + lifetime_s, fingerprints=fingerprints, scope=scope)
        return tokens.encode({**claims, **(extra or {})}, self.key, kid=self.kid)

    def session_token(self, session: dict[str, Any]) -> str:
        return tokens.encode(tokens.session_claims(
            self.issuer, session["id"], session["serviceId"], api_session_id=session["apiSessionId"],
            identity_id=session["identityId"], session_type=session["type"], issued=int(time.time())), self.key)

    @cached_property
    def _verified(self) -> tokens.VerifiedTokens:
        return tokens.VerifiedTokens(self.key.public_key(), self.issuer)

    def verify_claims(self, token: str, typ: str) -> dict[str, Any]:
        """As :meth:`verify`, raising :class:`ziti_aio.pki.tokens.InvalidToken`."""
        return self._verified.decode(token, typ)

    def verify(self, token: str, typ: str) -> dict[str, Any]:
        """The claims of a token this controller signed, or :class:`AuthError` (a token verified before is
        not verified again: every API request carries one)."""
        try:
            return self._verified.decode(token, typ)
        except tokens.InvalidToken as exc:
            raise AuthError() from exc
