"""Authentication, API sessions and service sessions.

Logins create a durable API session and return its signed token. Requests present the
token; :meth:`Access.resolve` checks signature, existence (revocation) and sliding expiry,
which is kept in memory so a request costs no write. Service sessions are granted only
when policy allows the identity to dial or bind the service through at least one router.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import AuthError, InvalidAuth, NoEdgeRoutersAvailable, NotFoundError, ValidationError
from ziti_aio.common.ids import new_id
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.auth_policies import check_primary_allowed, policy_of
from ziti_aio.controller.model.cas import trusted_ca
from ziti_aio.controller.model.disabling import disabling, is_disabled
from ziti_aio.controller.model.external_jwt import ExtJwtVerifier
from ziti_aio.controller.model.fields import format_time, now_text, parse_time
from ziti_aio.controller.model.mfa import MfaManager, is_partial, mfa_required
from ziti_aio.controller.model.passwords import check_password
from ziti_aio.controller.model.posture import Posture
from ziti_aio.controller.model.revocations import api_session_revocation
from ziti_aio.controller.store.commands import Change, Command, Delete, Put
from ziti_aio.pki import tokens
from ziti_aio.pki.bundle import load_certs_pem

if TYPE_CHECKING:
    from ziti_aio.controller.model.external_jwt import JwksCache
    from ziti_aio.controller.model.model import Entity, Model
    from ziti_aio.controller.model.tokens import TokenSigner

log = logging.getLogger(__name__)

DEFAULT_SESSION_TIMEOUT_S = 30 * 60
MAX_CONFIG_TYPES = 64


@dataclass(frozen=True)
class Caller:
    """An authenticated request's identity and API session."""

    identity: Entity
    api_session: Entity
    token: str

    @property
    def is_admin(self) -> bool:
        return bool(self.identity.get("isAdmin") or self.identity.get("isDefaultAdmin"))

    def permissions(self) -> set[str]:
        perms = {"authenticated", *self.identity.get("permissions", ())}
        if self.is_admin:
            perms.add("admin")
        return perms


class Access:
    """Logins, token resolution, logout and service-session grants."""

    def __init__(self, model: Model, signer: TokenSigner, *, session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S,
                 jwks: JwksCache | None = None):
        self.model = model
        self.signer = signer
        self.ext_jwt = ExtJwtVerifier(model, jwks)
        self.session_timeout_s = session_timeout_s
        self._activity: dict[str, float] = {}
        self.mfa = MfaManager(model)
        # Consecutive wrong passwords per updb authenticator, for the auth policy's lockout (docs/mfa.md §3).
        self._bad_passwords: dict[str, int] = {}
        self.posture = Posture(model)

    # --- logins ---------------------------------------------------------------------------

    async def login_password(self, body: Any, *, ip: str) -> tuple[Entity, str]:
        if not isinstance(body, dict) or not isinstance(body.get("username"), str) \
                or not isinstance(body.get("password"), str):
            raise InvalidAuth()
        auth = self.model.lookup(Kind.AUTHENTICATORS, "username", body["username"])
        stored = auth.get("passwordHash") if auth else None
        ok = await trio.to_thread.run_sync(check_password, stored or "scrypt$16384$8$1$AAAA$AAAA", body["password"])
        if auth is None:
            raise InvalidAuth()
        if not ok:
            await self._bad_password(auth)
            raise InvalidAuth()
        self._bad_passwords.pop(auth["id"], None)
        return await self._login(auth, body, ip=ip)

    async def _bad_password(self, auth: Entity) -> None:
        """Count a wrong password; at the policy's ``maxAttempts`` the identity is disabled for
        ``lockoutDurationMinutes`` (0: until an admin enables it), as OpenZiti locks it out."""
        identity = self.model.maybe(Kind.IDENTITIES, auth["identityId"])
        if identity is None or identity.get("isDefaultAdmin"):
            return
        rules = policy_of(self.model, identity)["primary"]["updb"]
        failures = self._bad_passwords.get(auth["id"], 0) + 1
        self._bad_passwords[auth["id"]] = failures
        if not rules.get("maxAttempts") or failures < rules["maxAttempts"]:
            return
        self._bad_passwords.pop(auth["id"], None)
        minutes = int(rules.get("lockoutDurationMinutes") or 0)
        log.warning("identity %s locked out for %s after %d wrong passwords", identity["id"],
                    f"{minutes} minutes" if minutes else "until enabled", failures)
        await self.model.transact(lambda: Command("controller", f"lock out identity {identity['id']}",
                                                  tuple(disabling(self.model, identity["id"], minutes))))

    async def login_cert(self, fingerprint: str | None, body: Any, *, ip: str) -> tuple[Entity, str]:
        return await self._login(self.cert_authenticator(fingerprint), body if isinstance(body, dict) else {}, ip=ip)

    async def login_ext_jwt(self, token: str | None, body: Any, *, ip: str) -> tuple[Entity, str]:
        """A login with an external JWT (docs/external-jwt.md); the authenticator is the signer, as OpenZiti's
        ``extJwtId:<signer id>``."""
        identity, signer = await self.ext_jwt.authenticate(token)
        auth = {"id": f"extJwtId:{signer['id']}", "identityId": identity["id"], "method": "ext-jwt"}
        return await self._login(auth, body if isinstance(body, dict) else {}, ip=ip)

    def cert_authenticator(self, fingerprint: str | None) -> Entity:
        """The cert authenticator a client certificate (by SHA-1 fingerprint) may log in with."""
        auth = self.model.lookup(Kind.AUTHENTICATORS, "fingerprint", fingerprint) if fingerprint else None
        if auth is None or auth.get("method") != "cert":
            raise InvalidAuth()
        if auth.get("caId") and trusted_ca(self.model, auth["caId"], "isAuthEnabled") is None:
            raise InvalidAuth()
        return auth

    async def _login(self, auth: Entity, body: dict[str, Any], *, ip: str) -> tuple[Entity, str]:
        identity = self.model.maybe(Kind.IDENTITIES, auth["identityId"])
        if identity is None or is_disabled(identity):
            raise InvalidAuth()
        if auth["method"] in ("cert", "updb"):  # ext-jwt's policy check is the verifier's (external_jwt.py)
            check_primary_allowed(policy_of(self.model, identity), auth["method"],
                                  cert_expired=cert_expired_authenticator(auth))
        config_types = self._config_type_ids(body.get("configTypes"))
        now = now_text()
        api_session = {
            "id": new_id(), "createdAt": now, "updatedAt": now, "tags": {}, "identityId": identity["id"],
            "authenticatorId": auth["id"], "authMethod": auth["method"], "ipAddress": ip,
            "configTypes": config_types, "lastActivityAt": now,
            # Partial until a TOTP code is given (POST /authenticate/mfa): docs/mfa.md §2.
            "isMfaRequired": mfa_required(self.model, identity), "isMfaComplete": False,
        }
        changes: list[Change] = [Put(Kind.API_SESSIONS, api_session)]
        info = {k: body[k] for k in ("sdkInfo", "envInfo") if isinstance(body.get(k), dict)}
        if info:
            changes.append(Put(Kind.IDENTITIES, {**identity, **info}))
        await self.model.transact(lambda: Command(identity["id"], "login", tuple(changes)))
        self._activity[api_session["id"]] = time.time()
        return api_session, self._token(api_session)

    def _config_type_ids(self, names: Any) -> list[str]:
        if not isinstance(names, list):
            return []
        out = []
        for ref in names[:MAX_CONFIG_TYPES]:
            if isinstance(ref, str):
                ct = self.model.maybe(Kind.CONFIG_TYPES, ref) or self.model.by_name(Kind.CONFIG_TYPES, ref)
                if ct is not None and ct["id"] not in out:
                    out.append(ct["id"])
        return out

    # --- requests -------------------------------------------------------------------------

    def resolve(self, token: str | None, *, allow_partial: bool = False) -> Caller:
        """The caller behind a ``zt-session`` token or an OIDC access token (docs/oidc.md §4), refreshing
        its API session's sliding expiry. An API session still waiting for its TOTP code is refused unless
        ``allow_partial`` (the MFA routes: docs/mfa.md §2)."""
        if not token:
            raise AuthError()
        if tokens.peek_type(token) == tokens.ACCESS:
            claims = self.signer.verify(token, tokens.ACCESS)
            api_session_id = claims.get("z_asid")
        else:
            claims = self.signer.verify(token, tokens.API_SESSION)
            api_session_id = claims["jti"]
        api_session = self.model.maybe(Kind.API_SESSIONS, api_session_id) if isinstance(api_session_id, str) else None
        if api_session is None or api_session["identityId"] != claims["sub"]:
            raise AuthError()
        identity = self.model.maybe(Kind.IDENTITIES, api_session["identityId"])
        if identity is None or is_disabled(identity):
            raise AuthError()
        now = time.time()
        if now - self.last_activity(api_session) > self.session_timeout_s:
            raise AuthError("the API session has expired")
        if not allow_partial and is_partial(api_session):
            raise AuthError("the API session is partially authenticated: answer its authQueries first")
        self._activity[api_session["id"]] = now
        return Caller(identity, api_session, token)

    def live_api_session(self, api_session_id: str) -> Entity | None:
        """The API session if it, its identity and its sliding expiry still stand (an OIDC refresh
        checks this, then touches it)."""
        api_session = self.model.maybe(Kind.API_SESSIONS, api_session_id)
        if api_session is None or time.time() - self.last_activity(api_session) > self.session_timeout_s:
            return None
        identity = self.model.maybe(Kind.IDENTITIES, api_session["identityId"])
        return None if identity is None or is_disabled(identity) else api_session

    def touch(self, api_session_id: str) -> None:
        """Mark activity on an API session (its sliding expiry starts again)."""
        self._activity[api_session_id] = time.time()

    def last_activity(self, api_session: Entity) -> float:
        seen = self._activity.get(api_session["id"])
        if seen is None:
            seen = parse_time(api_session["lastActivityAt"]).timestamp()
            self._activity[api_session["id"]] = seen
        return seen

    def expires_at(self, api_session: Entity) -> datetime:
        return datetime.fromtimestamp(self.last_activity(api_session), UTC) + timedelta(seconds=self.session_timeout_s)

    def refreshed_token(self, caller: Caller) -> str:
        """A new token for the same API session (the SDK swaps tokens on refresh); an OIDC access token
        is renewed at the token endpoint only, so it is answered unchanged."""
        if tokens.peek_type(caller.token) == tokens.ACCESS:
            return caller.token
        return self._token(caller.api_session)

    def _token(self, api_session: Entity) -> str:
        auth = self.model.maybe(Kind.AUTHENTICATORS, api_session.get("authenticatorId"))
        fingerprint = auth.get("fingerprint") if auth is not None and auth.get("method") == "cert" else None
        return self.signer.api_session_token(api_session["id"], api_session["identityId"], fingerprint=fingerprint)

    async def logout(self, api_session_id: str, *, actor: str) -> None:
        def build() -> Command:
            changes = [Delete(Kind.API_SESSIONS, api_session_id), *api_session_revocation(self.model, api_session_id)]
            return Command(actor, "logout", tuple(changes))

        self.model.get(Kind.API_SESSIONS, api_session_id)
        await self.model.transact(build)
        self._activity.pop(api_session_id, None)

    def expired_api_sessions(self) -> list[Entity]:
        now = time.time()
        return [a for a in self.model.all(Kind.API_SESSIONS) if now - self.last_activity(a) > self.session_timeout_s]

    async def reap_expired(self) -> int:
        """Delete API sessions past their sliding expiry (with their sessions)."""
        expired = self.expired_api_sessions()
        for api_session in expired:
            with contextlib.suppress(NotFoundError):
                await self.logout(api_session["id"], actor="controller")
        return len(expired)

    # --- service sessions -----------------------------------------------------------------

    async def create_session(self, caller: Caller, body: Any) -> Entity:
        """Grant a Dial or Bind session if policy and posture allow it through at least one router."""
        if not isinstance(body, dict):
            raise ValidationError("the request body must be a JSON object", field="body")
        service_id, stype = body.get("serviceId"), body.get("type", "Dial")
        if stype not in ("Dial", "Bind"):
            raise ValidationError("must be Dial or Bind", field="type", value=stype)
        if not isinstance(service_id, str):
            raise ValidationError("is required", field="serviceId", value=service_id)
        identity_id = caller.identity["id"]
        created: list[Entity] = []

        def build() -> Command:
            if self.model.maybe(Kind.SERVICES, service_id) is None \
                    or stype not in self.model.policy.permissions_for(identity_id, service_id):
                raise NotFoundError("service", service_id)
            api_session = self.model.maybe(Kind.API_SESSIONS, caller.api_session["id"]) or caller.api_session
            verdict = self.posture.verdict(api_session, service_id, stype)
            if not verdict.passed:
                raise self.posture.refuse(api_session, self.model.get(Kind.SERVICES, service_id), stype, verdict)
            if not self.model.session_routers(identity_id, service_id):
                raise NoEdgeRoutersAvailable()
            now = now_text()
            session = {
                "id": new_id(), "createdAt": now, "updatedAt": now, "tags": {}, "type": stype,
                "apiSessionId": caller.api_session["id"], "identityId": identity_id, "serviceId": service_id,
            }
            session["token"] = self.signer.session_token(session)
            created.append(session)
            return Command(identity_id, f"{stype} session for service {service_id}", (Put(Kind.SESSIONS, session),))

        await self.model.transact(build)
        return created[0]


def cert_expired_authenticator(auth: Entity) -> bool:
    """Whether a cert authenticator's certificate is past its end (always ``False`` for other methods)."""
    if auth.get("method") != "cert" or not auth.get("certPem"):
        return False
    certs = load_certs_pem(str(auth["certPem"]).encode())
    return bool(certs) and certs[0].not_valid_after_utc < datetime.now(UTC)


def api_session_expiry_fields(access: Access, api_session: Entity) -> dict[str, Any]:
    expires = access.expires_at(api_session)
    seconds = max(0, int(expires.timestamp() - time.time()))
    last = format_time(datetime.fromtimestamp(access.last_activity(api_session), UTC))
    return {"expiresAt": format_time(expires), "expirationSeconds": seconds,
            "lastActivityAt": last, "cachedLastActivityAt": last}
