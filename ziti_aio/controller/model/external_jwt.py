"""Verifying a token from an external JWT signer (docs/external-jwt.md).

:meth:`ExtJwtVerifier.verify` is the one place a token from outside is checked: the signer is
picked by the token's ``iss`` (or named by the caller), the key by its ``kid`` (the signer's
certificate, or its JWKS fetched with httpx and cached), the algorithm from an allow-list of
asymmetric ones, then PyJWT checks the signature, ``iss``, ``aud``, ``exp`` and ``nbf`` (with a
small leeway). The claim the signer names gives the subject, which finds the identity by
``externalId`` or by id. ``POST /authenticate?method=ext-jwt`` and the JIT enrollment
(:mod:`.external_jwt_enrollment`) both call it; every refusal is an :class:`ExtJwtRefused`.
"""

from __future__ import annotations

import logging
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import trio
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ziti_aio.common.errors import ExtJwtRefused
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.auth_policies import DEFAULT_AUTH_POLICY_ID
from ziti_aio.controller.model.disabling import is_disabled
from ziti_aio.controller.model.external_jwt_signers import DEFAULT_CLAIMS_PROPERTY, policy_allows
from ziti_aio.pki.bundle import load_certs_pem

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model

log = logging.getLogger(__name__)

# Asymmetric algorithms only: never "none", never HS* (whose "key" a forger could take from the JWKS).
ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
LEEWAY_S = 5.0
JWKS_TIMEOUT_S = 5.0
# A token with an unknown kid makes the controller fetch the JWKS again, at most this often per signer.
JWKS_REFETCH_S = 5.0
MAX_TOKEN_BYTES = 16 * 1024
MAX_JWKS_BYTES = 256 * 1024


def jwks_ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The system's trust, plus ``ca_file`` (a test issuer's own CA)."""
    ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    return ctx


@dataclass
class _Keys:
    endpoint: str
    keys: dict[str, tuple[Any, str | None]] = field(default_factory=dict)
    fetched_at: float | None = None
    lock: trio.Lock = field(default_factory=trio.Lock)


class JwksCache:
    """Signers' JWKS keys by kid: fetched on first use, again on an unknown kid (at most every
    ``refetch_s``), each fetch bounded by ``timeout_s``."""

    def __init__(self, *, verify: ssl.SSLContext | bool = True, timeout_s: float = JWKS_TIMEOUT_S,
                 refetch_s: float = JWKS_REFETCH_S) -> None:
        self.verify = verify
        self.timeout_s = timeout_s
        self.refetch_s = refetch_s
        self._signers: dict[str, _Keys] = {}

    async def key(self, signer: Entity, kid: str) -> tuple[Any, str | None] | None:
        """The public key ``kid`` of ``signer``'s JWKS and the ``alg`` its JWK declares, or ``None``;
        :class:`ExtJwtRefused` when the JWKS cannot be fetched and the key is not cached."""
        endpoint = signer["jwksEndpoint"]
        entry = self._signers.get(signer["id"])
        if entry is None or entry.endpoint != endpoint:
            entry = self._signers[signer["id"]] = _Keys(endpoint)
        if kid in entry.keys:
            return entry.keys[kid]
        async with entry.lock:
            if kid not in entry.keys and (entry.fetched_at is None
                                          or time.monotonic() - entry.fetched_at >= self.refetch_s):
                entry.fetched_at = time.monotonic()
                entry.keys = await self._fetch(signer["name"], endpoint)
        found: tuple[Any, str | None] | None = entry.keys.get(kid)
        return found

    async def _fetch(self, name: str, endpoint: str) -> dict[str, tuple[Any, str | None]]:
        try:
            with trio.fail_after(self.timeout_s):
                async with httpx.AsyncClient(verify=self.verify, timeout=self.timeout_s,
                                             follow_redirects=False) as client:
                    resp = await client.get(endpoint, headers={"Accept": "application/json"})
            if resp.status_code != 200 or len(resp.content) > MAX_JWKS_BYTES:
                raise ValueError(f"answered {resp.status_code}")
            document = resp.json()
        except trio.TooSlowError:
            log.warning("external jwt signer %r: the JWKS endpoint did not answer within %.0f s", name,
                        self.timeout_s)
            raise ExtJwtRefused(f"the keys of signer {name!r} could not be fetched: its JWKS endpoint did not "
                                f"answer within {self.timeout_s:g} s") from None
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("external jwt signer %r: the JWKS endpoint failed: %s", name, type(exc).__name__)
            raise ExtJwtRefused(f"the keys of signer {name!r} could not be fetched from its JWKS endpoint") from None
        keys: dict[str, tuple[Any, str | None]] = {}
        for item in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(item, dict) or not isinstance(item.get("kid"), str) or item.get("use", "sig") != "sig":
                continue
            try:
                keys[item["kid"]] = (jwt.PyJWK(item).key, item.get("alg"))
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                log.info("external jwt signer %r: skipped a JWKS key it cannot use", name)
        return keys


def resolve_claim(claims: dict[str, Any], selector: str) -> Any:
    """The value of a claim named by a JSON pointer (RFC 6901; the leading ``/`` optional); ``None`` if absent."""
    pointer = selector if selector.startswith("/") else "/" + selector
    value: Any = claims
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            return None
    return value


@dataclass(frozen=True)
class Verified:
    """A token that verified: its signer, claims, the subject its claims property names, and the identity
    that subject finds (``None`` when there is none yet: a JIT enrollment may create it)."""

    signer: Entity
    claims: dict[str, Any]
    subject: str
    identity: Entity | None


def _key_fits(key: Any, alg: str) -> bool:
    if alg.startswith(("RS", "PS")):
        return isinstance(key, rsa.RSAPublicKey)
    return isinstance(key, ec.EllipticCurvePublicKey)


class ExtJwtVerifier:
    """Checks tokens of the model's enabled external JWT signers."""

    def __init__(self, model: Model, jwks: JwksCache | None = None) -> None:
        self.model = model
        self.jwks = jwks or JwksCache()

    def enabled_signers(self) -> list[Entity]:
        return [s for s in self.model.all(Kind.EXTERNAL_JWT_SIGNERS) if s.get("enabled")]

    def refused(self, message: str, error: str = "invalid") -> ExtJwtRefused:
        signers = self.enabled_signers()
        return ExtJwtRefused(message, error=error, signer_ids=[s["id"] for s in signers],
                             issuers=[s["issuer"] for s in signers])

    async def verify(self, token: str | None, *, signer_id: str | None = None) -> Verified:
        """Verify ``token`` (from the signer ``signer_id`` when given, else the one its ``iss`` names)."""
        if not token:
            raise self.refused("no external JWT was presented (Authorization: Bearer <token>)", "missing")
        if len(token) > MAX_TOKEN_BYTES:
            raise self.refused("the token is too large")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise self.refused("the token is not a JWT") from None
        alg, kid, issuer = header.get("alg"), header.get("kid"), unverified.get("iss")
        if alg not in ALLOWED_ALGORITHMS:
            raise self.refused(f"the token's algorithm {str(alg)[:16]!r} is not allowed "
                               f"(only {', '.join(sorted(ALLOWED_ALGORITHMS))})")
        signer = self._signer(issuer, signer_id)
        if not isinstance(kid, str) or not kid:
            raise self.refused("the token has no kid")
        key = await self._key(signer, kid, alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[alg], audience=signer["audience"], issuer=signer["issuer"], leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud"]})
        except jwt.ExpiredSignatureError:
            raise self.refused("the token has expired", "expired") from None
        except jwt.ImmatureSignatureError:
            raise self.refused("the token is not valid yet (nbf or iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise self.refused(f"the token's audience is not the one signer {signer['name']!r} expects") from None
        except jwt.InvalidIssuerError:
            raise self.refused(f"the token's issuer is not signer {signer['name']!r}'s") from None
        except jwt.MissingRequiredClaimError as exc:
            raise self.refused(f"the token has no {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise self.refused("the token's signature does not verify") from None
        selector = signer.get("claimsProperty") or DEFAULT_CLAIMS_PROPERTY
        subject = resolve_claim(claims, selector)
        if not isinstance(subject, str) or not subject:
            raise self.refused(f"the token's {selector!r} claim (the signer's claims property) is not a string")
        field_name = "externalId" if signer.get("useExternalId") else "id"
        identity = self.model.lookup(Kind.IDENTITIES, "externalId", subject) if field_name == "externalId" \
            else self.model.maybe(Kind.IDENTITIES, subject)
        return Verified(signer, claims, subject, identity)

    def _signer(self, issuer: Any, signer_id: str | None) -> Entity:
        if signer_id is not None:
            signer = self.model.maybe(Kind.EXTERNAL_JWT_SIGNERS, signer_id)
            if signer is None or not signer.get("enabled"):
                raise self.refused("no enabled external JWT signer has that id")
            return signer
        for signer in self.enabled_signers():
            if signer["issuer"] == issuer:
                return signer
        raise self.refused("the token's issuer is not an enabled external JWT signer")

    async def _key(self, signer: Entity, kid: str, alg: str) -> Any:
        key: Any = None
        declared: str | None = None
        if signer.get("certPem"):
            if kid == signer.get("kid"):
                key = load_certs_pem(signer["certPem"].encode())[0].public_key()
        else:
            try:
                found = await self.jwks.key(signer, kid)
            except ExtJwtRefused as exc:
                raise self.refused(exc.message) from None
            key, declared = found if found is not None else (None, None)
        if key is None:
            raise self.refused(f"signer {signer['name']!r} has no key with the token's kid")
        if (declared is not None and declared != alg) or not _key_fits(key, alg):
            raise self.refused(f"the token's algorithm does not fit the key {kid!r}")
        return key

    async def authenticate(self, token: str | None) -> tuple[Entity, Entity]:
        """The identity a token logs in (and its signer): it must exist, be enabled, and its auth policy
        must allow ext-jwt from this signer."""
        verified = await self.verify(token)
        identity = verified.identity
        if identity is None:
            raise self.refused(f"no identity has the token's subject as its "
                               f"{'externalId' if verified.signer.get('useExternalId') else 'id'}")
        if is_disabled(identity):
            raise self.refused("the identity is disabled")
        policy = self.model.maybe(Kind.AUTH_POLICIES, identity.get("authPolicyId") or DEFAULT_AUTH_POLICY_ID)
        if not policy_allows(policy, "extJwt", verified.signer["id"]):
            raise self.refused("the identity's auth policy does not allow ext-jwt from this signer")
        return identity, verified.signer
