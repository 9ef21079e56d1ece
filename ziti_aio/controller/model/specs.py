"""What each entity kind stores: its writable fields with checkers and defaults.

Kinds are named by their REST collection (``identities``, ``service-policies``, ...).
Fields not listed here are either read-only (``id``, ``createdAt``...) or set by the
controller itself (fingerprints, enrollment tokens, session state).
"""

from __future__ import annotations

from dataclasses import dataclass

from ziti_aio.controller.model import fields as f
from ziti_aio.controller.model.fields import REQUIRED, Field

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


def _permissions(field: str, value: object) -> list[str]:
    values = f.string_list(field, value)
    for v in values:
        if v not in PERMISSIONS:
            raise f.ValidationError(f"unknown permission {v!r}", field=field, value=v)
    return values


@dataclass(frozen=True)
class EntitySpec:
    """A kind of entity: its REST collection name, singular noun and writable fields."""

    kind: str
    singular: str
    fields: tuple[Field, ...]
    named: bool = True

    def field(self, name: str) -> Field | None:
        for fld in self.fields:
            if fld.name == name:
                return fld
        return None


_NAME = Field("name", f.name, REQUIRED)
_TAGS = Field("tags", f.tags, {})

SPECS: dict[str, EntitySpec] = {
    s.kind: s
    for s in (
        EntitySpec("identities", "identity", (
            _NAME,
            Field("type", f.enum("User", "Device", "Service", "Router", "Default"), "Default"),
            Field("isAdmin", f.boolean, False),
            Field("roleAttributes", f.attributes, []),
            Field("authPolicyId", f.string(max_length=64), "default"),
            Field("externalId", f.string(max_length=1024), None),
            Field("defaultHostingPrecedence", f.enum(*PRECEDENCES), "default"),
            Field("defaultHostingCost", f.integer(0, MAX_COST), 0),
            Field("serviceHostingPrecedences", f.map_of(f.enum(*PRECEDENCES)), {}),
            Field("serviceHostingCosts", f.map_of(f.integer(0, MAX_COST)), {}),
            Field("appData", f.json_object, {}),
            Field("permissions", _permissions, []),
            _TAGS,
        )),
        EntitySpec("services", "service", (
            _NAME,
            Field("encryptionRequired", f.boolean, True),
            Field("roleAttributes", f.attributes, []),
            Field("configs", f.string_list, []),
            Field("terminatorStrategy", f.enum(*TERMINATOR_STRATEGIES), "smartrouting"),
            Field("maxIdleTimeMillis", f.integer(0, 2**53), 0),
            _TAGS,
        )),
        EntitySpec("config-types", "config-type", (
            _NAME,
            Field("schema", f.json_object, {}),
            Field("target", f.enum("service", "router"), "service"),
            _TAGS,
        )),
        EntitySpec("configs", "config", (
            _NAME,
            Field("configTypeId", f.string(max_length=1024, nonempty=True), REQUIRED),
            Field("data", f.json_object, REQUIRED),
            _TAGS,
        )),
        EntitySpec("edge-routers", "edge-router", (
            _NAME,
            Field("roleAttributes", f.attributes, []),
            Field("isTunnelerEnabled", f.boolean, False),
            Field("cost", f.integer(0, MAX_ROUTER_COST), 0),
            Field("noTraversal", f.boolean, False),
            Field("disabled", f.boolean, False),
            Field("appData", f.json_object, {}),
            Field("ctrlChanListeners", f.map_of(f.string_list), {}),
            _TAGS,
        )),
        EntitySpec("service-policies", "service-policy", (
            _NAME,
            Field("type", f.enum("Dial", "Bind"), REQUIRED),
            Field("semantic", f.semantic, "AllOf"),
            Field("identityRoles", f.roles, []),
            Field("serviceRoles", f.roles, []),
            Field("postureCheckRoles", f.roles, []),
            _TAGS,
        )),
        EntitySpec("edge-router-policies", "edge-router-policy", (
            _NAME,
            Field("semantic", f.semantic, "AllOf"),
            Field("identityRoles", f.roles, []),
            Field("edgeRouterRoles", f.roles, []),
            _TAGS,
        )),
        EntitySpec("service-edge-router-policies", "service-edge-router-policy", (
            _NAME,
            Field("semantic", f.semantic, "AllOf"),
            Field("serviceRoles", f.roles, []),
            Field("edgeRouterRoles", f.roles, []),
            _TAGS,
        )),
        EntitySpec("cas", "ca", (
            _NAME,
            Field("certPem", f.string(max_length=64 * 1024, nonempty=True), REQUIRED),
            Field("isAuthEnabled", f.boolean, REQUIRED),
            Field("isAutoCaEnrollmentEnabled", f.boolean, REQUIRED),
            Field("isOttCaEnrollmentEnabled", f.boolean, REQUIRED),
            Field("identityRoles", f.attributes, REQUIRED),
            Field("identityNameFormat", f.string(max_length=1024), None),
            _TAGS,
        )),
        EntitySpec("enrollments", "enrollment", (
            Field("method", f.enum("ott", "ottca", "updb"), REQUIRED),
            Field("identityId", f.string(max_length=64, nonempty=True), REQUIRED),
            Field("expiresAt", f.timestamp, REQUIRED),
            Field("caId", f.string(max_length=64), None),
            Field("username", f.string(max_length=1024), None),
            _TAGS,
        ), named=False),
        EntitySpec("authenticators", "authenticator", (
            Field("method", f.enum("cert", "updb"), REQUIRED),
            Field("identityId", f.string(max_length=64, nonempty=True), REQUIRED),
            Field("certPem", f.string(max_length=64 * 1024), None),
            Field("username", f.string(max_length=1024), None),
            Field("password", f.string(max_length=1024), None),
            _TAGS,
        ), named=False),
        EntitySpec("terminators", "terminator", (
            Field("service", f.string(max_length=1024, nonempty=True), REQUIRED),
            Field("router", f.string(max_length=1024, nonempty=True), REQUIRED),
            Field("binding", f.string(max_length=256, nonempty=True), REQUIRED),
            Field("address", f.string(max_length=4096, nonempty=True), REQUIRED),
            Field("identity", f.string(max_length=1024), None),
            Field("cost", f.integer(0, MAX_COST), 0),
            Field("precedence", f.enum(*PRECEDENCES), "default"),
            _TAGS,
        ), named=False),
    )
}

# Kinds the controller keeps but nobody creates through a generic POST.
SYSTEM_KINDS = ("api-sessions", "sessions", "revocations", "auth-policies")
