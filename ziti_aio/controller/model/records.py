"""One record per entity kind: what it stores, who may change it, and what the API shows.

A :class:`KindRecord` is the single place a kind is described:

- ``fields``: what a create or update request may set, each with its checker and default
  (:mod:`.fields`); the controller sets everything else (ids, fingerprints, tokens).
- ``hooks``: the class of kind-specific rules around create, update and delete
  (:mod:`.rules`, :mod:`.hooks`): references, dependent records, cascades, refusals.
- ``shown`` and ``view``: the API's allow-list. ``shown`` names every field rendered besides
  ``id``, ``createdAt``, ``updatedAt``, ``tags`` and ``_links``; the ``view`` computes some of
  them (:mod:`.views`; ``OMITTED`` leaves one out), the others are copied as stored. A stored
  field not in ``shown`` never leaves, so a secret (a password hash, a session token) cannot
  leak by being forgotten.
- ``operations``: what the generic management routes may do with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import ValidationError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model import external_jwt_signers as ejs
from ziti_aio.controller.model import fields as f
from ziti_aio.controller.model import posture_checks as pc
from ziti_aio.controller.model import rules, views
from ziti_aio.controller.model.auth_policies import (
    DEFAULT_AUTH_POLICY_ID,
    AuthPolicyRules,
    check_primary,
    check_secondary,
)
from ziti_aio.controller.model.cas import CaRules
from ziti_aio.controller.model.controller_settings import ControllerSettingRules, check_oidc
from ziti_aio.controller.model.fields import REQUIRED, Field
from ziti_aio.controller.model.hooks import NoHooks
from ziti_aio.controller.model.passwords import MAX_PASSWORD_LENGTH
from ziti_aio.controller.model.views import OMITTED, base

if TYPE_CHECKING:
    from collections.abc import Callable

    from ziti_aio.controller.model.hooks import KindHooks, RuleDeps
    from ziti_aio.controller.model.model import Entity
    from ziti_aio.controller.model.views import View, ViewContext

PRECEDENCES = ("default", "required", "failed")
TERMINATOR_STRATEGIES = ("smartrouting", "weighted", "random", "sticky")
MAX_COST = 65535
MAX_ROUTER_COST = 2**31 - 1  # router costs add up along paths as Python ints: no 16-bit ceiling

PERMISSION_TYPES = (
    "auth-policy", "ca", "config", "config-type", "controllers", "edge-router-policy", "enrollment",
    "external-jwt-signer", "identity", "ops", "posture-check", "router", "service",
    "service-edge-router-policy", "service-policy", "terminator",
)
PERMISSION_ACTIONS = ("read", "create", "update", "delete")
PERMISSIONS = frozenset(
    ["admin", "admin_readonly"]
    + list(PERMISSION_TYPES)
    + [f"{t}.{a}" for t in PERMISSION_TYPES for a in PERMISSION_ACTIONS]
)


def _permissions(name: str, value: object) -> list[str]:
    values = f.string_list(name, value)
    for v in values:
        if v not in PERMISSIONS:
            raise ValidationError(f"unknown permission {v!r}", field=name, value=v)
    return values


# What the generic management routes (``/<kind>``, ``/<kind>/<id>``) may do with a kind.
MANAGED = frozenset({"read", "create", "update", "delete"})
READ_DELETE = frozenset({"read", "delete"})
READ_ONLY = frozenset({"read"})
HIDDEN: frozenset[str] = frozenset()


@dataclass(frozen=True)
class KindRecord:
    """Everything kind-specific about one entity kind (see the module docstring)."""

    kind: Kind
    singular: str
    fields: tuple[Field, ...] = ()
    shown: tuple[str, ...] = ()
    view: View | None = None
    hooks: Callable[[RuleDeps], KindHooks] = NoHooks
    named: bool = False
    operations: frozenset[str] = MANAGED
    # Unique secondary indexes kept by the model: field -> value -> id.
    unique: tuple[str, ...] = ()
    # Grouped by the identity they belong to (``identityId``).
    owned_by_identity: bool = False
    # Filterable beyond ``fields`` and the base fields, and filter names that read another stored field.
    filterable: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)

    def render(self, ctx: ViewContext, e: Entity) -> dict[str, Any]:
        """The entity as the API shows it: the base fields and exactly the ``shown`` ones."""
        computed = self.view(ctx, e) if self.view is not None else {}
        out = base(self.kind, e)
        for name in self.shown:
            value = computed[name] if name in computed else e.get(name)
            if value is not OMITTED:
                out[name] = value
        return out


_NAME = Field("name", f.name, REQUIRED)
_TAGS = Field("tags", f.tags, {})

RECORDS: dict[Kind, KindRecord] = {
    r.kind: r
    for r in (
        KindRecord(
            Kind.IDENTITIES, "identity", named=True, hooks=rules.IdentityRules,
            fields=(
                _NAME,
                Field("type", f.enum("User", "Device", "Service", "Router", "Default"), "Default"),
                Field("isAdmin", f.boolean, False),
                Field("roleAttributes", f.attributes, []),
                Field("authPolicyId", f.string(max_length=1024, nonempty=True), DEFAULT_AUTH_POLICY_ID),
                Field("externalId", f.string(max_length=1024), None),
                Field("defaultHostingPrecedence", f.enum(*PRECEDENCES), "default"),
                Field("defaultHostingCost", f.integer(0, MAX_COST), 0),
                Field("serviceHostingPrecedences", f.map_of(f.enum(*PRECEDENCES)), {}),
                Field("serviceHostingCosts", f.map_of(f.integer(0, MAX_COST)), {}),
                Field("appData", f.json_object, {}),
                Field("permissions", _permissions, []),
                _TAGS,
            ),
            shown=("name", "type", "typeId", "isAdmin", "isDefaultAdmin", "roleAttributes", "authPolicyId",
                   "authPolicy", "externalId", "defaultHostingPrecedence", "defaultHostingCost",
                   "serviceHostingPrecedences", "serviceHostingCosts", "appData", "permissions", "disabled",
                   "disabledAt", "disabledUntil",
                   "sdkInfo", "envInfo", "hasApiSession", "hasEdgeRouterConnection", "edgeRouterConnectionStatus",
                   "isMfaEnabled", "authenticators", "enrollment"),
            view=views.identity_view, unique=("externalId",),
            filterable=("typeId", "isDefaultAdmin", "disabled"), aliases={"type": "typeId"},
        ),
        KindRecord(
            Kind.SERVICES, "service", named=True, hooks=rules.ServiceRules,
            fields=(
                _NAME,
                Field("encryptionRequired", f.boolean, True),
                Field("roleAttributes", f.attributes, []),
                Field("configs", f.string_list, []),
                Field("terminatorStrategy", f.enum(*TERMINATOR_STRATEGIES), "smartrouting"),
                Field("maxIdleTimeMillis", f.integer(0, 2**53), 0),
                _TAGS,
            ),
            shown=("name", "roleAttributes", "configs", "config", "encryptionRequired", "terminatorStrategy",
                   "maxIdleTimeMillis", "permissions", "postureQueries"),
            view=views.service_view,
        ),
        KindRecord(
            Kind.CONFIG_TYPES, "config-type", named=True, hooks=rules.ConfigTypeRules,
            fields=(
                _NAME,
                Field("schema", f.json_object, {}),
                Field("target", f.enum("service", "router"), "service"),
                _TAGS,
            ),
            shown=("name", "schema", "target"), view=views.config_type_view,
        ),
        KindRecord(
            Kind.CONFIGS, "config", named=True, hooks=rules.ConfigRules,
            fields=(
                _NAME,
                Field("configTypeId", f.string(max_length=1024, nonempty=True), REQUIRED),
                Field("data", f.json_object, REQUIRED),
                _TAGS,
            ),
            shown=("name", "configTypeId", "data", "configType"), view=views.config_view,
        ),
        KindRecord(
            Kind.EDGE_ROUTERS, "edge-router", named=True, hooks=rules.EdgeRouterRules,
            fields=(
                _NAME,
                Field("roleAttributes", f.attributes, []),
                Field("isTunnelerEnabled", f.boolean, False),
                Field("cost", f.integer(0, MAX_ROUTER_COST), 0),
                Field("noTraversal", f.boolean, False),
                Field("disabled", f.boolean, False),
                Field("appData", f.json_object, {}),
                Field("ctrlChanListeners", f.map_of(f.string_list), {}),
                _TAGS,
            ),
            shown=("name", "hostname", "supportedProtocols", "syncStatus", "isOnline", "cost", "noTraversal",
                   "disabled", "appData", "roleAttributes", "isTunnelerEnabled", "isVerified", "fingerprint",
                   "certPem", "enrollmentToken", "enrollmentJwt", "enrollmentCreatedAt", "enrollmentExpiresAt",
                   "versionInfo", "version", "revision", "buildDate", "os", "arch", "ctrlChanListeners",
                   "unverifiedFingerprint", "unverifiedCertPem", "interfaces"),
            view=views.edge_router_view,
            filterable=("isVerified", "fingerprint"),
        ),
        KindRecord(
            Kind.SERVICE_POLICIES, "service-policy", named=True, hooks=rules.PolicyRules,
            fields=(
                _NAME,
                Field("type", f.enum("Dial", "Bind"), REQUIRED),
                Field("semantic", f.semantic, "AllOf"),
                Field("identityRoles", f.roles, []),
                Field("serviceRoles", f.roles, []),
                Field("postureCheckRoles", f.roles, []),
                _TAGS,
            ),
            shown=("name", "semantic", "identityRoles", "identityRolesDisplay", "serviceRoles",
                   "serviceRolesDisplay", "postureCheckRoles", "postureCheckRolesDisplay", "type"),
            view=views.service_policy_view,
        ),
        KindRecord(
            Kind.EDGE_ROUTER_POLICIES, "edge-router-policy", named=True, hooks=rules.PolicyRules,
            fields=(
                _NAME,
                Field("semantic", f.semantic, "AllOf"),
                Field("identityRoles", f.roles, []),
                Field("edgeRouterRoles", f.roles, []),
                _TAGS,
            ),
            shown=("name", "semantic", "identityRoles", "identityRolesDisplay", "edgeRouterRoles",
                   "edgeRouterRolesDisplay", "isSystem"),
            view=views.edge_router_policy_view,
            filterable=("isSystem",),
        ),
        KindRecord(
            Kind.SERVICE_EDGE_ROUTER_POLICIES, "service-edge-router-policy", named=True, hooks=rules.PolicyRules,
            fields=(
                _NAME,
                Field("semantic", f.semantic, "AllOf"),
                Field("serviceRoles", f.roles, []),
                Field("edgeRouterRoles", f.roles, []),
                _TAGS,
            ),
            shown=("name", "semantic", "serviceRoles", "serviceRolesDisplay", "edgeRouterRoles",
                   "edgeRouterRolesDisplay"),
            view=views.service_edge_router_policy_view,
        ),
        KindRecord(
            Kind.CAS, "ca", named=True, hooks=CaRules,
            fields=(
                _NAME,
                Field("certPem", f.string(max_length=64 * 1024, nonempty=True), REQUIRED),
                Field("isAuthEnabled", f.boolean, REQUIRED),
                Field("isAutoCaEnrollmentEnabled", f.boolean, REQUIRED),
                Field("isOttCaEnrollmentEnabled", f.boolean, REQUIRED),
                Field("identityRoles", f.attributes, REQUIRED),
                Field("identityNameFormat", f.string(max_length=1024), None),
                _TAGS,
            ),
            shown=("name", "certPem", "fingerprint", "isVerified", "verificationToken", "isAuthEnabled",
                   "isAutoCaEnrollmentEnabled", "isOttCaEnrollmentEnabled", "identityRoles", "identityNameFormat"),
            filterable=("fingerprint", "isVerified"),
        ),
        KindRecord(
            Kind.ENROLLMENTS, "enrollment", hooks=rules.EnrollmentRules, unique=("token",), owned_by_identity=True,
            fields=(
                Field("method", f.enum("ott", "ottca", "updb"), REQUIRED),
                Field("identityId", f.string(max_length=64, nonempty=True), REQUIRED),
                Field("expiresAt", f.timestamp, REQUIRED),
                Field("caId", f.string(max_length=64), None),
                Field("username", f.string(max_length=1024), None),
                _TAGS,
            ),
            shown=("method", "identityId", "identity", "edgeRouterId", "edgeRouter", "transitRouterId", "token",
                   "jwt", "expiresAt", "username", "caId", "details"),
            view=views.enrollment_view,
            filterable=("edgeRouterId", "token"),
        ),
        KindRecord(
            Kind.AUTHENTICATORS, "authenticator", hooks=rules.AuthenticatorRules, unique=("fingerprint", "username"),
            owned_by_identity=True,
            fields=(
                Field("method", f.enum("cert", "updb"), REQUIRED),
                Field("identityId", f.string(max_length=64, nonempty=True), REQUIRED),
                Field("certPem", f.string(max_length=64 * 1024), None),
                Field("username", f.string(max_length=1024), None),
                Field("password", f.string(max_length=MAX_PASSWORD_LENGTH), None),
                _TAGS,
            ),
            shown=("method", "identityId", "identity", "fingerprint", "certPem", "username", "isIssuedByNetwork",
                   "isExtendRequested", "isKeyRollRequested"),
            view=views.authenticator_view,
            filterable=("fingerprint",),
        ),
        KindRecord(
            Kind.TERMINATORS, "terminator", hooks=rules.TerminatorRules,
            fields=(
                Field("service", f.string(max_length=1024, nonempty=True), REQUIRED),
                Field("router", f.string(max_length=1024, nonempty=True), REQUIRED),
                Field("binding", f.string(max_length=256, nonempty=True), REQUIRED),
                Field("address", f.string(max_length=4096, nonempty=True), REQUIRED),
                Field("identity", f.string(max_length=1024), None),
                Field("cost", f.integer(0, MAX_COST), 0),
                Field("precedence", f.enum(*PRECEDENCES), "default"),
                _TAGS,
            ),
            shown=("serviceId", "service", "routerId", "router", "binding", "address", "identity", "cost",
                   "precedence", "dynamicCost"),
            view=views.terminator_view,
            aliases={"serviceId": "service", "routerId": "router"},
        ),
        KindRecord(
            Kind.POSTURE_CHECKS, "posture-check", named=True, hooks=pc.PostureCheckRules,
            fields=(
                _NAME,
                Field("typeId", f.enum(*pc.CHECK_TYPES), None),
                Field("roleAttributes", f.attributes, []),
                Field("operatingSystems", pc.operating_systems, None),
                Field("domains", pc.domains, None),
                Field("macAddresses", pc.mac_addresses, None),
                Field("process", pc.process, None),
                Field("processes", pc.processes, None),
                Field("semantic", pc.semantic, None),
                Field("timeoutSeconds", pc.timeout_seconds, None),
                Field("promptOnWake", f.boolean, None),
                Field("promptOnUnlock", f.boolean, None),
                Field("ignoreLegacyEndpoints", f.boolean, None),
                _TAGS,
            ),
            shown=("name", "typeId", "roleAttributes", "version", *pc.TYPE_SPECIFIC),
            view=pc.posture_check_view,
        ),
        KindRecord(
            Kind.AUTH_POLICIES, "auth-policy", named=True, hooks=AuthPolicyRules,
            fields=(_NAME, Field("primary", check_primary, REQUIRED), Field("secondary", check_secondary, REQUIRED),
                    _TAGS),
            shown=("name", "primary", "secondary"),
        ),
        # One per identity that started TOTP enrollment; holds the secret, so nothing of it is shown
        # (the MFA routes render what they may: docs/mfa.md).
        KindRecord(Kind.MFAS, "mfa", operations=HIDDEN, owned_by_identity=True, shown=("identityId", "isVerified")),
        KindRecord(
            Kind.EXTERNAL_JWT_SIGNERS, "external-jwt-signer", named=True, hooks=ejs.ExternalJwtSignerRules,
            fields=ejs.FIELDS, shown=ejs.SHOWN, view=ejs.signer_view,
        ),
        KindRecord(
            Kind.API_SESSIONS, "api-session", hooks=rules.ApiSessionRules, operations=READ_DELETE,
            owned_by_identity=True,
            shown=("identityId", "identity", "ipAddress", "configTypes", "authenticatorId", "lastActivityAt",
                   "cachedLastActivityAt", "isMfaRequired", "isMfaComplete", "authQueries", "token",
                   "cachedUpdatedAt", "isCertExtendable"),
            view=views.api_session_view,
            filterable=("identityId", "ipAddress", "authenticatorId", "lastActivityAt"),
        ),
        KindRecord(
            Kind.SESSIONS, "session", hooks=rules.SessionRules, operations=READ_DELETE, owned_by_identity=True,
            shown=("type", "apiSessionId", "serviceId", "identityId", "service", "apiSession", "edgeRouters",
                   "token"),
            view=views.session_view,
            filterable=("identityId", "serviceId", "apiSessionId", "type"),
        ),
        KindRecord(
            Kind.CONTROLLER_SETTINGS, "controller-setting", hooks=ControllerSettingRules, operations=HIDDEN,
            fields=(
                Field("controllerId", f.string(max_length=64, nonempty=True), REQUIRED),
                Field("oidc", check_oidc, dict),
                _TAGS,
            ),
            shown=("controllerId", "oidc"),
            filterable=("controllerId",),
        ),
        KindRecord(
            Kind.API_SESSION_CERTIFICATES, "api-session-certificate", operations=HIDDEN, owned_by_identity=True,
            shown=("subject", "fingerprint", "validFrom", "validTo", "certificate"),
            filterable=("fingerprint", "subject", "validFrom", "validTo"),
        ),
        KindRecord(
            Kind.REVOCATIONS, "revocation", operations=READ_ONLY,
            shown=("type", "expiresAt"), view=views.revocation_view,
            filterable=("type", "expiresAt"),
        ),
    )
}
