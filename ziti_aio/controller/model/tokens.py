"""The controller's signer of API-session and service-session tokens.

Their claim format is :mod:`ziti_aio.pki.tokens`, shared with the edge routers that verify them
offline; the SDK treats them as opaque ``zt-session`` values. Validity beyond the signature
(sliding expiry, revocation) is the model's business.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

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

    def session_token(self, session: dict[str, Any]) -> str:
        return tokens.encode(tokens.session_claims(
            self.issuer, session["id"], session["serviceId"], api_session_id=session["apiSessionId"],
            identity_id=session["identityId"], session_type=session["type"], issued=int(time.time())), self.key)

    @cached_property
    def _verified(self) -> tokens.VerifiedTokens:
        return tokens.VerifiedTokens(self.key.public_key(), self.issuer)

    def verify(self, token: str, typ: str) -> dict[str, Any]:
        """The claims of a token this controller signed, or :class:`AuthError` (a token verified before is
        not verified again: every API request carries one)."""
        try:
            return self._verified.decode(token, typ)
        except tokens.InvalidToken as exc:
            raise AuthError() from exc
